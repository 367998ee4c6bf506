"""Thread building rules (BluePrint's), on hand-built anonymized_posts rows."""

from __future__ import annotations

import hashlib
import hmac
import json
import random

import pyarrow as pa
import pytest
from support.reference_release import action_threads_table

from blueprint_assets.lib.actions_space import ACTION_ORDER, TEXT_ACTIONS
from blueprint_assets.lib.privacy.pseudonyms import pseudonym
from blueprint_assets.lib.release.threads import (
    ACTION_THREADS_SCHEMA,
    build_threads,
    threads_from_table,
)

LAKE_SECRET = b"lake-secret-for-tests"
RELEASE_SECRET = b"release-secret-for-tests"
T0 = 1_740_787_200_000_000  # 2025-03-01T00:00:00Z in microseconds


def user(name: str) -> str:
    return pseudonym(LAKE_SECRET, f"did:plc:{name}")


class Feed:
    """Builds anonymized_posts rows one second apart, with pseudonymized ids like the real table."""

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.time = T0
        self.counter = 0

    def add(
        self,
        action: str,
        actor: str,
        *,
        text: str | None = None,
        parent: str | None = None,
        quote: str | None = None,
        subject: str | None = None,
        subject_user: str | None = None,
        record: str | None = None,
        resolved: bool = True,
    ) -> str:
        self.counter += 1
        self.time += 1_000_000
        record_id = record or pseudonym(LAKE_SECRET, f"at://did:plc:{actor}/rec/{self.counter}")
        self.rows.append(
            {
                "event_id": pseudonym(LAKE_SECRET, f"event-{self.counter}"),
                "day": "2025-03-01",
                "time_us": self.time,
                "action": action,
                "actor": user(actor),
                "record_id": record_id,
                "text": text,
                "is_english": True,
                "reply_parent_id": parent,
                "reply_root_id": None,
                "quote_id": quote,
                "subject_id": subject,
                "subject_user": user(subject_user) if subject_user else None,
                "resolved": resolved,
            }
        )
        return record_id


IN_SCOPE = {user("alice"): 0, user("bob"): 1, user("carol"): 1}


def build(feed: Feed, **kwargs):
    kwargs.setdefault("secret", RELEASE_SECRET)
    return build_threads(feed.rows, IN_SCOPE, **kwargs)


def by_last_text(threads: list[dict]) -> dict[str, dict]:
    return {t["thread"][-1].get("text"): t for t in threads if t["thread"][-1].get("text")}


def texts(thread: dict) -> list[str | None]:
    return [m.get("text") for m in thread["thread"]]


def test_reply_chain_is_cut_at_depth_five_and_chain_of_one_is_post() -> None:
    feed = Feed()
    parent = feed.add("post", "alice", text="m0")
    for i in range(1, 7):
        parent = feed.add("reply", "bob" if i % 2 else "alice", text=f"m{i}", parent=parent)
    result = build(feed)
    threads = by_last_text(result.threads)
    assert threads["m0"]["action"] == "post" and texts(threads["m0"]) == ["m0"]
    assert threads["m1"]["action"] == "reply" and texts(threads["m1"]) == ["m0", "m1"]
    assert texts(threads["m4"]) == ["m0", "m1", "m2", "m3", "m4"]
    assert texts(threads["m6"]) == ["m2", "m3", "m4", "m5", "m6"]  # the last five, ending at the action
    assert texts(build(feed, max_depth=3).threads[-1]) == ["m4", "m5", "m6"]
    assert result.dropped == {}


def test_reply_to_unknown_or_out_of_scope_parent_becomes_post() -> None:
    feed = Feed()
    feed.add("reply", "alice", text="to nowhere", parent=pseudonym(LAKE_SECRET, "at://elsewhere/1"))
    outsider_post = feed.add("post", "mallory", text="outsider says")
    feed.add("reply", "bob", text="answering outsider", parent=outsider_post)
    result = build(feed)
    threads = by_last_text(result.threads)
    assert threads["to nowhere"]["action"] == "post" and len(threads["to nowhere"]["thread"]) == 1
    assert threads["answering outsider"]["action"] == "post"
    assert result.relabeled == {"reply_to_post": 2}
    assert result.dropped == {"actor_out_of_scope": 1}
    # Without BluePrint's in-scope rule the outsider's post is kept as context.
    loose = by_last_text(build(feed, chain_in_scope_only=False).threads)
    assert texts(loose["answering outsider"]) == ["outsider says", "answering outsider"]


def test_like_repost_need_a_known_target_and_undo_needs_resolution() -> None:
    feed = Feed()
    target = feed.add("post", "carol", text="likeable")
    feed.add("like", "alice", subject=target)
    feed.add("repost", "bob", subject=target)
    feed.add("like", "alice", subject=pseudonym(LAKE_SECRET, "at://unknown/post"))
    feed.add("unlike", "alice", subject=target)
    feed.add("unrepost", "bob", subject=None, resolved=False)
    result = build(feed)
    kinds = [t["action"] for t in result.threads]
    assert kinds == ["post", "like", "repost", "unlike"]
    like = result.threads[1]
    assert texts(like) == ["likeable", None]
    assert "text" not in like["thread"][-1]
    assert result.dropped == {"target_post_unknown": 1, "unresolved_undo": 1}


def test_undo_left_unresolved_by_the_lake_is_resolved_from_the_window() -> None:
    """Days ingested in parallel can leave a cross-day undo unresolved; the release resolves it itself."""
    feed = Feed()
    target = feed.add("post", "carol", text="likeable")
    like = feed.add("like", "alice", subject=target, subject_user="carol")
    follow = feed.add("follow", "bob", subject_user="carol")
    deleted = feed.add("post", "alice", text="regret")
    feed.add("unlike", "alice", record=like, resolved=False)
    feed.add("unfollow", "bob", record=follow, resolved=False)
    feed.add("post_delete", "alice", record=deleted, resolved=False)
    result = build(feed)
    assert [t["action"] for t in result.threads][-3:] == ["unlike", "unfollow", "post_delete"]
    assert texts(result.threads[-3]) == ["likeable", None]
    assert texts(result.threads[-1])[0] == "regret"
    assert result.dropped == {}


def test_quote_keeps_both_texts_and_needs_known_target() -> None:
    feed = Feed()
    target = feed.add("post", "bob", text="original claim")
    feed.add("quote", "alice", text="my take", quote=target)
    feed.add("quote", "alice", text="orphan quote", quote=pseudonym(LAKE_SECRET, "at://gone"))
    result = build(feed)
    quote = result.threads[-1]
    assert quote["action"] == "quote" and texts(quote) == ["original claim", "my take"]
    assert result.dropped == {"target_post_unknown": 1}


def test_follow_and_block_use_target_users_latest_prior_post() -> None:
    feed = Feed()
    feed.add("post", "carol", text="carol old")
    newest = feed.add("post", "carol", text="carol newest")
    feed.add("follow", "alice", subject_user="carol")
    feed.add("post", "carol", text="carol after follow")
    feed.add("post_delete", "carol", subject=newest, record=newest)
    feed.add("block", "bob", subject_user="carol")
    feed.add("unfollow", "alice", subject_user=None, resolved=False)
    feed.add("follow", "bob", subject_user="nobody")
    result = build(feed)
    follow = next(t for t in result.threads if t["action"] == "follow")
    block = next(t for t in result.threads if t["action"] == "block")
    assert texts(follow) == ["carol newest", None]
    assert texts(block) == ["carol after follow", None]  # the deleted post is no longer visible
    assert result.dropped == {"no_prior_post_of_target_user": 1, "unresolved_undo": 1}


def test_update_and_delete_show_the_latest_version_before_the_action() -> None:
    feed = Feed()
    post = feed.add("post", "bob", text="v1")
    feed.add("post_update", "bob", text="v2", subject=post, record=post)
    feed.add("post_update", "bob", text="v3", subject=post, record=post)
    feed.add("post_delete", "bob", subject=post, record=post)
    feed.add("like", "alice", subject=post)  # after the delete: target gone
    feed.add("post_delete", "alice", subject=None, resolved=False)
    feed.add("post_delete", "alice", subject=pseudonym(LAKE_SECRET, "at://never/seen"))
    result = build(feed)
    kinds = [(t["action"], texts(t)) for t in result.threads]
    assert kinds == [
        ("post", ["v1"]),
        ("post_update", ["v1", "v2"]),
        ("post_update", ["v2", "v3"]),
        ("post_delete", ["v3", None]),
    ]
    assert result.dropped == {"original_post_unknown": 1, "target_post_unknown": 1, "unresolved_delete": 1}


def test_out_of_scope_actor_is_dropped_and_cluster_is_last_authors() -> None:
    feed = Feed()
    post = feed.add("post", "alice", text="hello")
    feed.add("like", "mallory", subject=post)
    feed.add("reply", "bob", text="hi alice", parent=post)
    result = build(feed)
    assert result.dropped == {"actor_out_of_scope": 1}
    assert [(t["action"], t["cluster_id"]) for t in result.threads] == [("post", 0), ("reply", 1)]


def _conversation() -> Feed:
    feed = Feed()
    a1 = feed.add("post", "alice", text="a1")
    b1 = feed.add("reply", "bob", text="b1", parent=a1)
    feed.add("reply", "alice", text="a2", parent=b1)
    feed.add("like", "alice", subject=b1)
    feed.add("follow", "bob", subject_user="alice")
    return feed


def test_user_ids_rekeyed_per_thread_or_stable() -> None:
    feed = _conversation()
    threads = build(feed).threads
    reply = by_last_text(threads)["a2"]
    ids = [m["user_id"] for m in reply["thread"]]
    assert ids[0] == ids[2] != ids[1]  # alice twice in one thread: same id; bob differs
    alice_ids = {
        by_last_text(threads)["a1"]["thread"][0]["user_id"],
        ids[0],
        threads[3]["thread"][-1]["user_id"],
    }
    assert len(alice_ids) == 3  # alice cannot be linked across threads
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)

    stable = build(feed, stable_ids=True).threads
    expected = hmac.new(RELEASE_SECRET, user("alice").encode(), hashlib.sha256).hexdigest()[:16]
    alice_stable = {m["user_id"] for t in stable for m in t["thread"] if m.get("text") in ("a1", "a2")}
    assert alice_stable == {expected}
    # A different release secret gives different ids.
    other = build_threads(feed.rows, IN_SCOPE, secret=b"another-secret").threads
    assert other[0]["thread"][0]["user_id"] != threads[0]["thread"][0]["user_id"]


def test_only_last_message_has_exactly_one_true_action_and_text_rules() -> None:
    feed = _conversation()
    target = feed.add("post", "carol", text="c1")
    feed.add("post_update", "carol", text="c1 edited", subject=target, record=target)
    feed.add("quote", "bob", text="q", quote=target)
    feed.add("repost", "alice", subject=target)
    feed.add("post_delete", "carol", subject=target, record=target)
    threads = build(feed).threads
    assert {t["action"] for t in threads} == {
        "post",
        "reply",
        "like",
        "follow",
        "post_update",
        "quote",
        "repost",
    } | {"post_delete"}
    for t in threads:
        *context, last = t["thread"]
        assert all("actions" not in m and m["text"] for m in context)
        assert list(last["actions"]) == list(ACTION_ORDER)
        assert [k for k, v in last["actions"].items() if v] == [t["action"]]
        assert ("text" in last) == (t["action"] in TEXT_ACTIONS)


def test_relative_time_is_dense_and_increasing_and_output_deterministic() -> None:
    feed = _conversation()
    result = build(feed)
    times = sorted({m["relative_integer_time"] for t in result.threads for m in t["thread"]})
    assert times == list(range(len(times)))
    for t in result.threads:
        seq = [m["relative_integer_time"] for m in t["thread"]]
        assert seq == sorted(seq)
    keys = [(t["last_time_us"], t["id"]) for t in result.threads]
    assert keys == sorted(keys)
    # a1, b1, a2, like(b1), follow(alice -> latest post a2): ranks of the real clock times.
    assert [[m["relative_integer_time"] for m in t["thread"]] for t in result.threads] == [
        [0],
        [0, 1],
        [0, 1, 2],
        [1, 3],
        [2, 4],
    ]
    assert all(
        set(m) <= {"user_id", "relative_integer_time", "text", "actions"}
        for t in result.threads
        for m in t["thread"]
    )
    # Input order and input type do not matter.
    shuffled = list(feed.rows)
    random.Random(7).shuffle(shuffled)
    assert build_threads(shuffled, IN_SCOPE, secret=RELEASE_SECRET).threads == result.threads
    table = pa.Table.from_pylist(feed.rows)
    assert build_threads(table, IN_SCOPE, secret=RELEASE_SECRET).threads == result.threads
    assert len({t["id"] for t in result.threads}) == len(result.threads)


def test_no_pseudonym_of_the_lake_survives() -> None:
    feed = _conversation()
    dumped = json.dumps(build(feed).threads) + json.dumps(build(feed, stable_ids=True).threads)
    for row in feed.rows:
        for key in ("actor", "record_id", "event_id", "reply_parent_id", "subject_user"):
            if row[key]:
                assert row[key] not in dumped
                assert row[key][:16] not in dumped


def test_action_threads_table_round_trip() -> None:
    threads = build(_conversation()).threads
    table = action_threads_table(threads)
    assert table.schema == ACTION_THREADS_SCHEMA
    assert table.num_rows == len(threads)
    assert threads_from_table(table) == threads


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError):
        build_threads([], IN_SCOPE, secret=RELEASE_SECRET, max_depth=0)
    with pytest.raises(ValueError):
        build_threads([], IN_SCOPE, secret=b"")
    assert build_threads([], IN_SCOPE, secret=RELEASE_SECRET).threads == []


def test_repeated_event_gives_one_thread() -> None:
    feed = _conversation()
    feed.rows.append(dict(feed.rows[1]))  # at-least-once delivery repeated the reply
    result = build(feed)
    assert len(result.threads) == 5
    assert result.dropped == {"duplicate_event": 1}


def test_opted_out_user_disappears_as_actor_and_as_context() -> None:
    feed = (
        _conversation()
    )  # a1 (alice), b1 (bob, reply to a1), a2 (alice), like(alice->b1), follow(bob->alice)
    result = build(feed, excluded_users={user("alice")})
    assert [(t["action"], texts(t)) for t in result.threads] == [("post", ["b1"])]  # b1's parent a1 is gone
    assert result.dropped == {"actor_opted_out": 3, "no_prior_post_of_target_user": 1}


def test_parent_first_seen_through_a_later_edit_keeps_times_ordered() -> None:
    feed = Feed()
    old_post = pseudonym(LAKE_SECRET, "at://did:plc:alice/created-before-window")
    reply = feed.add("reply", "bob", text="b", parent=old_post)  # parent unknown yet -> post
    feed.add("post_update", "alice", text="a (edited)", subject=old_post, record=old_post)
    feed.add("reply", "alice", text="c", parent=reply)
    threads = build(feed).threads
    last = threads[-1]
    assert last["action"] == "reply" and texts(last) == ["a (edited)", "b", "c"]
    seq = [m["relative_integer_time"] for m in last["thread"]]
    assert seq == sorted(seq)
    assert threads[0]["action"] == "post"
