"""The column-wise action_threads table (lib/release/thread_table.py): its sort by (last_time_us, id)."""

from __future__ import annotations

import random

import numpy as np
import pyarrow.compute as pc
import pytest

from blueprint_assets.lib.release import thread_columns, thread_ids
from blueprint_assets.lib.release.thread_columns import tie_ranges
from blueprint_assets.lib.release.thread_table import Built, thread_tables

KEPT = ("action", "last_time_us", "thread")
SORT_KEYS = [("last_time_us", "ascending"), ("id", "ascending")]


def _built(rng: random.Random, threads: int, distinct_times: int) -> Built:
    lengths = [rng.randint(1, 3) for _ in range(threads)]
    messages = sum(lengths)
    return Built(
        labels=[rng.choice(["post", "reply", "like"]) for _ in range(threads)],
        event_ids=[f"e{i}" for i in range(threads)],
        clusters=[0] * threads,
        last_times=[rng.randrange(distinct_times) for _ in range(threads)],
        lengths=lengths,
        authors=[f"a{rng.randrange(20)}" for _ in range(messages)],
        clock=[rng.randrange(1_000) for _ in range(messages)],
        texts=[rng.choice([None, "hi", "é"]) for _ in range(messages)],
    )


def test_tie_ranges_are_the_runs_of_equal_sorted_times() -> None:
    assert tie_ranges(np.array([1, 1, 2, 3, 3, 3, 4, 5, 5])) == [(0, 2), (3, 6), (7, 9)]
    assert tie_ranges(np.array([1, 2, 3])) == []
    assert tie_ranges(np.array([], dtype=np.int64)) == []


@pytest.mark.parametrize("distinct_times", [5, 60, 1_000, 100_000])
def test_every_k_is_sorted_by_time_then_id_however_many_ties(
    monkeypatch: pytest.MonkeyPatch, distinct_times: int
) -> None:
    """Each K's table is its rows in Arrow's (last_time_us, id) order, the same whether tied rows are
    re-sorted range by range and stitched between slices or the whole table is taken once (past the limit)."""
    rng = random.Random(distinct_times)
    built = _built(rng, 400, distinct_times)
    columns = [[rng.randrange(k) for _ in range(len(built))] for k in (2, 7, 50)]
    stitched = thread_tables(built, columns, b"secret", stable_ids=False)
    monkeypatch.setattr(thread_columns, "MAX_STITCHED_RANGES", 0)
    taken = thread_tables(built, columns, b"secret", stable_ids=False)
    for table, whole, clusters in zip(stitched, taken, columns, strict=True):
        assert table.equals(whole)
        assert table.equals(table.take(pc.sort_indices(table, SORT_KEYS)))
        assert sorted(table.column("cluster_id").to_pylist()) == sorted(clusters)
        assert len(set(table.column("id").to_pylist())) == len(built)
    # Every K holds the same messages; only the order among tied times may differ.
    rows = [sorted(zip(*(map(str, t.column(c).to_pylist()) for c in KEPT), strict=True)) for t in stitched]
    assert rows[0] == rows[1] == rows[2]


def test_packed_ids_read_back_one_per_width_and_an_empty_build_has_none() -> None:
    ids = thread_ids.packed_strings(b"0123456789abcdef" + b"fedcba9876543210", thread_ids.USER_ID_HEX)
    assert ids.to_pylist() == ["0123456789abcdef", "fedcba9876543210"]
    assert thread_ids.packed_strings(b"", 40).to_pylist() == []
    empty = Built(*([] for _ in range(8)))
    (table,) = thread_tables(empty, [[]], b"secret", stable_ids=False)
    assert table.num_rows == 0
