"""Every event source as ingestion's `LineSource`s: (source_file label, home_day, raw JSON line bytes).

One entry point, `line_sources_for(kind, ...)`, so the Dagster resource stays a thin config holder:
- `jetstream-archive` / `sample`: a folder of Jetstream JSON lines (the sample is such a folder, written by
  `blueprint sample`), read through the time-range index.
- `jetstream-live`: one windowed, reconnecting websocket stream per day.
- `car`: repository exports (CAR files on disk and/or fetched with getRepo), current state only.
- `author-feed`: getAuthorFeed backfill of chosen accounts (posts and reposts only).

Failures raise `SourceError` with messages free of identifiers (accounts and files are named by position).
Ingestion stages every line before it writes any partition, so a source that fails mid-way leaves the
previously written partitions untouched; that is why a corrupt CAR raises by default instead of being
quarantined: a quarantine row could only say "invalid JSON", and the partition would silently lose that
account's records.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from blueprint_assets.lib.actions_space import BLUESKY_COLLECTIONS
from blueprint_assets.lib.ingest.staging import LineSource
from blueprint_assets.lib.sources.archive import ArchiveIndex, LineBlocks, day_bounds_us
from blueprint_assets.lib.sources.jetstream_live import SourceError
from blueprint_assets.lib.sources.kinds import ARCHIVE_KINDS, SOURCE_KINDS
from blueprint_assets.lib.storage.storage import join, local_folder

DEFAULT_JETSTREAM_URL = "wss://jetstream2.us-east.bsky.network/subscribe"
# getRepo needs no login; the relay serves every repository it crawls.
DEFAULT_REPO_HOST = "https://bsky.network"
# Login (createSession) happens at the account's entryway; AppView reads are proxied from there.
DEFAULT_BSKY_HOST = "https://bsky.social"
# A live window whose first event comes this late probably starts before the instance's replay buffer.
LIVE_LATE_START_US = 10 * 60 * 1_000_000

log = logging.getLogger(__name__)


@dataclass
class SourceOptions:
    """Retry and failure-handling knobs shared by the network sources (defaults suit production)."""

    max_retries: int = 8
    backoff: float = 1.0
    max_backoff: float = 60.0
    idle_timeout: float = 60.0
    open_timeout: float = 10.0
    # Skip (and count) a corrupt CAR or a repository that is gone instead of failing the run.
    skip_failed_repos: bool = False

    @classmethod
    def from_config(cls, config: object) -> SourceOptions:
        """The options `config` (e.g. the Dagster resource) sets (not None); the others keep their defaults."""
        given = {f.name: getattr(config, f.name, None) for f in fields(cls)}
        return cls(**{name: value for name, value in given.items() if value is not None})

    def stream_kwargs(self) -> dict[str, Any]:
        """The retry and timeout keywords of `jetstream_live.stream_window` (all but `skip_failed_repos`)."""
        return {k: v for k, v in asdict(self).items() if k != "skip_failed_repos"}


@dataclass
class SourceStats:
    """Log-safe counts of what a source delivered: collection names and numbers only, no identifiers."""

    kind: str = ""
    inputs: int = 0  # files, repositories, day streams or accounts opened
    lines: int = 0
    events_by_collection: Counter[str] = field(default_factory=Counter)  # car and author-feed
    ignored_by_collection: Counter[str] = field(default_factory=Counter)  # CAR records not turned into events
    undated_by_collection: Counter[str] = field(default_factory=Counter)  # CAR records without createdAt
    skipped_inputs: Counter[str] = field(default_factory=Counter)  # reason -> count (skip_failed_repos)
    feed: dict[str, Any] = field(default_factory=dict)  # author-feed counters (pages, items, ...)
    late_start_days: list[str] = field(default_factory=list)  # live days whose first event came late
    stream: Counter[str] = field(default_factory=Counter)  # live: reconnects, stalls, replays dropped, ...

    def summary(self) -> dict[str, Any]:
        """A JSON-ready dict for logs and asset metadata."""
        return {
            "kind": self.kind,
            "inputs": self.inputs,
            "lines": self.lines,
            "events_by_collection": dict(sorted(self.events_by_collection.items())),
            "ignored_by_collection": dict(sorted(self.ignored_by_collection.items())),
            "undated_by_collection": dict(sorted(self.undated_by_collection.items())),
            "skipped_inputs": dict(sorted(self.skipped_inputs.items())),
            "feed": {k: v for k, v in sorted(self.feed.items()) if isinstance(v, int)},
            "late_start_days": list(self.late_start_days),
            "stream": dict(sorted(self.stream.items())),
        }

    def one_line(self) -> str:
        """The terminal summary: what was read and everything skipped, dropped or unavailable."""
        parts = [f"source {self.kind}: {self.lines} lines from {self.inputs} inputs"]
        for label, counts in (
            ("ignored by collection", self.ignored_by_collection),
            ("undated", self.undated_by_collection),
            ("inputs skipped", self.skipped_inputs),
        ):
            if counts:
                parts.append(f"{label} " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        feed = {k: v for k, v in sorted(self.feed.items()) if isinstance(v, int) and v and k != "pages"}
        if feed:
            parts.append("feed " + ", ".join(f"{k} {v}" for k, v in feed.items()))
        stream = {k: v for k, v in sorted(self.stream.items()) if v and k != "connections"}
        if stream:
            parts.append("stream " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in stream.items()))
        if self.late_start_days:
            parts.append(f"late start on {len(self.late_start_days)} day(s)")
        return "; ".join(parts)


def event_line(event: dict) -> bytes:
    """One event as a compact JSON line (what ingestion stores verbatim in `raw`)."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


def line_sources_for(
    kind: str,
    *,
    days: list[str],
    state_dir: str | Path,
    path: str | None = None,
    url: str | None = None,
    dids: list[str] | None = None,
    actors: list[str] | None = None,
    base_url: str | None = None,
    collections: list[str] | None = None,
    options: SourceOptions | None = None,
    stats: SourceStats | None = None,
    exclude: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
    login: tuple[str | None, str | None] = (None, None),
    scratch_dir: str | Path | None = None,
) -> Iterable[LineSource]:
    """The line sources of `kind` for the UTC `days` (sorted YYYY-MM-DD); see the module docstring.

    `url` is the endpoint: the Jetstream websocket for `jetstream-live`, the XRPC host for `car` (getRepo) and
    `author-feed` (login + AppView) unless `base_url` is given. `collections` narrows what is requested
    (live) or kept (car). Configuration is checked now (ValueError); the network and files are touched
    only while iterating.
    `stats`, if given, is filled while iterating (complete once the iterator is exhausted).
    `exclude`: globs of archive files to skip (hidden files are always skipped); `progress` receives
    one-line progress messages (the archive index scan). `login` is the author feed's (handle, app password);
    its session is kept in `state_dir`, or in scratch (`scratch_dir`) for an object-store `state_dir`.
    """
    if kind not in SOURCE_KINDS:
        raise ValueError(f"unknown source kind {kind!r}; expected one of {', '.join(SOURCE_KINDS)}")
    if not days:
        raise ValueError("no days to read")
    options = options or SourceOptions()
    stats = stats if stats is not None else SourceStats()
    stats.kind = kind
    if kind in ARCHIVE_KINDS:
        if not path:
            raise ValueError(f"source {kind} needs --path (an archive folder)")
        archive = _archive_sources(Path(path), days, state_dir, stats, exclude or [], progress)
        return _counted(archive, stats)
    if kind == "jetstream-live":
        wanted = list(collections or BLUESKY_COLLECTIONS)
        return _counted(_live_sources(url or DEFAULT_JETSTREAM_URL, days, wanted, options, stats), stats)
    if kind == "car":
        inputs = _car_inputs(path, dids, base_url or url or DEFAULT_REPO_HOST, options)
        return _counted(_car_sources(inputs, days, collections, options, stats), stats)
    if not actors:
        raise ValueError("source author-feed needs at least one actor (handle or DID)")
    return _counted(
        _author_feed_sources(
            actors,
            days,
            local_folder(state_dir, scratch_dir) / "bsky_session",
            base_url or url or DEFAULT_BSKY_HOST,
            options,
            stats,
            login,
        ),  # fmt: skip
        stats,
    )


def _counted(sources: Iterator[LineSource], stats: SourceStats) -> Iterator[LineSource]:
    """Count lines as ingestion pulls them, and log the totals once the source is exhausted."""

    def counting(lines: Iterable[bytes]) -> Iterator[bytes]:
        for line in lines:
            stats.lines += 1
            yield line

    def count(n: int) -> None:
        stats.lines += n

    for label, home_day, lines in sources:
        if isinstance(lines, LineBlocks):
            lines.on_lines = count
            yield label, home_day, lines
        else:
            yield label, home_day, counting(lines)
    log.info("source %s done: %s", stats.kind, json.dumps(stats.summary(), sort_keys=True))


def _window(days: list[str]) -> tuple[int, int]:
    return day_bounds_us(days[0])[0], day_bounds_us(days[-1])[1]


# --- Jetstream archive (and the sample, which is an archive folder) ---------------------------------------


def archive_index(
    root: Path, state_dir: str | Path, exclude: list[str], progress: Callable[[str], None] | None = None
) -> ArchiveIndex:
    """The archive's index, cached under `state_dir` (one cache file per archive folder)."""
    digest = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:12]
    return ArchiveIndex(root, join(str(state_dir), f"archive_index_{digest}.json"), exclude, progress)


def _archive_sources(
    root: Path,
    days: list[str],
    state_dir: str | Path,
    stats: SourceStats,
    exclude: list[str],
    progress: Callable[[str], None] | None,
) -> Iterator[LineSource]:
    if not root.is_dir():
        raise SourceError("the archive folder does not exist")
    index = archive_index(root, state_dir, exclude, progress)
    files = index.files()
    if not files:
        raise SourceError(
            "the archive folder holds no readable file (hidden files and --exclude matches are skipped)"
        )
    for entry in index.files_for_window(set(days), files):
        stats.inputs += 1
        yield entry.relpath, entry.home_day, LineBlocks(root / entry.relpath)


# --- Jetstream live ----------------------------------------------------------------------------------------


def _live_sources(
    url: str, days: list[str], collections: list[str], options: SourceOptions, stats: SourceStats
) -> Iterator[LineSource]:
    # One stream per day: each day's odd lines are reported on that day, and line numbers restart per day.
    host = urlsplit(url).netloc or "?"
    for day in days:
        stats.inputs += 1
        yield f"jetstream-live/{host}/{day}", day, _live_day(url, day, collections, options, stats)


def _live_day(
    url: str, day: str, collections: list[str], options: SourceOptions, stats: SourceStats
) -> Iterator[bytes]:
    from blueprint_assets.lib.sources.jetstream_live import StreamStats

    counts = StreamStats()
    try:
        yield from _live_day_lines(url, day, collections, options, stats, counts)
    finally:
        stats.stream.update(counts.summary())


def _live_day_lines(
    url: str, day: str, collections: list[str], options: SourceOptions, stats: SourceStats, counts
) -> Iterator[bytes]:
    from blueprint_assets.lib.sources.jetstream_live import is_valid_event, stream_window

    start_us, end_us = day_bounds_us(day)

    def progress(last_time_us: int, n: int) -> None:
        log.info("jetstream-live %s: %d events, cursor %d", day, n, last_time_us)

    first = True
    for line in stream_window(
        url, start_us, end_us, collections, on_progress=progress, stats=counts, **options.stream_kwargs()
    ):
        # Only the first valid line is parsed again (stream_window checked it): a day holds tens of millions.
        event = json.loads(line) if first else None
        if event is not None and is_valid_event(event):
            first = False
            late_us = event["time_us"] - start_us
            if late_us > LIVE_LATE_START_US:
                # Jetstream replays only its recent buffer; an older cursor silently starts at its oldest event.
                stats.late_start_days.append(day)
                log.warning(
                    "jetstream-live %s: first event %d s after the day starts; the instance may not keep "
                    "that much history, so the start of the day may be missing",
                    day,
                    late_us // 1_000_000,
                )
        yield line.encode()


# --- Repository exports (CAR) -------------------------------------------------------------------------------

CarInput = tuple[str, str, Callable[[], bytes]]  # (source label, position for messages, loader)


def _car_inputs(
    path: str | None, dids: list[str] | None, base_url: str, options: SourceOptions
) -> list[CarInput]:
    from blueprint_assets.lib.sources.car_source import account_ref, fetch_repo

    inputs: list[CarInput] = []
    if path:
        root = Path(path)
        if root.is_dir():
            files = sorted(root.rglob("*.car"), key=lambda p: p.relative_to(root).as_posix())
            if not files and not dids:
                raise ValueError("source car: the --path folder holds no *.car files")
            names = [p.relative_to(root).as_posix() for p in files]
        elif root.is_file():
            files, names = [root], [root.name]
        else:
            raise ValueError("source car: --path is neither a CAR file nor a folder")
        inputs += [(f"car/{name}", "", file.read_bytes) for file, name in zip(files, names, strict=True)]
    for did in dids or []:
        # The label keeps a hash of the DID, never the DID itself (labels reach logs via source_file counts).
        who = account_ref(did)

        def load(did: str = did, who: str = who) -> bytes:
            return fetch_repo(
                did, base_url, max_retries=options.max_retries, backoff=options.backoff, label=who
            )

        inputs.append((f"getRepo/{who.replace(' ', '-')}", "", load))
    if not inputs:
        raise ValueError("source car needs --path (a CAR file or folder) and/or a list of DIDs")
    total = len(inputs)
    return [(label, f"repository #{i} of {total}", load) for i, (label, _, load) in enumerate(inputs, 1)]


def _car_sources(
    inputs: list[CarInput],
    days: list[str],
    collections: list[str] | None,
    options: SourceOptions,
    stats: SourceStats,
) -> Iterator[LineSource]:
    from blueprint_assets.lib.sources.car_source import CorruptCarError, RepoNotFoundError, iter_car_events

    wanted = set(collections) if collections else None
    for label, position, load in inputs:
        stats.inputs += 1
        try:
            events, car_stats = iter_car_events(load())
        except (CorruptCarError, RepoNotFoundError) as exc:
            if not options.skip_failed_repos:
                raise type(exc)(f"{position}: {exc}") from None
            reason = "corrupt" if isinstance(exc, CorruptCarError) else "not found"
            stats.skipped_inputs[reason] += 1
            log.warning("car: skipped %s (%s)", position, exc)
            continue
        except SourceError as exc:
            raise SourceError(f"{position}: {exc}") from None
        except OSError as exc:
            raise SourceError(f"{position}: cannot read CAR file ({type(exc).__name__})") from None
        stats.ignored_by_collection.update(car_stats["ignored"])
        stats.undated_by_collection.update(car_stats["no_created_at"])
        if wanted is not None:
            for e in events:
                if e["commit"]["collection"] not in wanted:
                    stats.ignored_by_collection[e["commit"]["collection"]] += 1
            events = [e for e in events if e["commit"]["collection"] in wanted]
        stats.events_by_collection.update(e["commit"]["collection"] for e in events)
        # Every event goes to ingestion, which keeps those of the window's days (by time_us).
        yield label, days[0], (event_line(e) for e in events)


# --- Author feed --------------------------------------------------------------------------------------------


def _author_feed_sources(
    actors: list[str],
    days: list[str],
    session_dir: Path,
    base_url: str,
    options: SourceOptions,
    stats: SourceStats,
    login: tuple[str | None, str | None] = (None, None),
) -> Iterator[LineSource]:
    def lines() -> Iterator[bytes]:
        # One stream for all accounts; nothing is imported or opened until ingestion pulls lines.
        from blueprint_assets.lib.sources.author_feed import BskySession, Retry, iter_author_feed_events

        handle, password = login
        session = BskySession(
            session_dir=session_dir,
            base_url=base_url,
            handle=handle,
            password=password,
        )
        start_us, end_us = _window(days)
        retry = Retry(max_retries=options.max_retries, backoff=options.backoff)
        for event in iter_author_feed_events(
            session, actors, since_us=start_us, until_us=end_us, retry=retry, stats=stats.feed
        ):
            stats.events_by_collection[event["commit"]["collection"]] += 1
            yield event_line(event)

    stats.inputs += len(actors)
    yield "author-feed", days[0], lines()
