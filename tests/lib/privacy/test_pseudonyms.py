"""Tests for keyed pseudonyms and the secret's lifecycle."""

from __future__ import annotations

import hashlib
import hmac
import multiprocessing
import pickle
import stat
from pathlib import Path

import pytest

from blueprint_assets.lib.privacy.pseudonyms import (
    SECRET_ENV,
    Pseudonymizer,
    keyed_digests,
    load_or_create_secret,
    pseudonym,
)
from blueprint_assets.settings import Settings


def test_pseudonym_is_hmac_sha256_hex() -> None:
    expected = hmac.new(b"k", b"did:plc:abc", hashlib.sha256).hexdigest()
    assert pseudonym(b"k", "did:plc:abc") == expected
    assert len(expected) == 64
    assert pseudonym(b"k", "did:plc:abc") != pseudonym(b"other", "did:plc:abc")
    assert pseudonym(b"k", "did:plc:abc") != pseudonym(b"k", "did:plc:abd")


def test_secret_created_once_private_and_stable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    first = load_or_create_secret(tmp_path / "data")
    path = tmp_path / "data" / "secret.key"
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) == 64 and bytes.fromhex(first.decode())  # 32 random bytes as hex
    assert load_or_create_secret(tmp_path / "data") == first
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]  # no leftovers


def test_env_secret_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, "s3cret-é")
    assert load_or_create_secret(tmp_path, Settings.from_env().secret) == "s3cret-é".encode()
    assert not (tmp_path / "secret.key").exists()


def _race(data_dir: str) -> bytes:
    return load_or_create_secret(Path(data_dir))


def test_concurrent_creation_gives_one_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    # spawn, not fork: a forked child of this threaded process (DuckDB, Dagster) can deadlock on a held lock;
    # the timeout turns a hang into a failure.
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        secrets = pool.map_async(_race, [str(tmp_path)] * 16).get(timeout=180)
    assert len(set(secrets)) == 1
    assert (tmp_path / "secret.key").read_bytes().strip() == secrets[0]


def test_pseudonymizer_hides_secret_and_caches() -> None:
    secret = b"super-secret-value-123"
    p = Pseudonymizer(secret)
    assert p(None) is None
    value = p("did:plc:abcdefghijklmnopqrstuvwx")
    assert value == pseudonym(secret, "did:plc:abcdefghijklmnopqrstuvwx")
    assert p("did:plc:abcdefghijklmnopqrstuvwx") == value
    assert p.many(["a", None]) == [pseudonym(secret, "a"), None]
    for text in (repr(p), str(p), f"{p}"):
        assert "super-secret" not in text and secret.hex() not in text
    with pytest.raises(TypeError):
        pickle.dumps(p)
    with pytest.raises(ValueError):
        Pseudonymizer(b"")


def test_batch_pseudonyms_equal_one_by_one_even_past_the_cache_bound() -> None:
    secret = b"batch-secret"
    ids = ["did:plc:a", None, "", "did:plc:b", "did:plc:a", "é-ünïcode", "did:plc:c"]
    expected = [None if i is None else pseudonym(secret, i) for i in ids]
    small = Pseudonymizer(secret, cache_size=2)  # the batch is larger than the cache: nothing is cached
    assert small.many(ids) == expected
    assert small.many(ids[:2]) == expected[:2]  # "did:plc:a" was cached or not: same value
    assert Pseudonymizer(secret).many(ids) == expected
    assert keyed_digests(secret, ["x", "y"], 16) == [pseudonym(secret, "x")[:16], pseudonym(secret, "y")[:16]]


@pytest.mark.parametrize("secret_length", [1, 32, 63, 64, 65, 200])
def test_keyed_digests_are_the_hmac_module_s_for_any_key_length(secret_length: int) -> None:
    """Keys longer than SHA-256's block are hashed first, shorter ones padded: the precomputed states
    must give what `hmac` gives either way, for any identifier and any cut."""
    secret = bytes(range(256))[:secret_length] if secret_length <= 256 else b""
    ids = ["", "x", "did:plc:abc|ev1", "é-ünïcode 🙂", "a" * 100]
    for cut in (2, 16, 64):
        expected = [hmac.new(secret, i.encode(), hashlib.sha256).hexdigest()[:cut] for i in ids]
        assert keyed_digests(secret, ids, cut) == expected


def test_keyed_digests_refuse_an_odd_cut() -> None:
    with pytest.raises(ValueError, match="even number"):
        keyed_digests(b"s", ["x"], 15)
