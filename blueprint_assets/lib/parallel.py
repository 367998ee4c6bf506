"""Forked workers: a function mapped over contiguous chunks of a list in children of this process.

The Python-bound work (text anonymization, residual scans, harvesting raw identifiers, keying threads' user
ids, the release scope's keyword search, tokenizing the persona cards' posts, bulk answer searches) is CPU
work on plain strings; the GIL keeps threads from sharing it, so it is spread over forked processes. A child
inherits the loaded state (recognizers, compiled patterns), the task and the items themselves, so only the
bounds of each chunk go to a child, and only its result comes back. A task must touch only plain Python
objects: a forked child must not use DuckDB, Arrow or logging, whose threads and locks stay with the parent.
`workers(requested)` is the one rule for how many.
"""

from __future__ import annotations

import gc
import math
import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

# More processes than this gain little: each forks the whole step process and feeds on pickled chunks.
MAX_WORKERS = 8
# Below this many items a fork costs more than it saves.
MIN_ITEMS = 256
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2: "<quota> <period>", or "max <period>"

_TASK: Callable[[list], Any] | None = None  # set in each child by its initializer
_ITEMS: list = []


def workers(requested: int | None = None) -> int:
    """`requested` (BLUEPRINT_WORKERS), else one per usable core, at most MAX_WORKERS."""
    if requested is not None:
        if requested < 1:
            raise ValueError(f"BLUEPRINT_WORKERS must be at least 1, got {requested}")
        return requested
    return max(1, min(usable_cores(), MAX_WORKERS))


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity (all cores where the OS has none), capped by a
    container's cgroup CPU quota (a pod limited to one CPU gets one worker, however many the node has)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = CGROUP_CPU_MAX.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota: the affinity stands
    return cores


def _fork_pays(count: int, items: int) -> bool:
    """Whether to fork: more than one worker, enough items, and fork available (POSIX)."""
    return count > 1 and items >= MIN_ITEMS and "fork" in multiprocessing.get_all_start_methods()


def forked_map(task: Callable[[list], T], items: list, count: int) -> list[T]:
    """`[task(chunk) for chunk in chunks(items)]`, the chunks contiguous and in order, run by `count`
    forked children when that pays (`_fork_pays`), else here. A child that dies (killed, out of memory)
    raises `BrokenProcessPool` here instead of leaving the step waiting forever."""
    if not _fork_pays(count, len(items)):
        return [task(items)]
    size = max(64, len(items) // (count * 4) + 1)
    bounds = [(start, min(start + size, len(items))) for start in range(0, len(items), size)]
    # Children share the parent's memory copy-on-write; frozen objects are never scanned by a child's
    # cyclic GC, which would otherwise write to (and so copy) every page of the step's heap.
    frozen_before = gc.get_freeze_count() > 0  # someone else froze objects: leave their freeze be
    gc.freeze()
    try:
        context = multiprocessing.get_context("fork")
        # Task and items reach each child through its initializer's arguments, which a fork inherits
        # unpickled (a window's raw lines are gigabytes: pickling them cost more than the work).
        with ProcessPoolExecutor(
            count, mp_context=context, initializer=_start_child, initargs=(task, items)
        ) as pool:
            return list(pool.map(_run, bounds))
    finally:
        if not frozen_before:
            gc.unfreeze()


def _start_child(task: Callable[[list], Any], items: list) -> None:
    """In a child: keep the task and the items, and drop the signal handlers inherited from the step's
    process (Dagster turns SIGTERM into an interruption error with a traceback); Ctrl-C is the parent's."""
    global _TASK, _ITEMS
    _TASK, _ITEMS = task, items
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run(bounds: tuple[int, int]) -> Any:
    assert _TASK is not None
    return _TASK(_ITEMS[bounds[0] : bounds[1]])
