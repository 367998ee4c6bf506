"""The facts the release quality gates test, one rule broken per thread."""

from __future__ import annotations

import pyarrow as pa
import pytest

from blueprint_assets.defs.release.checks import thread_facts
from blueprint_assets.lib.actions_space import one_hot
from blueprint_assets.lib.release.thread_table import ACTION_THREADS_SCHEMA, ACTIONS_TYPE


def _message(time: int, text: str | None = "words", action: str | None = None) -> dict:
    return {
        "user_id": "u",
        "relative_integer_time": time,
        "text": text,
        "actions": one_hot(action) if action else None,
    }


def _thread(id_: str, action: str, messages: list[dict]) -> dict:
    return {"id": id_, "cluster_id": 3, "action": action, "last_time_us": 0, "thread": messages}


THREADS = [
    _thread("good", "reply", [_message(1), _message(2, action="reply")]),
    _thread("context_acts", "like", [_message(1, action="like"), _message(2, None, "like")]),
    _thread("no_last_text", "post", [_message(5, None, "post")]),
    _thread("backwards", "repost", [_message(9), _message(4, None, "repost")]),
    _thread("wrong_action", "follow", [_message(1), _message(2, None, "like")]),
    _thread("mute_context", "reply", [_message(1, None), _message(2, action="reply")]),
    _thread("no_action", "like", [_message(1), _message(2, None)]),
]


def test_each_broken_rule_shows_in_its_fact() -> None:
    facts = thread_facts(pa.Table.from_pylist(THREADS, schema=ACTION_THREADS_SCHEMA)).set_index("id")
    assert facts.loc["good"].tolist() == [0, 3, "reply", 1, 0, True, True, True, True]
    assert facts.loc["context_acts", "others_with_actions"] == 1
    assert not facts.loc["no_last_text", "text_where_needed"]
    assert not facts.loc["backwards", "times_increasing"]
    assert (
        not facts.loc["wrong_action", "last_action_matches"] and facts.loc["wrong_action", "last_true"] == 1
    )
    assert not facts.loc["mute_context", "context_has_text"]
    assert facts.loc["no_action", "last_true"] == 0
    broken = facts.drop(index="good")
    rules = ["others_with_actions", "text_where_needed", "times_increasing", "last_action_matches",
             "context_has_text", "last_true"]  # fmt: skip
    # Every other thread breaks exactly one rule (no_action also fails last_action_matches: nothing is true).
    assert (broken[rules[1:5]].eq(False).sum(axis=1) + (broken["others_with_actions"] > 0)
            + (broken["last_true"] != 1)).tolist() == [1, 1, 1, 1, 1, 2]  # fmt: skip


def test_granularities_prefix_ids_with_their_k() -> None:
    table = pa.Table.from_pylist(THREADS[:2], schema=ACTION_THREADS_SCHEMA)
    facts = thread_facts(table.append_column("k", pa.array([25, 100], pa.int64())))
    assert facts["id"].tolist() == ["25:good", "100:context_acts"] and facts["k"].tolist() == [25, 100]


def test_a_thread_without_messages_is_refused() -> None:
    with pytest.raises(ValueError, match="without messages"):
        thread_facts(pa.Table.from_pylist([_thread("empty", "post", [])], schema=ACTION_THREADS_SCHEMA))


def test_no_thread_gives_no_columns_and_a_missing_time_is_refused() -> None:
    empty = pa.Table.from_pylist([], schema=ACTION_THREADS_SCHEMA)
    assert thread_facts(empty).columns.tolist() == []
    loose = ACTION_THREADS_SCHEMA.set(
        4, pa.field("thread", pa.list_(pa.struct([("user_id", pa.string()), ("relative_integer_time", pa.int64()),
                                                  ("text", pa.string()), ("actions", ACTIONS_TYPE)])))
    )  # fmt: skip
    untimed = _thread("untimed", "post", [{**_message(1, action="post"), "relative_integer_time": None}])
    with pytest.raises(ValueError, match="without a time"):
        thread_facts(pa.Table.from_pylist([untimed], schema=loose))
