"""Jetstream archive folders: finding files, indexing the days they hold, reading their lines.

An archive is a folder of Jetstream JSON lines, plain or gzip, usually in BluePrint's hourly layout
`<prefix>-YYYY-MM/DD/HH/<file>` (the file name may have any extension, or none). Every regular file is
read, whatever its name, except hidden ones (a name, or a folder on its path, starting with `.`) and
those matching an `--exclude` glob. Gzip is recognised by its magic bytes, not its suffix.
Archives are cut by receive time, so an event can sit in a neighbouring folder (or anywhere): a day is
built from every file that holds an event of that day. The index records the days each file holds
(cached by size and mtime), so a day never misses an event, and a file with one stray timestamp is not
read for every window in between.
A damaged file (bad gzip CRC, cut short, unreadable) never stops a run: its lines before the damage are
read, then a `FileDamage` marker says where it broke (ingestion quarantines it).
"""

from __future__ import annotations

import fnmatch
import gzip
import json
import os
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO

from blueprint_assets.lib.ingest.quarantine import damage_reason
from blueprint_assets.lib.storage.state import append_entry, compact, read_entries
from blueprint_assets.lib.storage.storage import read_text

GZIP_MAGIC = b"\x1f\x8b"
TIME_US_PATTERN = re.compile(rb'"time_us"\s*:\s*(\d{13,19})')
LAYOUT_PATTERN = re.compile(r"(\d{4})-(\d{2})/(\d{2})(?:/|$)")
US_PER_DAY = 86_400_000_000
PLAUSIBLE_US = (946_684_800_000_000, 4_102_444_800_000_000)
READ_BLOCK = 8 << 20
INDEX_VERSION = 2


@dataclass(frozen=True)
class ArchiveFile:
    """One archive file and what the index knows about it."""

    relpath: str
    size: int
    mtime_ns: int
    min_time_us: int | None
    max_time_us: int | None
    home_day: str  # where its unparseable lines are reported: folder date, else first event day
    days: list[str] = field(default_factory=list)  # the UTC days of its (plausible) event times


@dataclass(frozen=True)
class FileDamage:
    """Yielded by `read_blocks` in place of the lines a damaged file could not give."""

    reason: str


def day_of(time_us: int) -> str:
    """UTC calendar day (YYYY-MM-DD) of a Jetstream microsecond timestamp."""
    return datetime.fromtimestamp(time_us / 1_000_000, tz=UTC).date().isoformat()


def day_bounds_us(day: str) -> tuple[int, int]:
    """[start, end) of a UTC day in microseconds."""
    start = datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=UTC)
    start_us = int(start.timestamp()) * 1_000_000
    return start_us, start_us + US_PER_DAY


def is_excluded(relpath: str, exclude: Sequence[str]) -> bool:
    """Hidden (any path part starts with `.`) or matching an exclude glob (on the path or the name)."""
    parts = relpath.split("/")
    if any(part.startswith(".") for part in parts):
        return True
    return any(fnmatch.fnmatchcase(relpath, g) or fnmatch.fnmatchcase(parts[-1], g) for g in exclude)


def list_archive_files(root: Path, exclude: Sequence[str] = ()) -> list[Path]:
    """Every regular file below `root` that is not hidden or excluded, sorted by relative path."""
    if not root.is_dir():
        raise FileNotFoundError(f"archive folder does not exist: {root}")
    files = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))  # never walk into .git and the like
        for name in names:
            path = Path(folder) / name
            rel = path.relative_to(root).as_posix()
            if path.is_file() and not is_excluded(rel, exclude):
                files.append(path)
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def is_gzip(path: Path) -> bool:
    """True when the file starts with the gzip magic bytes (whatever its name)."""
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def open_archive_file(path: Path) -> IO[bytes]:
    """A binary reader of the file's content, decompressed when it is gzip."""
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")


def _damage(error: BaseException, lines_before: int) -> FileDamage:
    if isinstance(error, EOFError):
        kind = "truncated gzip"
    elif isinstance(error, gzip.BadGzipFile | zlib.error):
        kind = "corrupt gzip"
    else:
        kind = "unreadable file"
    return FileDamage(damage_reason(kind, lines_before))


# What a damaged or unreadable file raises while it is read (BadGzipFile is an OSError).
READ_ERRORS = (OSError, EOFError, zlib.error)


class LineBlocks:
    """A file's content as blocks of whole lines (what ingestion splits in bulk, without a Python loop).

    Iterating yields `bytes` blocks, each ending with a newline except maybe the file's last, and, for a
    damaged file, one `FileDamage` after the blocks read before the damage.
    """

    def __init__(self, path: Path, block_size: int = READ_BLOCK) -> None:
        self.path = path
        self.block_size = block_size
        self.on_lines: Callable[[int], None] | None = None  # told how many lines each block holds

    def __iter__(self) -> Iterator[bytes | FileDamage]:
        for block in read_blocks(self.path, self.block_size):
            if self.on_lines is not None and isinstance(block, bytes):
                self.on_lines(_lines_in(block))
            yield block


def _lines_in(data: bytes) -> int:
    return data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)


def read_blocks(path: Path, block_size: int = READ_BLOCK) -> Iterator[bytes | FileDamage]:
    """The file's content in blocks of whole lines (see `LineBlocks`).

    `read1` makes at most one read of the underlying (decompressed) stream per call, so everything
    decompressed before a damaged spot has been returned before the error; the lines completed by then
    are kept, the partial line at the damage is the one the `FileDamage` stands for.
    """
    lines = 0
    pieces: list[bytes] = []
    have = 0
    try:
        with open_archive_file(path) as handle:
            while piece := handle.read1(block_size):
                pieces.append(piece)
                have += len(piece)
                if have < block_size:
                    continue
                data = b"".join(pieces)
                cut = data.rfind(b"\n") + 1
                if not cut:
                    pieces, have = [data], len(data)  # one very long line: keep reading
                    continue
                block = data[:cut]
                pieces, have = [data[cut:]], len(data) - cut
                lines += _lines_in(block)
                yield block
        data = b"".join(pieces)
        if data:
            yield data
    except READ_ERRORS as error:
        data = b"".join(pieces)
        cut = data.rfind(b"\n") + 1
        if cut:
            lines += _lines_in(data[:cut])
            yield data[:cut]
        yield _damage(error, lines)


def folder_day(relpath: str) -> str | None:
    """The date encoded in a BluePrint-layout path (`[prefix-]YYYY-MM/DD/...`), if any."""
    match = LAYOUT_PATTERN.search(relpath)
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3])).isoformat()
    except ValueError:
        return None


@dataclass
class FileScan:
    """What a byte-level scan of one file found: its plausible event times and days."""

    low: int | None = None
    high: int | None = None
    day_numbers: set[int] = field(default_factory=set)
    damaged: bool = False

    @property
    def days(self) -> list[str]:
        return sorted(day_of(n * US_PER_DAY) for n in self.day_numbers)


def scan_file(path: Path) -> FileScan:
    """Min, max and days of the `time_us` values mentioned in a file, by a fast byte-level scan.

    Only plausible event times (2000..2100, the range ingestion keeps) count: a malformed line's
    millisecond timestamp must not stretch the file over decades. A damaged file gives what it read.
    """
    scan = FileScan()
    try:
        with open_archive_file(path) as handle:
            while chunk := handle.read(READ_BLOCK):
                chunk += handle.readline()  # extend to the end of the line: never cut a number in two
                values = [
                    v
                    for v in map(int, TIME_US_PATTERN.findall(chunk))
                    if PLAUSIBLE_US[0] <= v < PLAUSIBLE_US[1]
                ]
                if values:
                    low, high = min(values), max(values)
                    scan.low = low if scan.low is None else min(scan.low, low)
                    scan.high = high if scan.high is None else max(scan.high, high)
                    scan.day_numbers.update(v // US_PER_DAY for v in values)
    except READ_ERRORS:
        scan.damaged = True
    return scan


def home_day_of(relpath: str, scan: FileScan, mtime_ns: int) -> str:
    """Where a file's unparseable lines are reported: its folder date, else its first event's day."""
    return folder_day(relpath) or day_of(scan.low if scan.low is not None else mtime_ns // 1000)


class ArchiveIndex:
    """Per-file days of an archive folder, cached in the state store keyed by size and mtime.

    The cache is shared by every worker: each run stores only the entries it scanned, as its own object
    (lib/storage/state.py), so two workers indexing at once never lose each other's work. `cache_path` names the
    cache (`.../archive_index_<digest>.json`: the single file of earlier versions, still read); its entries
    live in the folder of that name without `.json`.
    """

    COMPACT_AFTER = 16  # entry objects before they are folded into one

    def __init__(
        self,
        root: Path,
        cache_path: str | Path | None,
        exclude: Sequence[str] = (),
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.root = root
        self.cache_path = str(cache_path) if cache_path is not None else None
        self.exclude = tuple(exclude)
        self.progress = progress
        self._shards: list[str] = []

    @property
    def _entries_folder(self) -> str:
        return self.cache_path.removesuffix(".json")

    def _load_cache(self) -> dict[str, dict]:
        if self.cache_path is None:
            return {}
        try:
            legacy = json.loads(read_text(self.cache_path) or "{}")
            shards = read_entries(self._entries_folder)
        except (OSError, ValueError):
            return {}  # a damaged cache is only a lost optimisation
        # An older cache (no per-file days) is rebuilt rather than trusted.
        cache = legacy.get("files", {}) if legacy.get("version") == INDEX_VERSION else {}
        for _, shard in shards:
            if shard.get("version") == INDEX_VERSION:
                cache.update(shard["files"])
        self._shards = [location for location, _ in shards]
        return cache

    def _save_cache(self, scanned: dict[str, dict], current: list[ArchiveFile]) -> None:
        if self.cache_path is None:
            return
        if scanned:
            append_entry(self._entries_folder, {"version": INDEX_VERSION, "files": scanned})
        if len(self._shards) > self.COMPACT_AFTER:
            # Files gone from the folder leave the cache here.
            merged = {"version": INDEX_VERSION, "files": {e.relpath: asdict(e) for e in current}}
            compact(self._entries_folder, merged, self._shards)

    def files(self) -> list[ArchiveFile]:
        """Index every archive file, re-scanning only new or changed ones."""
        cache = self._load_cache()
        result: list[ArchiveFile] = []
        scanned: dict[str, dict] = {}
        paths = list_archive_files(self.root, self.exclude)
        for number, path in enumerate(paths, start=1):
            rel = path.relative_to(self.root).as_posix()
            stat = path.stat()
            cached = cache.get(rel)
            if cached and cached["size"] == stat.st_size and cached["mtime_ns"] == stat.st_mtime_ns:
                result.append(ArchiveFile(**cached))
                continue
            scan = scan_file(path)
            entry = ArchiveFile(
                rel, stat.st_size, stat.st_mtime_ns, scan.low, scan.high,
                home_day_of(rel, scan, stat.st_mtime_ns), scan.days,
            )  # fmt: skip
            scanned[rel] = asdict(entry)
            result.append(entry)
            if self.progress and (len(scanned) % 100 == 0 or number == len(paths)):
                self.progress(f"archive index: {number}/{len(paths)} files ({len(scanned)} scanned)")
        self._save_cache(scanned, result)
        return result

    def files_for_window(self, days: set[str], files: list[ArchiveFile] | None = None) -> list[ArchiveFile]:
        """Files (of `files`, default all) that hold an event of one of `days` or report bad lines on one."""
        return [
            e
            for e in (self.files() if files is None else files)
            if e.home_day in days or not days.isdisjoint(e.days)
        ]


def iter_example_events(node: object) -> Iterator[dict]:
    """Every event in a nested examples document: any dict carrying `did`, `time_us` and `kind`."""
    if isinstance(node, dict):
        if {"did", "time_us", "kind"} <= node.keys():
            yield node
            return
        for value in node.values():
            yield from iter_example_events(value)
    elif isinstance(node, list):
        for value in node:
            yield from iter_example_events(value)


def flatten_examples(json_path: Path, out_dir: Path) -> int:
    """Turn a grouped examples file (BluePrint's expected-input format) into an hourly-layout archive.

    Events keep their exact JSON; each goes to the folder of its own hour. Returns the number written.
    """
    events = list(iter_example_events(json.loads(json_path.read_text())))
    by_file: dict[Path, list[str]] = {}
    for event in events:
        stamp = datetime.fromtimestamp(event["time_us"] / 1_000_000, tz=UTC)
        target = out_dir / stamp.strftime("%Y-%m/%d/%H") / "events.jsonl"
        by_file.setdefault(target, []).append(json.dumps(event, ensure_ascii=False))
    for target, lines in sorted(by_file.items()):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("\n".join(lines) + "\n")
    return len(events)


# --- Range planning: a long range costs what its data costs ----------------------------------------------

# Days with data this close together share one run (a file whose events straddle a few days is read once).
MERGE_GAP_DAYS = 2


def _day_number(day: str) -> int:
    return date.fromisoformat(day).toordinal()


def plan_segments(files: list[ArchiveFile], first: str, last: str) -> list[tuple[str, str]]:
    """The sub-ranges of [first, last] worth running: spans of days that an archive file holds events of
    (or reports bad lines on), days at most MERGE_GAP_DAYS apart joined. Days outside every span have no
    file to read, so running them would only write empty partitions."""
    low, high = _day_number(first), _day_number(last)
    spans: list[list[int]] = []
    for entry in files:
        numbers = sorted({_day_number(d) for d in [*entry.days, entry.home_day] if first <= d <= last})
        for n in numbers:  # a file's own days, clustered the same way, so one stray timestamp adds one day
            if spans and spans[-1][1] >= n - MERGE_GAP_DAYS - 1 and spans[-1][0] <= n:
                spans[-1][1] = max(spans[-1][1], n)
            else:
                spans.append([n, n])
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] + MERGE_GAP_DAYS + 1:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [
        (date.fromordinal(max(s, low)).isoformat(), date.fromordinal(min(e, high)).isoformat())
        for s, e in merged
    ]
