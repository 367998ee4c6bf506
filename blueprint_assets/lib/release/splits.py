"""Train / validation / test splits of action threads, and hiding of the answers of evaluation splits.

`temporal` (default) puts the latest threads in test and the ones before them in validation, so models are
evaluated on the future of what they were trained on. `random` reproduces BluePrint's seeded shuffle (it used
90/10 train/test: `fractions=(0.9, 0.0, 0.1)`). Both are deterministic and independent of input order.
`split_table` does the same on the `action_threads` Arrow table (Arrow sorts and takes; the seeded shuffle
permutes row numbers exactly as it permutes threads), for the asset that stores the splits.
"""

from __future__ import annotations

import random
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

SPLITS: tuple[str, ...] = ("train", "validation", "test")
HIDDEN_SPLITS = frozenset({"validation", "test"})
PUBLIC_KEYS: tuple[str, ...] = ("id", "cluster_id", "thread")
ORDER_KEYS = [("last_time_us", "ascending"), ("id", "ascending")]  # _order_key, as Arrow sort keys


def _order_key(thread: dict[str, Any]) -> tuple[int, str]:
    return (int(thread["last_time_us"]), str(thread["id"]))


def _check_fractions(fractions: tuple[float, float, float]) -> None:
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-9:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions!r}")


def _boundaries(n: int, fractions: tuple[float, float, float]) -> tuple[int, int]:
    """Cut points from cumulative fractions, so the three sizes always add up to n."""
    train_end = round(n * fractions[0])
    val_end = round(n * (fractions[0] + fractions[1]))
    return train_end, max(train_end, val_end)


def split_threads(
    threads: list[dict[str, Any]],
    strategy: Literal["temporal", "random"] = "temporal",
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 42,
) -> dict[str, list[dict[str, Any]]]:
    """Split threads into disjoint train/validation/test lists, each ordered by (last_time_us, id)."""
    _check_fractions(fractions)
    ids = [t["id"] for t in threads]
    if len(set(ids)) != len(ids):
        raise ValueError("thread ids must be unique")
    if strategy == "temporal":
        ordered = sorted(threads, key=_order_key)
    elif strategy == "random":
        # Shuffle from a canonical order so the result depends on the seed only, not on input order.
        ordered = sorted(threads, key=lambda t: str(t["id"]))
        random.Random(seed).shuffle(ordered)
    else:
        raise ValueError(f"unknown split strategy {strategy!r}; expected 'temporal' or 'random'")
    train_end, val_end = _boundaries(len(ordered), fractions)
    parts = (ordered[:train_end], ordered[train_end:val_end], ordered[val_end:])
    if strategy == "random":
        parts = tuple(sorted(part, key=_order_key) for part in parts)
    # Temporal parts are slices of one sorted list: already in (last_time_us, id) order.
    return dict(zip(SPLITS, parts, strict=True))


def split_table(
    table: pa.Table,
    strategy: Literal["temporal", "random"] = "temporal",
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 42,
) -> dict[str, pa.Table]:
    """`split_threads` on a table of threads: the same rows in each split, in the same order."""
    _check_fractions(fractions)
    if pc.count_distinct(table.column("id")).as_py() != table.num_rows:
        raise ValueError("thread ids must be unique")
    if strategy == "temporal":
        order: pa.Array | list[int] = pc.sort_indices(table, ORDER_KEYS)
    elif strategy == "random":
        # A shuffle's permutation depends on the length and the seed only: shuffling row numbers sorted by id
        # moves each row where split_threads moves its thread. UTF-8 byte order is Python's str order.
        order = pc.sort_indices(table, [("id", "ascending")]).to_pylist()
        random.Random(seed).shuffle(order)
    else:
        raise ValueError(f"unknown split strategy {strategy!r}; expected 'temporal' or 'random'")
    train_end, val_end = _boundaries(table.num_rows, fractions)
    parts = [table.take(pa.array(order[a:b], pa.int64())) for a, b in ((0, train_end), (train_end, val_end),
                                                                      (val_end, table.num_rows))]  # fmt: skip
    if strategy == "random":
        parts = [part.take(pc.sort_indices(part, ORDER_KEYS)) for part in parts]
    return dict(zip(SPLITS, parts, strict=True))
