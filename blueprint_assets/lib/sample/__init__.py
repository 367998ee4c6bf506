"""Deterministic generator of realistic Jetstream events in BluePrint's hourly archive layout.

`iter_events` streams `SampleLine`s folder by folder (one hour in memory at a time, plus bounded per-user
state), `generate_sample` writes them to `out_dir/YYYY-MM/DD/HH/events.jsonl[.gz]` and returns a
`SampleSummary`. Same arguments give byte-identical files: one `random.Random` stream per concern, no wall
clock, no set/dict iteration over unordered data. All identities are fake (random `did:plc:` ids derived from
the seed, handles under `bsky.social` or the reserved `example.*` domains); planted PII uses documentation
ranges and published test numbers. Every record carries `"blueprintSynthetic": true` (SYNTHETIC_MARKER), so a
release built from the sample knows it (lib/release/provenance.py) and says so.

Modules: `vocabulary` and `vocabulary_topics` (constant data: templates, PII values, personas and political
keywords), `ids` (DIDs, handles, TIDs, CIDs, createdAt, JSON), `model` (lines, accounts, per-user state),
`content` (post text, facets, embeds), `actions` (one event at a time: the 13 actions, the social graph, other
records), `generator` (the hourly stream with misfiled, duplicate and malformed lines), `writer` (the archive
on disk and its summary). This module re-exports the public names.
"""

from blueprint_assets.lib.sample.generator import SampleGenerator, iter_events
from blueprint_assets.lib.sample.ids import DID_ALPHABET, S32, fake_cid, tid, tid_time_us
from blueprint_assets.lib.sample.model import SampleLine, SampleUser, make_users
from blueprint_assets.lib.sample.vocabulary import (
    DAY_US,
    DEFAULT_EVENTS_PER_USER_DAY,
    HOUR_US,
    MALFORMED_REASONS,
    PII_KINDS,
    SYNTHETIC_MARKER,
)
from blueprint_assets.lib.sample.vocabulary_topics import PERSONAS, POLITICAL_KEYWORDS, is_political_text
from blueprint_assets.lib.sample.writer import SampleSummary, generate_sample

__all__ = [
    "DAY_US",
    "DEFAULT_EVENTS_PER_USER_DAY",
    "DID_ALPHABET",
    "HOUR_US",
    "MALFORMED_REASONS",
    "PERSONAS",
    "PII_KINDS",
    "POLITICAL_KEYWORDS",
    "S32",
    "SYNTHETIC_MARKER",
    "SampleGenerator",
    "SampleLine",
    "SampleSummary",
    "SampleUser",
    "fake_cid",
    "generate_sample",
    "is_political_text",
    "iter_events",
    "make_users",
    "tid",
    "tid_time_us",
]
