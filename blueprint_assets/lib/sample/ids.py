"""Fake atproto identifiers and the wire formats of the sample: DIDs, handles, TIDs, CIDs, createdAt, JSON.

Everything here is deterministic given its inputs (or the `random.Random` passed in); nothing identifies a real
account: DIDs are random `did:plc:` ids, handles live under `bsky.social` or the reserved `example.*` domains.
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import date, timedelta
from typing import Any

from blueprint_assets.lib.sample.vocabulary import FIRST_NAMES

S32 = "234567abcdefghijklmnopqrstuvwxyz"  # base32-sortable alphabet of atproto TIDs
DID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"

_S32_PAIRS = tuple(S32[i >> 5] + S32[i & 31] for i in range(1024))
_B32 = "abcdefghijklmnopqrstuvwxyz234567"  # RFC 4648 lowercase, the multibase "b" alphabet of CIDs
_B32_TABLE = bytes(ord(_B32[i & 31]) for i in range(256))
_DAY_STR: dict[int, str] = {}


def random_did(rng: random.Random) -> str:
    """A random `did:plc:` identifier (24 base32 characters drawn from `rng`)."""
    return "did:plc:" + "".join(rng.choice(DID_ALPHABET) for _ in range(24))


def fake_handle(rng: random.Random, index: int) -> str:
    """The handle of account `index`: mostly `userN.bsky.social`, else a first name under `example.*`."""
    if rng.random() < 0.75:
        return f"user{index}.bsky.social"
    return f"{rng.choice(FIRST_NAMES)}{index}.example.{rng.choice(('org', 'com', 'net'))}"


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


def iso_ms(time_us: int) -> str:
    """`YYYY-MM-DDTHH:MM:SS.mmmZ` (the createdAt format) without datetime.strftime per call."""
    secs, us = divmod(time_us, 1_000_000)
    day, rem = divmod(secs, 86_400)
    day_str = _DAY_STR.get(day)
    if day_str is None:
        day_str = _DAY_STR[day] = (date(1970, 1, 1) + timedelta(days=day)).isoformat()
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    return f"{day_str}T{h:02d}:{m:02d}:{sec:02d}.{us // 1000:03d}Z"


def dumps(obj: Any) -> str:
    """Compact JSON with raw UTF-8, as Jetstream sends it."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
