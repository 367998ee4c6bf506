"""The column-wise steps of thread building (lib/release/thread_columns.py) against plain-Python readings."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from blueprint_assets.lib.release import thread_columns
from blueprint_assets.lib.release.thread_columns import (
    INPUT_COLUMNS,
    MAX_MOVED_RUNS,
    all_distinct,
    kept,
    latest_before,
    live_rows,
    prepared_rows,
    resolve_rows,
)
from blueprint_assets.lib.release.threads import build_threads


@pytest.mark.parametrize("seed", range(5))
def test_latest_before_answers_like_a_dict_overwritten_in_row_order(seed: int) -> None:
    rng = random.Random(seed)
    rows = 400
    entries = sorted(rng.sample(range(rows), 150))
    keys = [rng.randrange(12) for _ in entries]
    queries = [(rng.randrange(14), rng.randrange(rows + 1)) for _ in range(200)]
    got = latest_before(
        np.asarray(keys), np.asarray(entries), *(np.asarray(column) for column in zip(*queries, strict=True))
    )
    for (key, position), found in zip(queries, got.tolist(), strict=True):
        seen: dict[int, int] = {}
        for index, (entry_key, entry_position) in enumerate(zip(keys, entries, strict=True)):
            if entry_position < position:
                seen[entry_key] = index
        assert found == seen.get(key, -1)


def test_nothing_to_look_up_finds_nothing() -> None:
    empty = np.zeros(0, dtype=np.int64)
    assert latest_before(empty, empty, np.asarray([1]), np.asarray([5])).tolist() == [-1]
    assert latest_before(np.asarray([1]), np.asarray([0]), empty, empty).tolist() == []


def _row(event: str, time_us: int, action: str, record: str | None = None, **fields) -> dict:
    return {"event_id": event, "time_us": time_us, "action": action, "actor": fields.pop("actor", "ann"),
            "record_id": record, **fields}  # fmt: skip


@pytest.mark.parametrize("runs", [0, 1, 3, MAX_MOVED_RUNS + 5])
def test_prepared_rows_equal_a_whole_sort_however_few_rows_move(runs: int) -> None:
    """Stored rows are in time order: only rows tied on time move, and the rest stay slices of the input."""
    rng = random.Random(runs)
    rows = [_row(f"e{i:04d}", 10 * i, "post", f"p{i}", text=f"t{i}") for i in range(600)]
    for at in rng.sample(range(0, 590, 8), runs):  # a run of tied times whose events are out of order
        width = rng.randrange(2, 6)
        for offset, row in enumerate(rows[at : at + width]):
            row["time_us"], row["event_id"] = 10 * at, f"e{at:04d}-{width - offset}"
    expected = sorted(rows, key=lambda r: (r["time_us"], r["event_id"]))
    table = prepared_rows(pa.Table.from_pylist(rows))
    assert table.select(["event_id", "time_us", "text"]).to_pylist() == [
        {c: r[c] for c in ("event_id", "time_us", "text")} for r in expected
    ]
    assert table.column_names == list(INPUT_COLUMNS)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("stitched", [True, False])
def test_prepared_rows_order_is_arrows_stable_sort_by_time_then_event(
    monkeypatch: pytest.MonkeyPatch, seed: int, stitched: bool
) -> None:
    """Shuffled rows, many tied on time, repeated events (ties on both keys keep their input order) and
    non-ASCII ids: the order is Arrow's stable `sort_indices`, range by range or past the range limit."""
    if not stitched:
        monkeypatch.setattr(thread_columns, "MAX_STITCHED_RANGES", 0)
    rng = random.Random(seed)
    events = [rng.choice(["e", "é", "z", "E", "e\u0301"]) + str(rng.randrange(40)) for _ in range(500)]
    times = [rng.randrange(60) for _ in events]
    table = pa.table(
        {"event_id": events, "time_us": times, "action": ["post"] * 500, "text": list(map(str, range(500)))}
    )
    order = pc.sort_indices(table, [("time_us", "ascending"), ("event_id", "ascending")])
    assert prepared_rows(table).column("text").to_pylist() == table.take(order).column("text").to_pylist()


def test_prepared_rows_with_a_null_event_id_sort_it_as_arrow_does() -> None:
    table = pa.table({"event_id": ["b", None, "a", "c"], "time_us": [1, 1, 1, 0], "action": ["post"] * 4})
    assert prepared_rows(table).column("event_id").to_pylist() == ["c", "a", "b", None]


@pytest.mark.parametrize("seed", range(6))
def test_all_distinct_answers_like_a_set(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """Fixed and mixed widths, empty and NUL-padded strings, nulls, sliced chunks; with every hash forced
    equal (multiplier 0) the fallback must answer alike."""
    rng = random.Random(seed)
    width = rng.choice([0, 1, 7, 8, 64])
    pool = [f"{rng.randrange(16**4):x}".rjust(width, "0")[-width:] if width else "" for _ in range(300)]
    if seed % 3 == 1:
        pool += ["a", "a\x00", "ab"]
    values = rng.sample(pool, rng.randrange(1, len(pool)))
    if seed == 5:
        values.append(None)
    array = pa.array(values, rng.choice([pa.string(), pa.large_string()]))
    cut = rng.randrange(len(values) + 1)
    chunks = pa.chunked_array([array.slice(0, cut), array.slice(cut)])
    expected = len(set(values)) == len(values)
    assert all_distinct(chunks) is expected
    monkeypatch.setattr(thread_columns, "_MIX", np.uint64(0))
    assert all_distinct(chunks) is expected
    assert all_distinct(pa.chunked_array([array.slice(1, 1)]))


def test_kept_copies_nothing_when_every_row_stays() -> None:
    table = pa.table({"a": [1, 2, 3]})
    assert kept(table, np.ones(3, dtype=bool)) is table
    assert kept(table, np.array([True, False, True])).column("a").to_pylist() == [1, 3]


def test_live_rows_sets_aside_repeats_opt_outs_and_unknown_actions_in_time_order() -> None:
    table = prepared_rows(
        [
            _row("e2", 20, "like"),
            _row("e1", 10, "post", "p1"),
            _row("e2", 30, "like"),  # a later delivery of e2: the earlier one counts
            _row("e3", 40, "like", actor="gone"),
            _row("e4", 50, "dance"),
        ]
    )
    assert table.column("event_id").to_pylist() == ["e1", "e2", "e2", "e3", "e4"]
    live, dropped = live_rows(table, frozenset({"gone"}))
    assert live.tolist() == [True, True, False, False, False]
    assert dropped == {"duplicate_event": 1, "actor_opted_out": 1, "unknown_action": 1}


def test_resolve_rows_takes_an_undos_subject_from_its_latest_earlier_create() -> None:
    rows = [
        _row("e1", 1, "post", "p1"),
        _row("e2", 2, "like", "l1", subject_id="p1", subject_user="bob"),
        _row("e3", 3, "unlike", "l1", resolved=False),  # resolved from e2
        _row("e4", 4, "unlike", "l9", resolved=False),  # no create: stays open
        _row("e5", 5, "post_delete", "p1", resolved=False),  # p1 was created: resolved to itself
        _row("e6", 6, "post_delete", "p7", resolved=False),  # never seen: stays open
        _row("e7", 7, "like", "l2", subject_id="p1"),
        _row("e8", 0, "unlike", "l2", resolved=False),  # before its create: stays open
    ]
    table = resolve_rows(prepared_rows(rows))
    by_event = {row["event_id"]: row for row in table.to_pylist()}
    assert (by_event["e3"]["subject_id"], by_event["e3"]["resolved"]) == ("p1", True)
    assert (by_event["e3"]["subject_user"], by_event["e2"]["subject_user"]) == ("bob", "bob")
    assert by_event["e5"]["subject_user"] is None and by_event["e7"]["subject_id"] == "p1"
    assert (by_event["e5"]["subject_id"], by_event["e5"]["resolved"]) == ("p1", True)
    for event in ("e4", "e6", "e8"):
        assert (by_event[event]["subject_id"], by_event[event]["resolved"]) == (None, False)


def test_a_missing_resolved_column_means_resolved() -> None:
    table = prepared_rows(pa.table({"event_id": ["e1"], "time_us": [1], "action": ["post"]}))
    assert table.column("resolved").to_pylist() == [True]
    # Large strings: a month's ids outgrow the 2 GiB of a 32-bit offset column.
    assert table.column("text").type == pa.large_string()


def test_forked_hashing_gives_the_same_threads() -> None:
    from test_release_bytes import SECRET, golden_actions

    table, clusters = golden_actions()
    for stable_ids in (False, True):
        alone = build_threads(table, clusters, secret=SECRET, stable_ids=stable_ids)
        shared = build_threads(table, clusters, secret=SECRET, stable_ids=stable_ids, workers=2)
        assert shared.table.equals(alone.table)
        assert len(set(shared.table.column("id").to_pylist())) == shared.table.num_rows


def test_any_integer_is_a_cluster_and_none_is_out_of_scope() -> None:
    rows = [_row("e1", 1, "post", "p1", text="hi"), _row("e2", 2, "like", "l1", subject_id="p1")]
    rows += [_row("e3", 3, "like", "l2", subject_id="p1", actor="bob")]
    result = build_threads(rows, {"ann": -1, "bob": None}, secret=b"s")
    assert result.table.column("cluster_id").to_pylist() == [-1, -1]
    assert result.dropped == {"actor_out_of_scope": 1}


def test_a_parent_by_a_user_mapped_to_none_ends_the_chain() -> None:
    """None means no cluster for a reply's parent too, as for an actor (chain_in_scope_only)."""
    rows = [_row("e1", 1, "post", "p1", text="root", actor="bob")]
    rows += [_row("e2", 2, "reply", "p2", text="re", reply_parent_id="p1")]
    result = build_threads(rows, {"ann": 3, "bob": None}, secret=b"s")
    assert [len(thread) for thread in result.table.column("thread").to_pylist()] == [1]
    assert (
        build_threads(rows, {"ann": 3, "bob": 4}, secret=b"s").table.column("thread")[0].as_py()[0]["text"]
        == "root"
    )


def test_a_column_of_another_kind_is_a_one_line_error() -> None:
    table = pa.table(
        {"event_id": ["e1"], "time_us": [1], "action": ["post"], "resolved": pa.array([1], pa.int8())}
    )
    with pytest.raises(ValueError, match="column resolved is int8, expected bool"):
        prepared_rows(table)
