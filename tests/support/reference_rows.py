"""The per-row JSON-lines writer for release rows held as dicts: the reference the column-wise writer
(lib/release/published.py) is compared with, byte for byte.

`jsonl` writes the published row shape ({"id", "cluster_id", "thread": [messages]}) by hand with json's own
string encoder, and the 13-flag `actions` object from a per-pattern cache; any row of another shape (or
with an unexpected type) goes through `json.dumps` with the same options, so the output never differs.
`tests/lib/release/test_release_bytes.py` holds golden digests of the files and `tests/lib/release/test_release_rows.py` compares
the writer with `json.dumps` on odd inputs.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring  # the string encoder of json.dumps(ensure_ascii=False)
from typing import Any

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_MESSAGE_HEAD = '{"user_id":'
_ROW_KEYS = ("id", "cluster_id", "thread")
_MESSAGE_SHAPES = frozenset(
    {
        ("user_id", "relative_integer_time"),
        ("user_id", "relative_integer_time", "text"),
        ("user_id", "relative_integer_time", "actions"),
        ("user_id", "relative_integer_time", "text", "actions"),
    }
)


def dumps(record: Any) -> str:
    """`json.dumps(record, ensure_ascii=False, separators=(",", ":"))` with one shared encoder."""
    return _ENCODER.encode(record)


class _Unexpected(Exception):
    """A row the hand writer does not cover; it is written by `dumps` instead."""


def _actions_json(actions: Any, cache: dict[tuple, str]) -> str:
    if type(actions) is not dict:
        raise _Unexpected
    key = tuple(actions.items())
    text = cache.get(key)
    if text is None:
        if not all(type(v) is bool for v in actions.values()):
            raise _Unexpected
        text = cache[key] = dumps(actions)
    return text


def _message_json(message: Any, cache: dict[tuple, str]) -> str:
    if type(message) is not dict or tuple(message) not in _MESSAGE_SHAPES:
        raise _Unexpected
    user_id, time = message["user_id"], message["relative_integer_time"]
    if type(user_id) is not str or type(time) is not int:
        raise _Unexpected
    out = _MESSAGE_HEAD + encode_basestring(user_id) + ',"relative_integer_time":' + str(time)
    if "text" in message:
        text = message["text"]
        if text is None:
            out += ',"text":null'
        elif type(text) is str:
            out += ',"text":' + encode_basestring(text)
        else:
            raise _Unexpected
    if "actions" in message:
        out += ',"actions":' + _actions_json(message["actions"], cache)
    return out + "}"


def _row_json(row: Any, cache: dict[tuple, str]) -> str:
    if type(row) is not dict or tuple(row) != _ROW_KEYS:
        raise _Unexpected
    row_id, cluster, thread = row["id"], row["cluster_id"], row["thread"]
    if type(row_id) is not str or type(cluster) is not int or type(thread) is not list:
        raise _Unexpected
    messages = ",".join([_message_json(m, cache) for m in thread])
    return (
        '{"id":'
        + encode_basestring(row_id)
        + ',"cluster_id":'
        + str(cluster)
        + ',"thread":['
        + messages
        + "]}"
    )


def jsonl(records: list[dict[str, Any]]) -> bytes:
    """One compact JSON object per line, key order as built, text readable (ensure_ascii=False)."""
    cache: dict[tuple, str] = {}
    lines = []
    for record in records:
        try:
            lines.append(_row_json(record, cache))
        except _Unexpected:
            lines.append(dumps(record))
    lines.append("")
    return "\n".join(lines).encode()
