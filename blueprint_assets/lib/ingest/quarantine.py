"""Why a line is quarantined: the one home for every quarantine reason.

Two layers, both used by ingestion's single parse of each line:
- `describe_unparseable(raw)` (Python) says what a line that is not JSON at all *is*: binary data,
  invalid UTF-8, a git merge-conflict marker, HTML, truncated JSON, several JSON values on one line,
  plain text, or other invalid JSON. It runs (as a DuckDB UDF) only on the rare lines DuckDB cannot parse.
- `QUARANTINE_REASON_SQL` covers JSON that parses but is not a usable event (not an object, missing or
  mistyped keys, implausible time).
Damaged files (a corrupt or truncated gzip, an unreadable file) are recorded with `damage_reason`.
"""

from __future__ import annotations

import contextlib
import json
import re

import duckdb
from duckdb import sqltypes

# Registered on ingestion's DuckDB connection under these names (see `register_udf`).
UDF_NAME = "blueprint_unparseable_reason"

MERGE_MARKERS = (b"<<<<<<<", b"=======", b">>>>>>>", b"|||||||")
HTML_START = re.compile(
    rb"\s*<(?:!doctype|!--|\?xml|/?(?:html|head|body|div|span|p|a|h[1-6]|title|meta|script|style|pre|center|table|br)\b)",
    re.IGNORECASE,
)
# Control bytes other than tab, CR, LF, FF: text files rarely hold them, binary files always do.
CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")
BINARY_CONTROL_SHARE = 0.05

# Reasons (constants so tests and docs name the same strings).
BINARY = "binary data"
NOT_UTF8 = "not valid UTF-8"
MERGE_CONFLICT = "git merge-conflict marker"
HTML = "HTML markup"
TRUNCATED = "truncated JSON"
SEVERAL_VALUES = "several JSON values on one line"
PLAIN_TEXT = "plain text, not JSON"
INVALID_JSON = "invalid JSON"


def describe_unparseable(raw: bytes) -> str:
    """What a line that DuckDB could not parse as JSON is (the first matching description wins)."""
    if b"\x00" in raw or len(CONTROL_BYTES.findall(raw)) > BINARY_CONTROL_SHARE * max(len(raw), 1):
        return BINARY
    stripped = raw.lstrip()
    if stripped.startswith(MERGE_MARKERS):
        return MERGE_CONFLICT
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return NOT_UTF8
    if HTML_START.match(raw):
        return HTML
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        if error.msg.startswith("Unterminated string") or error.pos >= len(text.rstrip()):
            return TRUNCATED  # the text ends inside a value: the line was cut short
        if error.msg == "Extra data":
            return SEVERAL_VALUES
        if not stripped.startswith((b"{", b"[", b'"')):
            return PLAIN_TEXT
    return INVALID_JSON  # Python's parser disagrees with DuckDB's, or JSON broken mid-way


def register_udf(con: duckdb.DuckDBPyConnection) -> None:
    """Make `describe_unparseable` callable from SQL on `con` (idempotent); it runs only on the rare
    lines DuckDB cannot decode or parse."""
    with contextlib.suppress(duckdb.Error):  # not registered yet
        con.remove_function(UDF_NAME)
    con.create_function(UDF_NAME, describe_unparseable, [sqltypes.BLOB], sqltypes.VARCHAR, side_effects=False)


# For lines that are JSON: the first failing rule wins, so the reason is the most basic problem.
# `raw_text` is the decoded line (NULL if not UTF-8), `raw_in` its bytes. Re-parses the line several times,
# so it runs only on lines the single-parse check in lib.ingest.raw_events rejects.
QUARANTINE_REASON_SQL = f"""
CASE
  WHEN raw_text IS NULL OR NOT json_valid(raw_text) THEN {UDF_NAME}(raw_in)
  WHEN json_type(raw_text) <> 'OBJECT' THEN 'JSON is not an object'
  WHEN coalesce(json_type(raw_text, '$.did'), '') <> 'VARCHAR' THEN 'missing or non-string did'
  WHEN coalesce(json_type(raw_text, '$.time_us'), '') NOT IN ('UBIGINT', 'BIGINT')
    THEN 'missing or non-integer time_us'
  WHEN (raw_text->>'$.time_us')::HUGEINT NOT BETWEEN 946684800000000 AND 4102444800000000
    THEN 'time_us outside 2000..2100'
  WHEN coalesce(json_type(raw_text, '$.kind'), '') <> 'VARCHAR' THEN 'missing kind'
  WHEN raw_text->>'$.kind' = 'commit' AND (
       raw_text->>'$.commit.collection' IS NULL OR raw_text->>'$.commit.operation' IS NULL
       OR raw_text->>'$.commit.rkey' IS NULL) THEN 'commit without collection, operation or rkey'
  ELSE NULL
END
"""


def damage_reason(kind: str, lines_before: int) -> str:
    """The reason recorded for a file that broke after `lines_before` good lines."""
    return f"{kind} after line {lines_before}"


DAMAGE_KINDS = ("corrupt gzip", "truncated gzip", "unreadable file")
# SQL test for a damaged-file reason (the summary and the audit count these rows as corrupt files).
DAMAGE_SQL = " OR ".join(f"reason LIKE '{kind} after line %'" for kind in DAMAGE_KINDS)


def count_damaged_files(con: duckdb.DuckDBPyConnection, quarantine_files: list[str]) -> int:
    """Damaged files (corrupt/truncated gzip, unreadable) among `raw_events_quarantine` partition files."""
    if not quarantine_files:
        return 0
    return con.execute(
        "SELECT count(DISTINCT source_file) FROM read_parquet(?, hive_partitioning = false) WHERE "
        + DAMAGE_SQL,
        [quarantine_files],
    ).fetchone()[0]


def input_damage(data_root: str, quarantine_files: list[str]) -> dict[str, int]:
    """What a window's quarantine holds, for the audit: quarantined lines and damaged input files."""
    from blueprint_assets.lib.storage.storage import register_with_duckdb

    if not quarantine_files:
        return {"quarantined_lines": 0, "corrupt_files": 0}
    con = duckdb.connect()
    register_with_duckdb(con, data_root)
    lines = con.execute(
        "SELECT count(*) FROM read_parquet(?, hive_partitioning = false)", [quarantine_files]
    ).fetchone()[0]
    return {"quarantined_lines": int(lines), "corrupt_files": count_damaged_files(con, quarantine_files)}
