"""Forget by handle (lib/privacy/optout.py): the handles an account's own raw events give it, the log of
their pseudonyms, and a forget run again after one cut short."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from blueprint_assets.lib.privacy.involvement import URI_COLUMNS
from blueprint_assets.lib.privacy.optout import (
    account_handles,
    forget_account,
    logged_handles,
    logged_optouts,
    record_optout,
)
from blueprint_assets.lib.privacy.pseudonyms import Pseudonymizer
from blueprint_assets.lib.storage.lake import Lake, read_files, write_table_atomic

ALICE = "did:plc:" + "a" * 24
BOB = "did:plc:" + "b" * 24


def _identity(did: str, handle: str) -> str:
    return json.dumps({"did": did, "kind": "identity", "identity": {"did": did, "handle": handle}})


def _feed_post(did: str, handle: str, parent: tuple[str, str]) -> str:
    """An author-feed line: the author's view, and the view of the post it replies to (another account)."""
    author = {"did": did, "handle": handle}
    parent_view = {"author": {"did": parent[0], "handle": parent[1]}}
    return json.dumps(
        {"post": {"author": author, "record": {"text": "hi"}}, "reply": {"parent": parent_view}}
    )


def test_the_handles_of_an_account_come_from_its_own_events_only(tmp_path) -> None:
    lake = Lake(str(tmp_path / "data"))
    rows = [
        (BOB, _identity(BOB, "bob.bsky.social")),
        (ALICE, _identity(ALICE, "Alice.Example.COM")),
        *[(BOB, json.dumps({"did": BOB, "kind": "commit"})) for _ in range(6)],
        (ALICE, _feed_post(ALICE, "alice.bsky.social", (BOB, "bob.bsky.social"))),
        (BOB, _feed_post(BOB, "bob.bsky.social", (ALICE, "old-alice.bsky.social"))),  # not Alice's own
        (ALICE, _identity(ALICE, "handle.invalid")),  # Bluesky's placeholder: no one's handle
        (None, json.dumps({"kind": "account"})),
    ]
    table = pa.table({"did": [d for d, _ in rows], "raw": [r for _, r in rows]})
    path = lake.day_file("raw_events", "2025-03-01")
    write_table_atomic(table, path)
    pq.write_table(table, path, row_group_size=2)  # several row groups: only Alice's are read whole
    assert account_handles(lake, ALICE) == {"alice.example.com", "alice.bsky.social"}
    assert account_handles(lake, BOB) == {"bob.bsky.social"}
    assert account_handles(lake, "did:plc:" + "c" * 24) == set()


def test_the_log_holds_the_pseudonyms_of_the_account_and_of_its_handles(tmp_path) -> None:
    state = tmp_path / "state"
    record_optout(state, "p-account", ["p-handle-2", "p-handle-1"])
    record_optout(state, "p-other")
    assert logged_optouts(state) == {"p-account", "p-other"}  # accounts only: the audit counts them
    assert logged_handles(state) == {"p-handle-1", "p-handle-2"}
    assert logged_handles(state, "p-other") == set()


def _day(lake: Lake, day: str, rows: list[tuple[str, str]]) -> None:
    """A raw_events and an actions partition of posts (author DID, text)."""
    raw = [json.dumps({"did": d, "text": t}) if not t.startswith("{") else t for d, t in rows]
    write_table_atomic(pa.table({"did": [d for d, _ in rows], "raw": raw}), lake.day_file("raw_events", day))
    columns = {c: [None] * len(rows) for c in URI_COLUMNS}
    keys = [f"at://{d}/app.bsky.feed.post/{day}{i}" for i, (d, _) in enumerate(rows)]
    actions = {"event_key": keys, "record_uri": keys, "actor_did": [d for d, _ in rows], **columns}
    actions["text"] = [None if t.startswith("{") else t for _, t in rows]
    write_table_atomic(pa.table(actions), lake.day_file("actions", day))


def test_a_forget_cut_short_still_removes_texts_naming_a_handle_it_logged(tmp_path) -> None:
    """The opt-out is logged before any table is rewritten. A forget run again after the account's raw
    events are gone (so its handles cannot be read again) still finds texts naming a logged handle, by
    pseudonym."""
    data = tmp_path / "data"
    lake = Lake(str(data))
    pseudonym = Pseudonymizer(b"optout-test-secret")
    _day(lake, "2025-03-01", [(ALICE, _identity(ALICE, "Alice.bsky.social")), (BOB, "hi @alice.bsky.social")])
    first = forget_account(data, ALICE, pseudonym)
    assert first.handles == 1 and first.removed_rows["actions"] == 2 and first.removed_rows["raw_events"] == 2
    assert logged_handles(data / "state") == {pseudonym("alice.bsky.social")}
    # Texts the first run did not see (a table it had not reached yet when cut short).
    _day(lake, "2025-03-02", [(BOB, "thanks @ALICE.bsky.social!"), (BOB, "hello @bob.bsky.social")])
    again = forget_account(data, ALICE, pseudonym)
    assert again.handles == 1 and again.removed_rows == {"actions": 1, "raw_events": 1}
    texts = read_files(lake.day_files("actions", ["2025-03-02"])).column("text").to_pylist()
    assert texts == ["hello @bob.bsky.social"]
    assert logged_optouts(data / "state") == {pseudonym(ALICE)}


def test_a_forget_cut_short_before_actions_finds_the_public_rows_again(tmp_path, monkeypatch) -> None:
    """Another account's reply names the forgotten account in a public table only through its post's
    pseudonym, which forget reads from `actions`: `actions` is rewritten last, so a run cut short in a
    public table and run again still removes the reply."""
    from blueprint_assets.lib.privacy import optout

    data = tmp_path / "data"
    lake = Lake(str(data))
    p = Pseudonymizer(b"optout-test-secret")
    day = "2025-03-01"
    post, reply = f"at://{ALICE}/app.bsky.feed.post/1", f"at://{BOB}/app.bsky.feed.post/2"
    actions = {
        "event_key": ["k1", "k2", "k3"], "record_uri": [post, reply, f"at://{BOB}/app.bsky.feed.post/3"],
        "actor_did": [ALICE, BOB, BOB], "reply_parent_uri": [None, post, None],
        **{c: [None] * 3 for c in URI_COLUMNS if c not in ("record_uri", "reply_parent_uri")},
        "text": ["hello", "nice", "unrelated"],
    }  # fmt: skip
    write_table_atomic(pa.table(actions), lake.day_file("actions", day))
    public = {
        "event_id": [p("k1"), p("k2"), p("k3")], "actor": [p(ALICE), p(BOB), p(BOB)],
        "reply_parent_id": [None, p(post), None], "text": ["hello", "nice", "unrelated"],
    }  # fmt: skip
    write_table_atomic(pa.table(public), lake.day_file("anonymized_posts", day))
    real_rewrite = optout._rewrite

    def cut_short(path: str, keep) -> int:
        if "anonymized_posts" in path:
            raise KeyboardInterrupt
        return real_rewrite(path, keep)

    monkeypatch.setattr(optout, "_rewrite", cut_short)
    with pytest.raises(KeyboardInterrupt):
        forget_account(data, ALICE, p)
    monkeypatch.setattr(optout, "_rewrite", real_rewrite)
    forget_account(data, ALICE, p)
    texts = read_files(lake.day_files("anonymized_posts", [day])).column("text").to_pylist()
    assert texts == ["unrelated"]
    assert read_files(lake.day_files("actions", [day])).column("text").to_pylist() == ["unrelated"]
