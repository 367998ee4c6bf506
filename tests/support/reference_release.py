"""The per-row (dict) forms of the release's published threads, answer keys and stored thread table: the
references the column-wise code of lib/release (thread_table.py, splits.py, published.py) is tested against."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from blueprint_assets.lib.actions_space import ACTION_ORDER
from blueprint_assets.lib.release.threads import ACTION_THREADS_SCHEMA


def action_threads_table(threads: list[dict[str, Any]]) -> pa.Table:
    """The `action_threads` table (docs/tables.md schema) for storage in the lake."""
    return pa.Table.from_pylist(threads, schema=ACTION_THREADS_SCHEMA)


def public_thread(thread: dict[str, Any], copy: bool = True) -> dict[str, Any]:
    """The published form of a training thread: id, cluster_id, thread (no action label, no clock time).

    Messages are copied (they hold only scalars and the actions dict), so callers may edit the result;
    `copy=False` shares the message list with `thread`, for writers that only read it.
    """
    if copy:
        messages = [dict(m) for m in thread["thread"]]
        for message in messages:
            if "actions" in message:
                message["actions"] = dict(message["actions"])
    else:
        messages = thread["thread"]
    return {"id": thread["id"], "cluster_id": int(thread["cluster_id"]), "thread": messages}


def hide_answers(thread: dict[str, Any], copy: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """(input thread with the last message's `actions` and `text` removed, answer key).

    `copy=False` shares all messages but the last with `thread` (see `public_thread`); `thread` itself is
    never modified.
    """
    public = public_thread(thread, copy)
    if not copy:  # a new list and a new last message: `thread` stays as it was
        public["thread"] = [*public["thread"][:-1], dict(public["thread"][-1])]
    last = public["thread"][-1]
    actions = last.pop("actions", None)
    text = last.pop("text", None)
    if actions is None:
        raise ValueError("the last message of a thread must carry its actions")
    answer = {
        "id": thread["id"],
        "cluster_id": int(thread["cluster_id"]),
        "action": thread.get("action") or next(name for name in ACTION_ORDER if actions[name]),
        "actions": {name: bool(actions[name]) for name in ACTION_ORDER},
        "text": text,
    }
    return public, answer
