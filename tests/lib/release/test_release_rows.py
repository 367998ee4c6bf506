"""The hand-written JSON lines writer gives exactly json.dumps' bytes, on every row shape it may see."""

from __future__ import annotations

import copy
import json

from support.reference_release import hide_answers, public_thread
from support.reference_rows import jsonl

from blueprint_assets.lib.actions_space import one_hot


def _plain(records: list) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records).encode()


def _msg(uid: str, t: int, **extra) -> dict:
    return {"user_id": uid, "relative_integer_time": t, **extra}


ODD_TEXTS = ['quote " backslash \\ tab \t', "nl \n cr \r", "\x00\x01\x1f ctrl", "\u2028\u2029 seps",
             "ünï ✓ 🌱", "", "</script>"]  # fmt: skip


def test_jsonl_matches_json_dumps_on_odd_rows() -> None:
    rows = [
        {
            "id": "a",
            "cluster_id": 3,
            "thread": [_msg("u1", 0, text=t), _msg("u2", 5, actions=one_hot("like"))],
        }
        for t in ODD_TEXTS
    ]
    rows += [
        {"id": "b", "cluster_id": 0, "thread": [_msg("u", 1)]},  # hidden last message
        {"id": "c", "cluster_id": 1, "thread": [_msg("u", 1, text=None)]},  # explicit null text
        {"id": "d", "cluster_id": 2, "thread": [_msg("u", True)]},  # bool is not an int here
        {"id": "e", "cluster_id": 2, "thread": [_msg("u", 1, extra=1)]},  # unknown key
        {"id": "f", "cluster_id": 2, "thread": [{"relative_integer_time": 1, "user_id": "u"}]},  # key order
        {"id": "g", "cluster_id": 2, "thread": [_msg("u", 1, actions={"like": 1})]},  # non-bool flag
        {"id": "h", "cluster_id": 2, "thread": [_msg("u", 1, text=5)]},  # non-string text
        {"id": "i", "cluster_id": 2.5, "thread": []},  # float id, empty thread
        {"cluster_id": 1, "id": "j", "thread": []},  # row key order
        {"id": "k", "cluster_id": 1, "action": "like", "actions": one_hot("like"), "text": None},  # answer
        {"id": "l", "cluster_id": 1, "thread": ({"user_id": "u", "relative_integer_time": 1},)},  # tuple
    ]
    assert jsonl(rows) == _plain(rows)
    assert jsonl([]) == b""


def test_shared_messages_are_never_modified() -> None:
    thread = {"id": "t", "cluster_id": 1, "action": "reply", "last_time_us": 9,
              "thread": [_msg("a", 0, text="hi"), _msg("b", 1, text="yo", actions=one_hot("reply"))]}  # fmt: skip
    before = copy.deepcopy(thread)
    public, answer = hide_answers(thread, copy=False)
    assert thread == before
    assert public == hide_answers(thread)[0] and answer == hide_answers(thread)[1]
    assert public["thread"][-1] == {"user_id": "b", "relative_integer_time": 1}
    assert public_thread(thread, copy=False)["thread"] is thread["thread"]


def test_column_wise_lines_match_the_dict_writer_on_odd_texts() -> None:
    import pyarrow as pa

    from blueprint_assets.lib.release.published import answer_lines, publish_split, row_lines
    from blueprint_assets.lib.release.threads import ACTION_THREADS_SCHEMA

    threads = [
        {
            "id": f"t{i}",
            "cluster_id": i % 3,
            "action": "reply",
            "last_time_us": 100 - i,
            "thread": [_msg("u1", i, text=t), _msg("u2", 50 + i, text=t[::-1], actions=one_hot("reply"))],
        }
        for i, t in enumerate([*ODD_TEXTS, "".join(map(chr, range(32))) + "\x7f\x80\u00a0", "plain"])
    ]
    table = pa.Table.from_pylist(threads, schema=ACTION_THREADS_SCHEMA)
    for hidden in (False, True):
        split = publish_split(table, hidden)
        pairs = [hide_answers(t, copy=True) if hidden else (public_thread(t), None) for t in threads]
        pairs.sort(key=lambda p: (p[0]["thread"][-1]["relative_integer_time"], p[0]["id"]))
        assert "".join(line + "\n" for line in row_lines(split.rows)).encode() == jsonl([p[0] for p in pairs])
        if hidden:
            assert "".join(x + "\n" for x in answer_lines(split.answers)).encode() == _plain(
                [p[1] for p in pairs]
            )


def test_grouped_lines_bytes_cuts_files_per_group_and_refuses_a_null_line() -> None:
    import pyarrow as pa
    import pytest

    from blueprint_assets.lib.release.published import grouped_lines_bytes, lines_bytes

    lines = pa.chunked_array([["a", "bé"], ["c", "d"]])
    files = grouped_lines_bytes(lines, pa.array([2, 0, 2, 0], pa.int32()), [0, 1, 2])
    assert files == {0: lines_bytes(["bé", "d"]), 1: b"", 2: lines_bytes(["a", "c"])}
    with pytest.raises(ValueError, match="no JSON line"):
        grouped_lines_bytes(pa.array(["a", None]), pa.array([0, 0], pa.int32()), [0])
