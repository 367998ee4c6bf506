"""Raw events and the 13-type action table, computed with DuckDB over Parquet.

Python only moves bytes (file lines into DuckDB, in bounded chunks, read on a background thread while
DuckDB parses the previous chunk); DuckDB parses JSON, assigns events to days by `time_us`,
deduplicates repeated deliveries, writes the daily partitions, and maps commits to actions.

Memory stays bounded: each line is parsed once, as its chunk arrives, into one narrow-keyed table
(`ingest_lines`) that holds the raw text once; deduplication works on keys only; and the working tables
live in a throwaway on-disk DuckDB file (`work_database`), so DuckDB can evict them instead of holding
the whole window in memory.
"""

from __future__ import annotations

import json
import queue
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from blueprint_assets.core.archive import FileDamage, day_bounds_us
from blueprint_assets.core.lake import Lake, commit_file, partition_of, temp_path_beside
from blueprint_assets.core.quarantine import DAMAGE_SQL, QUARANTINE_REASON_SQL, register_udf
from blueprint_assets.core.storage import delete_file, join, make_dirs, read_text, write_bytes

# Lines per chunk handed to DuckDB. Bigger chunks amortise per-statement overhead; smaller ones keep the
# Python side (a list of line bytes plus its Arrow copy, two chunks in flight) small.
CHUNK_LINES = 100_000

# A line's source: (source_file, home_day, iterator of raw line bytes).
LineSource = tuple[str, str, Iterable[bytes]]

STAGING_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("line_no", pa.int64()),
        ("raw", pa.binary()),
        ("home_day", pa.string()),
        ("damage", pa.string()),  # set (and raw NULL) on the row that stands for a damaged file's rest
    ]
)

# The fields an event is keyed and filed by, extracted with one parse per line (`f[1]`..`f[7]`).
FIELD_PATHS = "['$.did', '$.time_us', '$.kind', '$.commit.collection', '$.commit.operation', '$.commit.rkey', '$.commit.rev']"

# A line that passes this single-parse check passes every rule above (a value of type VARCHAR at
# `$.did` implies an object; `->> '$'` of an extracted value equals `->>` of its path). Lines that fail
# it get the exact reason from QUARANTINE_REASON_SQL, which is NULL if the check was merely conservative.
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

# One chunk of staged lines (`chunk_view`) -> rows of LINES_TABLE: decoded, parsed once, checked, keyed.
PARSE_CHUNK_SQL = f"""
SELECT source_file, line_no, home_day, reason,
       CASE WHEN reason IS NULL THEN
         sha1(concat_ws('|', did, time_us::VARCHAR, kind, coalesce(collection, ''), coalesce(operation, ''),
                        coalesce(rkey, ''), coalesce(rev, ''))) END AS event_key,
       time_us, did, kind, collection, operation, rkey, rev, raw_text AS raw,
       CASE WHEN raw_text IS NULL THEN raw_in END AS raw_bytes
FROM (
  SELECT source_file, line_no, home_day, raw_text, raw_in, damage,
         CASE WHEN damage IS NOT NULL THEN damage WHEN {FAST_VALID_SQL} THEN NULL
              ELSE {QUARANTINE_REASON_SQL} END AS reason,
         try_cast(f[2]::VARCHAR AS BIGINT) AS time_us, f[1] ->> '$' AS did, f[3] ->> '$' AS kind,
         f[4] ->> '$' AS collection, f[5] ->> '$' AS operation, f[6] ->> '$' AS rkey, f[7] ->> '$' AS rev
  FROM (
    SELECT *, try(json_extract(raw_text, {FIELD_PATHS})) AS f
    FROM (SELECT source_file, line_no, home_day, damage, raw AS raw_in, try(decode(raw)) AS raw_text
          FROM chunk_view)
  )
)
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
    files_read: int = 0
    events_by_day: dict[str, int] = field(default_factory=dict)
    duplicates_by_day: dict[str, int] = field(default_factory=dict)
    quarantined_by_day: dict[str, dict[str, int]] = field(default_factory=dict)
    opted_out_events: int = 0
    outside_window: int = (
        0  # lines read for other days: events timed outside the window, bad lines filed elsewhere
    )
    corrupt_files: int = 0

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


def configure(con: duckdb.DuckDBPyConnection, temp_dir: Path, memory_limit: str = "1GB") -> None:
    """Bound DuckDB's memory and let it spill to `temp_dir`."""
    temp_dir.mkdir(parents=True, exist_ok=True)
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET temp_directory = '{temp_dir.as_posix()}'")
    con.execute("SET preserve_insertion_order = true")


@contextmanager
def work_database(con: duckdb.DuckDBPyConnection, directory: Path) -> Iterator[None]:
    """Make a throwaway DuckDB file under `directory` the default catalog while the block runs.

    Working tables created in it are disk-backed: DuckDB can drop their pages from memory instead of
    holding the whole window (an in-memory table can only grow). The file is deleted afterwards.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"work-{uuid.uuid4().hex}.duckdb"
    previous, compression = con.execute(
        "SELECT current_database(), current_setting('force_compression')"
    ).fetchone()
    con.execute(f"ATTACH '{path.as_posix()}' AS ingest_work")
    con.execute("USE ingest_work")
    # The file lives for one run: compressing its pages (FSST analysis of every raw line) would more
    # than double the cost of staging for a file that is read once and deleted.
    con.execute("SET force_compression = 'uncompressed'")
    try:
        yield
    finally:
        try:
            con.execute("SET force_compression = ?", [compression])
            con.execute(f'USE "{previous}"')
            con.execute("DETACH ingest_work")
        except duckdb.Error:
            pass  # a broken connection is closed by its owner; the file is removed either way
        for leftover in (path, path.with_name(path.name + ".wal")):
            leftover.unlink(missing_ok=True)


def _chunks(sources: Iterable[LineSource], size: int) -> Iterator[tuple[pa.Table, int]]:
    """Arrow chunks of staged lines, and how many blank lines were skipped along the way."""
    files, line_nos, raws, homes, damages = [], [], [], [], []
    blank = 0
    for source_file, home_day, lines in sources:
        for line_no, raw in enumerate(lines, start=1):
            damage = None
            if isinstance(raw, FileDamage):
                damage, raw = raw.reason, None  # the damaged rest of the file counts as one line
            elif not raw.strip():
                blank += 1  # a blank line holds no event; counted, not quarantined
                continue
            files.append(source_file)
            line_nos.append(line_no)
            raws.append(raw)
            homes.append(home_day)
            damages.append(damage)
            if len(raws) >= size:
                yield pa.table([files, line_nos, raws, homes, damages], schema=STAGING_SCHEMA), blank
                files, line_nos, raws, homes, damages = [], [], [], [], []
                blank = 0
    yield pa.table([files, line_nos, raws, homes, damages], schema=STAGING_SCHEMA), blank


_DONE = object()


def _prefetched(items: Iterator, depth: int = 1) -> Iterator:
    """Yield `items`, produced on a background thread up to `depth` ahead.

    Reading lines is Python (it holds the GIL); parsing a chunk is DuckDB (it releases it), so the two
    overlap on two cores. Errors in the producer are re-raised here; stopping early stops the producer.
    """
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((_DONE, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            put((_DONE, exc))

    thread = threading.Thread(target=produce, name="ingest-line-reader", daemon=True)
    thread.start()
    try:
        while True:
            item, error = buffer.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        thread.join()


def stage_lines(con: duckdb.DuckDBPyConnection, sources: Iterable[LineSource], stats: IngestStats) -> None:
    """Parse every line into the `ingest_lines` table: fields, event key, or a quarantine reason."""
    con.execute(f"CREATE OR REPLACE TABLE {LINES_TABLE} ({LINES_COLUMNS})")
    register_udf(con)
    seen_files: set[str] = set()
    for chunk, blank in _prefetched(_chunks(sources, CHUNK_LINES)):
        stats.blank_lines += blank
        stats.lines_read += chunk.num_rows
        seen_files.update(chunk.column("source_file").unique().to_pylist())
        con.register("chunk_view", chunk)
        try:
            con.execute(f"INSERT INTO {LINES_TABLE} {PARSE_CHUNK_SQL}")
        finally:
            con.unregister("chunk_view")
    stats.files_read = len(seen_files)
    stats.corrupt_files = con.execute(
        f"SELECT count(DISTINCT source_file) FROM {LINES_TABLE} WHERE {DAMAGE_SQL}"
    ).fetchone()[0]


DID_REGEX = r"did:(?:plc:[a-z2-7]{24}|web:[A-Za-z0-9.\-]+)"


def drop_opted_out(con: duckdb.DuckDBPyConnection, excluded: Callable[[list[str]], list[str]]) -> int:
    """Remove staged events by or about opted-out accounts; `excluded` picks them from the DIDs seen.

    Only pseudonyms of opted-out accounts are stored, so the DIDs present are pseudonymized by the caller
    and the matches are used here, in memory, never written.
    """
    candidates = con.execute(
        f"SELECT DISTINCT unnest(regexp_extract_all(raw, '{DID_REGEX}')) FROM {LINES_TABLE} WHERE reason IS NULL"
    ).fetchall()
    dids = excluded(sorted(row[0] for row in candidates))
    if not dids:
        return 0
    removed = con.execute(
        f"DELETE FROM {LINES_TABLE} WHERE reason IS NULL AND list_has_any(regexp_extract_all(raw, ?), ?)",
        [DID_REGEX, dids],
    ).fetchone()
    return int(removed[0]) if removed else 0


def _mark_duplicates(con: duckdb.DuckDBPyConnection) -> None:
    """Row ids of repeated deliveries: every copy of an event key but the first (by source_file, line_no).

    Works on keys only (repeats are rare), so no wide row is windowed or hashed.
    """
    con.execute(
        f"""CREATE OR REPLACE TABLE {LOSERS_TABLE} AS
            SELECT rowid AS row_id, time_us FROM {LINES_TABLE}
            WHERE event_key IN (
              SELECT event_key FROM {LINES_TABLE} WHERE event_key IS NOT NULL GROUP BY 1 HAVING count(*) > 1)
            QUALIFY row_number() OVER (PARTITION BY event_key ORDER BY source_file, line_no) > 1"""
    )


# Rows per Parquet row group of raw_events: readers decompress a column chunk at a time, and the default
# (122,880 rows, ~70 MB of raw JSON) alone took a quarter of a 512 MB memory limit per reading thread.
RAW_ROW_GROUP_ROWS = 32_768


def copy_to_parquet(
    con: duckdb.DuckDBPyConnection,
    query: str,
    params: list,
    final_path: str,
    row_group_rows: int | None = None,
) -> None:
    """COPY a query's result to Parquet (zstd level 1) atomically: a new file in the partition, then commit.

    zstd level 1 compresses the raw JSON about as well as the default level 3 (~10% larger), in less time.
    On an object store DuckDB writes through the registered filesystem (`storage.register_with_duckdb`).
    """
    tmp = temp_path_beside(final_path)
    make_dirs(partition_of(tmp))
    options = "FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1"
    if row_group_rows:
        options += f", ROW_GROUP_SIZE {int(row_group_rows)}"
    try:
        con.execute(f"COPY ({query}) TO '{tmp}' ({options})", params)
    except BaseException:
        delete_file(tmp)
        raise
    commit_file(tmp, final_path)


def write_raw_days(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    days: list[str],
    stats: IngestStats,
    excluded: Callable[[list[str]], list[str]] | None = None,
) -> None:
    """Write `raw_events` and `raw_events_quarantine` partitions for each day of the window."""
    if excluded is not None:
        stats.opted_out_events = drop_opted_out(con, excluded)
    _mark_duplicates(con)
    for day in days:
        start_us, end_us = day_bounds_us(day)  # also checks `day` is a date (it goes into SQL)
        total, duplicates = con.execute(
            f"""SELECT (SELECT count(*) FROM {LINES_TABLE}
                        WHERE reason IS NULL AND time_us >= $1 AND time_us < $2),
                       (SELECT count(*) FROM {LOSERS_TABLE} WHERE time_us >= $1 AND time_us < $2)""",
            [start_us, end_us],
        ).fetchone()
        # Lines are stored in arrival order, so only the ORDER BY decides the file's row order.
        query = f"""
            SELECT {RAW_EVENT_COLUMNS.format(day=day)} FROM {LINES_TABLE}
            WHERE reason IS NULL AND time_us >= ? AND time_us < ?
              AND rowid NOT IN (SELECT row_id FROM {LOSERS_TABLE}) AND {NOT_NULL_RAW_COLUMNS}
            ORDER BY time_us, event_key
        """
        copy_to_parquet(con, query, [start_us, end_us], lake.day_file("raw_events", day), RAW_ROW_GROUP_ROWS)
        stats.events_by_day[day] = total - duplicates
        stats.duplicates_by_day[day] = duplicates
        quarantine = (
            f"SELECT source_file, line_no, reason, raw, raw_bytes FROM {LINES_TABLE}"
            " WHERE reason IS NOT NULL AND home_day = ? ORDER BY source_file, line_no"
        )
        copy_to_parquet(con, quarantine, [day], lake.day_file("raw_events_quarantine", day))
        rows = con.execute(
            f"SELECT reason, count(*) FROM {LINES_TABLE} WHERE reason IS NOT NULL AND home_day = ?"
            " GROUP BY 1 ORDER BY 1",
            [day],
        ).fetchall()
        stats.quarantined_by_day[day] = dict(rows)
    stats.outside_window = count_outside_window(con, days)
    con.execute(f"DROP TABLE IF EXISTS {LOSERS_TABLE}")
    con.execute(f"DROP TABLE IF EXISTS {LINES_TABLE}")


def count_outside_window(con: duckdb.DuckDBPyConnection, days: list[str]) -> int:
    """Staged lines no partition of `days` holds: events timed outside the window (however far: a year-2099
    event in a 2025 file is counted here, and kept only by a run over its own day), and bad lines whose
    file reports them on another day."""
    start_us, end_us = day_bounds_us(days[0])[0], day_bounds_us(days[-1])[1]
    return con.execute(
        f"""SELECT count(*) FROM {LINES_TABLE}
            WHERE (reason IS NULL AND NOT (time_us >= ? AND time_us < ?))
               OR (reason IS NOT NULL AND home_day NOT IN (SELECT unnest(?::VARCHAR[])))""",
        [start_us, end_us, days],
    ).fetchone()[0]


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
