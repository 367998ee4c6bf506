"""Line sources as Arrow chunks for DuckDB: the only Python work per input byte in ingestion.

A `LineSource` is (source_file label, home_day, lines), where lines is either an iterable of line bytes
(network sources, CAR exports) or `archive.LineBlocks` (archive files: blocks of whole lines). Blocks are
split without a Python loop: numpy finds the newlines and the block's own buffer becomes an Arrow binary
column (zero copy), so each line keeps its trailing newline, which the staging SQL strips. A
`FileDamage` becomes one row with `damage` set.

A source that DuckDB can read itself (`lib.ingest.native`) is passed through as a `NativeFile`.

Chunks are produced on a background thread (`prefetched`): reading and decompressing files releases the
GIL or runs while DuckDB (which releases it) parses the previous chunk.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from blueprint_assets.lib.sources.archive import FileDamage, LineBlocks

# A line's source: (source_file, home_day, iterator of raw line bytes, or blocks of whole lines).
LineSource = tuple[str, str, Iterable[bytes] | LineBlocks]

STAGING_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("line_no", pa.int64()),
        ("raw", pa.binary()),  # block rows keep their end of line: the SQL drops its last `eol` bytes
        ("eol", pa.int32()),
        ("blank", pa.bool_()),  # nothing but whitespace (counted, not stored)
        ("home_day", pa.string()),
        ("damage", pa.string()),  # set (and raw NULL) on the row that stands for a damaged file's rest
    ]
)
WHITESPACE = b" \t\n\r\x0b\x0c"  # what bytes.strip() removes

# A chunk is handed to DuckDB once it holds this many lines or bytes (whichever comes first). Bigger
# chunks amortise per-statement overhead; two chunks are in flight, so these bound Python's memory.
CHUNK_LINES = 100_000
CHUNK_BYTES = 48 << 20
# Lines of an iterable source per Arrow batch (batches are DuckDB's unit of parallel work).
BATCH_LINES = 16_384


def _constant(value: str, n: int) -> pa.Array:
    """`n` copies of one string, as a dictionary column (no per-row Python object)."""
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([value]))


def _batch(
    label: str,
    home: str,
    first_line: int,
    lines: tuple[pa.Array, np.ndarray, np.ndarray],
    damage: str | None = None,
) -> pa.RecordBatch:
    raw, eol, blank = lines
    n = len(raw)
    line_no = pa.array(np.arange(first_line, first_line + n, dtype=np.int64))
    damages = pa.array([damage] * n, pa.string()) if damage else pa.nulls(n, pa.string())
    columns = [
        _constant(label, n).cast(pa.string()), line_no, raw, pa.array(eol), pa.array(blank),
        _constant(home, n).cast(pa.string()), damages,
    ]  # fmt: skip
    return pa.record_batch(columns, schema=STAGING_SCHEMA)


def _damage_row() -> tuple[pa.Array, np.ndarray, np.ndarray]:
    return pa.nulls(1, pa.binary()), np.zeros(1, np.int32), np.zeros(1, bool)


def _listed(lines: list[bytes]) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    blank = np.array([not line.strip() for line in lines], dtype=bool)
    return pa.array(lines, pa.binary()), np.zeros(len(lines), np.int32), blank


def block_lines(block: bytes) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """The lines of a block: a binary array over the block's own buffer (each line keeps its end of
    line), how many trailing bytes are end of line (what `bytes.rstrip(b"\\r\\n")` removes), and which
    lines are blank (only whitespace). No Python loop runs over the lines, except over blank candidates."""
    data = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(data == 10) + 1
    if block and block[-1:] != b"\n":
        ends = np.append(ends, len(block))  # the file's last line has no newline
    if not len(ends):
        return pa.array([], pa.binary()), np.zeros(0, np.int32), np.zeros(0, bool)
    starts = np.zeros(len(ends), dtype=np.int64)
    starts[1:] = ends[:-1]
    eol = (data[ends - 1] == 10).astype(np.int32)
    while True:  # carriage returns before the newline (any number of them)
        more = (ends - eol > starts) & (data[np.maximum(ends - eol - 1, 0)] == 13)
        if not more.any():
            break
        eol += more
    blank = ends - eol == starts
    first = data[np.minimum(starts, len(data) - 1)]
    for i in np.flatnonzero(~blank & np.isin(first, list(WHITESPACE))):
        blank[i] = not block[starts[i] : ends[i]].strip()
    offsets = np.zeros(len(ends) + 1, dtype=np.int32)
    offsets[1:] = ends
    raw = pa.Array.from_buffers(pa.binary(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(block)])
    return raw, eol, blank


def _source_batches(
    label: str, home: str, lines: Iterable[bytes] | LineBlocks
) -> Iterator[tuple[pa.RecordBatch, int]]:
    """(batch, its size in bytes) for one source, line numbers counted from 1."""
    line_no = 1
    if isinstance(lines, LineBlocks):
        for block in lines:
            if isinstance(block, FileDamage):
                yield _batch(label, home, line_no, _damage_row(), block.reason), 0
                return
            lines_of_block = block_lines(block)
            yield _batch(label, home, line_no, lines_of_block), len(block)
            line_no += len(lines_of_block[0])
        return
    pending: list[bytes | None] = []
    size = 0
    for raw in lines:
        if isinstance(raw, FileDamage):
            if pending:
                yield _batch(label, home, line_no, _listed(pending)), size
                line_no += len(pending)
            yield _batch(label, home, line_no, _damage_row(), raw.reason), 0
            return
        pending.append(raw)
        size += len(raw)
        if len(pending) >= BATCH_LINES:
            yield _batch(label, home, line_no, _listed(pending)), size
            line_no += len(pending)
            pending, size = [], 0
    if pending:
        yield _batch(label, home, line_no, _listed(pending)), size


@dataclass(frozen=True)
class NativeFile:
    """A source that DuckDB reads itself (`lib.ingest.native`), handed over in place of its chunks."""

    label: str
    home_day: str
    path: Path
    lines: LineBlocks  # the Python reader of the same file, if DuckDB cannot read it after all


def chunks(
    sources: Iterable[LineSource], native: Callable[[object], Path | None] | None = None
) -> Iterator[pa.Table | NativeFile]:
    """Arrow tables of staged lines (blank lines flagged: the SQL counts and drops them).

    A source for which `native` gives a path is yielded as a `NativeFile` instead (after the lines
    gathered so far), for the consumer to stage.
    """
    batches: list[pa.RecordBatch] = []
    rows = size = 0
    for label, home, lines in sources:
        path = native(lines) if native is not None else None
        if path is not None:
            if batches:
                yield pa.Table.from_batches(batches, schema=STAGING_SCHEMA)
                batches, rows, size = [], 0, 0
            yield NativeFile(label, home, path, lines)
            continue
        for batch, nbytes in _source_batches(label, home, lines):
            batches.append(batch)
            rows += batch.num_rows
            size += nbytes
            if rows >= CHUNK_LINES or size >= CHUNK_BYTES:
                yield pa.Table.from_batches(batches, schema=STAGING_SCHEMA)
                batches, rows, size = [], 0, 0
    if batches:
        yield pa.Table.from_batches(batches, schema=STAGING_SCHEMA)


_DONE = object()


def prefetched(items: Iterator, depth: int = 1) -> Iterator:
    """Yield `items`, produced on a background thread up to `depth` ahead.

    Reading files is Python (it holds the GIL between reads); parsing a chunk is DuckDB (it releases it),
    so the two overlap on two cores. Errors in the producer are re-raised here; stopping early stops it.
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
