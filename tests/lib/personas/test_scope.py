"""Release scope: BluePrint's language rule plus the optional keyword (topic) filter."""

from __future__ import annotations

import pyarrow as pa
import pytest

from blueprint_assets.lib.personas.scope import (
    DEFAULT_KEYWORDS_PATH,
    compile_keywords,
    load_keywords,
    select_in_scope_users,
)


def _row(actor: str, action: str, text: str | None = None, is_english: bool = False) -> dict:
    return {
        "actor": actor,
        "action": action,
        "text": text,
        "is_english": is_english,
        "record_id": f"r-{actor}",
    }


ROWS = [
    # u1: two English posts, one political -> in scope with or without the topic filter.
    _row("u1", "post", "The Senate votes on the budget today", True),
    _row("u1", "reply", "I agree, lovely weather", True),
    _row("u1", "like"),
    _row("u1", "follow"),
    # u2: two English posts, none political -> in scope only without the topic filter.
    _row("u2", "post", "Baking bread again", True),
    _row("u2", "reply", "Nice garden!", True),
    # u3: one English post only -> never in scope.
    _row("u3", "post", "Election night is here", True),
    _row("u3", "post", "Noche electoral", False),
    # u4: English quotes do not count (posts or replies only), and likes have no text.
    _row("u4", "quote", "Vote!", True),
    _row("u4", "quote", "Vote again!", True),
    _row("u4", "like"),
    # u5: political phrase split over a line break, upper case.
    _row("u5", "post", "Watching the SUPREME\n  COURT hearing", True),
    _row("u5", "post", "dinner time", True),
]


def test_language_rule_only() -> None:
    result = select_in_scope_users(ROWS)
    assert result.users == ["u1", "u2", "u5"]
    assert {r["actor"] for r in result.posts} == {"u1", "u2", "u5"}
    # Every action row of a kept user is kept, not only the counted posts.
    assert sum(1 for r in result.posts if r["actor"] == "u1") == 4
    assert result.counts["users_in"] == 5
    assert result.counts["users_language_ok"] == 3
    assert result.counts["users_in_scope"] == 3
    assert result.counts["rows_in_scope"] == 8
    assert result.counts["topic_filter_applied"] == 0


def test_topic_filter_with_keywords() -> None:
    result = select_in_scope_users(ROWS, keywords=["senate", "supreme court", "election", "vote"])
    assert result.users == ["u1", "u5"]
    # u3 matches a keyword but fails the language rule; u4's quotes do not count.
    assert result.counts["users_keyword_match"] == 3
    assert result.counts["topic_filter_applied"] == 1
    assert result.counts["users_in_scope"] == 2


def test_require_keywords_false_reports_but_does_not_filter() -> None:
    result = select_in_scope_users(ROWS, keywords=["senate"], require_keywords=False)
    assert result.users == ["u1", "u2", "u5"]
    assert result.counts["users_keyword_match"] == 1


def test_require_keywords_without_keywords_is_an_error() -> None:
    with pytest.raises(ValueError, match="non-empty keyword list"):
        select_in_scope_users(ROWS, keywords=[], require_keywords=True)


def test_min_english_posts_is_configurable() -> None:
    assert select_in_scope_users(ROWS, min_english_posts=1).users == ["u1", "u2", "u3", "u5"]
    assert select_in_scope_users(ROWS, min_english_posts=3).users == []


def test_arrow_table_input_gives_the_same_scope_and_a_table() -> None:
    table = pa.Table.from_pylist(ROWS)
    result = select_in_scope_users(table, keywords=["senate", "supreme court"])
    assert isinstance(result.posts, pa.Table)
    assert result.users == ["u1", "u5"]
    assert sorted(set(result.posts.column("actor").to_pylist())) == ["u1", "u5"]
    assert result.posts.num_rows == 6
    assert result.posts.column_names == table.column_names


def test_keyword_matching_is_whole_word_and_case_insensitive() -> None:
    pattern = compile_keywords(["vote", "gun control", "roe v wade"])
    assert pattern is not None
    assert pattern.search("Go VOTE tomorrow")
    assert pattern.search("#vote")
    assert pattern.search("debating gun   control again")
    assert pattern.search("Roe v Wade anniversary")
    assert not pattern.search("devoted fans")
    assert not pattern.search("voter")
    assert not pattern.search("guns controlled")
    assert compile_keywords([" ", ""]) is None


def test_default_political_keywords_file(tmp_path) -> None:
    keywords = load_keywords()
    assert DEFAULT_KEYWORDS_PATH.is_file()
    assert 75 <= len(keywords) <= 120
    assert len(keywords) == len(set(keywords))
    assert all(k == k.lower().strip() and not k.startswith("#") for k in keywords)
    assert {"election", "supreme court", "immigration"} <= set(keywords)

    custom = tmp_path / "kw.txt"
    custom.write_text(
        "# comment\n\nClimate  Change  # trailing comment\nclimate change\nTAX\n", encoding="utf-8"
    )
    assert load_keywords(custom) == ["climate change", "tax"]


def test_missing_columns_are_reported() -> None:
    with pytest.raises(ValueError, match="lacks columns"):
        select_in_scope_users(pa.table({"actor": ["u1"], "action": ["post"]}))


def test_keyword_search_shared_by_workers_finds_the_same_users() -> None:
    """Each worker skips the posts of users it has matched; the union is what one pass finds."""
    rows = [
        {"actor": f"u{i % 97}", "action": "post", "is_english": True,
         "text": "the senate voted" if i % 97 < 40 and i % 7 == 0 else f"garden note {i}"}
        for i in range(3000)
    ]  # fmt: skip
    one = select_in_scope_users(rows, keywords=["senate"])
    two = select_in_scope_users(rows, keywords=["senate"], workers=2)
    assert one.users == two.users and one.counts == two.counts
    assert 0 < len(one.users) < 97
