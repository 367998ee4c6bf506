"""The public-folder scan (lib/release/public_scan.py): its column-wise structure rule reads like its row-by-row form."""

from __future__ import annotations

import pyarrow as pa

from blueprint_assets.lib.release.public_scan import _row_structure_findings, _structure_leaks
from blueprint_assets.lib.release.thread_table import MESSAGE_TYPE

HIDDEN = {f"h{i}" for i in range(1, 9)}
ROWS = [
    {"id": "h1", "action": None, "thread": [{"user_id": "a", "relative_integer_time": 1, "text": "x"},
                                            {"user_id": "b", "relative_integer_time": 2}]},
    {"id": "h2", "action": None, "thread": [{"user_id": "a", "relative_integer_time": 1},
                                            {"user_id": "b", "relative_integer_time": 2, "text": "t"}]},
    {"id": "h3", "action": None, "thread": []},
    {"id": "h4", "action": None, "thread": None},
    {"id": "h5", "action": None, "thread": [{"user_id": "b", "relative_integer_time": 2,
                                             "actions": {"like": True}}]},
    {"id": "n1", "action": "like", "thread": [{"user_id": "b", "relative_integer_time": 2, "text": "t"}]},
    {"id": "h6", "action": None, "thread": [None]},
    {"id": "h7", "action": "like", "thread": []},
]  # fmt: skip
SCHEMA = pa.schema([("id", pa.string()), ("action", pa.string()), ("thread", pa.list_(MESSAGE_TYPE))])


def _findings_by_row(table: pa.Table) -> list[str]:
    return _row_structure_findings("f", table.to_pylist(), HIDDEN)


def test_column_wise_structure_findings_match_the_row_rule() -> None:
    table = pa.Table.from_pylist(ROWS, schema=SCHEMA)
    chunked = pa.concat_tables([table.slice(0, 3), table.slice(3)])  # several chunks, sliced offsets
    expected = _findings_by_row(table)
    assert [f.split()[3] for f in expected] == ["h2…", "h5…", "h7…"]
    assert _structure_leaks("f", table, HIDDEN) == expected
    assert _structure_leaks("f", chunked, HIDDEN) == expected
    assert _structure_leaks("f", table.slice(2), HIDDEN) == _findings_by_row(table.slice(2))


def test_another_shape_is_read_row_by_row() -> None:
    table = pa.table({"id": ["h1", "h2"], "thread": [["a"], ["b", "c"]]})
    assert _structure_leaks("f", table, HIDDEN) == _findings_by_row(table) == []


def test_only_strings_that_could_hold_an_answer_are_screened(tmp_path) -> None:
    """Ids (lowercase hex) and strings shorter than an answer are left out of the text screen, unless some
    answer is itself hex: the scan finds the same answers either way."""
    import json

    from blueprint_assets.lib.release.answer_leaks import MIN_CHARS, AnswerIndex
    from blueprint_assets.lib.release.public_scan import scan_public

    words = AnswerIndex([{"id": "t1", "text": "a hidden answer of words"}])
    hexed = AnswerIndex([{"id": "t2", "text": "0123456789abcdef0123"}, {"id": "t3", "text": "short"}])
    strings = pa.array(["x" * (MIN_CHARS - 1), "deadbeef" * 5, "0123456789abcdef0123ff", "DEADBEEF" * 3,
                        "say: a hidden answer of words", None], pa.large_string())  # fmt: skip
    assert words.may_hold(strings).to_pylist() == ["DEADBEEF" * 3, "say: a hidden answer of words"]
    assert hexed.may_hold(strings).to_pylist() == strings.to_pylist()[1:5]
    public = tmp_path / "public"
    public.mkdir()
    rows = [{"id": "0123456789abcdef0123ff", "note": "say: a hidden answer of words"}]
    (public / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert [f.split(" ")[0] for f in scan_public(public, words)] == ["rows.jsonl:"]
    assert [f.split(" ")[0] for f in scan_public(public, hexed)] == ["rows.jsonl:"]
    assert "t2" in scan_public(public, hexed)[0]
