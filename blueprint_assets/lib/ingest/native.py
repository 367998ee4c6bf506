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
  re-read by Python: its INSERT is one statement, so nothing of it was staged.
"""

from __future__ import annotations

from pathlib import Path

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
