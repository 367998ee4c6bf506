"""Raw events and the 13-type action table, computed with DuckDB over Parquet.

Python only moves bytes (file lines into a DuckDB staging table, in bounded chunks); DuckDB parses
JSON, assigns events to days by `time_us`, deduplicates repeated deliveries, writes the daily
partitions, and maps commits to actions. Memory stays bounded because DuckDB spills to disk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from blueprint_assets.core.archive import day_bounds_us
from blueprint_assets.core.lake import Lake, copy_query_to_parquet

CHUNK_LINES = 100_000

# A line's source: (source_file, home_day, iterator of raw line bytes).
LineSource = tuple[str, str, Iterable[bytes]]

STAGING_SCHEMA = pa.schema(
    [("source_file", pa.string()), ("line_no", pa.int64()), ("raw", pa.binary()), ("home_day", pa.string())]
)

# Why a line is quarantined: first failing rule wins, so the reason is the most basic problem.
QUARANTINE_REASON_SQL = """
CASE
  WHEN raw_text IS NULL THEN 'not valid UTF-8'
  WHEN NOT json_valid(raw_text) THEN 'invalid JSON'
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

RAW_EVENT_COLUMNS = """
  event_key, day, time_us, did, kind, collection, operation, rkey, rev, source_file, line_no, raw
"""


@dataclass
class IngestStats:
    """What one ingestion window read, kept, dropped as duplicate and quarantined, per day."""

    lines_read: int = 0
    blank_lines: int = 0
    files_read: int = 0
    events_by_day: dict[str, int] = field(default_factory=dict)
    duplicates_by_day: dict[str, int] = field(default_factory=dict)
    quarantined_by_day: dict[str, dict[str, int]] = field(default_factory=dict)
    opted_out_events: int = 0


def configure(con: duckdb.DuckDBPyConnection, temp_dir: Path, memory_limit: str = "2GB") -> None:
    """Bound DuckDB's memory and let it spill to `temp_dir`."""
    temp_dir.mkdir(parents=True, exist_ok=True)
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET temp_directory = '{temp_dir.as_posix()}'")
    con.execute("SET preserve_insertion_order = true")


def _chunks(sources: Iterable[LineSource], size: int) -> Iterator[tuple[pa.Table, int]]:
    """Arrow chunks of staged lines, and how many blank lines were skipped along the way."""
    files, line_nos, raws, homes = [], [], [], []
    blank = 0
    for source_file, home_day, lines in sources:
        for line_no, raw in enumerate(lines, start=1):
            if not raw.strip():
                blank += 1  # a blank line holds no event; counted, not quarantined
                continue
            files.append(source_file)
            line_nos.append(line_no)
            raws.append(raw)
            homes.append(home_day)
            if len(raws) >= size:
                yield pa.table([files, line_nos, raws, homes], schema=STAGING_SCHEMA), blank
                files, line_nos, raws, homes = [], [], [], []
                blank = 0
    yield pa.table([files, line_nos, raws, homes], schema=STAGING_SCHEMA), blank


def stage_lines(con: duckdb.DuckDBPyConnection, sources: Iterable[LineSource], stats: IngestStats) -> None:
    """Load every line into the `staged` table and parse it into `parsed` (with a quarantine reason)."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE staged (source_file VARCHAR, line_no BIGINT, raw BLOB, home_day VARCHAR)"
    )
    seen_files: set[str] = set()
    for chunk, blank in _chunks(sources, CHUNK_LINES):
        stats.blank_lines += blank
        stats.lines_read += chunk.num_rows
        seen_files.update(chunk.column("source_file").unique().to_pylist())
        con.register("chunk_view", chunk)
        con.execute("INSERT INTO staged SELECT * FROM chunk_view")
        con.unregister("chunk_view")
    stats.files_read = len(seen_files)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE parsed AS
        SELECT source_file, line_no, home_day, raw_text, {QUARANTINE_REASON_SQL} AS reason,
               CASE WHEN raw_text IS NULL THEN raw END AS raw_bytes
        FROM (SELECT source_file, line_no, home_day, raw, try(decode(raw)) AS raw_text FROM staged)
        """
    )
    con.execute("DROP TABLE staged")


DID_REGEX = r"did:(?:plc:[a-z2-7]{24}|web:[A-Za-z0-9.\-]+)"


def drop_opted_out(con: duckdb.DuckDBPyConnection, excluded: Callable[[list[str]], list[str]]) -> int:
    """Remove staged events by or about opted-out accounts; `excluded` picks them from the DIDs seen.

    Only pseudonyms of opted-out accounts are stored, so the DIDs present are pseudonymized by the caller
    and the matches are used here, in memory, never written.
    """
    candidates = con.execute(
        f"SELECT DISTINCT unnest(regexp_extract_all(raw, '{DID_REGEX}')) FROM window_events"
    ).fetchall()
    dids = excluded(sorted(row[0] for row in candidates))
    if not dids:
        return 0
    before = con.execute("SELECT count(*) FROM window_events").fetchone()[0]
    con.execute(
        "DELETE FROM window_events WHERE list_has_any(regexp_extract_all(raw, ?), ?)", [DID_REGEX, dids]
    )
    return before - con.execute("SELECT count(*) FROM window_events").fetchone()[0]


def write_raw_days(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    days: list[str],
    stats: IngestStats,
    excluded: Callable[[list[str]], list[str]] | None = None,
) -> None:
    """Write `raw_events` and `raw_events_quarantine` partitions for each day of the window."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE window_events AS
        SELECT sha1(concat_ws('|', did, time_us::VARCHAR, kind, coalesce(collection, ''),
                              coalesce(operation, ''), coalesce(rkey, ''), coalesce(rev, ''))) AS event_key,
               strftime(make_timestamp(time_us), '%Y-%m-%d') AS day, *
        FROM (
          SELECT raw_text->>'$.did' AS did, (raw_text->>'$.time_us')::BIGINT AS time_us,
                 raw_text->>'$.kind' AS kind, raw_text->>'$.commit.collection' AS collection,
                 raw_text->>'$.commit.operation' AS operation, raw_text->>'$.commit.rkey' AS rkey,
                 raw_text->>'$.commit.rev' AS rev, source_file, line_no, raw_text AS raw
          FROM parsed WHERE reason IS NULL
        )
        """
    )
    if excluded is not None:
        stats.opted_out_events = drop_opted_out(con, excluded)
    for day in days:
        start_us, end_us = day_bounds_us(day)
        total = con.execute(
            "SELECT count(*) FROM window_events WHERE time_us >= ? AND time_us < ?", [start_us, end_us]
        ).fetchone()[0]
        query = f"""
            SELECT {RAW_EVENT_COLUMNS} FROM window_events
            WHERE time_us >= ? AND time_us < ?
            QUALIFY row_number() OVER (PARTITION BY event_key ORDER BY source_file, line_no) = 1
            ORDER BY time_us, event_key
        """
        copy_query_to_parquet(con, query, [start_us, end_us], lake.day_file("raw_events", day))
        kept = con.execute(
            f"SELECT count(*) FROM read_parquet('{lake.day_file('raw_events', day)}', hive_partitioning = false)"
        ).fetchone()[0]
        stats.events_by_day[day] = kept
        stats.duplicates_by_day[day] = total - kept
        quarantine = (
            "SELECT source_file, line_no, reason, raw_text AS raw, raw_bytes FROM parsed"
            " WHERE reason IS NOT NULL AND home_day = ? ORDER BY source_file, line_no"
        )
        copy_query_to_parquet(con, quarantine, [day], lake.day_file("raw_events_quarantine", day))
        rows = con.execute(
            "SELECT reason, count(*) FROM parsed WHERE reason IS NOT NULL AND home_day = ? GROUP BY 1 ORDER BY 1",
            [day],
        ).fetchall()
        stats.quarantined_by_day[day] = dict(rows)
