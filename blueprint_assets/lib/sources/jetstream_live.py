"""Windowed, reconnecting client for a live Jetstream websocket.

`stream_window` yields the verbatim JSON lines of every event with `start_us <= time_us < end_us`, in stream
order. Jetstream delivers at least once and replays from `cursor` inclusive, so an event is dropped only when
its key was already yielded (`_SeenKeys`), never because its time is behind the cursor: an event that
arrives out of order (T+d, then T) is kept. A JSON event that ingestion would reject (e.g. `time_us` as a
string) is passed on untouched, to be quarantined there; it never counts as a copy of a valid event and never
moves the cursor. What happened (reconnects, stalls, replays dropped, bad frames) is counted in `StreamStats`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import connect

# Jetstream frames are one event each; 8 MiB leaves room for the largest records without being unbounded.
MAX_FRAME_BYTES = 8 * 1024 * 1024

# Ingestion's valid time_us range (lib.ingest.raw_events): outside it a line is quarantined, so it is not an event here.
MIN_TIME_US, MAX_TIME_US = 946_684_800_000_000, 4_102_444_800_000_000
# Keys are remembered this far behind the newest time_us seen; an older arrival is passed on unchecked and
# ingestion's own key deduplication (which counts it) catches a copy.
REORDER_HORIZON_US = 10 * 60 * 1_000_000

EventKey = tuple[int, str, str, str, str, str, str]
ProgressCallback = Callable[[int, int], None]


class SourceError(RuntimeError):
    """A source could not deliver its data (unreachable, corrupt, not found, unauthorised).

    Messages never contain a DID, handle or account URL: accounts are referred to by position or hash.
    """


def event_key(event: dict) -> EventKey:
    """Identity of one Jetstream event, used to drop replays at the reconnect boundary."""
    commit = event.get("commit") or {}
    return (
        int(event["time_us"]),
        str(event.get("did", "")),
        str(event.get("kind", "")),
        str(commit.get("rev", "")),
        str(commit.get("collection", "")),
        str(commit.get("rkey", "")),
        str(commit.get("operation", "")),
    )


def build_url(url: str, collections: list[str], cursor: int) -> str:
    """Endpoint URL with repeated `wantedCollections` and `cursor`, keeping any query already present."""
    parts = urlsplit(url)
    query = [("wantedCollections", c) for c in collections] + [("cursor", str(cursor))]
    merged = f"{parts.query}&{urlencode(query)}" if parts.query else urlencode(query)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/subscribe", merged, parts.fragment))


@dataclass
class StreamStats:
    """Log-safe counts of one or more streamed windows (numbers only)."""

    connections: int = 0
    reconnects: int = 0
    stalls: int = 0  # reconnects because nothing arrived within idle_timeout
    replays_dropped: int = 0  # events whose key was already yielded
    bad_frames: int = 0  # undecodable frames (the connection is reopened from the cursor)
    malformed_events: int = 0  # events ingestion rejects: passed on, quarantined there
    out_of_order: int = 0  # events older than the newest one seen, kept
    unchecked_late: int = 0  # events older than the dedup horizon, passed to ingestion's dedup
    before_window: int = 0  # replayed events from before the window's start (not this window's data)

    def summary(self) -> dict[str, int]:
        return dict(vars(self))

    def add(self, other: StreamStats) -> None:
        for name, value in vars(other).items():
            setattr(self, name, getattr(self, name) + value)


class _SeenKeys:
    """Keys yielded within REORDER_HORIZON_US of the newest time_us: 8-byte digests, bucketed by time."""

    def __init__(self, horizon_us: int = REORDER_HORIZON_US) -> None:
        self.horizon_us = horizon_us
        self.newest = -1
        self._by_time: dict[int, set[bytes]] = {}
        self._prune_at = 4096

    @staticmethod
    def _digest(key: EventKey) -> bytes:
        return hashlib.blake2b("\x1f".join(map(str, key)).encode(), digest_size=8).digest()

    def add(self, key: EventKey, stats: StreamStats) -> bool:
        """True if the key is new (it is remembered); False for a replay."""
        time_us = key[0]
        if time_us < self.newest - self.horizon_us:
            stats.unchecked_late += 1
            return True
        digest = self._digest(key)
        bucket = self._by_time.setdefault(time_us, set())
        if digest in bucket:
            return False
        bucket.add(digest)
        if time_us < self.newest:
            stats.out_of_order += 1
        elif time_us > self.newest:
            self.newest = time_us
            self._prune()
        return True

    def _prune(self) -> None:
        # Amortized O(1): prune only once the bucket count has doubled since the last pruning.
        if len(self._by_time) > self._prune_at:
            oldest = self.newest - self.horizon_us
            self._by_time = {t: keys for t, keys in self._by_time.items() if t >= oldest}
            self._prune_at = max(4096, 2 * len(self._by_time))


IDLE_REASON = "no data within idle timeout"
FRAME_REASONS = ("undecodable frame", "frame is not an event object")


class _Dropped(Exception):
    """Internal: the connection broke or sent something unreadable; reconnect."""


def _read_frames(ws, idle_timeout: float) -> Iterator[str]:
    while True:
        try:
            frame = ws.recv(timeout=idle_timeout)
        except TimeoutError as exc:
            raise _Dropped(IDLE_REASON) from exc
        except ConnectionClosed as exc:
            raise _Dropped("connection closed") from exc
        yield frame.decode("utf-8", errors="replace") if isinstance(frame, bytes) else frame


def _parse(line: str) -> dict:
    try:
        event = json.loads(line)
    except ValueError as exc:
        # A truncated or garbled frame means the transport broke mid-message: resume from the cursor.
        raise _Dropped("undecodable frame") from exc
    if not isinstance(event, dict):
        raise _Dropped("frame is not an event object")
    return event


def is_valid_event(event: dict) -> bool:
    """True when ingestion would accept the event's identity fields (the rules of lib.ingest.raw_events)."""
    time_us = event.get("time_us")
    return (
        isinstance(time_us, int)
        and not isinstance(time_us, bool)
        and MIN_TIME_US <= time_us <= MAX_TIME_US
        and isinstance(event.get("did"), str)
        and isinstance(event.get("kind"), str)
    )


def stream_window(
    url: str,
    start_us: int,
    end_us: int,
    collections: list[str],
    *,
    max_retries: int = 8,
    backoff: float = 1.0,
    max_backoff: float = 60.0,
    idle_timeout: float = 60.0,
    open_timeout: float = 10.0,
    on_progress: ProgressCallback | None = None,
    progress_every: int = 10_000,
    sleep: Callable[[float], None] = time.sleep,
    stats: StreamStats | None = None,
) -> Iterator[str]:
    """Yield raw Jetstream JSON lines with `start_us <= time_us < end_us`; stop at the first later event.

    Reconnects on a dropped connection, a garbled frame or an idle stream, with exponential backoff
    (`backoff * 2**n`, capped at `max_backoff`), resuming with `cursor` = last time_us yielded. The retry
    budget counts consecutive failures without progress; exhausting it raises `SourceError`.
    `on_progress(last_time_us, n_yielded)` is called every `progress_every` events and at the end.
    `stats`, if given, is filled while streaming.
    """
    if end_us <= start_us:
        return
    host = urlsplit(url).netloc or "?"
    stats = stats if stats is not None else StreamStats()
    seen = _SeenKeys()
    cursor, yielded = start_us, 0
    failures = 0
    last_reason = "not started"
    while True:
        if failures > max_retries:
            raise SourceError(
                f"Jetstream endpoint {host} failed {failures} times in a row without progress "
                f"(last: {last_reason}); stopped at cursor {cursor}"
            )
        if failures:
            sleep(min(max_backoff, backoff * 2 ** (failures - 1)))
        if stats.connections:
            stats.reconnects += 1
        stats.connections += 1
        before = yielded
        try:
            with connect(
                build_url(url, collections, cursor),
                open_timeout=open_timeout,
                close_timeout=2.0,  # bounded: an early-closed generator must not hang on a full queue
                max_size=MAX_FRAME_BYTES,
                compression=None,
            ) as ws:
                for line in _read_frames(ws, idle_timeout):
                    event = _parse(line)
                    if not is_valid_event(event):
                        stats.malformed_events += 1
                        yield line  # ingestion quarantines it with its reason
                        continue
                    key = event_key(event)
                    if key[0] >= end_us:
                        # A graceful close would wait for the server's close frame behind frames we will
                        # never read (the receive queue is full), so hang up at once.
                        ws.close_socket()
                        if on_progress:
                            on_progress(cursor, yielded)
                        return
                    if key[0] < start_us:
                        stats.before_window += 1  # a replay from an older cursor: not this window's data
                        continue
                    if not seen.add(key, stats):
                        stats.replays_dropped += 1
                        continue
                    cursor = max(cursor, key[0])
                    yielded += 1
                    yield line
                    if on_progress and yielded % progress_every == 0:
                        on_progress(cursor, yielded)
        except _Dropped as exc:
            last_reason = str(exc)
            stats.stalls += last_reason == IDLE_REASON
            stats.bad_frames += last_reason in FRAME_REASONS
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            last_reason = f"cannot connect ({type(exc).__name__})"
        except InvalidURI as exc:
            raise SourceError(f"invalid Jetstream endpoint URL for host {host}") from exc
        # Progress resets the budget: a long window may legitimately see many unrelated drops.
        failures = 1 if yielded > before else failures + 1
