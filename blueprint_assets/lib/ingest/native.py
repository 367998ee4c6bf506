"""Native staging: DuckDB reads a plain local archive file itself, with no Python work per line.

`read_csv` with one VARCHAR column (no delimiter, quote, escape, comment or header that a JSON line could
hold) gives the file's lines in order; `row_number() OVER ()` numbers them (a streaming window: it keeps the
scan's order). That reads a file about 4x cheaper than the Python block reader (`lib.ingest.staging`).

It is used only where it yields exactly the lines the Python reader would, and any doubt sends the file to
the Python reader, whose accounting is the reference:
- `native_file` picks plain local files only: a gzip file is left to Python (DuckDB does not check a gzip
  member's CRC, so a corrupt file would read as wrong lines instead of as damage), and so is a file that
  starts with a UTF-8 byte-order mark (DuckDB drops it, Python keeps it in line 1).
- `strict_mode` with `new_line '\\n'` makes DuckDB raise on any carriage return (the Python reader strips CRs
  before a newline and keeps others), on a line longer than `max_line_size`, on a line holding the
  delimiter byte, and on invalid UTF-8 (which Python quarantines line by line). A file that raises is
  re-read by Python: its one COPY statement wrote one part, which is deleted, so nothing of it stays.

A file is read by one DuckDB thread (its line numbers come from one ordered scan), so `NativeReads` reads
several files at once, each on its own cursor of the connection, to use every core.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import duckdb

from blueprint_assets.lib.ingest.staging import NativeFile
from blueprint_assets.lib.sources.archive import GZIP_MAGIC, LineBlocks

UTF8_BOM = b"\xef\xbb\xbf"

# Whitespace-only lines are blank, as for `bytes.strip()` (CR and LF cannot occur: see the docstring).
_WHITESPACE_SQL = "chr(32) || chr(9) || chr(11) || chr(12)"

# The lines of the file `$path` (a parameter), as the columns the staging parse reads (see
# raw_events.parse_lines_sql); `$source_file` and `$home_day` label them.
NATIVE_LINES_SQL = f"""
SELECT $source_file AS source_file, line_no, $home_day AS home_day, NULL::VARCHAR AS damage,
       -- CASE, not AND, so that only lines starting with a byte below '!' (rare) are trimmed.
       CASE WHEN line IS NULL THEN true WHEN line >= '!' THEN false
            ELSE trim(line, {_WHITESPACE_SQL}) = '' END AS blank,
       encode(line) AS raw_in, line AS raw_text
FROM (
  SELECT row_number() OVER () AS line_no, line
  FROM read_csv($path, columns = {{'line': 'VARCHAR'}}, delim = chr(1), quote = '', escape = '',
                header = false, auto_detect = false, strict_mode = true, new_line = '\\n', comment = '',
                skip = 0, compression = 'none', encoding = 'utf-8')
)
"""


def native_file(lines: object) -> Path | None:
    """The file DuckDB can read as these lines itself (see the module docstring), else None."""
    if not isinstance(lines, LineBlocks):
        return None
    try:
        with open(lines.path, "rb") as handle:
            head = handle.read(3)
    except OSError:
        return None  # the Python reader reports it as an unreadable file
    if head.startswith(GZIP_MAGIC) or head == UTF8_BOM:
        return None
    return lines.path


# What DuckDB raises when it cannot read a file as the Python reader would.
NATIVE_READ_ERRORS = (duckdb.InvalidInputException, duckdb.IOException, duckdb.ConversionException)


class NativeReads:
    """Run a statement per native file (parameters `source_file`, `home_day`, `path`), `workers` at once.

    Each worker thread has its own cursor of `con` (same database, same default catalog); DuckDB releases
    the GIL while it runs. `results()` waits for every submitted file and gives, in submission order, the
    file and the lines it staged, or None when DuckDB could not read it (and staged nothing of it).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, workers: int) -> None:
        catalog = con.execute("SELECT current_database()").fetchall()[0][0]
        # Opened here, before `con` runs anything else (a cursor cannot be opened while `con` holds an
        # unfinished result); a worker takes a free one for each file.
        self._cursors = [con.cursor() for _ in range(max(1, workers))]
        self._free: queue.SimpleQueue[duckdb.DuckDBPyConnection] = queue.SimpleQueue()
        for cursor in self._cursors:
            cursor.execute(f'USE "{catalog}"')
            self._free.put(cursor)
        self._pool = ThreadPoolExecutor(max_workers=len(self._cursors), thread_name_prefix="ingest-native")
        self._pending: list[tuple[NativeFile, Future]] = []

    def submit(self, item: NativeFile, sql: str) -> None:
        """Stage `item` with `sql`, a statement that returns the number of lines it staged."""
        self._pending.append((item, self._pool.submit(self._read, item, sql)))

    def _read(self, item: NativeFile, sql: str) -> int | None:
        params = {"source_file": item.label, "home_day": item.home_day, "path": str(item.path)}
        cursor = self._free.get()
        try:
            return cursor.execute(sql, params).fetchall()[0][0]
        except NATIVE_READ_ERRORS:
            return None
        finally:
            self._free.put(cursor)

    def results(self) -> Iterator[tuple[NativeFile, int | None]]:
        pending, self._pending = self._pending, []
        for item, future in pending:
            yield item, future.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        for cursor in self._cursors:
            cursor.close()
