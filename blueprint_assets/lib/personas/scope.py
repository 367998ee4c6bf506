"""Release scope: which users (and so which rows) a release covers.

BluePrint's rule: a user is in scope with at least 2 English posts or replies in the release window.
The optional topic filter additionally requires at least one of those posts to match a keyword list
(case-insensitive, whole words; a phrase matches with any whitespace between its words).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from blueprint_assets.lib.parallel import forked_map

DEFAULT_KEYWORDS_PATH = Path(__file__).resolve().parents[2] / "config" / "keywords_political.txt"
# The actions whose text counts towards scope (BluePrint: "posts or replies").
COUNTED_ACTIONS: tuple[str, ...] = ("post", "reply")

Rows = pa.Table | list[dict[str, Any]]


@dataclass(frozen=True)
class ScopeResult:
    """Users kept (sorted), their rows (same type as the input) and per-filter counts for metadata."""

    users: list[str]
    posts: Rows
    counts: dict[str, int] = field(default_factory=dict)


def load_keywords(path: str | Path = DEFAULT_KEYWORDS_PATH) -> list[str]:
    """Keywords from a text file: one term or phrase per line, `#` comments and blank lines ignored."""
    keywords: list[str] = []
    seen: set[str] = set()
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        term = " ".join(line.split("#", 1)[0].split()).lower()
        if term and term not in seen:
            seen.add(term)
            keywords.append(term)
    return keywords


def compile_keywords(keywords: Iterable[str]) -> re.Pattern[str] | None:
    """One case-insensitive regex matching any keyword as a whole word or phrase; None if no keywords."""
    terms = sorted({" ".join(k.split()).lower() for k in keywords if k.strip()}, key=lambda t: (-len(t), t))
    if not terms:
        return None
    # Longest first so a phrase wins over its own prefix; words of a phrase may be split by any whitespace.
    alternatives = "|".join(r"\s+".join(re.escape(word) for word in term.split()) for term in terms)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def _columns(posts: Rows, actor_column: str) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    names = (actor_column, "action", "text", "is_english")
    if isinstance(posts, pa.Table):
        missing = [n for n in names if n not in posts.column_names]
        if missing:
            raise ValueError(f"scope input lacks columns {missing}")
        return tuple(posts.column(n).to_pylist() for n in names)  # type: ignore[return-value]
    for i, row in enumerate(posts):
        missing = [n for n in (actor_column, "action") if n not in row]
        if missing:
            raise ValueError(f"scope input row {i} lacks keys {missing}")
    return (
        [row[actor_column] for row in posts],
        [row["action"] for row in posts],
        [row.get("text") for row in posts],
        [row.get("is_english") for row in posts],
    )


def _filter_rows(posts: Rows, actor_column: str, users: set[str]) -> Rows:
    if isinstance(posts, pa.Table):
        mask = pc.is_in(posts.column(actor_column), value_set=pa.array(sorted(users), type=pa.string()))
        return posts.filter(pc.fill_null(mask, False))
    return [row for row in posts if row[actor_column] in users]


def _topical_actors(pattern: re.Pattern[str], posts: list[tuple[str, str]]) -> set[str]:
    """The actors of the posts some text of which matches `pattern` (a user needs one match only, so the
    regex skips the posts of a user once matched)."""
    topical: set[str] = set()
    for actor, text in posts:
        if actor not in topical and pattern.search(text):
            topical.add(actor)
    return topical


def select_in_scope_users(
    posts: Rows,
    keywords: Sequence[str] | None = None,
    min_english_posts: int = 2,
    require_keywords: bool | None = None,
    counted_actions: Sequence[str] = COUNTED_ACTIONS,
    actor_column: str = "actor",
    workers: int = 1,
) -> ScopeResult:
    """Apply the language rule and (optionally) the topic rule; return kept users and all their rows.

    `posts` holds every action row of the window (columns actor, action, text, is_english). Kept rows
    include all action types of kept users (likes, follows, ...), not only the counted posts.
    `require_keywords`: None applies the topic filter iff keywords are given; True requires keywords.
    `workers` forked processes share the keyword search (`parallel.forked_map`).
    """
    if min_english_posts < 0:
        raise ValueError("min_english_posts must be >= 0")
    apply_topic = bool(keywords) if require_keywords is None else require_keywords
    if apply_topic and not keywords:
        raise ValueError("require_keywords=True needs a non-empty keyword list")
    pattern = compile_keywords(keywords or [])
    counted = frozenset(counted_actions)
    actors, actions, texts, english = _columns(posts, actor_column)

    all_users: set[str] = set()
    english_counts: dict[str, int] = {}
    searched: list[tuple[str, str]] = []  # (actor, text) of the counted posts with text
    for actor, action, text, is_en in zip(actors, actions, texts, english, strict=True):
        if actor is None:
            continue
        all_users.add(actor)
        if action not in counted:
            continue
        if is_en:
            english_counts[actor] = english_counts.get(actor, 0) + 1
        if pattern is not None and text:
            searched.append((actor, text))
    topical: set[str] = (
        set().union(*forked_map(partial(_topical_actors, pattern), searched, workers)) if pattern else set()
    )

    language_ok = {u for u in all_users if english_counts.get(u, 0) >= min_english_posts}
    kept = language_ok & topical if apply_topic else language_ok
    kept_rows = _filter_rows(posts, actor_column, kept)
    counts = {
        "rows_in": len(actors),
        "users_in": len(all_users),
        "users_with_counted_english_posts": len(english_counts),
        "users_language_ok": len(language_ok),
        "users_keyword_match": len(topical),
        "topic_filter_applied": int(apply_topic),
        "users_in_scope": len(kept),
        "rows_in_scope": kept_rows.num_rows if isinstance(kept_rows, pa.Table) else len(kept_rows),
        "min_english_posts": min_english_posts,
        "n_keywords": len(set(keywords or [])),
    }
    return ScopeResult(users=sorted(kept), posts=kept_rows, counts=counts)
