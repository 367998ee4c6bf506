"""Raw identifiers as keyed digests: the set answers as the string set does, each committed raw part is
harvested once and stored, a rewritten part or another secret is never served stale, and forget deletes
what was stored."""

from __future__ import annotations

import json
import random

import numpy as np
import pyarrow as pa
import pytest

from blueprint_assets.lib.privacy import identifier_store
from blueprint_assets.lib.privacy.identifier_digests import KnownIdentifiers, digest_key, digests, key_id
from blueprint_assets.lib.privacy.identifier_store import DIGEST_FOLDER, forget_digests, window_identifiers
from blueprint_assets.lib.privacy.scans import lake_raw_identifiers, leak_scan
from blueprint_assets.lib.storage import storage
from blueprint_assets.lib.storage.lake import PART_FILE, Lake, read_files, write_table_atomic

SECRET = b"a-test-secret-of-32-bytes-000000"
DAYS = ("2025-03-01", "2025-03-02")


def _line(i: int, day: int) -> str:
    did = "did:plc:" + "".join("abcdefghij"[int(d)] for d in f"{i:024d}")
    text = f"mail u{i}@example.com, see https://news.example.org/{day}/{i}"
    return json.dumps({"did": did, "kind": "commit", "commit": {"record": {"text": text}}})


def _raw(lines: list[str]) -> pa.Table:
    return pa.table({"kind": [json.loads(line)["kind"] for line in lines], "raw": lines})


def _lake(tmp_path, per_day: int = 40) -> Lake:
    lake = Lake(str(tmp_path / "data"))
    for n, day in enumerate(DAYS):
        write_table_atomic(_raw([_line(i, n) for i in range(per_day)]), lake.day_file("raw_events", day))
    identity = json.dumps(
        {
            "did": "did:plc:iiiiiiiiiiiiiiiiiiiiiiii",
            "kind": "identity",
            "identity": {"handle": "h.example.net"},
        }
    )
    write_table_atomic(
        pa.concat_tables(
            [read_files([lake.day_file("raw_events", DAYS[0])]), _raw([identity]).select(["kind", "raw"])]
        ),
        lake.day_file("raw_events", DAYS[0]),
    )
    return lake


def _state(lake: Lake) -> str:
    return storage.join(lake.data_dir, "state")


def _expected(lake: Lake) -> set[str]:
    return lake_raw_identifiers(read_files(lake.all_files("raw_events"), columns=["kind", "raw"]))


def _stored(lake: Lake) -> list[str]:
    return sorted(f.relpath for f in storage.list_files(storage.join(_state(lake), DIGEST_FOLDER)))


def test_the_digest_set_answers_as_the_string_set_does() -> None:
    rng = random.Random(7)
    alphabet = "abc.:/@é\u0130\u0131-"
    values = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(3000)}
    probes = list(values)[:500] + ["".join(rng.choice(alphabet) for _ in range(9)) for _ in range(3000)]
    known = KnownIdentifiers.of_values(values, digest_key(SECRET))
    assert len(known) == len(values)
    assert known.contains(probes).tolist() == [p in values for p in probes]
    assert [p in known for p in probes[:50]] == [p in values for p in probes[:50]]
    assert not KnownIdentifiers.of_values([]).contains(["x", "did:plc:a"]).any()
    # Keyed: another secret digests the same value differently, and the key's id says which made a set.
    assert digests(["did:plc:a"], digest_key(SECRET))[0] != digests(["did:plc:a"], digest_key(b"x" * 32))[0]
    assert key_id(digest_key(SECRET)) != key_id(digest_key(b"x" * 32))


def test_a_window_is_harvested_once_per_part_and_then_read(tmp_path, monkeypatch) -> None:
    lake = _lake(tmp_path)
    files = lake.all_files("raw_events")
    expected = _expected(lake)
    assert "h.example.net" in expected and len(expected) > 100  # the identity event's handle too
    monkeypatch.setattr(identifier_store, "RAW_BATCH_ROWS", 7)  # several batches per part
    known = window_identifiers(_state(lake), files, SECRET)
    assert np.array_equal(known.sorted_digests, np.unique(digests(expected, digest_key(SECRET))))
    folder = key_id(digest_key(SECRET))
    assert _stored(lake) == sorted(
        f"{folder}/day={day}/{f.rsplit('/', 1)[1].removesuffix('.parquet')}.digests"
        for day, f in zip(DAYS, files, strict=True)
    )

    def no_harvest(*_):
        raise AssertionError("harvested again")

    monkeypatch.setattr(identifier_store, "_harvest", no_harvest)
    again = window_identifiers(_state(lake), files, SECRET)
    assert np.array_equal(again.sorted_digests, known.sorted_digests)
    # The stored files hold digests, not identifiers.
    for relpath in _stored(lake):
        data = storage.read_bytes(storage.join(_state(lake), DIGEST_FOLDER, relpath))
        assert b"did:plc" not in data and b"example" not in data and SECRET not in data


def test_a_rewritten_part_is_harvested_again_and_its_old_digests_go(tmp_path) -> None:
    lake = _lake(tmp_path)
    window_identifiers(_state(lake), lake.all_files("raw_events"), SECRET)
    before = _stored(lake)
    new_line = json.dumps({"did": "did:plc:nnnnnnnnnnnnnnnnnnnnnnnn", "kind": "commit"})
    write_table_atomic(_raw([new_line]), lake.day_file("raw_events", DAYS[1]))
    known = window_identifiers(_state(lake), lake.all_files("raw_events"), SECRET)
    assert "did:plc:nnnnnnnnnnnnnnnnnnnnnnnn" in known and "https://news.example.org/1/3" not in known
    assert "https://news.example.org/0/3" in known  # the day left alone is read as stored
    after = _stored(lake)
    assert len(after) == 2 and after[0] == before[0] and after[1] != before[1]


def test_a_damaged_file_or_another_secret_is_never_served(tmp_path) -> None:
    lake = _lake(tmp_path)
    files = lake.all_files("raw_events")
    first_day = lake_raw_identifiers(read_files(files[:1], columns=["kind", "raw"]))
    window_identifiers(_state(lake), files, SECRET)
    (damaged,) = [r for r in _stored(lake) if f"day={DAYS[0]}" in r]
    location = storage.join(_state(lake), DIGEST_FOLDER, damaged)
    storage.write_bytes(location, storage.read_bytes(location)[:-8])  # cut short: one digest lost
    known = window_identifiers(_state(lake), files[:1], SECRET)
    assert np.array_equal(known.sorted_digests, np.unique(digests(first_day, digest_key(SECRET))))
    assert len(storage.read_bytes(location)) % 8 == 7  # stored again whole (the magic is 7 bytes)
    other = b"another-secret-of-32-bytes-11111"
    with_other = window_identifiers(_state(lake), files, other)
    assert np.array_equal(with_other.sorted_digests, np.unique(digests(_expected(lake), digest_key(other))))
    assert {r.split("/")[0] for r in _stored(lake)} == {key_id(digest_key(other))}  # the old key's are gone


def test_a_legacy_part_is_harvested_every_time_and_not_stored(tmp_path) -> None:
    lake = Lake(str(tmp_path / "data"))
    legacy = storage.join(lake.partition_dir("raw_events", "day", DAYS[0]), PART_FILE)
    storage.make_dirs(legacy.rsplit("/", 1)[0])
    import pyarrow.parquet as pq

    pq.write_table(_raw([_line(1, 0)]), legacy)
    assert lake.all_files("raw_events") == [legacy]
    known = window_identifiers(_state(lake), [legacy], SECRET)
    assert "u1@example.com" in known and _stored(lake) == []


def test_forget_deletes_every_stored_digest(tmp_path) -> None:
    lake = _lake(tmp_path)
    window_identifiers(_state(lake), lake.all_files("raw_events"), SECRET)
    assert _stored(lake)
    forget_digests(_state(lake))
    assert _stored(lake) == []


@pytest.mark.parametrize("as_digests", [False, True])
def test_the_leak_scan_finds_the_same_leaks_through_digests(tmp_path, as_digests: bool) -> None:
    lake = _lake(tmp_path)
    expected = _expected(lake)
    known = window_identifiers(_state(lake), lake.all_files("raw_events"), SECRET) if as_digests else expected
    out = pa.table(
        {"text": ["fine", "write to U3@Example.com!", "at https://news.example.org/1/4.", "did:plc:zz"]}
    )
    assert [str(f) for f in leak_scan("t", out, known)] == [
        "t.text: 1 row(s) contain a raw EMAIL_ADDRESS",
        "t.text: 1 row(s) contain a raw URL",
    ]


def test_the_digest_key_is_no_pseudonym_and_a_file_being_written_is_left_alone(tmp_path) -> None:
    from blueprint_assets.lib.privacy.pseudonyms import Pseudonymizer

    # A pseudonym is an HMAC-SHA256 of its input: the key must not be one (a text can be any input).
    pseudonym = Pseudonymizer(SECRET)
    for label in ("blueprint raw identifier digests v1", "bp-raw-id-key", ""):
        assert pseudonym(label) != digest_key(SECRET).hex()
    lake = _lake(tmp_path)
    files = lake.all_files("raw_events")
    window_identifiers(_state(lake), files, SECRET)
    (stored,) = [r for r in _stored(lake) if f"day={DAYS[0]}" in r]
    writing = storage.join(_state(lake), DIGEST_FOLDER, stored + ".0123abcd.tmp")  # as write_bytes names it
    storage.write_bytes(writing, b"half")
    window_identifiers(_state(lake), files, SECRET)
    assert storage.read_bytes(writing) == b"half"
