"""The lake's layout of the thread tables (lib/release/thread_storage.py): actions as int16 flags."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from support.release_inputs import CLUSTERS, RELEASE_SECRET, anonymized_rows

from blueprint_assets.lib.actions_space import ACTION_ORDER
from blueprint_assets.lib.release.thread_storage import FLAGS_TYPE, from_lake, to_lake
from blueprint_assets.lib.release.threads import build_threads


def _threads() -> pa.Table:
    table = build_threads(anonymized_rows(), CLUSTERS, secret=RELEASE_SECRET).table
    assert {t for t in table.column("action").to_pylist()} == set(ACTION_ORDER)
    return table


def test_a_thread_table_written_in_the_lake_layout_reads_back_equal(tmp_path: Path) -> None:
    """Every action (each one flag), context messages without actions, and a column of several slices
    of one array (as the Ks share their messages) come back value for value, with the same schema."""
    threads = _threads()
    # Chunks that slice one array, out of order: each converts only its own messages.
    sliced = pa.Table.from_batches(
        threads.slice(7, 30).to_batches() + threads.slice(0, 7).to_batches() + threads.slice(37).to_batches()
    )
    assert sliced.column("thread").num_chunks == 3
    path = tmp_path / "threads.parquet"
    pq.write_table(to_lake(sliced), path)
    stored = pq.read_table(path)
    flags = stored.column("thread").combine_chunks().flatten().field("actions")
    assert flags.type == FLAGS_TYPE and flags.null_count > 0  # context messages carry no actions
    # The last message of a thread carries exactly its action's bit.
    last = stored.column("thread").combine_chunks().flatten()
    ends = stored.column("thread").combine_chunks().offsets.to_numpy()[1:] - 1
    bits = last.field("actions").take(pa.array(ends)).to_pylist()
    actions = stored.column("action").to_pylist()
    relabelled = {"post", "reply"}  # a thread's label is its last message's action
    assert all(
        b == 1 << ACTION_ORDER.index(a) for b, a in zip(bits, actions, strict=True) if a not in relabelled
    )
    back = from_lake(stored)
    assert back.schema == pq.read_table(_struct_file(tmp_path, sliced)).schema
    assert back.equals(pq.read_table(_struct_file(tmp_path, sliced)))
    assert back.to_pylist() == sliced.to_pylist()


def _struct_file(tmp_path: Path, table: pa.Table) -> Path:
    path = tmp_path / "struct.parquet"
    pq.write_table(table, path)
    return path


def test_a_partition_written_before_the_layout_is_read_as_it_is(tmp_path: Path) -> None:
    threads = _threads()
    stored = pq.read_table(_struct_file(tmp_path, threads))
    assert from_lake(stored) is stored
    assert from_lake(stored).to_pylist() == threads.to_pylist()
