"""The `action_threads` table built column-wise, and read back into thread dicts column-wise.

`thread_tables` turns the threads found by thread_state.py (label, messages, action row, cluster) into the
published Arrow table without a dict per message: message times are ranked with one numpy `unique`, user and
thread ids come from thread_ids.py (user ids keyed by forked workers, thread ids hashed from JSON built
column-wise, what follows a thread's cluster id built once for every K), and the table is sorted by
(last_time_us, id): by time once for every K, then only the rows tied on time by each K's ids, so the Ks
share one copy of their messages (zero-copy slices). `threads_from_table` is its inverse for the
list-of-dicts readers (splits, release files), reading each leaf column once instead of converting nested
rows. Both give byte for byte what the per-row builder gave (tests/lib/release/test_release_bytes.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from blueprint_assets.lib.actions_space import ACTION_ORDER
from blueprint_assets.lib.release import thread_columns
from blueprint_assets.lib.release.thread_columns import order_within_ties, tie_ranges
from blueprint_assets.lib.release.thread_ids import thread_ids, user_ids

ACTIONS_TYPE = pa.struct([pa.field(name, pa.bool_(), nullable=False) for name in ACTION_ORDER])
MESSAGE_TYPE = pa.struct(
    [
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("relative_integer_time", pa.int64(), nullable=False),
        pa.field("text", pa.string()),
        pa.field("actions", ACTIONS_TYPE),
    ]
)
ACTION_THREADS_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("cluster_id", pa.int32(), nullable=False),
        pa.field("action", pa.string(), nullable=False),
        pa.field("last_time_us", pa.int64(), nullable=False),
        pa.field("thread", pa.list_(MESSAGE_TYPE), nullable=False),
    ]
)


@dataclass(frozen=True)
class Built:
    """Threads found, column by column: one entry per thread, and every thread's messages flattened in
    thread order (author pseudonym, clock time, text: both replaced on output)."""

    labels: list[str]
    event_ids: list[str]
    clusters: list[int]
    last_times: list[int]
    lengths: list[int]
    authors: list[str]
    clock: list[int]
    texts: list[str | None]

    def __len__(self) -> int:
        return len(self.labels)

    @classmethod
    def concat(cls, parts: list[Built]) -> Built:
        """One Built of every part's threads, in part order."""
        return cls(*(_joined(getattr(part, f.name) for part in parts) for f in fields(cls)))

    def message_columns(self) -> tuple[list[str], list[int], list[str | None]]:
        """(authors, clock times, texts) of every message, in thread order."""
        return self.authors, self.clock, self.texts


def _joined(lists: Iterable[list]) -> list:
    """The lists one after another, as one new list (`list.extend`: no Python step per item)."""
    out: list = []
    for values in lists:
        out.extend(values)
    return out


def _monotonic(times: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Clamp context times so they never exceed the next message's (a reverse running minimum per thread).

    Every context was seen before the action, but a parent first seen through a later edit (created before
    the window) can carry a time after its own reply's.
    """
    times = times.copy()
    lengths = np.diff(offsets)
    for back in range(2, int(lengths.max(initial=0)) + 1):  # from the last but one message to the first
        at = (offsets[1:] - back)[lengths >= back]
        times[at] = np.minimum(times[at], times[at + 1])
    return times


def _one_array(column: pa.Array | pa.ChunkedArray, what: str) -> pa.Array:
    """The column as one array (a struct field must be one), or a one-line error when it cannot be
    (`pa.array` gives chunks past the 2 GiB a string array holds)."""
    if isinstance(column, pa.Array):
        return column
    if column.num_chunks > 1:
        raise ValueError(
            f"{what} outgrow one Arrow string array (2 GiB): build the release in smaller windows"
        )
    return column.chunk(0) if column.num_chunks else pa.array([], column.type)


def thread_actors(built: Built) -> list[str]:
    """The actor of each thread: the author of its last message."""
    authors = built.message_columns()[0]
    if not len(built):
        return []
    last = np.cumsum(np.asarray(built.lengths, dtype=np.int64)) - 1
    return np.asarray(authors, dtype=object)[last].tolist()


def thread_tables(
    built: Built, cluster_columns: list[list[int]], secret: bytes, stable_ids: bool, workers: int = 1
) -> list[pa.Table]:
    """The published threads (schema ACTION_THREADS_SCHEMA), sorted by (last_time_us, id), once per cluster
    column (one per granularity K).

    User ids re-keyed per thread (or per person with `stable_ids`), clock times replaced by their dense rank
    over every message time of the release, the last message flagged with its action, and an id. What does
    not depend on the cluster (time ranks, user ids, messages) is computed once, the thread ids per column.
    """
    n = len(built)
    lengths = np.asarray(built.lengths, dtype=np.int64)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    authors, clock, texts = built.message_columns()
    times = _monotonic(np.asarray(clock, dtype=np.int64), offsets)
    # Dense rank over every message time of the release: order survives, clock time does not.
    rank = np.unique(times, return_inverse=True)[1].astype(np.int64).reshape(-1)
    text_column = _one_array(pa.array(texts, pa.string()), "the messages' texts")
    users = user_ids(built.event_ids, built.lengths, offsets, authors, secret, stable_ids, workers)
    ids = thread_ids(built.labels, built.event_ids, offsets, users, text_column, cluster_columns, workers)
    is_last = np.zeros(len(times), dtype=bool)
    is_last[offsets[1:] - 1] = True
    # Each last message's action as its index in ACTION_ORDER (-1: not a last message): integer compares,
    # not one compare of every message's label string per action.
    action_of_message = np.full(len(times), -1, dtype=np.int8)
    action_of_message[is_last] = _action_codes(built.labels)
    flags = [pa.array(action_of_message == code, pa.bool_()) for code in range(len(ACTION_ORDER))]
    actions = pa.StructArray.from_arrays(
        flags, fields=list(ACTIONS_TYPE), mask=pa.array(~is_last, pa.bool_())
    )
    messages = pa.StructArray.from_arrays(
        [
            _one_array(users, "the messages' user ids"),
            pa.array(rank, pa.int64()),
            text_column,
            actions,
        ],
        fields=list(MESSAGE_TYPE),
    )
    threads = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), messages, type=pa.list_(MESSAGE_TYPE))
    # Sorted by time once for every K; only threads tied on time can still differ in order between Ks.
    last_times = np.asarray(built.last_times, dtype=np.int64)
    by_time = np.argsort(last_times, kind="stable")
    sorted_times = last_times[by_time]
    ties = tie_ranges(sorted_times)
    order = pa.array(by_time)
    shared = [
        pa.array(built.labels, pa.string()).take(order),
        pa.array(last_times).take(order),
        threads.take(order),
    ]
    tables = []
    for clusters, ids_of_k in zip(cluster_columns, ids, strict=True):
        columns = [ids_of_k.take(order), pa.array(clusters, pa.int32()).take(order)]
        within = order_within_ties(columns[0], sorted_times, ties)
        columns = [_retaken(column, within, ties) for column in [*columns, *shared]]
        tables.append(pa.Table.from_arrays(columns, schema=ACTION_THREADS_SCHEMA))
    return tables


def _action_codes(labels: list[str]) -> np.ndarray:
    """Each label's index in ACTION_ORDER (-1: none, so no flag is set)."""
    found = pc.index_in(pa.array(labels, pa.string()), value_set=pa.array(ACTION_ORDER, pa.string()))
    return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int8)


def _retaken(
    array: pa.Array, order: np.ndarray | None, ties: list[tuple[int, int]]
) -> pa.Array | pa.ChunkedArray:
    """`array.take(order)` where `order` moves rows only inside `ties`: the runs between are zero-copy
    slices of `array` (chunks), so the Ks share the one copy of their messages."""
    if order is None:
        return array
    if len(ties) > thread_columns.MAX_STITCHED_RANGES:
        return array.take(pa.array(order))
    pieces, at = [], 0
    for start, end in ties:
        # A take from the range's slice: a take from the whole list array costs as much as the whole array.
        pieces += [
            array.slice(at, start - at),
            array.slice(start, end - start).take(pa.array(order[start:end] - start)),
        ]
        at = end
    pieces.append(array.slice(at))
    return pa.chunked_array([piece for piece in pieces if len(piece)], array.type)


def _messages(column: pa.ChunkedArray) -> list[list[dict[str, Any]]] | None:
    """Per row, its message dicts without null keys, read leaf column by leaf column (None: not that shape)."""
    lists = column.combine_chunks()
    if lists.type != pa.list_(MESSAGE_TYPE) or lists.null_count:
        return None
    flat = lists.flatten()
    children = dict(zip([field.name for field in MESSAGE_TYPE], flat.flatten(), strict=True))
    if children["user_id"].null_count or children["relative_integer_time"].null_count:
        return None
    flags = children["actions"]
    actions: list[dict[str, bool] | None] = [None] * len(flat)
    valid = np.flatnonzero(flags.is_valid().to_numpy(zero_copy_only=False))
    if valid.size:
        columns = [child.to_pylist() for child in flags.take(pa.array(valid)).flatten()]
        for at, values in zip(valid.tolist(), zip(*columns, strict=True), strict=True):
            actions[at] = dict(zip(ACTION_ORDER, values, strict=True))
    out: list[dict[str, Any]] = []
    for user_id, time, text, flags_of in zip(
        children["user_id"].to_pylist(),
        children["relative_integer_time"].to_pylist(),
        children["text"].to_pylist(),
        actions,
        strict=True,
    ):
        message: dict[str, Any] = {"user_id": user_id, "relative_integer_time": time}
        if text is not None:
            message["text"] = text
        if flags_of is not None:
            message["actions"] = flags_of
        out.append(message)
    ends = pc.list_value_length(lists).to_numpy(zero_copy_only=False).cumsum().tolist()
    return [out[begin:end] for begin, end in zip([0, *ends], ends, strict=False)]


def _strip_nulls(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if v is not None}


def threads_from_table(table: pa.Table) -> list[dict[str, Any]]:
    """Inverse of the table writers: one dict per row, message keys absent rather than null."""
    names = table.column_names
    messages = _messages(table.column("thread")) if "thread" in names else None
    if messages is None:  # another shape: Arrow's own conversion, nulls stripped
        threads = table.to_pylist()
        for thread in threads:
            if "thread" in thread:
                thread["thread"] = [_strip_nulls(m) for m in thread["thread"]]
        return threads
    columns = [messages if name == "thread" else table.column(name).to_pylist() for name in names]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
