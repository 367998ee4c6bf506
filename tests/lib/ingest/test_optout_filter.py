"""Ingestion's opt-out filter finds DIDs with the same pattern as the leak scans (lib/privacy/identifiers.py)."""

from __future__ import annotations

import json

import duckdb
import regex

from blueprint_assets.lib.ingest.raw_events import LINES_TABLE, STAGED_VIEW, drop_opted_out
from blueprint_assets.lib.privacy.identifiers import DID_SCAN_REGEX, DID_SQL_REGEX, MENTIONED_HANDLE_REGEX
from blueprint_assets.lib.privacy.involvement import text_handles

PLC = "did:plc:abcdefghijklmnopqrstuvwx"
WEB = "did:web:alice.example.com"
KEY = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
KEPT_PLC = "did:plc:zzzzzzzzzzzzzzzzzzzzzzzz"


def _line(did: str, text: str | None = None) -> str:
    return json.dumps({"did": did, "kind": "commit"} if text is None else {"did": did, "text": text})


LINES = [
    (_line(PLC), None),
    # a did:web at the end of a sentence: the full stop is not part of the host
    (_line(KEPT_PLC, f"moved to {WEB}."), None),
    (_line(KEPT_PLC, f"my key is {KEY}"), None),
    (_line(KEPT_PLC, "hello"), None),
    (_line(PLC)[:-5] + " broken", "invalid_json"),  # quarantined lines stay for the quarantine table
]


def _staged(lines: list[tuple[str, str | None]] = LINES) -> duckdb.DuckDBPyConnection:
    """The staged lines as stage_lines leaves them: a view of every line, with a row id, under LINES_TABLE."""
    con = duckdb.connect()
    con.execute("CREATE TABLE lines (raw VARCHAR, reason VARCHAR, row_id BIGINT)")
    con.executemany("INSERT INTO lines VALUES (?, ?, ?)", [(*line, n) for n, line in enumerate(lines)])
    con.execute(f"CREATE VIEW {STAGED_VIEW} AS SELECT * FROM lines")
    con.execute(f"CREATE VIEW {LINES_TABLE} AS SELECT * FROM {STAGED_VIEW}")
    return con


def test_the_sql_pattern_is_the_scan_pattern() -> None:
    assert DID_SQL_REGEX.endswith(DID_SCAN_REGEX)
    con = duckdb.connect()
    for raw, _ in LINES:
        in_sql = con.execute("SELECT regexp_extract_all(?, ?)", [raw, DID_SQL_REGEX]).fetchone()[0]
        assert in_sql == regex.findall(DID_SCAN_REGEX, raw, regex.IGNORECASE)


def test_opted_out_accounts_are_dropped_in_every_did_form() -> None:
    con = _staged()
    seen: list[str] = []

    def excluded(dids: list[str]) -> list[str]:
        seen.extend(dids)
        return [d for d in dids if d in {PLC, WEB, KEY}]

    assert drop_opted_out(con, excluded) == 3
    assert set(seen) == {PLC, WEB, KEY, KEPT_PLC}
    left = con.execute(f"SELECT raw, reason FROM {LINES_TABLE} ORDER BY raw").fetchall()
    # Set aside, not deleted: the staged lines still hold them, the lines the run writes do not.
    assert con.execute(f"SELECT count(*) FROM {STAGED_VIEW}").fetchone()[0] == len(LINES)
    assert left == sorted([LINES[3], LINES[4]])


def test_the_leak_scan_finds_a_did_key_with_lower_case_i_and_o() -> None:
    from blueprint_assets.lib.privacy.scans import DID_PATTERN

    assert "i" in KEY and "o" in KEY  # base58 allows both in lower case
    assert DID_PATTERN.search(f"released text with {KEY} in it").group(0) == KEY


HANDLE_TEXTS = [
    "hi @Alice.Bsky.Social!",
    "hi @alice.bsky.socialite",
    "alice.bsky.social, without an at sign",
    "write to a@alice.bsky.social.",
    "@bob.bsky.social and @carol.example",
    "@alice.bsky.soc\u0131al and @al\u0130ce.bsky.social",  # dotless and dotted i: no ASCII letter
]


def test_lines_mentioning_an_opted_out_handle_go_as_the_lake_rule_reads_them() -> None:
    """A post naming an opted-out account by `@handle` only (no DID anywhere) is set aside, exactly where
    the lake's opt-out rule (`involvement.text_handles`, the same pattern in Python) finds the handle."""
    lines = [(_line(KEPT_PLC, text), None) for text in HANDLE_TEXTS]
    con = _staged(lines)
    seen: list[str] = []

    def excluded(ids: list[str]) -> list[str]:
        seen.extend(ids)
        return [i for i in ids if i == "alice.bsky.social"]

    involved = ["alice.bsky.social" in text_handles(text) for text in HANDLE_TEXTS]
    assert involved == [True, False, False, True, False, False]
    assert drop_opted_out(con, excluded) == 2
    assert {"alice.bsky.social", "alice.bsky.socialite", "bob.bsky.social", "carol.example"} <= set(seen)
    assert KEPT_PLC in seen
    left = {raw for raw, _ in con.execute(f"SELECT raw, reason FROM {LINES_TABLE}").fetchall()}
    assert left == {raw for (raw, _), gone in zip(lines, involved, strict=True) if not gone}
    for raw, _ in lines:  # DuckDB's handles are Python's
        found = con.execute("SELECT regexp_extract_all(?, ?, 1)", [raw, MENTIONED_HANDLE_REGEX]).fetchone()[0]
        assert {h.lower() for h in found} == text_handles(json.loads(raw)["text"])
