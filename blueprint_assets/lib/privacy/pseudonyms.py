"""Keyed pseudonyms: HMAC-SHA256 of an identifier under a secret that never leaves the process.

The secret is handed in by the caller (the privacy resource passes `BLUEPRINT_SECRET`, read by Settings), or
else read from `<data_dir>/secret.key`, which is created on first use with mode 0600; with an object-store data
dir only a handed-in secret is accepted. Nothing in this module logs the secret or puts it in an exception
message.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from pathlib import Path
from typing import Any

from blueprint_assets.lib.storage.layout import SECRET_FILE
from blueprint_assets.lib.storage.storage import OBJECT_STORE_SCHEMES

SECRET_ENV = "BLUEPRINT_SECRET"


def pseudonym(secret: bytes, identifier: str) -> str:
    """Return the HMAC-SHA256 hex digest of `identifier` keyed by `secret`."""
    return keyed_digests(secret, [identifier])[0]


def keyed_digests(secret: bytes, identifiers: list[str], hex_digits: int = 64) -> list[str]:
    """`pseudonym(secret, identifier)` of each identifier, cut to its first `hex_digits` hex digits.

    One inlined loop over two SHA-256 states keyed once (`_hmac_states`), copied per identifier: at
    millions of identifiers, key setup and a helper call per identifier cost as much as the hash itself,
    and copying OpenSSL's HMAC object cost a quarter more than copying the two states.
    """
    if hex_digits % 2 or not 0 < hex_digits <= 64:
        raise ValueError(f"hex_digits must be an even number from 2 to 64, got {hex_digits}")
    inner, outer = _hmac_states(secret)
    copy_inner, copy_outer = inner.copy, outer.copy
    cut = hex_digits // 2
    digests = []
    add = digests.append
    for identifier in identifiers:
        mac = copy_inner()
        mac.update(identifier.encode("utf-8"))
        keyed = copy_outer()
        keyed.update(mac.digest())
        add(keyed.digest()[:cut].hex())
    return digests


_BLOCK = 64  # SHA-256's block size in bytes


def _hmac_states(secret: bytes) -> tuple[Any, Any]:
    """HMAC-SHA256's inner and outer hashes after their key blocks (RFC 2104, as `hmac` builds them): the
    HMAC of a message is the digest of `outer` fed the digest of `inner` fed the message."""
    key = hashlib.sha256(secret).digest() if len(secret) > _BLOCK else secret
    key = key.ljust(_BLOCK, b"\0")
    return hashlib.sha256(bytes(b ^ 0x36 for b in key)), hashlib.sha256(bytes(b ^ 0x5C for b in key))


def _read_secret_file(path: Path) -> bytes:
    value = path.read_text(encoding="ascii").strip()
    if not value:
        # Do not include the path's content, only the fact that it is unusable.
        raise ValueError(f"secret file {path} is empty")
    return value.encode("ascii")


class MissingSecretError(RuntimeError):
    """The data dir is an object store and `BLUEPRINT_SECRET` is not set."""


def load_or_create_secret(data_dir: str | Path, secret: str | None = None) -> bytes:
    """Return the pseudonymization secret, creating `<data_dir>/secret.key` on first use.

    With an object-store data dir (`s3://...`) only `BLUEPRINT_SECRET` is accepted (MissingSecretError).

    `secret` (the value of `BLUEPRINT_SECRET`, utf-8; the caller reads it, settings.py) wins when set. Otherwise the file is created atomically: 32 random bytes are
    written as hex to a private temporary file (mode 0600), fsynced, then hard-linked to the final name.
    `os.link` fails if the name already exists, so two racing processes can never end up with two different
    secrets: the loser discards its candidate and reads the winner's file. Readers never see a partial file.
    """
    if secret:
        return secret.encode("utf-8")
    if str(data_dir).startswith(OBJECT_STORE_SCHEMES):
        # Shared storage is readable by every worker and by whoever gets the bucket: never the secret's home.
        raise MissingSecretError(
            f"{SECRET_ENV} is not set: with an object-store data dir the secret must come from the "
            "environment (a Kubernetes secret), it is never stored in the object store"
        )
    data_dir = Path(data_dir)
    path = data_dir / SECRET_FILE
    if path.exists():
        return _read_secret_file(path)
    data_dir.mkdir(parents=True, exist_ok=True)
    candidate = secrets.token_hex(32)
    tmp = data_dir / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(candidate + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        # FileExistsError: another process won the race; its secret is the one.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return _read_secret_file(path)


class Pseudonymizer:
    """Callable that maps identifiers to pseudonyms under one secret, with a memo cache.

    `None` maps to `None` so optional columns can be passed through unchanged.
    """

    def __init__(self, secret: bytes, cache_size: int = 1_000_000) -> None:
        if not secret:
            raise ValueError("pseudonymization secret must not be empty")
        self._secret = bytes(secret)
        self._cache: dict[str, str] = {}
        self._cache_size = cache_size

    @classmethod
    def from_data_dir(cls, data_dir: str | Path, secret: str | None = None) -> Pseudonymizer:
        """Build from `load_or_create_secret(data_dir, secret)`."""
        return cls(load_or_create_secret(data_dir, secret))

    def __call__(self, identifier: str | None) -> str | None:
        if identifier is None:
            return None
        cached = self._cache.get(identifier)
        if cached is not None:
            return cached
        value = pseudonym(self._secret, identifier)
        if len(self._cache) >= self._cache_size:
            self._cache.clear()  # crude bound on memory; recomputing is cheap
        self._cache[identifier] = value
        return value

    def many(self, identifiers: list[str | None]) -> list[str | None]:
        """Pseudonymize a list (convenient for Arrow columns): the uncached ones in one batch."""
        cache = self._cache
        missing = [i for i in dict.fromkeys(identifiers) if i is not None and i not in cache]
        computed = dict(zip(missing, keyed_digests(self._secret, missing), strict=True))
        values = [None if i is None else computed[i] if i in computed else cache[i] for i in identifiers]
        if len(cache) + len(computed) > self._cache_size:
            cache.clear()  # crude bound on memory; recomputing is cheap
        if len(computed) <= self._cache_size:
            cache.update(computed)
        return values

    def __repr__(self) -> str:
        return f"Pseudonymizer(secret=<redacted>, cached={len(self._cache)})"

    __str__ = __repr__

    def __reduce__(self) -> tuple:
        # Pickling would copy the secret into wherever the pickle goes (e.g. a Dagster IO manager); refuse.
        raise TypeError("Pseudonymizer holds a secret and cannot be pickled")
