"""Jetstream archive folders: finding files, indexing their time range, reading their lines.

An archive is a folder of Jetstream JSON lines, plain or gzip, usually in BluePrint's hourly layout
`YYYY-MM/DD/HH/*.jsonl[.gz]`. Archives are cut by receive time, so an event can sit in a neighbouring
folder (or anywhere): a day is built from every file whose events *might* fall on it. The index records
each file's min/max `time_us` (cached by size and mtime), so a day never misses an event and never
reads the whole archive.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path

ARCHIVE_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".ndjson", ".ndjson.gz")
TIME_US_PATTERN = re.compile(rb'"time_us"\s*:\s*(\d{13,19})')
LAYOUT_PATTERN = re.compile(r"(\d{4})-(\d{2})/(\d{2})(?:/|$)")
US_PER_DAY = 86_400_000_000
PLAUSIBLE_US = (946_684_800_000_000, 4_102_444_800_000_000)


@dataclass(frozen=True)
class ArchiveFile:
    """One archive file and what the index knows about it."""

    relpath: str
    size: int
    mtime_ns: int
    min_time_us: int | None
    max_time_us: int | None
    home_day: str  # where its unparseable lines are reported: folder date, else first event day


def day_of(time_us: int) -> str:
    """UTC calendar day (YYYY-MM-DD) of a Jetstream microsecond timestamp."""
    return datetime.fromtimestamp(time_us / 1_000_000, tz=UTC).date().isoformat()


def day_bounds_us(day: str) -> tuple[int, int]:
    """[start, end) of a UTC day in microseconds."""
    start = datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=UTC)
    start_us = int(start.timestamp()) * 1_000_000
    return start_us, start_us + US_PER_DAY


def list_archive_files(root: Path) -> list[Path]:
    """Every archive file below `root`, sorted by relative path."""
    if not root.is_dir():
        raise FileNotFoundError(f"archive folder does not exist: {root}")
    files = [p for p in root.rglob("*") if p.is_file() and p.name.endswith(ARCHIVE_SUFFIXES)]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def open_lines(path: Path) -> Iterator[bytes]:
    """Yield the raw lines of a plain or gzip file, without the trailing newline."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        for line in handle:
            yield line.rstrip(b"\r\n")


def folder_day(relpath: str) -> str | None:
    """The date encoded in a BluePrint-layout path (`YYYY-MM/DD/...`), if any."""
    match = LAYOUT_PATTERN.search(relpath)
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3])).isoformat()
    except ValueError:
        return None


def scan_time_range(path: Path) -> tuple[int | None, int | None]:
    """Min and max `time_us` mentioned in a file, found by a fast byte-level scan."""
    low: int | None = None
    high: int | None = None
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        while chunk := handle.read(8 << 20):
            # Extend to the end of the line so a number is never cut in two.
            chunk += handle.readline()
            # Only plausible event times (2000..2100, the range ingestion keeps): a malformed line's
            # millisecond timestamp must not stretch the file over decades of days.
            values = [
                v for v in map(int, TIME_US_PATTERN.findall(chunk)) if PLAUSIBLE_US[0] <= v < PLAUSIBLE_US[1]
            ]
            if values:
                low = min(values) if low is None else min(low, min(values))
                high = max(values) if high is None else max(high, max(values))
    return low, high


class ArchiveIndex:
    """Per-file time ranges of an archive folder, cached in a JSON file keyed by size and mtime."""

    def __init__(self, root: Path, cache_path: Path | None) -> None:
        self.root = root
        self.cache_path = cache_path

    def _load_cache(self) -> dict[str, dict]:
        if self.cache_path is None or not self.cache_path.is_file():
            return {}
        try:
            return json.loads(self.cache_path.read_text())
        except (OSError, ValueError):
            return {}  # a damaged cache is only a lost optimisation

    def _save_cache(self, entries: dict[str, dict]) -> None:
        if self.cache_path is None:
            return
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_path.with_name(f".{self.cache_path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(entries, sort_keys=True))
        os.replace(tmp, self.cache_path)

    def files(self) -> list[ArchiveFile]:
        """Index every archive file, re-scanning only new or changed ones."""
        cache = self._load_cache()
        result: list[ArchiveFile] = []
        changed = False
        for path in list_archive_files(self.root):
            rel = path.relative_to(self.root).as_posix()
            stat = path.stat()
            cached = cache.get(rel)
            if cached and cached["size"] == stat.st_size and cached["mtime_ns"] == stat.st_mtime_ns:
                result.append(ArchiveFile(**cached))
                continue
            low, high = scan_time_range(path)
            home = folder_day(rel) or (day_of(low) if low is not None else day_of(stat.st_mtime_ns // 1000))
            entry = ArchiveFile(rel, stat.st_size, stat.st_mtime_ns, low, high, home)
            cache[rel] = asdict(entry)
            result.append(entry)
            changed = True
        if changed:
            self._save_cache(cache)
        return result

    def files_for_window(self, start_us: int, end_us: int, days: set[str]) -> list[ArchiveFile]:
        """Files that may hold events in [start_us, end_us) or report bad lines for one of `days`."""
        chosen = []
        for entry in self.files():
            overlaps = (
                entry.min_time_us is not None and entry.min_time_us < end_us and entry.max_time_us >= start_us
            )
            if overlaps or entry.home_day in days:
                chosen.append(entry)
        return chosen


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
