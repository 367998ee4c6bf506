"""What a release publishes, column-wise: the rows and answer keys of each split as Arrow tables.

`publish_split` turns a split's threads (the `action_threads` table) into its public rows (id, cluster_id,
thread; in validation/test the last message without `text` and `actions`) and, for a hidden split, its
answer keys, both sorted by (last message's relative time, id). `row_lines` and `answer_lines` write their
JSON lines from the leaf columns, and `public_texts` gives the text a row shows, for the answer-leak scan.
Row lines and public texts are built with Arrow string kernels (one JSON fragment per message, joined over
the list offsets); their strings are JSON literals by json_literals.py. Every function gives byte for byte
what the per-row references in tests/support (reference_release, reference_rows) give (tests/lib/release/test_release_bytes.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from json.encoder import encode_basestring
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from blueprint_assets.lib.actions_space import ACTION_ORDER
from blueprint_assets.lib.release.json_literals import json_literals
from blueprint_assets.lib.release.thread_table import ACTION_THREADS_SCHEMA, ACTIONS_TYPE, MESSAGE_TYPE

RELEASE_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("cluster_id", pa.int32(), nullable=False),
        pa.field("thread", pa.list_(MESSAGE_TYPE), nullable=False),
    ]
)
ANSWERS_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("cluster_id", pa.int32(), nullable=False),
        pa.field("action", pa.string(), nullable=False),
        pa.field("actions", ACTIONS_TYPE, nullable=False),
        pa.field("text", pa.string()),
    ]
)
_SEPARATORS = (",", ":")


class Split(NamedTuple):
    """One published split: its rows and, for a hidden split, its answer keys (the same order)."""

    rows: pa.Table
    answers: pa.Table | None


def threads_table(threads: pa.Table | list[dict[str, Any]]) -> pa.Table:
    """A split's threads as one table of the `action_threads` schema."""
    if isinstance(threads, pa.Table):
        return threads.select(ACTION_THREADS_SCHEMA.names).cast(ACTION_THREADS_SCHEMA).combine_chunks()
    return pa.Table.from_pylist(threads, schema=ACTION_THREADS_SCHEMA)


def _lists(table: pa.Table) -> tuple[pa.ListArray, dict[str, pa.Array], np.ndarray]:
    """The thread column, its message columns (flattened) and the offsets of each row's messages."""
    lists = table.column("thread").combine_chunks()
    children = dict(zip([f.name for f in MESSAGE_TYPE], lists.flatten().flatten(), strict=True))
    offsets = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum(lists.value_lengths().to_numpy(zero_copy_only=False), out=offsets[1:])
    return lists, children, offsets


def publish_split(threads: pa.Table, hidden: bool) -> Split:
    """Public rows (and answer keys if `hidden`) of one split's threads, sorted by (last relative time, id)."""
    _, children, offsets = _lists(threads)
    if (np.diff(offsets) == 0).any():
        raise ValueError("every thread needs at least one message")
    last = offsets[1:] - 1
    text, actions = children["text"], children["actions"]
    answers = None
    if hidden:
        last_index = pa.array(last)
        last_actions = actions.take(last_index)
        if last_actions.null_count:
            raise ValueError("the last message of a thread must carry its actions")
        answers = pa.Table.from_arrays(
            [threads.column("id"), threads.column("cluster_id"), threads.column("action"), last_actions,
             text.take(last_index)],
            schema=ANSWERS_SCHEMA,
        )  # fmt: skip
        is_last = np.zeros(len(text), dtype=bool)
        is_last[last] = True
        text = pc.if_else(pa.array(is_last), pa.nulls(len(text), pa.string()), text)
        hide = pa.array(is_last | ~actions.is_valid().to_numpy(zero_copy_only=False))
        # The raw flag columns (not `flatten()`, which nulls them under a null struct): the flags are
        # non-nullable, and what lies under a null struct is never written.
        flags = [pc.fill_null(actions.field(i), False) for i in range(actions.type.num_fields)]
        actions = pa.StructArray.from_arrays(flags, fields=list(ACTIONS_TYPE), mask=hide)
    messages = pa.StructArray.from_arrays(
        [children["user_id"], children["relative_integer_time"], text, actions], fields=list(MESSAGE_TYPE)
    )
    thread = pa.ListArray.from_arrays(
        pa.array(offsets.astype(np.int32)), messages, type=pa.list_(MESSAGE_TYPE)
    )
    rows = pa.Table.from_arrays(
        [threads.column("id"), threads.column("cluster_id"), thread], schema=RELEASE_SCHEMA
    )
    # Public order: by the last message's relative time, then id (the clock time itself is not published).
    key = pa.table(
        {"time": children["relative_integer_time"].take(pa.array(last)), "id": threads.column("id")}
    )
    order = pc.sort_indices(key, [("time", "ascending"), ("id", "ascending")])
    return Split(rows.take(order).combine_chunks(), answers.take(order).combine_chunks() if hidden else None)


def public_texts(rows: pa.Table) -> list[str]:
    """Per row, the texts its messages show, newline-joined (empty texts left out)."""
    return public_text_array(rows).to_pylist()


def public_text_array(rows: pa.Table) -> pa.Array:
    """`public_texts` as an Arrow array."""
    _, children, offsets = _lists(rows)
    text = children["text"]
    shown = pc.fill_null(pc.not_equal(text, ""), False).to_numpy(zero_copy_only=False)
    row_of = np.repeat(np.arange(rows.num_rows), np.diff(offsets))
    kept = np.zeros(rows.num_rows + 1, dtype=np.int32)
    np.cumsum(np.bincount(row_of[shown], minlength=rows.num_rows), out=kept[1:])
    shown_texts = pa.ListArray.from_arrays(pa.array(kept), text.filter(pa.array(shown)))
    return pc.binary_join(shown_texts, "\n")


def _flags_json(actions: pa.StructArray) -> list[str | None]:
    """The compact JSON of each actions struct (None where null), one `json.dumps` per distinct pattern."""
    out: list[str | None] = [None] * len(actions)
    valid = np.flatnonzero(actions.is_valid().to_numpy(zero_copy_only=False))
    if valid.size:
        columns = [c.to_pylist() for c in actions.take(pa.array(valid)).flatten()]
        cache: dict[tuple, str] = {}
        for at, values in zip(valid.tolist(), zip(*columns, strict=True), strict=True):
            text = cache.get(values)
            if text is None:
                text = cache[values] = json.dumps(
                    dict(zip(ACTION_ORDER, values, strict=True)), ensure_ascii=False, separators=_SEPARATORS
                )
            out[at] = text
    return out


def _optional(prefix: str, values: pa.Array) -> pa.Array:
    """`prefix + value` where the value is present, "" where it is null (the key is left out)."""
    joined = pc.binary_join_element_wise(prefix, values, "")
    return pc.fill_null(joined, "")


def row_lines(rows: pa.Table) -> list[str]:
    """One compact JSON object per published row: {"id", "cluster_id", "thread": [messages]}."""
    return row_lines_array(rows).to_pylist()


def row_lines_array(rows: pa.Table, messages: pa.Array | None = None) -> pa.Array:
    """`row_lines` as an Arrow string array, built with Arrow string kernels. `messages`: the rows'
    `message_lists`, when the caller has them (another K's twin rows: lib/release/files.py)."""
    messages = message_lists(rows) if messages is None else messages
    ids = json_literals(rows.column("id").combine_chunks())
    clusters = pc.cast(rows.column("cluster_id").combine_chunks(), pa.string())
    return pc.binary_join_element_wise(
        '{"id":', ids, ',"cluster_id":', clusters, ',"thread":[', messages, "]}", ""
    )


def message_lists(rows: pa.Table) -> pa.Array:
    """Per row, the JSON of its messages, comma-joined (the inside of its `"thread":[...]`): one fragment
    per message, joined per row over the list offsets."""
    lists, children, _ = _lists(rows)
    flags = pa.array(_flags_json(children["actions"]), pa.string())
    fragments = pc.binary_join_element_wise(
        '{"user_id":', json_literals(children["user_id"]),
        ',"relative_integer_time":', pc.cast(children["relative_integer_time"], pa.string()),
        _optional(',"text":', json_literals(children["text"])), _optional(',"actions":', flags), "}",
        "",
    )  # fmt: skip
    offsets = pa.array(
        np.concatenate([[0], np.cumsum(lists.value_lengths().to_numpy(zero_copy_only=False))]).astype(
            np.int32
        )
    )
    return pc.binary_join(pa.ListArray.from_arrays(offsets, fragments), ",")


def answer_lines(answers: pa.Table) -> list[str]:
    """One compact JSON object per answer key: {"id", "cluster_id", "action", "actions", "text"}."""
    enc = encode_basestring
    return [
        '{"id":' + enc(row_id) + ',"cluster_id":' + str(cluster) + ',"action":' + enc(action)
        + ',"actions":' + flags + ',"text":' + ("null" if text is None else enc(text)) + "}"
        for row_id, cluster, action, flags, text in zip(
            *(answers.column(name).to_pylist() for name in ("id", "cluster_id", "action")),
            _flags_json(answers.column("actions").combine_chunks()), answers.column("text").to_pylist(),
            strict=True,
        )
    ]  # fmt: skip


def lines_bytes(lines: list[str]) -> bytes:
    """JSON lines file content: each line ends with a newline; an empty file is empty."""
    return ("\n".join(lines) + "\n").encode() if lines else b""


def grouped_lines_bytes(
    lines: pa.Array | pa.ChunkedArray, groups: pa.Array | pa.ChunkedArray, keys: Iterable[int]
) -> dict[int, bytes]:
    """Per key, the JSON lines file of the lines whose group is that key, in their order (`lines_bytes` of
    them), cut straight from one Arrow buffer: no Python string per line. A null line or group (a required
    field left null) raises: its row would be missing from the files."""
    lines, groups = (a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a for a in (lines, groups))
    if lines.null_count or groups.null_count:
        raise ValueError("a published row has no JSON line or no cluster_id: a required field is null")
    newline = pa.scalar("\n", pa.large_string())
    ended = pc.binary_join_element_wise(
        pc.cast(lines, pa.large_string()), newline, pa.scalar("", pa.large_string())
    )
    group_of = groups.to_numpy().astype(np.int64)
    order = np.argsort(group_of, kind="stable")
    ordered = ended.take(pa.array(order))
    offsets = np.frombuffer(ordered.buffers()[1], dtype=np.int64)[
        ordered.offset : ordered.offset + len(ordered) + 1
    ]
    data = ordered.buffers()[2]
    sorted_groups = group_of[order]
    files = {}
    for key in keys:
        low, high = np.searchsorted(sorted_groups, [key, key + 1])
        files[key] = data[int(offsets[low]) : int(offsets[high])].to_pybytes() if high > low else b""
    return files


def last_actions(rows: pa.Table) -> list[str]:
    """Per row, the action its last message is flagged with (the first set flag in ACTION_ORDER)."""
    _, children, offsets = _lists(rows)
    flags = children["actions"].take(pa.array(offsets[1:] - 1)).flatten()
    matrix = (
        np.stack([f.to_numpy(zero_copy_only=False) for f in flags], axis=1)
        if len(rows)
        else np.zeros((0, 13))
    )
    return [ACTION_ORDER[i] for i in np.argmax(matrix, axis=1).tolist()]


def last_texts(rows: pa.Table) -> list[str | None]:
    """Per row, its last message's text (None when absent)."""
    _, children, offsets = _lists(rows)
    return children["text"].take(pa.array(offsets[1:] - 1)).to_pylist()
