"""The column-wise `involved_mask` decides every row exactly as the row-by-row rule `involved_ids` does."""

from __future__ import annotations

import json
import random

import pyarrow as pa
import pytest

from blueprint_assets.lib.privacy.involvement import (
    dids_pseudonymized_in,
    involved_ids,
    involved_mask,
    members_of,
    text_handles,
)
from blueprint_assets.lib.privacy.pseudonyms import Pseudonymizer

# Real-shaped DIDs (did:plc: takes 24 base32 characters), so texts that write them are read as DIDs.
ALICE, BOB, DAVE = (f"did:plc:{name * 24}"[:32] for name in ("alice", "bobby", "davek"))
DIDS = [ALICE, BOB, "did:web:carol.example", DAVE]
SECRET = b"involvement-test"


def _variant(rng: random.Random, did: str) -> str:
    """The DID as people write it: any case, sometimes glued to more characters."""
    cased = "".join(c.upper() if rng.random() < 0.3 else c for c in did)
    return cased + rng.choice(["", "", "x", ".", "/post", "\n"])


def _rows(n: int = 600, seed: int = 3) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        did, other = rng.choice(DIDS), rng.choice(DIDS)
        text = rng.choice(
            [
                None,
                "",
                "no account here",
                f"hello {_variant(rng, did)} and dId: nothing",
                f"DID:PLC:{rng.choice([ALICE[8:].upper(), BOB[8:].title(), 'e' * 24])} said",
                f"dİd:plc:{ALICE[8:]} (a dotted capital I)",
                DAVE.replace("k", "\u212a") + " (a Kelvin sign, which lowers to k)",
                "did:plc:",
            ]
        )
        facets = rng.choice([None, json.dumps([{"features": [{"did": _variant(rng, other)}]}])])
        uri = rng.choice(
            [None, "", f"at://{other}/app.bsky.feed.post/{i}", "at:///x", f"at://{other}", "https://x/y",
             f"at://{other}\n/weird", f"AT://{other}/x"]
        )  # fmt: skip
        rows.append(
            {
                "event_key": f"at://{did}/app.bsky.feed.post/k{i}",
                "actor_did": rng.choice([did, did.upper(), "", None]),
                "subject_did": rng.choice([None, other]),
                "record_uri": f"at://{did}/app.bsky.feed.post/{i}",
                "reply_parent_uri": uri,
                "subject_uri": rng.choice([None, uri]),
                "text": text,
                "facets_json": facets,
                "time_us": i,
            }
        )
    return rows


@pytest.mark.parametrize("dictionary", [False, True], ids=["plain", "dictionary_columns"])
@pytest.mark.parametrize("sought", [{ALICE}, {BOB, "did:web:carol.example"}, {DAVE}, {"did:plc:" + "e" * 24}])
def test_the_mask_is_the_row_rule_for_a_set_of_ids(sought: set[str], dictionary: bool) -> None:
    rows = _rows()
    table = pa.Table.from_pylist(rows)
    if dictionary:
        table = pa.table(
            {
                n: (c.dictionary_encode() if n != "time_us" else c)
                for n, c in zip(table.column_names, table.columns, strict=True)
            }
        )
    expected = [not involved_ids(row).isdisjoint(sought) for row in rows]
    assert involved_mask(table, members_of(sought)).tolist() == expected
    assert involved_mask(table, members_of(sought), text_needles=sought).tolist() == expected
    assert 0 < sum(expected) < len(rows)
    # Texts decide some rows on their own: the rule without its text columns finds fewer.
    no_text = [not involved_ids({**r, "text": None, "facets_json": None}).isdisjoint(sought) for r in rows]
    assert no_text != expected


def test_the_mask_is_the_row_rule_for_opted_out_pseudonyms() -> None:
    """Opt-outs are known by pseudonym only: a row goes when a DID it involves has one of them."""
    rows = _rows(seed=8)
    pseudonym = Pseudonymizer(SECRET)
    opted_out = {pseudonym(BOB), pseudonym(DAVE)}
    expected = [
        any(pseudonym(i) in opted_out for i in involved_ids(row) if i.startswith("did:")) for row in rows
    ]
    mask = involved_mask(pa.Table.from_pylist(rows), dids_pseudonymized_in(opted_out, pseudonym.many))
    assert mask.tolist() == expected
    assert 0 < sum(expected) < len(rows)


def test_columns_that_hold_no_strings_involve_nobody() -> None:
    table = pa.table(
        {"actor_did": pa.array([None, None], pa.null()), "text": [1, 2], "subject_did": ["", "did:x:y"]}
    )
    assert involved_mask(table, members_of({"did:x:y", ""})).tolist() == [False, True]
    assert involved_mask(table.slice(0, 0), members_of({"did:x:y"})).tolist() == []


def test_a_handle_written_as_a_mention_involves_its_account() -> None:
    """A post that names an account by `@handle` only, with no mention facet, involves it; the mask with
    the handle's needle decides as the row rule does."""
    texts = [
        "thanks @Alice.Bsky.Social!",
        "not @alice.bsky.socialite",
        "alice.bsky.social without an at sign",
        "mail me at a@alice.bsky.social.",
        "@bob.bsky.social",
        None,
    ]
    assert text_handles(texts[0]) == {"alice.bsky.social"}
    rows = [{"actor_did": BOB, "text": text, "facets_json": None} for text in texts]
    sought = {"alice.bsky.social"}
    expected = [not involved_ids(row).isdisjoint(sought) for row in rows]
    assert expected == [True, False, False, True, False, False]
    table = pa.Table.from_pylist(rows)
    assert involved_mask(table, members_of(sought), text_needles=["@alice.bsky.social"]).tolist() == expected
