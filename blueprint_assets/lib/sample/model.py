"""The data types of a sample: archive lines, fake accounts, and the bounded per-user state of the generator.

`make_users` draws the accounts (DID, handle, latent persona, language) from the seed alone, so the same seed
gives the same accounts whatever the number of days or events.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, NamedTuple

from blueprint_assets.lib.sample.ids import fake_handle, random_did
from blueprint_assets.lib.sample.vocabulary import FOREIGN_LANGS, NON_ENGLISH_USER_SHARE
from blueprint_assets.lib.sample.vocabulary_topics import (
    N_POLITICAL,
    NON_POLITICAL_TOPICS,
    PERSONAS,
    POLITICAL_SHARE,
)


class SampleLine(NamedTuple):
    """One archive line and where it goes.

    folder: `YYYY-MM/DD/HH` relative to the archive root; line: the text written (no newline); event: the parsed
    event (None for malformed lines); action: the intended one of the 13 actions, or None; status: "ok",
    "duplicate" (exact copy of the previous ok line) or a malformed reason (see `MALFORMED_REASONS`).
    """

    folder: str
    line: str
    event: dict[str, Any] | None
    action: str | None
    status: str


@dataclass(frozen=True)
class SampleUser:
    """A fake account and its latent persona (ground truth for cluster-quality tests)."""

    index: int
    did: str
    handle: str
    persona: str
    political: bool
    lang: str


class Post(NamedTuple):
    """A post the generator remembers, so later likes, replies, quotes and edits can refer to it."""

    uri: str
    cid: str
    rkey: str
    did: str
    author: int  # user index, -1 for accounts outside the sample
    created_us: int
    record_json: str | None  # kept as JSON text: a third of the memory of the dict, needed only for edits
    root_uri: str
    root_cid: str
    depth: int


class UserState:
    """What the generator keeps per account: a few posts, undoable records and lists (all bounded)."""

    __slots__ = ("user", "posts", "records", "lists")

    def __init__(self, user: SampleUser) -> None:
        self.user = user
        self.posts: list[Post] = []
        # Undoable records as packed ints (created_us << 10 | clock id): the rkey is tid() of the same bits.
        self.records: dict[str, list[int]] = {}
        self.lists: list[str] = []


def make_users(users: int, seed: int) -> list[SampleUser]:
    """The fake accounts of a sample: depends only on (users, seed), not on days or size."""
    rng = random.Random(f"blueprint-sample-users:{seed}")
    out: list[SampleUser] = []
    seen: set[str] = set()
    for i in range(users):
        did = random_did(rng)
        while did in seen:
            did = random_did(rng)
        seen.add(did)
        handle = fake_handle(rng, i)
        political = rng.random() < POLITICAL_SHARE
        persona = (
            rng.randrange(N_POLITICAL)
            if political
            else N_POLITICAL + rng.randrange(len(NON_POLITICAL_TOPICS))
        )
        lang = rng.choice(FOREIGN_LANGS) if rng.random() < NON_ENGLISH_USER_SHARE else "en"
        out.append(SampleUser(i, did, handle, PERSONAS[persona], political, lang))
    return out
