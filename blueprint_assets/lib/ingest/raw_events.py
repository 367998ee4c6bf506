"""Raw events: every line of a window staged, parsed once, checked, keyed, deduplicated and filed by day.

Plain local archive files are read by DuckDB itself (`lib.ingest.native`: no Python work per line); any
other source, and any file DuckDB cannot read exactly as Python would (gzip, invalid UTF-8, carriage
returns, ...), goes through `lib.ingest.staging` (blocks of whole lines split by numpy, handed to DuckDB as
Arrow chunks, read on a background thread while DuckDB parses the previous chunk). Both feed the same SQL
(`parse_lines_sql`): DuckDB parses each line once (`json_extract` of the key fields), assigns events to days
by `time_us`, deduplicates repeated deliveries and writes the daily partitions; `lib.ingest.actions` maps
them to actions. Only lines DuckDB cannot parse go to Python, to be told what they are
(`lib.ingest.quarantine`).

Memory stays bounded: each file or chunk is parsed as it arrives and written as an uncompressed Parquet part
(the raw text once, beside its keys) in the work database's scratch folder (`lib.storage.duck.scratch_folder`);
the parts are read back through one view (`ingest_lines`) by the statements that write the partitions;
deduplication and opt-outs work on row ids only; and the small working tables live in a throwaway on-disk
DuckDB file (`lib.storage.duck.work_database`), deleted with the parts.

raw_events rows keep their arrival order (sources in order, then line order), so a partition is written by
one scan with no sort: repeated and opted-out rows are left out by a filter on their row ids, not a join.
`actions` is sorted by (time_us, event_key) whatever the order of its raw_events.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from blueprint_assets.lib.ingest.native import NATIVE_LINES_SQL, NativeReads, native_file
from blueprint_assets.lib.ingest.quarantine import (
    DAMAGE_SQL,
    QUARANTINE_REASON_SQL,
    register_udf,
)
from blueprint_assets.lib.ingest.staging import LineSource, NativeFile, chunks, prefetched
from blueprint_assets.lib.privacy.identifiers import DID_SQL_REGEX, MENTIONED_HANDLE_REGEX
from blueprint_assets.lib.sources.archive import US_PER_DAY, day_bounds_us
from blueprint_assets.lib.storage.duck import copy_to_parquet, scratch_folder
from blueprint_assets.lib.storage.lake import Lake
from blueprint_assets.lib.storage.storage import join, read_text, write_bytes

__all__ = ["LineSource", "IngestStats", "stage_lines", "write_raw_days"]

# The fields an event is keyed and filed by, extracted with one parse per line (`f[1]`..`f[7]`).
FIELD_PATHS = "['$.did', '$.time_us', '$.kind', '$.commit.collection', '$.commit.operation', '$.commit.rkey', '$.commit.rev']"

# A line that passes this single-parse check passes every rule of QUARANTINE_REASON_SQL (a value of
# type VARCHAR at `$.did` implies an object; `->> '$'` of an extracted value equals `->>` of its path).
# Lines that fail it get the exact reason from QUARANTINE_REASON_SQL, which is NULL if the check was
# merely conservative.
FAST_VALID_SQL = """
  raw_text IS NOT NULL AND json_type(f[1]) = 'VARCHAR' AND json_type(f[2]) IN ('UBIGINT', 'BIGINT')
  AND try_cast(f[2]::VARCHAR AS BIGINT) BETWEEN 946684800000000 AND 4102444800000000
  AND json_type(f[3]) = 'VARCHAR'
  AND ((f[3] ->> '$') <> 'commit'
       OR (f[4] ->> '$' IS NOT NULL AND f[5] ->> '$' IS NOT NULL AND f[6] ->> '$' IS NOT NULL))
"""

LINES_TABLE = "ingest_lines"
LOSERS_TABLE = "ingest_duplicate_rows"

LINES_COLUMNS = """
  source_file VARCHAR, line_no BIGINT, home_day VARCHAR, reason VARCHAR, event_key VARCHAR, time_us BIGINT,
  did VARCHAR, kind VARCHAR, collection VARCHAR, operation VARCHAR, rkey VARCHAR, rev VARCHAR,
  raw VARCHAR, raw_bytes BLOB
"""

# A staged line that is blank (only whitespace): staged with this reason, counted, and left out of LINES_TABLE.
BLANK = "(blank line)"


def parse_lines_sql(lines_sql: str) -> str:
    """Rows of LINES_TABLE from `lines_sql`, which gives source_file, line_no, home_day, damage (the
    reason of a damaged file's row), blank, raw_in (the line's bytes, end of line cut) and raw_text (the
    line decoded, NULL if it is not UTF-8): each line parsed once, checked and keyed."""
    return f"""
SELECT source_file, line_no, home_day, reason,
       CASE WHEN reason IS NULL THEN
         sha1(concat_ws('|', did, time_us::VARCHAR, kind, coalesce(collection, ''), coalesce(operation, ''),
                        coalesce(rkey, ''), coalesce(rev, ''))) END AS event_key,
       time_us, did, kind, collection, operation, rkey, rev, raw_text AS raw,
       CASE WHEN raw_text IS NULL AND damage IS NULL AND NOT blank THEN raw_in END AS raw_bytes
FROM (
  SELECT source_file, line_no, home_day, raw_text, raw_in, damage, blank,
         CASE WHEN damage IS NOT NULL THEN damage WHEN blank THEN '{BLANK}' WHEN {FAST_VALID_SQL} THEN NULL
              ELSE {QUARANTINE_REASON_SQL} END AS reason,
         try_cast(f[2]::VARCHAR AS BIGINT) AS time_us, f[1] ->> '$' AS did, f[3] ->> '$' AS kind,
         f[4] ->> '$' AS collection, f[5] ->> '$' AS operation, f[6] ->> '$' AS rkey, f[7] ->> '$' AS rev
  FROM (SELECT *, CASE WHEN NOT blank THEN try(json_extract(raw_text, {FIELD_PATHS})) END AS f
        FROM ({lines_sql}))
)
"""


# The lines of one Arrow chunk (`chunk_view`, lib.ingest.staging): end of line cut by byte slicing
# (DuckDB's rtrim costs more than the JSON parse), then decoded.
CHUNK_LINES_SQL = """
SELECT source_file, line_no, home_day, damage, blank, raw[1:octet_length(raw) - eol] AS raw_in,
       try(decode(raw_in)) AS raw_text
FROM chunk_view
"""

# `{day}`: the partition's day, the UTC date of every `time_us` its rows are filtered to.
RAW_EVENT_COLUMNS = """
  event_key, '{day}' AS day, time_us, did, kind, collection, operation, rkey, rev, source_file, line_no, raw
"""


# True of every valid line; stated so DuckDB writes these Parquet columns as required (not nullable),
# as they were when valid lines had a table of their own.
NOT_NULL_RAW_COLUMNS = " AND ".join(
    f"{c} IS NOT NULL" for c in ("event_key", "time_us", "did", "kind", "source_file", "line_no", "raw")
)


@dataclass
class IngestStats:
    """What one ingestion window read, kept, dropped as duplicate and quarantined, per day."""

    lines_read: int = 0
    blank_lines: int = 0
    # Where each non-blank line went, in the order of `accounting()`:
    events_by_day: dict[str, int] = field(default_factory=dict)
    quarantined_by_day: dict[str, dict[str, int]] = field(default_factory=dict)
    duplicates_by_day: dict[str, int] = field(default_factory=dict)
    # lines read for other days: events timed outside the window, bad lines filed elsewhere
    outside_window: int = 0
    opted_out_events: int = 0
    # The files behind the lines
    files_read: int = 0
    corrupt_files: int = 0
    native_files: int = 0  # files DuckDB read itself (lib.ingest.native); the others went through Python

    def accounting(self) -> dict[str, int]:
        """Where every non-blank line read went: `lines_read` equals the sum of the other terms."""
        return {
            "lines_read": self.lines_read,
            "kept": sum(self.events_by_day.values()),
            "quarantined": sum(sum(r.values()) for r in self.quarantined_by_day.values()),
            "duplicates": sum(self.duplicates_by_day.values()),
            "outside_window": self.outside_window,
            "opted_out": self.opted_out_events,
        }


# Native files read at once: one per DuckDB thread, at most this many (each holds its read buffers).
MAX_NATIVE_READS = 4

# Staged lines are written as uncompressed Parquet parts, one per chunk or native file, in the work
# database's scratch folder, and read back through the LINES_TABLE view. Writing a part costs about
# two thirds of an INSERT of the same rows into a disk-backed table (measured on the 1M-line benchmark day).
# Small row groups keep what a reading thread holds small: with DuckDB's default (122,880 rows, a whole
# part) sorting a day's lines (as raw_events once did) ran out of memory under a 512 MB limit, and 8,192
# rows sorted within it; reading them back in order needs less.
STAGED_ROW_GROUP_ROWS = 8_192
STAGED_VIEW = "ingest_staged"
STAGED_FOLDER = "staged_lines"
SET_ASIDE_VARIABLE = "ingest_set_aside"
# Row ids index a bitstring, whose index is a 32-bit integer in DuckDB.
MAX_WINDOW_LINES = 2**31 - 1
DROPPED_TABLE = "ingest_dropped_rows"
_COLUMN_TYPES = [tuple(column.split()) for column in LINES_COLUMNS.split(",") if column.strip()]
_TYPED_COLUMNS = ", ".join(f"{name}::{kind} AS {name}" for name, kind in _COLUMN_TYPES)
_NO_LINES = ", ".join(f"NULL::{kind} AS {name}" for name, kind in _COLUMN_TYPES)


def _stage_sql(parse_sql: str, target: Path, part: int) -> str:
    """COPY the parsed lines to the Parquet part `target`, numbered `part` (it returns the rows written)."""
    return (
        f"COPY (SELECT {_TYPED_COLUMNS}, {int(part)} AS part FROM ({parse_sql})) "
        f"TO {_path_literal(target)} (FORMAT parquet, COMPRESSION uncompressed, ROW_GROUP_SIZE {STAGED_ROW_GROUP_ROWS})"
    )


def _path_literal(path: Path) -> str:
    """`path` as a SQL string literal."""
    return "'" + str(path).replace("'", "''") + "'"


def _define_lines(con: duckdb.DuckDBPyConnection, parts: list[Path]) -> None:
    """The staged view (every staged line, with a `row_id` from 0, dense over the window) and LINES_TABLE.

    A part's rows are numbered from the rows of the parts with a lower id (a list indexed by part id).
    """
    if not parts:
        con.execute(
            f"CREATE OR REPLACE VIEW {STAGED_VIEW} AS SELECT {_NO_LINES}, NULL::BIGINT AS row_id WHERE false"
        )
        _define_lines_view(con)
        return
    listed = ", ".join(_path_literal(p) for p in parts)
    counts = dict(con.execute(f"SELECT part, count(*) FROM read_parquet([{listed}]) GROUP BY 1").fetchall())
    first_rows, total = [], 0
    for part in range(max(counts, default=0) + 1):
        first_rows.append(total)
        total += counts.get(part, 0)
    if total > MAX_WINDOW_LINES:
        raise ValueError(f"a window of {total:,} lines is more than one run can stage ({MAX_WINDOW_LINES:,})")
    con.execute(
        f"""CREATE OR REPLACE VIEW {STAGED_VIEW} AS
            SELECT * EXCLUDE (part, file_row_number), {first_rows}[part + 1] + file_row_number AS row_id
            FROM read_parquet([{listed}], file_row_number = true)"""
    )
    _define_lines_view(con)


def _define_lines_view(con: duckdb.DuckDBPyConnection, condition: str = "true") -> None:
    """LINES_TABLE: the staged lines that are not blank and meet `condition`."""
    con.execute(
        f"""CREATE OR REPLACE VIEW {LINES_TABLE} AS SELECT * FROM {STAGED_VIEW}
            WHERE reason IS DISTINCT FROM '{BLANK}' AND {condition}"""
    )


def stage_lines(
    con: duckdb.DuckDBPyConnection,
    sources: Iterable[LineSource],
    stats: IngestStats,
    *,
    native: bool = True,
) -> None:
    """Parse every line into the `ingest_lines` view: fields, event key, or a quarantine reason.

    Plain local archive files are read by DuckDB itself (`lib.ingest.native`); any other source, and a
    file DuckDB cannot read exactly as Python would, goes through the Arrow chunks of `lib.ingest.staging`
    (`native=False` sends every source there: tests compare the two paths). `con` must have a work
    database (`lib.storage.duck.work_database`): the staged parts live in its scratch folder.
    """
    folder = scratch_folder(con) / STAGED_FOLDER
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    register_udf(con)
    parse_chunk, parse_native = parse_lines_sql(CHUNK_LINES_SQL), parse_lines_sql(NATIVE_LINES_SQL)
    seen_files: set[str] = set()
    staged = 0
    # Parts are named in source order, so the view reads lines in the order they arrived. Each part also
    # gets its own id, which places its rows' row ids: the pieces of a re-staged file share a name's
    # number but not an id.
    numbers, part_ids = itertools.count(), itertools.count()

    def part_path(number: int, piece: int = 0) -> Path:
        return folder / f"{number:08d}-{piece:06d}.parquet"

    def stage_chunk(chunk: pa.Table, number: int, piece: int = 0) -> int:
        seen_files.update(chunk.column("source_file").unique().to_pylist())
        con.register("chunk_view", chunk)
        try:
            sql = _stage_sql(parse_chunk, part_path(number, piece), next(part_ids))
            return con.execute(sql).fetchone()[0]
        finally:
            con.unregister("chunk_view")

    threads, ordered = con.execute(
        "SELECT current_setting('threads'), current_setting('preserve_insertion_order')"
    ).fetchall()[0]
    # Native line numbers come from the scan's order, which DuckDB keeps only with insertion order on.
    native = native and bool(ordered)
    reads = NativeReads(con, workers=min(int(threads), MAX_NATIVE_READS))
    native_numbers: list[int] = []
    try:
        for item in prefetched(chunks(sources, native_file if native else None)):
            number = next(numbers)
            if isinstance(item, NativeFile):
                # Read on a worker cursor while this thread stages the others.
                reads.submit(item, _stage_sql(parse_native, part_path(number), next(part_ids)))
                native_numbers.append(number)
            else:
                staged += stage_chunk(item, number)
        for number, (item, lines) in zip(native_numbers, reads.results(), strict=True):
            if lines is None:
                # The statement failed, so nothing of the file counts; the Python reader accounts for every
                # line, in parts that keep the file's place in the order.
                part_path(number).unlink(missing_ok=True)
                fallback = chunks([(item.label, item.home_day, item.lines)])
                staged += sum(stage_chunk(chunk, number, piece) for piece, chunk in enumerate(fallback))
                continue
            stats.native_files += 1
            staged += lines
            if lines:  # as with chunks: a file is read once it gave a line
                seen_files.add(item.label)
            if item.lines.on_lines is not None:
                item.lines.on_lines(lines)
    finally:
        reads.close()
    _define_lines(con, sorted(folder.glob("*.parquet")))  # their names are in source order
    blank, stats.corrupt_files = con.execute(
        f"""SELECT count(*) FILTER (reason = ?), count(DISTINCT source_file) FILTER ({DAMAGE_SQL})
            FROM {STAGED_VIEW} WHERE reason IS NOT NULL""",
        [BLANK],
    ).fetchone()
    stats.blank_lines += blank  # a blank line holds no event; counted, not quarantined
    stats.lines_read += staged - blank
    stats.files_read = len(seen_files)


def drop_opted_out(con: duckdb.DuckDBPyConnection, excluded: Callable[[list[str]], list[str]]) -> int:
    """Set aside staged events by, about or mentioning opted-out accounts; `excluded` picks them from the
    DIDs and the @-mentioned handles (lowercased) seen, as the opt-out rule reads them (involvement.py).

    Only pseudonyms of opted-out accounts and handles are stored, so the identifiers present are
    pseudonymized by the caller and the matches are used here, in memory, never written. The rows set aside
    leave the LINES_TABLE view.
    """
    candidates = con.execute(
        f"""SELECT DISTINCT unnest(regexp_extract_all(raw, '{DID_SQL_REGEX}')) FROM {LINES_TABLE}
            WHERE reason IS NULL
            UNION
            SELECT DISTINCT lower(unnest(regexp_extract_all(raw, '{MENTIONED_HANDLE_REGEX}', 1))) FROM {LINES_TABLE}
            WHERE reason IS NULL AND contains(raw, '@')"""
    ).fetchall()
    sought = excluded(sorted(row[0] for row in candidates))
    if not sought:
        return 0
    con.execute(
        f"""CREATE OR REPLACE TABLE {DROPPED_TABLE} AS SELECT row_id FROM {LINES_TABLE}
            WHERE reason IS NULL AND (
              list_has_any(regexp_extract_all(raw, ?), ?)
              OR (contains(raw, '@')
                  AND list_has_any(list_transform(regexp_extract_all(raw, ?, 1), lambda h: lower(h)), ?)))""",
        [DID_SQL_REGEX, sought, MENTIONED_HANDLE_REGEX, sought],
    )
    _define_lines_view(con, f"row_id NOT IN (SELECT row_id FROM {DROPPED_TABLE})")
    return con.execute(f"SELECT count(*) FROM {DROPPED_TABLE}").fetchone()[0]


def _mark_duplicates(con: duckdb.DuckDBPyConnection) -> None:
    """Row ids of repeated deliveries: every copy of an event key but the first (by source_file, line_no).

    Works on keys only (repeats are rare), so no wide row is windowed or hashed.
    """
    con.execute(
        f"""CREATE OR REPLACE TABLE {LOSERS_TABLE} AS
            SELECT row_id, time_us FROM {LINES_TABLE}
            WHERE event_key IN (
              SELECT event_key FROM {LINES_TABLE} WHERE event_key IS NOT NULL GROUP BY 1 HAVING count(*) > 1)
            QUALIFY row_number() OVER (PARTITION BY event_key ORDER BY source_file, line_no) > 1"""
    )


# Rows per Parquet row group of raw_events: readers decompress a column chunk at a time, and the default
# (122,880 rows, ~70 MB of raw JSON) alone took a quarter of a 512 MB memory limit per reading thread.
RAW_ROW_GROUP_ROWS = 32_768


def write_raw_days(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    days: list[str],
    stats: IngestStats,
    excluded: Callable[[list[str]], list[str]] | None = None,
) -> None:
    """Write `raw_events` and `raw_events_quarantine` partitions for each day of the window.

    raw_events rows are in arrival order (sources in order, then their lines): the rows set aside are
    filtered out, so each partition is one ordered scan with no sort and no join.
    """
    stats.opted_out_events = drop_opted_out(con, excluded) if excluded is not None else 0
    _mark_duplicates(con)
    _count_days(con, days, stats)
    # Repeats timed outside the window stay: they are counted there, as the lines they repeat are.
    start_us, end_us = _window_us(days)
    _leave_out_set_aside(
        con,
        f"SELECT row_id FROM {LOSERS_TABLE} WHERE time_us >= {start_us} AND time_us < {end_us}",
        opted_out=stats.opted_out_events > 0,
    )
    for day in days:
        start_us, end_us = day_bounds_us(day)
        # No ORDER BY: a scan and a filter keep the parts' order (DuckDB's batch COPY), a sort of every
        # raw line would cost more than the rest of the partition's writing.
        query = f"""
            SELECT {RAW_EVENT_COLUMNS.format(day=day)} FROM {LINES_TABLE}
            WHERE reason IS NULL AND time_us >= ? AND time_us < ? AND {NOT_NULL_RAW_COLUMNS}
        """
        copy_to_parquet(con, query, [start_us, end_us], lake.day_file("raw_events", day), RAW_ROW_GROUP_ROWS)
        quarantine = (
            f"SELECT source_file, line_no, reason, raw, raw_bytes FROM {LINES_TABLE}"
            " WHERE reason IS NOT NULL AND home_day = ? ORDER BY source_file, line_no"
        )
        copy_to_parquet(con, quarantine, [day], lake.day_file("raw_events_quarantine", day))
    drop_staged(con)


def _window_us(days: list[str]) -> tuple[int, int]:
    """[start, end) of the window `days` (in order) in microseconds."""
    return day_bounds_us(days[0])[0], day_bounds_us(days[-1])[1]


def _count_days(con: duckdb.DuckDBPyConnection, days: list[str], stats: IngestStats) -> None:
    """Each day's events kept, repeats and quarantined lines, and the lines no partition of `days` holds
    (`outside_window`), from one grouped scan each for the window.

    Outside the window: events timed outside it (however far: a year-2099 event in a 2025 file is counted
    here, and kept only by a run over its own day), and bad lines whose file reports them on another day.
    """
    day_of = {day_bounds_us(day)[0] // US_PER_DAY: day for day in days}  # also checks each is a date
    start_us, end_us = _window_us(days)

    def per_day(table: str, condition: str) -> dict[str | None, int]:
        """Rows by day of the window; those timed outside it under None."""
        rows = con.execute(
            f"""SELECT CASE WHEN time_us >= ? AND time_us < ? THEN time_us // {US_PER_DAY} END, count(*)
                FROM {table} WHERE {condition} GROUP BY 1""",
            [start_us, end_us],
        ).fetchall()
        return {day_of.get(number): count for number, count in rows}

    events, repeats = per_day(LINES_TABLE, "reason IS NULL"), per_day(LOSERS_TABLE, "true")
    quarantined = con.execute(
        f"SELECT home_day, reason, count(*) FROM {LINES_TABLE} WHERE reason IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2"
    ).fetchall()
    for day in days:
        stats.events_by_day[day] = events.get(day, 0) - repeats.get(day, 0)
        stats.duplicates_by_day[day] = repeats.get(day, 0)
        stats.quarantined_by_day[day] = {reason: n for home, reason, n in quarantined if home == day}
    # A NULL home_day is on no day, inside the window or out, as `home_day NOT IN (...)` had it.
    elsewhere = sum(n for home, _, n in quarantined if home is not None and home not in days)
    stats.outside_window = events.get(None, 0) + elsewhere


def _leave_out_set_aside(con: duckdb.DuckDBPyConnection, repeats_sql: str, opted_out: bool) -> None:
    """Leave the repeats `repeats_sql` selects (by row id), and with `opted_out` the rows drop_opted_out set
    aside, out of LINES_TABLE with a filter: DuckDB keeps the parts' order through a scan and a filter, not
    through a join.

    The rows set aside are one bit each in a bitstring (a DuckDB variable) indexed by row id.
    """
    aside = repeats_sql + (f" UNION ALL SELECT row_id FROM {DROPPED_TABLE}" if opted_out else "")
    rows = con.execute(f"SELECT count(*) FROM {STAGED_VIEW}").fetchone()[0]
    if not rows or not con.execute(f"SELECT count(*) FROM ({aside})").fetchone()[0]:
        _define_lines_view(con)
        return
    con.execute(
        f"SET VARIABLE {SET_ASIDE_VARIABLE} = (SELECT bitstring_agg(row_id, 0, {rows - 1}) FROM ({aside}))"
    )
    _define_lines_view(con, f"get_bit(getvariable('{SET_ASIDE_VARIABLE}'), row_id::INTEGER) = 0")


def drop_staged(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the staged lines: the views, the working tables and the Parquet parts."""
    con.execute(f"DROP VIEW IF EXISTS {LINES_TABLE}")
    for table in (LOSERS_TABLE, DROPPED_TABLE):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    con.execute(f"DROP VIEW IF EXISTS {STAGED_VIEW}")
    con.execute(f"RESET VARIABLE {SET_ASIDE_VARIABLE}")
    shutil.rmtree(scratch_folder(con) / STAGED_FOLDER, ignore_errors=True)


# --- Line accounting: lines_read = kept + quarantined + duplicates + outside_window + opted_out ---------

ACCOUNTING_TERMS = ("kept", "quarantined", "duplicates", "outside_window", "opted_out")


def accounting_path(state_dir: str | Path, days: list[str]) -> str:
    """Where the accounting of the run over `days` is kept (read back by the blocking check)."""
    return join(str(state_dir), "ingest_accounting", f"{days[0]}..{days[-1]}.json")


def write_accounting(state_dir: str | Path, days: list[str], stats: IngestStats) -> dict[str, int]:
    """Store the window's accounting atomically (one object, local folder or object store); return it."""
    record = stats.accounting()
    write_bytes(accounting_path(state_dir, days), json.dumps(record, sort_keys=True).encode())
    return record


def read_accounting(state_dir: str | Path, days: list[str]) -> dict[str, int] | None:
    text = read_text(accounting_path(state_dir, days))
    return json.loads(text) if text is not None else None


def accounting_problems(record: dict[str, int] | None, stored: dict[str, int]) -> list[str]:
    """Why the books do not balance (empty when they do). `stored` holds the kept and quarantined rows
    counted in the written partitions, which must equal the recorded ones."""
    if record is None:
        return ["no accounting record for this window: materialize raw_events for exactly these days"]
    problems = [
        f"{term}: {record.get(term)} recorded but {count} stored"
        for term, count in stored.items()
        if record.get(term) != count
    ]
    total = sum(int(record.get(term, 0)) for term in ACCOUNTING_TERMS)
    if record.get("lines_read") != total:
        terms = " + ".join(f"{t} {record.get(t, 0)}" for t in ACCOUNTING_TERMS)
        problems.append(f"lines_read {record.get('lines_read')} != {terms} = {total}")
    return problems
