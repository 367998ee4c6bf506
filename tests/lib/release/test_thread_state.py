"""The column-wise state of a window's posts (lib/release/thread_state.py) against the row-by-row pass it
replaced (tests/support/reference_threads.py), on windows made to hit every rule's corner."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from support.reference_threads import reference_pass

from blueprint_assets.lib.release.thread_columns import INPUT_COLUMNS, kept, window_rows
from blueprint_assets.lib.release.thread_state import PostVersions, state_threads, version_log
from blueprint_assets.lib.release.thread_table import Built

ACTIONS = (
    ["post"] * 5 + ["reply"] * 6 + ["quote"] * 2 + ["post_update"] * 3 + ["post_delete"] * 3
    + ["follow", "unfollow", "block", "unblock", "like"]
)  # fmt: skip


def tangled_window(seed: int, n: int = 700) -> pa.Table:
    """Few users and few post ids, so that posts are re-created, edited before they are seen, deleted
    before and after, reply to themselves and to each other in cycles; texts and parents null or empty."""
    rng = random.Random(seed)
    users = [f"u{i}" for i in range(8)]
    posts = [f"p{i}" for i in range(25)]
    maybe = lambda values, none=0.25: None if rng.random() < none else rng.choice(values)  # noqa: E731
    rows: list[dict[str, Any]] = []
    t = 0
    for i in range(n):
        t += rng.choice((0, 0, 1, 5))  # many ties: the event id orders them
        action = rng.choice(ACTIONS)
        row = dict.fromkeys(INPUT_COLUMNS)
        row.update(
            event_id=f"e{rng.randrange(10**6):06d}-{i}", time_us=t, action=action, actor=rng.choice(users)
        )
        row["resolved"] = rng.random() < 0.8
        if action in ("post", "reply", "quote"):
            row["record_id"] = maybe(posts, 0.05)
            row["text"] = maybe(["", "words", "more words"], 0.15)
            row["reply_parent_id"] = maybe(posts + [""], 0.3 if action == "reply" else 0.7)
            row["quote_id"] = maybe(posts) if action == "quote" else None
        elif action in ("post_update", "post_delete"):
            row["record_id"], row["subject_id"] = maybe(posts, 0.2), maybe(posts + [""], 0.4)
            if action == "post_update":
                row["text"] = maybe(["edited", ""], 0.2)
                row["reply_parent_id"] = maybe(posts + [""], 0.6)
        else:
            row["record_id"] = f"r{i}"
            row["subject_user"] = maybe(users + [""], 0.15)
            row["subject_id"] = maybe(posts, 0.2)
        rows.append(row)
    return pa.Table.from_pylist(rows)


def _state_rows(window: pa.Table) -> tuple[pa.Table, np.ndarray]:
    """The rows the state pass reads, prepared as build_threads prepares them, and their positions."""
    table, likes, _ = window_rows(window, frozenset())
    return kept(table, ~likes), np.flatnonzero(~likes)


def _threads(built: Built) -> list[tuple]:
    """Every thread as (label, event, cluster, last time, messages), in a fixed order."""
    authors, clock, texts = built.message_columns()
    out, at = [], 0
    for label, event, cluster, last, length in zip(
        built.labels, built.event_ids, built.clusters, built.last_times, built.lengths, strict=True
    ):
        span = slice(at, at + length)
        messages = tuple(zip(authors[span], clock[span], texts[span], strict=True))
        out.append((label, event, cluster, last, messages))
        at += length
    return sorted(out, key=repr)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("max_depth", [1, 3, 5])
def test_state_threads_equal_the_row_by_row_pass(seed: int, max_depth: int) -> None:
    rows, positions = _state_rows(tangled_window(seed))
    clusters = {f"u{i}": i % 3 for i in range(8) if i not in (2, 5)}  # two users out of scope
    for in_scope_only in (True, False):
        dropped: Counter[str] = Counter()
        relabeled: Counter[str] = Counter()
        expected, expected_log = reference_pass(
            rows, positions, clusters, max_depth, in_scope_only, dropped, relabeled
        )
        built, posts, got_dropped, got_relabeled = state_threads(
            rows, positions, clusters, max_depth, in_scope_only
        )
        assert _threads(built) == _threads(expected)
        assert +got_dropped == +dropped and got_relabeled == relabeled
        log = posts.log
        got_log = list(
            zip(
                log.positions.tolist(), log.records.to_pylist(), log.authors.tolist(), log.created.tolist(),
                log.versions.tolist(), log.texts.tolist(), log.reply_parents.tolist(), log.deleted.tolist(),
                strict=True,
            )
        )  # fmt: skip
        assert got_log == expected_log


def test_the_windows_reach_every_rule() -> None:
    """The fuzzed windows are only a proof if they reach each outcome of the rules."""
    reasons: Counter[str] = Counter()
    relabels: Counter[str] = Counter()
    lengths: Counter[int] = Counter()
    for seed in range(12):
        rows, positions = _state_rows(tangled_window(seed))
        built, _, dropped, relabeled = state_threads(rows, positions, {f"u{i}": 0 for i in range(6)}, 5, True)
        reasons.update(dropped)
        relabels.update(relabeled)
        lengths.update(built.lengths)
    assert set(reasons) >= {
        "actor_out_of_scope", "target_post_unknown", "target_user_unknown", "unresolved_undo",
        "no_prior_post_of_target_user", "unresolved_delete", "original_post_unknown",
    }  # fmt: skip
    assert set(relabels) >= {"post_to_reply", "reply_to_post"}
    assert set(lengths) >= {1, 2, 3, 4, 5}


def test_a_post_deleted_is_gone_for_good_and_an_author_steps_back_to_an_earlier_post() -> None:
    rows = [
        {"event_id": "e1", "time_us": 1, "action": "post", "actor": "ann", "record_id": "a1", "text": "first"},
        {"event_id": "e2", "time_us": 2, "action": "post", "actor": "ann", "record_id": "a2", "text": "second"},
        {"event_id": "e3", "time_us": 3, "action": "post_delete", "actor": "ann", "record_id": "a2"},
        {"event_id": "e4", "time_us": 4, "action": "post", "actor": "ann", "record_id": "a2", "text": "again"},
        {"event_id": "e5", "time_us": 5, "action": "follow", "actor": "bob", "record_id": "f", "subject_user": "ann"},
    ]  # fmt: skip
    table, positions = _state_rows(
        pa.Table.from_pylist([{**dict.fromkeys(INPUT_COLUMNS), **r} for r in rows])
    )
    built, posts, _, _ = state_threads(table, positions, {"ann": 0, "bob": 1}, 5, True)
    follow = [t for t in _threads(built) if t[0] == "follow"]
    assert [m[2] for m in follow[0][4]] == ["first", None]  # a2 was re-created, but stays deleted
    assert posts.log.deleted.tolist() == [False, False, True, True]


def test_nothing_to_log_logs_nothing() -> None:
    table, positions = _state_rows(
        pa.Table.from_pylist([{"event_id": "e1", "time_us": 1, "action": "follow", "actor": "ann"}])
    )
    log = version_log(table, positions)
    assert len(log) == 0
    built, posts, dropped, _ = state_threads(table, positions, {"ann": 0}, 5, True)
    assert len(built) == 0 and dropped == {"target_user_unknown": 1}
    assert isinstance(posts, PostVersions)


def _compare(window: pa.Table, clusters: dict[str, int], max_depth: int = 5) -> Built:
    """state_threads against the reference pass on one window; the built threads."""
    rows, positions = _state_rows(window)
    dropped: Counter[str] = Counter()
    relabeled: Counter[str] = Counter()
    expected, expected_log = reference_pass(rows, positions, clusters, max_depth, True, dropped, relabeled)
    built, posts, got_dropped, got_relabeled = state_threads(rows, positions, clusters, max_depth, True)
    assert _threads(built) == _threads(expected)
    assert +got_dropped == +dropped and got_relabeled == relabeled
    assert len(posts.log) == len(expected_log)
    return built


def _window(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist([{**dict.fromkeys(INPUT_COLUMNS), "resolved": True, **r} for r in rows])


@pytest.mark.parametrize(
    "rows",
    [
        [{"event_id": "e", "time_us": 1, "action": "like", "actor": "u0", "subject_id": "x"}],
        [{"event_id": "e", "time_us": 1, "action": "post_update", "actor": "u0", "text": "x"}],
        [
            {"event_id": "e", "time_us": 1, "action": "post_delete", "actor": "u0", "record_id": "p", "resolved": False},
            {"event_id": "f", "time_us": 2, "action": "reply", "actor": "u0", "reply_parent_id": "old"},
            {"event_id": "g", "time_us": 3, "action": "quote", "actor": "u0", "quote_id": "old"},
        ],
    ],
    ids=["a like", "an edit without a target", "a reply and a quote of unknown posts"],
)  # fmt: skip
def test_a_window_that_logs_no_version_builds_what_the_pass_builds(rows: list[dict]) -> None:
    _compare(_window(rows), {"u0": 0})


@pytest.mark.parametrize("seed", range(4))
def test_follows_step_over_deleted_and_textless_posts_like_the_pass(seed: int) -> None:
    """An account that posts and deletes often, some posts without text, followed again and again."""
    rng = random.Random(seed)
    rows = []
    for i in range(300):
        t = i + 1
        kind = rng.random()
        if kind < 0.4:
            text = None if rng.random() < 0.2 else "hello"
            rows.append({"event_id": f"p{i}", "time_us": t, "action": "post", "actor": "bot", "record_id": f"r{i}",
                         "text": text})  # fmt: skip
        elif kind < 0.6:
            rows.append({"event_id": f"e{i}", "time_us": t, "action": "post_update", "actor": "bot",
                         "record_id": f"r{rng.randrange(i + 1)}", "text": rng.choice([None, "edited"])})  # fmt: skip
        elif kind < 0.85:
            rows.append({"event_id": f"d{i}", "time_us": t, "action": "post_delete", "actor": "bot",
                         "record_id": f"r{rng.randrange(i + 1)}"})  # fmt: skip
        else:
            rows.append({"event_id": f"f{i}", "time_us": t, "action": rng.choice(["follow", "block"]),
                         "actor": rng.choice(["fan", "bot"]), "record_id": f"x{i}", "subject_user": "bot"})  # fmt: skip
    built = _compare(_window(rows), {"fan": 0, "bot": 1})
    assert {"follow", "block"} & set(built.labels)
