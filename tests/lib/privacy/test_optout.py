"""Forget's handle lookup (lib/privacy/optout.py): the handles an account's own raw events give it."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq

from blueprint_assets.lib.privacy.optout import account_handles, logged_optouts, record_optout
from blueprint_assets.lib.storage.lake import Lake, write_table_atomic

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
    assert logged_optouts(state) == {"p-account", "p-handle-1", "p-handle-2", "p-other"}
