"""Keyed 64-bit identifier digests, and `KnownIdentifiers`: a set of identifiers held as their sorted digests.

The leak scans (`lib.privacy.scans`) look output tokens up in the identifiers of the window's raw events.
A month holds tens of millions of them (at:// URIs above all): as Python strings, gigabytes; as digests
(BLAKE2b, 8 bytes, keyed by `digest_key` from the pseudonymization secret), 8 bytes each. A collision can
only make a scan report a leak that is not there, never miss one. Without the secret, a digest cannot be
matched with anything. `lib.privacy.identifier_store` harvests and stores them per raw part.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from blueprint_assets.lib.arrays import distinct_sorted

EMPTY_DIGESTS = np.empty(0, dtype="<u8")


def digest_key(secret: bytes) -> bytes:
    """The digest key: derived from the secret, and used for nothing else.

    Not an HMAC-SHA256 of the secret, which is how pseudonyms are made: the pseudonym of a label would then
    be the key, and any text (a record URI) can be a pseudonym's input and get published. BLAKE2b with its
    own personalization reaches no value any other part of the project computes.
    """
    return hashlib.blake2b(secret, person=b"bp-raw-id-key", digest_size=32).digest()


def key_id(key: bytes) -> str:
    """A check value of the key (a keyed hash of a constant): it names the key and reveals nothing of it."""
    return hashlib.blake2b(b"key check", key=key, digest_size=8).hexdigest()


def digests(values: Iterable[str], key: bytes) -> np.ndarray:
    """Each value's 64-bit keyed digest, in order (uint64)."""
    joined = b"".join(
        hashlib.blake2b(v.encode("utf-8", "surrogatepass"), key=key, digest_size=8).digest() for v in values
    )
    return np.frombuffer(joined, dtype="<u8")


@dataclass(frozen=True, eq=False)
class KnownIdentifiers:
    """A set of identifiers held as sorted unique keyed digests."""

    sorted_digests: np.ndarray = field(repr=False)
    key: bytes = field(repr=False)  # derived from the secret: never shown

    @classmethod
    def of_values(cls, values: Iterable[str], key: bytes | None = None) -> KnownIdentifiers:
        """The set of `values` (under a throwaway key when none is given)."""
        key = key if key is not None else secrets.token_bytes(32)
        return cls(distinct_sorted(digests(values, key)), key)

    @classmethod
    def union(cls, parts: list[np.ndarray], key: bytes) -> KnownIdentifiers:
        """The set of every digest in `parts` (digests under `key`)."""
        return cls(distinct_sorted(np.concatenate(parts)) if parts else EMPTY_DIGESTS, key)

    def __repr__(self) -> str:
        return f"KnownIdentifiers({len(self)} identifiers)"

    def __len__(self) -> int:
        return len(self.sorted_digests)

    def contains(self, tokens: list[str]) -> np.ndarray:
        """For each token, whether it is in the set (bool array)."""
        wanted = digests(tokens, self.key)
        if not len(self.sorted_digests):
            return np.zeros(len(wanted), dtype=bool)
        at = np.minimum(np.searchsorted(self.sorted_digests, wanted), len(self.sorted_digests) - 1)
        return self.sorted_digests[at] == wanted

    def __contains__(self, token: object) -> bool:
        return isinstance(token, str) and bool(self.contains([token])[0])
