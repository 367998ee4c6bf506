"""Deterministic generator of realistic Jetstream events in BluePrint's hourly archive layout.

`iter_events` streams `SampleLine`s folder by folder (one hour in memory at a time, plus bounded per-user
state), `generate_sample` writes them to `out_dir/YYYY-MM/DD/HH/events.jsonl[.gz]` and returns a
`SampleSummary`. Same arguments give byte-identical files: one `random.Random` stream per concern, no wall
clock, no set/dict iteration over unordered data. All identities are fake (random `did:plc:` ids derived from
the seed, handles under `bsky.social` or the reserved `example.*` domains); planted PII uses documentation
ranges and published test numbers. Every record carries `"blueprintSynthetic": true` (SYNTHETIC_MARKER), so a
release built from the sample knows it (lib/release/provenance.py) and says so.
"""

from __future__ import annotations

import bisect
import gzip as gzip_module
import hashlib
import json
import math
import random
import re
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from blueprint_assets.lib.actions_space import ACTION_ORDER

DEFAULT_EVENTS_PER_USER_DAY = 8.0
HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
S32 = "234567abcdefghijklmnopqrstuvwxyz"  # base32-sortable alphabet of atproto TIDs
DID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
SYNTHETIC_MARKER = "blueprintSynthetic"  # a record field real Bluesky records never carry

POLITICAL_KEYWORDS: tuple[str, ...] = (
    "election",
    "senate",
    "policy",
    "vote",
    "democracy",
    "parliament",
    "congress",
    "tariff",
    "immigration",
    "climate policy",
)

# Event categories and their weights (per 100 events). Likes dominate the 13 actions (~51% of them).
_CATEGORY_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("like", 48.0),
    ("repost", 12.0),
    ("post", 10.5),
    ("reply", 9.5),
    ("follow", 5.5),
    ("quote", 2.5),
    ("unlike", 1.8),
    ("unfollow", 0.9),
    ("post_delete", 0.9),
    ("unrepost", 0.8),
    ("block", 0.6),
    ("post_update", 0.4),
    ("unblock", 0.25),
    ("identity", 0.5),
    ("account", 0.3),
    ("other_bsky", 2.5),
    ("other_app", 2.0),
)
_UNDO = {
    "unlike": ("app.bsky.feed.like", "like"),
    "unrepost": ("app.bsky.feed.repost", "repost"),
    "unfollow": ("app.bsky.graph.follow", "follow"),
    "unblock": ("app.bsky.graph.block", "block"),
}
_MALFORMED_REASONS = ("truncated", "not_json", "not_object", "missing_did", "missing_time_us", "bad_time_us")

# ---------------------------------------------------------------------------------------------------------
# Vocabulary. Political phrases each contain a POLITICAL_KEYWORD; nothing else may contain one (not even as a
# substring, e.g. "selection" or "devoted"), so a keyword topic filter separates the two groups exactly.
# ---------------------------------------------------------------------------------------------------------
_POLITICAL: dict[str, tuple[list[str], list[str]]] = {
    "us_elections": (
        [
            "the senate runoff election",
            "early vote counts in Georgia",
            "the congress district maps",
            "election night coverage",
            "turnout in the midterm election",
            "the senate majority math",
            "swing state vote tallies",
            "the congress hearing on election security",
        ],
        ["uspol", "Election2026", "Vote"],
    ),
    "eu_parliament": (
        [
            "the European parliament plenary",
            "the parliament vote on the AI act",
            "EU digital policy",
            "the parliament committee on trade",
            "qualified majority vote rules",
            "European election campaigns",
            "the parliament budget debate",
            "Brussels agricultural policy",
        ],
        ["EUpol", "EuropeanParliament", "EUpolitics"],
    ),
    "climate_policy": (
        [
            "climate policy in the budget",
            "the carbon tax policy",
            "the senate climate bill",
            "net zero policy targets",
            "the congress vote on clean energy credits",
            "emissions trading policy",
            "climate policy after the summit",
            "the parliament debate on coal phase-out",
        ],
        ["ClimatePolicy", "NetZero", "ClimateAction"],
    ),
    "immigration": (
        [
            "immigration reform",
            "the asylum and immigration bill",
            "border policy changes",
            "the senate immigration deal",
            "immigration court backlogs",
            "visa policy for students",
            "the congress fight over immigration funding",
            "refugee resettlement policy",
        ],
        ["Immigration", "AsylumPolicy", "BorderPolicy"],
    ),
    "trade_tariffs": (
        [
            "the new steel tariff",
            "tariff threats against Canada",
            "retaliatory tariff lists",
            "trade policy uncertainty",
            "the congress vote on trade authority",
            "tariff costs for small farms",
            "export policy for chips",
            "the senate trade committee",
        ],
        ["Tariffs", "TradePolicy", "TradeWar"],
    ),
    "healthcare_policy": (
        [
            "health policy and insurance premiums",
            "the senate vote on drug prices",
            "Medicaid policy cuts",
            "the congress health funding bill",
            "public option policy",
            "hospital price transparency policy",
            "the parliament debate on NHS funding",
            "vaccine policy in schools",
        ],
        ["HealthPolicy", "Medicaid", "HealthCare"],
    ),
    "uk_parliament": (
        [
            "Prime Minister's Questions in parliament",
            "the parliament vote on the budget",
            "a snap general election",
            "Westminster housing policy",
            "the Lords and the parliament ping-pong",
            "by-election results",
            "the parliament select committee report",
            "fiscal policy under the Chancellor",
        ],
        ["ukpolitics", "PMQs", "GeneralElection"],
    ),
    "democracy_rights": (
        [
            "voting rights and democracy",
            "the vote suppression lawsuits",
            "protecting democracy at the local level",
            "the senate filibuster and democracy",
            "election observers",
            "democracy under pressure",
            "mail-in vote access",
            "the congress ethics rules and democracy",
        ],
        ["Democracy", "VotingRights", "ProtectTheVote"],
    ),
    "housing_policy": (
        [
            "zoning policy reform",
            "rent control policy",
            "the city council vote on density",
            "housing policy in the senate bill",
            "the parliament vote on social housing",
            "mortgage relief policy",
            "homelessness policy funding",
            "the congress housing package",
        ],
        ["HousingPolicy", "YIMBY", "RentControl"],
    ),
    "labor_policy": (
        [
            "minimum wage policy",
            "the union recognition vote",
            "the senate labor committee",
            "strike law policy",
            "the congress vote on overtime rules",
            "gig worker policy",
            "the parliament debate on working hours",
            "pension policy changes",
        ],
        ["LaborPolicy", "UnionStrong", "Workers"],
    ),
    "tech_policy": (
        [
            "AI regulation policy",
            "the senate hearing on social media",
            "antitrust policy for big tech",
            "the congress privacy bill",
            "the parliament vote on encryption",
            "content moderation policy",
            "election misinformation rules",
            "broadband subsidy policy",
        ],
        ["TechPolicy", "AIpolicy", "Antitrust"],
    ),
    "education_policy": (
        [
            "school funding policy",
            "the senate vote on student loans",
            "curriculum policy fights",
            "the congress education budget",
            "school board election races",
            "teacher pay policy",
            "the parliament debate on tuition fees",
            "policy on phones in classrooms",
        ],
        ["EduPolicy", "StudentLoans", "Teachers"],
    ),
}
_NON_POLITICAL: dict[str, tuple[list[str], list[str]]] = {
    "gardening": (
        [
            "tomato seedlings",
            "compost heaps",
            "raised garden beds",
            "heirloom seeds",
            "pruning roses",
            "slugs on the lettuce",
            "winter sowing",
            "the greenhouse",
        ],
        ["gardening", "GrowYourOwn", "Gardenersky"],
    ),
    "astronomy": (
        [
            "the Orion nebula",
            "Jupiter's moons",
            "a new telescope mount",
            "dark sky sites",
            "the meteor shower",
            "galaxy clusters",
            "astrophotography stacking",
            "the lunar eclipse",
        ],
        ["astronomy", "astrophotography", "space"],
    ),
    "baking": (
        [
            "sourdough starter",
            "laminated croissant dough",
            "a rye loaf",
            "cinnamon rolls",
            "oven spring",
            "bread flour hydration",
            "a lemon tart",
            "proofing baskets",
        ],
        ["baking", "sourdough", "bread"],
    ),
    "running": (
        [
            "marathon training",
            "tempo runs",
            "trail running shoes",
            "a new 10k personal best",
            "interval sessions",
            "the long run on Sunday",
            "running cadence",
            "race day nutrition",
        ],
        ["running", "marathon", "RunChat"],
    ),
    "cats": (
        [
            "my cat",
            "the kitten",
            "cat zoomies at 3am",
            "the litter box",
            "a cardboard box fort",
            "cat treats",
            "the orange cat",
            "the vet visit",
        ],
        ["CatsOfBluesky", "caturday", "cats"],
    ),
    "knitting": (
        [
            "sock yarn",
            "a cable knit sweater",
            "the colourwork chart",
            "merino wool",
            "circular needles",
            "a lace shawl",
            "blocking a cardigan",
            "the yarn stash",
        ],
        ["knitting", "yarn", "knitstagram"],
    ),
    "birdwatching": (
        [
            "a red kite",
            "the heron by the river",
            "warbler migration",
            "my binoculars",
            "the bird feeder",
            "a kingfisher sighting",
            "owl calls at dusk",
            "the wetland reserve",
        ],
        ["birding", "birds", "BirdsOfBluesky"],
    ),
    "jazz": (
        [
            "a Coltrane record",
            "the bebop standards",
            "the jam session",
            "walking bass lines",
            "vinyl pressings",
            "the tenor sax solo",
            "modal jazz",
            "the club gig last night",
        ],
        ["jazz", "vinyl", "NowPlaying"],
    ),
    "indie_games": (
        [
            "an indie roguelike",
            "pixel art sprites",
            "the game jam",
            "a cozy farming game",
            "the speedrun route",
            "level design",
            "a metroidvania map",
            "the early access build",
        ],
        ["indiegames", "gamedev", "screenshotsaturday"],
    ),
    "football": (
        [
            "the derby match",
            "the transfer window",
            "the offside rule",
            "a stoppage time winner",
            "the league table",
            "the striker's form",
            "the cup final",
            "the new manager's tactics",
        ],
        ["football", "PremierLeague", "matchday"],
    ),
    "anime": (
        [
            "the new anime season",
            "a studio Ghibli rewatch",
            "the manga chapter",
            "the opening theme",
            "a shonen fight scene",
            "the cosplay meetup",
            "the light novel adaptation",
            "the animation quality",
        ],
        ["anime", "manga", "AnimeSky"],
    ),
    "photography": (
        [
            "a 35mm film roll",
            "golden hour light",
            "the prime lens",
            "street photography",
            "long exposure shots",
            "the darkroom",
            "portrait lighting",
            "a medium format camera",
        ],
        ["photography", "filmphotography", "streetphotography"],
    ),
    "hiking": (
        [
            "the ridge trail",
            "a summit sunrise",
            "trekking poles",
            "the alpine hut",
            "blisters on day two",
            "the waterfall loop",
            "trail maps",
            "a wild camping spot",
        ],
        ["hiking", "outdoors", "mountains"],
    ),
    "coffee": (
        [
            "a pour over",
            "light roast beans",
            "the espresso grinder",
            "latte art",
            "cold brew",
            "the Ethiopian single origin",
            "milk frothing",
            "the coffee scale",
        ],
        ["coffee", "espresso", "CoffeeTime"],
    ),
    "rust_coding": (
        [
            "the borrow checker",
            "async Rust",
            "a memory leak",
            "compile times",
            "the new crate release",
            "lifetimes",
            "unit tests",
            "the refactor",
        ],
        ["rustlang", "programming", "opensource"],
    ),
    "fantasy_books": (
        [
            "the fantasy series",
            "a dragon heist novel",
            "the magic system",
            "my reading list",
            "the epic trilogy",
            "the audiobook narrator",
            "worldbuilding maps",
            "the library haul",
        ],
        ["books", "fantasybooks", "amreading"],
    ),
    "cycling": (
        [
            "the gravel bike",
            "a century ride",
            "chain lube",
            "the climb up the pass",
            "bike commuting",
            "tubeless tyres",
            "the group ride",
            "saddle sores",
        ],
        ["cycling", "gravel", "bikelife"],
    ),
    "chess": (
        [
            "the Sicilian defence",
            "a blitz tournament",
            "endgame studies",
            "the queen sacrifice",
            "opening prep",
            "the rapid rating",
            "a brilliant move",
            "the chess club",
        ],
        ["chess", "chesscom", "lichess"],
    ),
}
PERSONAS: tuple[str, ...] = tuple(_POLITICAL) + tuple(_NON_POLITICAL)
_PERSONA_WORDS: tuple[tuple[list[str], list[str]], ...] = tuple({**_POLITICAL, **_NON_POLITICAL}.values())
_N_POLITICAL = len(_POLITICAL)
_POLITICAL_SHARE = 0.45  # share of users given a political persona

_EN_TEMPLATES = (
    "Can't stop thinking about {a} today, especially {b}.",
    "Hot take: {a} matters more than {b}.",
    "Spent the whole evening reading about {a}, and honestly {b} deserves more attention.",
    "Anyone else following {a}? The part about {b} is wild.",
    "New thread on {a}, and what most people get wrong about {b}.",
    "Reminder that {a} is not the same thing as {b}.",
    "Three things I learned this week about {a}: patience, luck, and {b}.",
    "If you only read one thing today, make it this piece on {a} and {b}.",
    "Unpopular opinion: {a} is overrated, but {b} is underrated.",
    "Still processing {a}. Will write more about {b} later.",
    "Quick update on {a}: it went better than expected, {b} next.",
    "The conversation around {a} keeps ignoring {b}.",
    "Today's mood: {a}, coffee, and way too much {b}.",
    "Been asked a lot about {a} lately, so here is my take on {b}.",
)
_EN_REPLY_OPENERS = (
    "Totally agree, {a} is the key here.",
    "Not sure about that, {a} seems more complicated.",
    "This! Especially the bit about {a}.",
    "Good point, but what about {a}?",
    "Thanks for sharing, I had no idea about {a}.",
    "Respectfully, I think {a} changes the picture.",
)
_EN_OPENERS = (
    "",
    "",
    "",
    "Okay, ",
    "Honestly, ",
    "Morning all! ",
    "Thread: ",
    "PSA: ",
    "Big news: ",
    "Ugh. ",
)
_EN_CLOSERS = ("", "", " Thoughts?", " More soon.", " What do you all think?", " Let's talk.", " Wild times.")
_FOREIGN_TEMPLATES: dict[str, tuple[str, ...]] = {
    "de": (
        "Ich denke heute viel über {a} nach, vor allem über {b}.",
        "Ehrlich gesagt ist {a} wichtiger als {b}.",
        "Neuer Thread zu {a} und warum {b} oft übersehen wird.",
        "Kurzes Update zu {a}: besser als erwartet, als Nächstes {b}.",
    ),
    "es": (
        "Hoy no dejo de pensar en {a}, sobre todo en {b}.",
        "Opinión impopular: {a} importa más que {b}.",
        "Nuevo hilo sobre {a} y lo que casi nadie entiende de {b}.",
        "¿Alguien más sigue lo de {a}? Lo de {b} es increíble.",
    ),
    "fr": (
        "Je pense beaucoup à {a} aujourd'hui, surtout à {b}.",
        "Avis impopulaire : {a} compte plus que {b}.",
        "Nouveau fil sur {a} et ce qu'on oublie souvent à propos de {b}.",
        "Petite mise à jour sur {a} : mieux que prévu, ensuite {b}.",
    ),
    "ja": (
        "今日は{a}のことばかり考えている。特に{b}について。",
        "正直、{a}は{b}より大事だと思う。",
        "{a}についての新しいスレッド。{b}のことも書きます。",
        "{a}の話、{b}の部分がすごい。",
    ),
    "pt": (
        "Hoje não paro de pensar em {a}, principalmente em {b}.",
        "Opinião impopular: {a} importa mais do que {b}.",
        "Novo fio sobre {a} e o que todo mundo esquece sobre {b}.",
        "Alguém mais acompanhando {a}? A parte de {b} é incrível.",
    ),
}
_FOREIGN_LANGS = tuple(_FOREIGN_TEMPLATES)
_NON_ENGLISH_USER_SHARE = 0.17
_EMOJI = ("🔥", "😂", "🎉", "✨", "🌱", "🙏", "💙", "🤔", "😬", "🦋", "☕", "📚", "👩\u200d🔬", "🇪🇺")
_FIRST_NAMES = (
    "mara",
    "jonas",
    "ines",
    "tariq",
    "lena",
    "omar",
    "sofia",
    "kenji",
    "amara",
    "felix",
    "nadia",
    "pedro",
    "yuki",
    "elena",
    "sam",
    "priya",
    "lucas",
    "hana",
    "noor",
    "theo",
)
_EDIT_SUFFIXES = (" (edit: typo)", " [edited]", " (updated)", " — edit: added context")

# PII planted in text. Phone numbers are fictional ranges, cards are published test numbers (Luhn-valid), BTC
# addresses are well-known examples with valid checksums, IPs are RFC 5737 / RFC 3849 documentation ranges.
_PHONES = (
    "(202) 555-0{n:03d}",
    "+1 415-555-0{n:03d}",
    "+44 20 7946 0{n:03d}",
    "+49 30 901820{d}",
    "+33 1 42 68 5{d} {d}{d}",
    "+34 912 345 6{d}{d}",
)
_CARDS = (
    "4111 1111 1111 1111",
    "5555-5555-5555-4444",
    "4012888888881881",
    "378282246310005",
    "6011111111111117",
)
_BTC = ("1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy")
_PII_TEMPLATES: dict[str, tuple[str, ...]] = {
    "EMAIL_ADDRESS": ("Email me at {v} if you want the notes.", "DMs are broken, write to {v} instead."),
    "PHONE_NUMBER": ("Call me on {v} after six.", "The office number is {v} if anyone needs it."),
    "URL": ("Full write-up here: {v}", "Source: {v}"),
    "IP_ADDRESS": ("My home server at {v} keeps dropping.", "Blocked {v} from the forum again."),
    "CREDIT_CARD": ("Lol my card {v} got declined at the bakery.", "Test card {v} works on the demo shop."),
    "CRYPTO": ("Tips welcome: {v}", "Donations to {v} please."),
    "IBAN_CODE": ("Fundraiser account IBAN {v}, thank you!", "Send the deposit to {v}."),
    "USERNAME": ("Shout out to {v} for the help.", "Ask {v}, they know this stuff."),
    "DID": ("My new account is {v} by the way.", "Moved to {v}, please follow."),
    "AT_URI": ("Pinned thread: {v}", "See {v} for the backstory."),
}


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


MALFORMED_REASONS = _MALFORMED_REASONS


@dataclass
class SampleSummary:
    """What a sample run wrote; counts cover distinct well-formed events unless named otherwise."""

    out_dir: str
    days: int
    users: int
    seed: int
    start: str
    gzip: bool
    events: int = 0
    lines: int = 0
    duplicates: int = 0
    malformed: int = 0
    malformed_by_reason: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, int] = field(default_factory=dict)
    by_collection: dict[str, dict[str, int]] = field(default_factory=dict)
    by_action: dict[str, int] = field(default_factory=dict)
    active_users: int = 0
    files: list[str] = field(default_factory=list)
    misfiled: int = 0
    cross_day_undos: int = 0
    unresolvable_deletes: int = 0
    pii_planted: dict[str, int] = field(default_factory=dict)
    personas: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (keys of nested counts sorted)."""
        return json.loads(json.dumps(asdict(self), sort_keys=True))


@dataclass(frozen=True)
class SampleUser:
    """A fake account and its latent persona (ground truth for cluster-quality tests)."""

    index: int
    did: str
    handle: str
    persona: str
    political: bool
    lang: str


# ---------------------------------------------------------------------------------------------------------
# Identifier helpers
# ---------------------------------------------------------------------------------------------------------
_S32_PAIRS = tuple(S32[i >> 5] + S32[i & 31] for i in range(1024))
_B32 = "abcdefghijklmnopqrstuvwxyz234567"  # RFC 4648 lowercase, the multibase "b" alphabet of CIDs
_B32_TABLE = bytes(ord(_B32[i & 31]) for i in range(256))


def tid(time_us: int, clock_id: int = 0) -> str:
    """An atproto TID: 13 base32-sortable chars of (microseconds << 10 | clock id)."""
    n = (time_us << 10) | (clock_id & 1023)
    # 65 bits = one leading 5-bit char, then six 10-bit pairs (table lookups instead of a 13-step loop).
    return S32[n >> 60] + "".join([_S32_PAIRS[(n >> s) & 1023] for s in (50, 40, 30, 20, 10, 0)])


def tid_time_us(value: str) -> int:
    """Inverse of `tid`: the microsecond timestamp encoded in a TID."""
    n = 0
    for ch in value:
        n = (n << 5) | S32.index(ch)
    return n >> 10


def fake_cid(seed_text: str, raw: bool = False) -> str:
    """A well-formed CIDv1 string: `bafyrei...` (dag-cbor) or `bafkrei...` (raw), sha2-256, 59 chars.

    The 32-byte digest is drawn from sha512(seed_text); the string is built directly (base64.b32encode is slow
    pure Python): the 7 prefix chars encode 0x01 0x71|0x55 0x12 0x20 plus 2 zero bits, the next char carries 3
    digest bits, the last char 1 digest bit followed by zero padding, as real CIDs do.
    """
    d = hashlib.sha512(seed_text.encode()).digest()
    body = d[1:51].translate(_B32_TABLE).decode()
    return ("bafkrei" if raw else "bafyrei") + _B32[d[0] & 7] + body + _B32[(d[51] & 1) << 4]


_DAY_STR: dict[int, str] = {}


def _iso_ms(time_us: int) -> str:
    """`YYYY-MM-DDTHH:MM:SS.mmmZ` (the createdAt format) without datetime.strftime per call."""
    secs, us = divmod(time_us, 1_000_000)
    day, rem = divmod(secs, 86_400)
    day_str = _DAY_STR.get(day)
    if day_str is None:
        day_str = _DAY_STR[day] = (date(1970, 1, 1) + timedelta(days=day)).isoformat()
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    return f"{day_str}T{h:02d}:{m:02d}:{sec:02d}.{us // 1000:03d}Z"


def _dumps(obj: Any) -> str:
    """Compact JSON with raw UTF-8, as Jetstream sends it."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _iban(rng: random.Random) -> str:
    """A German IBAN with a valid ISO 13616 mod-97 checksum."""
    bban = "".join(rng.choice("0123456789") for _ in range(18))
    rearranged = bban + "1314" + "00"  # D=13, E=14
    check = 98 - int(rearranged) % 97
    return f"DE{check:02d}{bban}"


# ---------------------------------------------------------------------------------------------------------
# State
# ---------------------------------------------------------------------------------------------------------
class _Post(NamedTuple):
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


class _UserState:
    __slots__ = ("user", "posts", "records", "lists")

    def __init__(self, user: SampleUser) -> None:
        self.user = user
        self.posts: list[_Post] = []
        # Undoable records as packed ints (created_us << 10 | clock id): the rkey is tid() of the same bits.
        self.records: dict[str, list[int]] = {}
        self.lists: list[str] = []


class _Text:
    """Builds post text while recording facets with UTF-8 byte offsets."""

    __slots__ = ("parts", "nbytes", "facets")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.nbytes = 0
        self.facets: list[dict[str, Any]] = []

    def add(self, s: str) -> None:
        self.parts.append(s)
        self.nbytes += len(s.encode())

    def facet(self, s: str, feature: dict[str, Any]) -> None:
        start = self.nbytes
        self.add(s)
        self.facets.append(
            {
                "$type": "app.bsky.richtext.facet",
                "features": [feature],
                "index": {"byteEnd": self.nbytes, "byteStart": start},
            }
        )

    @property
    def text(self) -> str:
        return "".join(self.parts)


def make_users(users: int, seed: int) -> list[SampleUser]:
    """The fake accounts of a sample: depends only on (users, seed), not on days or size."""
    rng = random.Random(f"blueprint-sample-users:{seed}")
    out: list[SampleUser] = []
    seen: set[str] = set()
    for i in range(users):
        did = "did:plc:" + "".join(rng.choice(DID_ALPHABET) for _ in range(24))
        while did in seen:
            did = "did:plc:" + "".join(rng.choice(DID_ALPHABET) for _ in range(24))
        seen.add(did)
        if rng.random() < 0.75:
            handle = f"user{i}.bsky.social"
        else:
            handle = f"{rng.choice(_FIRST_NAMES)}{i}.example.{rng.choice(('org', 'com', 'net'))}"
        political = rng.random() < _POLITICAL_SHARE
        persona = (
            rng.randrange(_N_POLITICAL) if political else _N_POLITICAL + rng.randrange(len(_NON_POLITICAL))
        )
        lang = rng.choice(_FOREIGN_LANGS) if rng.random() < _NON_ENGLISH_USER_SHARE else "en"
        out.append(SampleUser(i, did, handle, PERSONAS[persona], political, lang))
    return out


class SampleGenerator:
    """Streams the events of a sample; `stats` holds counts only the generator knows (misfiled, PII, ...)."""

    def __init__(
        self,
        days: int = 3,
        users: int = 2000,
        seed: int = 7,
        start: date = date(2025, 3, 1),
        events_per_user_day: float = DEFAULT_EVENTS_PER_USER_DAY,
    ) -> None:
        if days < 1 or users < 2:
            raise ValueError("a sample needs days >= 1 and users >= 2")
        self.days, self.seed, self.start = days, seed, start
        self.users = make_users(users, seed)
        self._state = [_UserState(u) for u in self.users]
        self._persona_idx = {name: i for i, name in enumerate(PERSONAS)}
        self._by_persona: list[list[int]] = [[] for _ in PERSONAS]
        for u in self.users:
            self._by_persona[self._persona_idx[u.persona]].append(u.index)
        self.rng = random.Random(f"blueprint-sample-events:{seed}")
        rng = self.rng
        # Heavy-ish tail of activity (exponential weights): most users act a little, a few a lot.
        weights = [rng.expovariate(1.0) + 0.05 for _ in self.users]
        self._cum_user = list(_accumulate(weights))
        self._cum_cat = list(_accumulate(w for _, w in _CATEGORY_WEIGHTS))
        self._cats = [c for c, _ in _CATEGORY_WEIGHTS]
        self._external = [
            "did:plc:" + "".join(rng.choice(DID_ALPHABET) for _ in range(24)) for _ in range(200)
        ]
        per_day = max(24, round(users * events_per_user_day))
        # Diurnal curve: quiet around 06 UTC, busy around 18 UTC.
        curve = [1.0 + 0.6 * math.sin(2 * math.pi * (h - 12) / 24) for h in range(24)]
        total = sum(curve)
        self._hour_counts = [max(1, round(per_day * c / total)) for c in curve]
        pool = max(500, min(20_000, users * 2))
        self._recent: deque[_Post] = deque(maxlen=pool)
        self._recent_replies: deque[_Post] = deque(maxlen=pool // 4)
        self._persona_recent: list[deque[_Post]] = [deque(maxlen=200) for _ in PERSONAS]
        self._start_us = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp()) * 1_000_000
        self._seq = 5_900_000_000 + rng.randrange(10_000_000)
        self._dup_rate = 0.0005
        self._plans: dict[int, dict[int, list[str]]] = {}
        self.stats: Counter[str] = Counter()
        self.pii: Counter[str] = Counter()

    # ----- streaming ----------------------------------------------------------------------------------
    def lines(self) -> Iterator[SampleLine]:
        """All lines, folder after folder (chronological); within a folder, ok lines sorted by time_us."""
        pending: list[tuple[int, str | None, dict[str, Any]]] = []
        pending_slot: tuple[int, int] | None = None
        for day_idx in range(self.days):
            self._plans[day_idx] = self._day_plan()
            for hour in range(24):
                evs = self._gen_hour(day_idx, hour)
                if pending_slot is not None:
                    # Archives are cut by receive time: a few events land in the neighbouring folder.
                    n_late = self._misfile_count(crosses_day=hour == 0)
                    n_early = self._misfile_count(crosses_day=hour == 0)
                    late = pending[len(pending) - n_late :] if n_late else []
                    del pending[len(pending) - len(late) :]
                    early, evs = evs[:n_early], evs[n_early:]
                    pending.extend(early)
                    evs = late + evs
                    self.stats["misfiled"] += len(late) + len(early)
                    yield from self._emit(pending_slot, pending)
                pending, pending_slot = evs, (day_idx, hour)
        if pending_slot is not None:
            yield from self._emit(pending_slot, pending)

    def _misfile_count(self, crosses_day: bool) -> int:
        n = 1 if self.rng.random() < 0.3 else 0
        return max(n, 1) if crosses_day else n

    def _day_plan(self) -> dict[int, list[str]]:
        """Which hours of the day receive which malformed lines (two of each reason per day)."""
        plan: dict[int, list[str]] = {}
        for reason in _MALFORMED_REASONS:
            for _ in range(2):
                plan.setdefault(self.rng.randrange(24), []).append(reason)
        return plan

    def _folder(self, slot: tuple[int, int]) -> str:
        d = self.start + timedelta(days=slot[0])
        return f"{d:%Y-%m}/{d:%d}/{slot[1]:02d}"

    def _emit(
        self,
        slot: tuple[int, int],
        evs: list[tuple[int, str | None, dict[str, Any]]],
    ) -> Iterator[SampleLine]:
        folder = self._folder(slot)
        plan = self._plans[slot[0]]
        rng = self.rng
        out: list[SampleLine] = []
        for _, action, ev in evs:
            line = _dumps(ev)
            out.append(SampleLine(folder, line, ev, action, "ok"))
            # Jetstream delivers at least once: an exact copy right after keeps the file sorted.
            if rng.random() < self._dup_rate:
                out.append(SampleLine(folder, line, ev, action, "duplicate"))
        if evs and not any(s.status == "duplicate" for s in out) and rng.random() < 0.15:
            src = out[rng.randrange(len(out))]
            out.insert(out.index(src) + 1, src._replace(status="duplicate"))
        for reason in plan.get(slot[1], []):
            if not evs:
                break
            src = out[rng.randrange(len(out))]
            out.insert(
                rng.randrange(len(out) + 1),
                SampleLine(folder, self._malformed(reason, src), None, None, reason),
            )
        yield from out

    def _malformed(self, reason: str, src: SampleLine) -> str:
        rng = self.rng
        ev = src.event or {}
        if reason == "truncated":
            return src.line[: rng.randrange(10, max(11, len(src.line) - 5))]
        if reason == "not_json":
            return rng.choice(
                ("<html><body>502 Bad Gateway</body></html>", "}}{{garbage", "ERROR read tcp: reset")
            )
        if reason == "not_object":
            return rng.choice(("[1,2,3]", "null", '"did:plc"', "42"))
        broken = dict(ev)
        if reason == "missing_did":
            broken.pop("did", None)
        elif reason == "missing_time_us":
            broken.pop("time_us", None)
        else:  # bad_time_us
            broken["time_us"] = str(ev.get("time_us", ""))
        return _dumps(broken)

    # ----- one hour of events -------------------------------------------------------------------------
    def _gen_hour(self, day_idx: int, hour: int) -> list[tuple[int, str | None, dict[str, Any]]]:
        rng = self.rng
        base = self._start_us + day_idx * DAY_US + hour * HOUR_US
        # Generated in time order so every undo/reply/like refers to something already emitted.
        offsets = sorted(rng.randrange(HOUR_US) for _ in range(self._hour_counts[hour]))
        out: list[tuple[int, str | None, dict[str, Any]]] = []
        cum_u, total_u = self._cum_user, self._cum_user[-1]
        cum_c, total_c = self._cum_cat, self._cum_cat[-1]
        for off in offsets:
            t = base + off
            cat = self._cats[bisect.bisect_right(cum_c, rng.random() * total_c)]
            user = self._state[bisect.bisect_right(cum_u, rng.random() * total_u)]
            made = self._make(cat, user, t, day_idx)
            if made is not None:
                out.append((t, made[0], made[1]))
        return out

    def _make(
        self, cat: str, st: _UserState, t: int, day_idx: int
    ) -> tuple[str | None, dict[str, Any]] | None:
        if cat in ("post", "reply", "quote"):
            return self._text_action(cat, st, t)
        if cat in ("like", "repost"):
            return cat, self._like_or_repost(cat, st, t)
        if cat in ("follow", "block"):
            return cat, self._follow_or_block(cat, st, t)
        if cat in _UNDO:
            return self._undo(cat, st, t, day_idx)
        if cat in ("post_update", "post_delete"):
            return self._post_edit(cat, st, t, day_idx)
        if cat == "identity":
            return None, self._identity(st, t)
        if cat == "account":
            return None, self._account(st, t)
        if cat == "other_bsky":
            return None, self._other_bsky(st, t)
        return None, self._other_app(st, t)

    # ----- commits --------------------------------------------------------------------------------------
    def _times(self, t: int) -> tuple[int, int]:
        """(record createdAt, commit rev) microseconds shortly before the receive time `t`."""
        created = t - self.rng.randint(150_000, 1_500_000)
        return created, t - self.rng.randint(1_000, 120_000)

    def _commit(
        self,
        did: str,
        t: int,
        op: str,
        coll: str,
        rkey: str,
        rev_us: int,
        record: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        commit: dict[str, Any] = {
            "rev": tid(rev_us, self.rng.randrange(32)),
            "operation": op,
            "collection": coll,
        }
        commit["rkey"] = rkey
        if record is not None:
            commit["record"] = {**record, SYNTHETIC_MARKER: True}
            commit["cid"] = fake_cid(f"{did}/{coll}/{rkey}/{t}")
        return {"did": did, "time_us": t, "kind": "commit", "commit": commit}

    def _remember(self, st: _UserState, coll: str, rec: int, cap: int = 6) -> None:
        # Reservoir-like replacement keeps some old records around, so undos can reach back several days.
        lst = st.records.setdefault(coll, [])
        if len(lst) < cap:
            lst.append(rec)
        else:
            lst[self.rng.randrange(cap)] = rec

    def _pick_target(self, st: _UserState) -> _Post | None:
        """A recent post by someone else (same persona more often), or None if nothing is known yet."""
        rng = self.rng
        for _ in range(4):
            r = rng.random()
            if r < 0.35:
                pool: deque[_Post] = self._persona_recent[self._persona_idx[st.user.persona]]
            elif r < 0.55:
                pool = self._recent_replies
            else:
                pool = self._recent
            if pool:
                p = pool[rng.randrange(len(pool))]
                if p.author != st.user.index:
                    return p
        return None

    def _external_post(self, t: int) -> _Post:
        did = self._external[self.rng.randrange(len(self._external))]
        created = t - self.rng.randrange(1, 40 * DAY_US)
        rkey = tid(created, self.rng.randrange(32))
        uri = f"at://{did}/app.bsky.feed.post/{rkey}"
        cid = fake_cid(uri)
        return _Post(uri, cid, rkey, did, -1, created, None, uri, cid, 0)

    def _like_or_repost(self, cat: str, st: _UserState, t: int) -> dict[str, Any]:
        coll = f"app.bsky.feed.{cat}"
        target = self._pick_target(st) if self.rng.random() < 0.85 else None
        target = target or self._external_post(t)
        created, rev = self._times(t)
        packed = (created << 10) | self.rng.randrange(32)
        rkey = tid(created, packed & 1023)
        record = {
            "$type": coll,
            "createdAt": _iso_ms(created),
            "subject": {"cid": target.cid, "uri": target.uri},
        }
        self._remember(st, coll, packed)
        return self._commit(st.user.did, t, "create", coll, rkey, rev, record)

    def _other_user_did(self, st: _UserState) -> str:
        rng = self.rng
        if rng.random() < 0.15:
            return self._external[rng.randrange(len(self._external))]
        same = self._by_persona[self._persona_idx[st.user.persona]]
        for _ in range(4):
            idx = same[rng.randrange(len(same))] if rng.random() < 0.5 else rng.randrange(len(self.users))
            if idx != st.user.index:
                return self.users[idx].did
        return self._external[0]

    def _follow_or_block(self, cat: str, st: _UserState, t: int) -> dict[str, Any]:
        coll = f"app.bsky.graph.{cat}"
        created, rev = self._times(t)
        packed = (created << 10) | self.rng.randrange(32)
        rkey = tid(created, packed & 1023)
        record = {"$type": coll, "createdAt": _iso_ms(created), "subject": self._other_user_did(st)}
        self._remember(st, coll, packed)
        return self._commit(st.user.did, t, "create", coll, rkey, rev, record)

    def _undo(
        self, cat: str, st: _UserState, t: int, day_idx: int
    ) -> tuple[str | None, dict[str, Any]] | None:
        coll = _UNDO[cat][0]
        rng = self.rng
        owner = st
        if not st.records.get(coll):
            # Borrow another user who has something to undo (early hours have few records).
            for _ in range(6):
                cand = self._state[bisect.bisect_right(self._cum_user, rng.random() * self._cum_user[-1])]
                if cand.records.get(coll):
                    owner = cand
                    break
        recs = owner.records.get(coll)
        if not recs or rng.random() < 0.03:
            return cat, self._unresolvable_delete(owner, t, coll)
        i = 0 if rng.random() < 0.3 else rng.randrange(len(recs))  # index 0 tends to be the oldest
        rec = recs[i]
        recs[i] = recs[-1]
        recs.pop()
        if ((rec >> 10) - self._start_us) // DAY_US < day_idx:
            self.stats["cross_day_undos"] += 1
        _, rev = self._times(t)
        return cat, self._commit(owner.user.did, t, "delete", coll, tid(rec >> 10, rec & 1023), rev)

    def _unresolvable_delete(self, st: _UserState, t: int, coll: str) -> dict[str, Any]:
        """Delete of a record created long before the sample window (its create is never seen)."""
        self.stats["unresolvable_deletes"] += 1
        old = self._start_us - self.rng.randrange(30 * DAY_US, 200 * DAY_US)
        _, rev = self._times(t)
        return self._commit(st.user.did, t, "delete", coll, tid(old, self.rng.randrange(32)), rev)

    def _post_edit(self, cat: str, st: _UserState, t: int, day_idx: int) -> tuple[str | None, dict[str, Any]]:
        rng = self.rng
        owner = st
        if not st.posts:
            for _ in range(6):
                cand = self._state[bisect.bisect_right(self._cum_user, rng.random() * self._cum_user[-1])]
                if cand.posts:
                    owner = cand
                    break
        coll = "app.bsky.feed.post"
        if not owner.posts and cat == "post_update":
            return self._text_action("post", st, t)  # nothing to edit yet
        if not owner.posts or (cat == "post_delete" and rng.random() < 0.04):
            return cat, self._unresolvable_delete(owner, t, coll)
        i = 0 if rng.random() < 0.3 else rng.randrange(len(owner.posts))
        post = owner.posts[i]
        if (post.created_us - self._start_us) // DAY_US < day_idx:
            self.stats["cross_day_undos"] += 1
        _, rev = self._times(t)
        if cat == "post_delete":
            owner.posts[i] = owner.posts[-1]
            owner.posts.pop()
            return cat, self._commit(owner.user.did, t, "delete", coll, post.rkey, rev)
        record = json.loads(post.record_json or "{}")
        # Appending keeps every facet's byte range valid.
        record["text"] = record.get("text", "") + rng.choice(_EDIT_SUFFIXES)
        ev = self._commit(owner.user.did, t, "update", coll, post.rkey, rev, record)
        owner.posts[i] = post._replace(record_json=_dumps(record), cid=ev["commit"]["cid"])
        return cat, ev

    # ----- text actions ----------------------------------------------------------------------------------
    def _text_action(self, cat: str, st: _UserState, t: int) -> tuple[str, dict[str, Any]]:
        rng = self.rng
        target = self._pick_target(st) if cat != "post" else None
        if cat == "reply" and target is not None and target.depth >= 12:
            target = None
        if target is None:
            cat = "post"
        created, rev = self._times(t)
        rkey = tid(created, rng.randrange(32))
        uri = f"at://{st.user.did}/app.bsky.feed.post/{rkey}"
        text, facets, langs, link = self._compose(st, reply=cat == "reply")
        record: dict[str, Any] = {"$type": "app.bsky.feed.post", "createdAt": _iso_ms(created)}
        embed = self._embed(cat, target, link, created)
        if embed is not None:
            record["embed"] = embed
        if facets:
            record["facets"] = facets
        record["langs"] = langs
        root_uri, root_cid, depth = uri, "", 0
        if cat == "reply" and target is not None:
            root_uri, root_cid = target.root_uri, target.root_cid
            record["reply"] = {
                "parent": {"cid": target.cid, "uri": target.uri},
                "root": {"cid": root_cid, "uri": root_uri},
            }
            depth = target.depth + 1
        record["text"] = text
        ev = self._commit(st.user.did, t, "create", "app.bsky.feed.post", rkey, rev, record)
        cid = ev["commit"]["cid"]
        post = _Post(
            uri,
            cid,
            rkey,
            st.user.did,
            st.user.index,
            created,
            _dumps(record),
            root_uri,
            root_cid or cid,
            depth,
        )
        if len(st.posts) < 5:
            st.posts.append(post)
        else:
            st.posts[rng.randrange(5)] = post
        self._recent.append(post)
        self._persona_recent[self._persona_idx[st.user.persona]].append(post)
        if depth:
            self._recent_replies.append(post)
        return cat, ev

    def _embed(self, cat: str, target: _Post | None, link: str | None, created: int) -> dict[str, Any] | None:
        rng = self.rng
        strong = {"cid": target.cid, "uri": target.uri} if target is not None else None
        # A few replies also quote (the pipeline must still call them replies).
        if strong is not None and (cat == "quote" or (cat == "reply" and rng.random() < 0.03)):
            if rng.random() < 0.25:
                return {
                    "$type": "app.bsky.embed.recordWithMedia",
                    "media": self._images(created),
                    "record": {"$type": "app.bsky.embed.record", "record": strong},
                }
            return {"$type": "app.bsky.embed.record", "record": strong}
        if link is not None and rng.random() < 0.5:
            return {
                "$type": "app.bsky.embed.external",
                "external": {"description": "An article.", "title": "Read more", "uri": link},
            }
        if rng.random() < 0.1:
            return self._images(created)
        return None

    def _images(self, created: int) -> dict[str, Any]:
        rng = self.rng
        w, h = rng.choice(((1200, 1200), (2000, 1500), (1080, 1350)))
        return {
            "$type": "app.bsky.embed.images",
            "images": [
                {
                    "alt": rng.choice(("", "A photo.", "Screenshot of a chart.")),
                    "aspectRatio": {"height": h, "width": w},
                    "image": {
                        "$type": "blob",
                        "ref": {"$link": fake_cid(f"img/{created}/{rng.random()}", raw=True)},
                        "mimeType": "image/jpeg",
                        "size": rng.randrange(40_000, 900_000),
                    },
                }
            ],
        }

    def _sentence(self, persona: int, lang: str, reply: bool) -> str:
        rng = self.rng
        phrases, _ = _PERSONA_WORDS[persona]
        a, b, c, d = rng.sample(phrases, 4)  # four distinct phrases of the persona
        if lang != "en":
            tpl = _FOREIGN_TEMPLATES[lang]
            return tpl[rng.randrange(len(tpl))].format(a=a, b=b)
        first = (
            rng.choice(_EN_REPLY_OPENERS).format(a=a)
            if reply
            else rng.choice(_EN_OPENERS) + rng.choice(_EN_TEMPLATES).format(a=a, b=b)
        )
        second = rng.choice(_EN_TEMPLATES).format(a=c, b=d)
        return f"{first} {second}{rng.choice(_EN_CLOSERS)}"

    def _compose(
        self, st: _UserState, reply: bool
    ) -> tuple[str, list[dict[str, Any]], list[str], str | None]:
        """Text, facets, langs and the link uri (if any) of a new post by `st`."""
        rng = self.rng
        user = st.user
        persona = self._persona_idx[user.persona]
        lang = user.lang if user.lang == "en" or rng.random() < 0.9 else "en"
        tb = _Text()
        if rng.random() < 0.08:
            tb.add(rng.choice(_EMOJI) + " ")
        if reply and rng.random() < 0.25:
            self._mention(tb, st)
            tb.add(" ")
        tb.add(self._sentence(persona, lang, reply))
        if rng.random() < 0.10:
            tb.add(" " + self._pii_sentence(st))
        if rng.random() < 0.12:
            tb.add(" cc ")
            self._mention(tb, st)
        link = None
        if rng.random() < 0.08:
            link = (
                f"https://news.example.com/{user.persona.replace('_', '-')}/{rng.randrange(10_000, 99_999)}"
            )
            tb.add(" ")
            shown = link if rng.random() < 0.5 else link[8:30] + "..."
            tb.facet(shown, {"$type": "app.bsky.richtext.facet#link", "uri": link})
        if rng.random() < 0.35:
            if rng.random() < 0.3:  # emoji right before facets exercise multi-byte offsets
                tb.add(" " + rng.choice(_EMOJI) + rng.choice(_EMOJI))
            tags = _PERSONA_WORDS[persona][1]
            for tag in rng.sample(tags, rng.randint(1, len(tags))):
                tb.add(" ")
                tb.facet("#" + tag, {"$type": "app.bsky.richtext.facet#tag", "tag": tag})
        return tb.text, tb.facets, [lang], link

    def _mention(self, tb: _Text, st: _UserState) -> None:
        other = self.users[self.rng.randrange(len(self.users))]
        if other.index == st.user.index:
            other = self.users[(other.index + 1) % len(self.users)]
        tb.facet("@" + other.handle, {"$type": "app.bsky.richtext.facet#mention", "did": other.did})

    def _pii_sentence(self, st: _UserState) -> str:
        rng = self.rng
        kind = rng.choice(tuple(_PII_TEMPLATES))
        self.pii[kind] += 1
        name = st.user.handle.split(".")[0]
        other = self.users[rng.randrange(len(self.users))]
        if kind == "EMAIL_ADDRESS":
            value = f"{name}@{rng.choice(('example.com', 'mail.example.org', 'example.net'))}"
        elif kind == "PHONE_NUMBER":
            value = rng.choice(_PHONES).format(n=rng.randrange(100, 200), d=rng.randrange(10))
        elif kind == "URL":
            path = f"{st.user.persona.replace('_', '-')}/{rng.randrange(1000, 9999)}"
            value = rng.choice(
                (f"https://blog.example.org/{path}", f"www.example.com/{path}", f"example.net/{path}")
            )
        elif kind == "IP_ADDRESS":
            value = rng.choice(
                (
                    f"192.0.2.{rng.randrange(1, 255)}",
                    f"198.51.100.{rng.randrange(1, 255)}",
                    f"203.0.113.{rng.randrange(1, 255)}",
                    f"2001:db8::{rng.randrange(1, 0xFFFF):x}",
                )
            )
        elif kind == "CREDIT_CARD":
            value = rng.choice(_CARDS)
        elif kind == "CRYPTO":
            value = rng.choice(_BTC)
        elif kind == "IBAN_CODE":
            value = _iban(rng)
        elif kind == "USERNAME":
            value = "@" + other.handle
        elif kind == "DID":
            value = other.did
        else:
            value = f"at://{other.did}/app.bsky.feed.post/{tid(self._start_us - rng.randrange(DAY_US, 30 * DAY_US))}"
        return rng.choice(_PII_TEMPLATES[kind]).format(v=value)

    # ----- non-action events -----------------------------------------------------------------------------
    def _next_seq(self) -> int:
        self._seq += self.rng.randint(1, 400)
        return self._seq

    def _identity(self, st: _UserState, t: int) -> dict[str, Any]:
        did = st.user.did
        body = {"did": did, "handle": st.user.handle, "seq": self._next_seq(), "time": _iso_ms(t - 200_000)}
        return {"did": did, "time_us": t, "kind": "identity", "identity": body}

    def _account(self, st: _UserState, t: int) -> dict[str, Any]:
        did = st.user.did
        body: dict[str, Any] = {
            "active": True,
            "did": did,
            "seq": self._next_seq(),
            "time": _iso_ms(t - 200_000),
        }
        if self.rng.random() < 0.1:
            body["active"] = False
            body["status"] = self.rng.choice(("deactivated", "takendown"))
        return {"did": did, "time_us": t, "kind": "account", "account": body}

    def _other_bsky(self, st: _UserState, t: int) -> dict[str, Any]:
        rng = self.rng
        did = st.user.did
        created, rev = self._times(t)
        rkey = tid(created, rng.randrange(32))
        ts = _iso_ms(created)
        kind = rng.choice(("profile", "list", "listitem", "threadgate", "postgate", "starterpack"))
        if kind == "profile":
            record = {
                "$type": "app.bsky.actor.profile",
                "createdAt": ts,
                "description": f"{st.user.persona.replace('_', ' ')} enthusiast. Views my own.",
                "displayName": st.user.handle.split(".")[0].capitalize(),
            }
            op = "update" if rng.random() < 0.7 else "create"
            return self._commit(did, t, op, "app.bsky.actor.profile", "self", rev, record)
        if kind in ("threadgate", "postgate") and st.posts:
            post = st.posts[-1]
            if kind == "threadgate":
                record = {
                    "$type": "app.bsky.feed.threadgate",
                    "allow": [{"$type": "app.bsky.feed.threadgate#followingRule"}],
                    "createdAt": ts,
                    "hiddenReplies": [],
                    "post": post.uri,
                }
            else:
                record = {
                    "$type": "app.bsky.feed.postgate",
                    "createdAt": ts,
                    "detachedEmbeddingUris": [],
                    "embeddingRules": [{"$type": "app.bsky.feed.postgate#disableRule"}],
                    "post": post.uri,
                }
            return self._commit(did, t, "create", f"app.bsky.feed.{kind}", post.rkey, rev, record)
        if kind in ("listitem", "starterpack") and st.lists:
            list_uri = st.lists[rng.randrange(len(st.lists))]
            if kind == "listitem":
                record = {
                    "$type": "app.bsky.graph.listitem",
                    "createdAt": ts,
                    "list": list_uri,
                    "subject": self._other_user_did(st),
                }
            else:
                record = {
                    "$type": "app.bsky.graph.starterpack",
                    "createdAt": ts,
                    "list": list_uri,
                    "name": f"{st.user.persona.replace('_', ' ').title()} starter pack",
                }
            return self._commit(did, t, "create", f"app.bsky.graph.{kind}", rkey, rev, record)
        record = {
            "$type": "app.bsky.graph.list",
            "createdAt": ts,
            "description": "",
            "name": st.user.persona.replace("_", " ").title(),
            "purpose": "app.bsky.graph.defs#curatelist",
        }
        st.lists = [*st.lists[-2:], f"at://{did}/app.bsky.graph.list/{rkey}"]
        return self._commit(did, t, "create", "app.bsky.graph.list", rkey, rev, record)

    def _other_app(self, st: _UserState, t: int) -> dict[str, Any]:
        rng = self.rng
        created, rev = self._times(t)
        rkey = tid(created, rng.randrange(32))
        ts = _iso_ms(created)
        kind = rng.randrange(3)
        if kind == 0:
            record: dict[str, Any] = {
                "$type": "xyz.statusphere.status",
                "createdAt": ts,
                "status": rng.choice(_EMOJI),
            }
            coll = "xyz.statusphere.status"
        elif kind == 1:
            coll = "fm.teal.alpha.feed.play"
            record = {
                "$type": coll,
                "artistNames": [rng.choice(("The Example Band", "Sample Trio", "Placeholder Quartet"))],
                "duration": rng.randrange(120, 400),
                "playedTime": ts,
                "submissionClientAgent": "tealtracker/0.0.1b",
                "trackName": rng.choice(("Night Drive", "Blue Hour", "Paper Boats")),
            }
        else:
            # Post-like text in a foreign lexicon: the pipeline must ignore it, not treat it as a post.
            coll = "com.whtwnd.blog.entry"
            persona = self._persona_idx[st.user.persona]
            record = {
                "$type": coll,
                "content": self._sentence(persona, "en", False),
                "createdAt": ts,
                "title": "Weekly notes",
                "visibility": "public",
            }
        return self._commit(st.user.did, t, "create", coll, rkey, rev, record)


def _accumulate(values: Any) -> Iterator[float]:
    total = 0.0
    for v in values:
        total += v
        yield total


def iter_events(
    days: int = 3,
    users: int = 2000,
    seed: int = 7,
    start: date = date(2025, 3, 1),
    events_per_user_day: float = DEFAULT_EVENTS_PER_USER_DAY,
) -> Iterator[SampleLine]:
    """Stream every line of a sample in write order (see `SampleLine`); memory stays bounded by one hour."""
    yield from SampleGenerator(days, users, seed, start, events_per_user_day).lines()


def generate_sample(
    out_dir: Path,
    days: int = 3,
    users: int = 2000,
    seed: int = 7,
    start: date = date(2025, 3, 1),
    gzip: bool = False,
    events_per_user_day: float = DEFAULT_EVENTS_PER_USER_DAY,
) -> SampleSummary:
    """Write a sample archive under `out_dir` (hourly `YYYY-MM/DD/HH/events.jsonl[.gz]`) and summarise it."""
    out_dir = Path(out_dir)
    gen = SampleGenerator(days, users, seed, start, events_per_user_day)
    summary = SampleSummary(str(out_dir), days, users, seed, start.isoformat(), gzip)
    name = "events.jsonl.gz" if gzip else "events.jsonl"
    by_kind: Counter[str] = Counter()
    by_action: Counter[str] = Counter()
    by_coll: dict[str, Counter[str]] = {}
    malformed: Counter[str] = Counter()
    actors: set[str] = set()
    folder: str | None = None
    buf: list[str] = []

    def flush() -> None:
        if folder is None:
            return
        rel = f"{folder}/{name}"
        _write_lines(out_dir / rel, buf, gzip)
        summary.files.append(rel)

    for item in gen.lines():
        if item.folder != folder:
            flush()
            folder, buf = item.folder, []
        buf.append(item.line)
        if item.status == "duplicate":
            summary.duplicates += 1
        elif item.status != "ok":
            malformed[item.status] += 1
        else:
            ev = item.event or {}
            summary.events += 1
            by_kind[ev["kind"]] += 1
            actors.add(ev["did"])
            if ev["kind"] == "commit":
                c = ev["commit"]
                by_coll.setdefault(c["collection"], Counter())[c["operation"]] += 1
            if item.action:
                by_action[item.action] += 1
    flush()
    summary.lines = summary.events + summary.duplicates + sum(malformed.values())
    summary.malformed = sum(malformed.values())
    summary.malformed_by_reason = dict(sorted(malformed.items()))
    summary.by_kind = dict(sorted(by_kind.items()))
    summary.by_collection = {k: dict(sorted(v.items())) for k, v in sorted(by_coll.items())}
    summary.by_action = {a: by_action.get(a, 0) for a in ACTION_ORDER}
    summary.active_users = len(actors)
    summary.misfiled = gen.stats["misfiled"]
    summary.cross_day_undos = gen.stats["cross_day_undos"]
    summary.unresolvable_deletes = gen.stats["unresolvable_deletes"]
    summary.pii_planted = dict(sorted(gen.pii.items()))
    summary.personas = dict(sorted(Counter(u.persona for u in gen.users).items()))
    return summary


def _write_lines(path: Path, lines: list[str], gz: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = ("\n".join(lines) + "\n").encode()
    tmp = path.with_name(path.name + ".tmp")
    if gz:
        # mtime=0 and no file name in the header keep gzip output byte-identical across runs.
        with (
            open(tmp, "wb") as raw,
            gzip_module.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as f,
        ):
            f.write(data)
    else:
        tmp.write_bytes(data)
    tmp.replace(path)


PII_KINDS: tuple[str, ...] = tuple(_PII_TEMPLATES)
_KEYWORD_RE = re.compile("|".join(re.escape(k) for k in POLITICAL_KEYWORDS), re.IGNORECASE)


def is_political_text(text: str) -> bool:
    """True if `text` contains one of POLITICAL_KEYWORDS (case-insensitive substring), as planted here."""
    return _KEYWORD_RE.search(text) is not None
