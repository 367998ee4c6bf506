"""Forked workers: a function mapped over contiguous chunks of a list in children of this process.

The Python-bound privacy work (text anonymization, residual scans, harvesting raw identifiers) is CPU work
on plain strings; the GIL keeps threads from sharing it, so it is spread over forked processes. A child
inherits the loaded state (recognizers, compiled patterns) and the function itself, so nothing but the
chunks and their results is pickled. `workers(requested)` is the one rule for how many.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

# More processes than this gain little: each forks the whole step process and feeds on pickled chunks.
MAX_WORKERS = 8
# Below this many items a fork costs more than it saves.
MIN_ITEMS = 256

_TASK: Callable[[list], Any] | None = None


def workers(requested: int | None = None) -> int:
    """`requested` (BLUEPRINT_WORKERS), else one per core this process may run on, at most MAX_WORKERS."""
    if requested is not None:
        if requested < 1:
            raise ValueError(f"BLUEPRINT_WORKERS must be at least 1, got {requested}")
        return requested
    return max(1, min(len(os.sched_getaffinity(0)), MAX_WORKERS))


def fork_pays(count: int, items: int) -> bool:
    """Whether to fork: more than one worker, enough items, and fork available (POSIX)."""
    return count > 1 and items >= MIN_ITEMS and "fork" in multiprocessing.get_all_start_methods()


def forked_map(task: Callable[[list], T], items: list, count: int) -> list[T]:
    """`[task(chunk) for chunk in chunks(items)]`, the chunks contiguous and in order, run by `count`
    forked children when that pays (`fork_pays`), else here."""
    if not fork_pays(count, len(items)):
        return [task(items)]
    global _TASK
    _TASK = task
    # Children share the parent's memory copy-on-write; frozen objects are never scanned by a child's
    # cyclic GC, which would otherwise write to (and so copy) every page of the step's heap.
    gc.freeze()
    try:
        size = max(64, len(items) // (count * 4) + 1)
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        with multiprocessing.get_context("fork").Pool(count, initializer=_default_signals) as pool:
            parts = pool.map(_run, chunks)
            pool.close()  # let the children exit on their own, instead of the SIGTERM of `terminate`
            pool.join()
        return parts
    finally:
        gc.unfreeze()
        _TASK = None


def _run(chunk: list) -> Any:
    assert _TASK is not None
    return _TASK(chunk)


def _default_signals() -> None:
    """In a child: drop the signal handlers inherited from the step's process (Dagster turns SIGTERM into
    an interruption error with a traceback); Ctrl-C is the parent's to handle, and it ends the children."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
