"""Windowed, reconnecting client for a live Jetstream websocket.

`stream_window` yields the verbatim JSON lines of every event with `start_us <= time_us < end_us`, in stream
order. Jetstream delivers at least once and replays from `cursor` inclusive, so after a reconnect the events
already yielded at the boundary time_us are dropped by key; the result has no duplicates and no gaps.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import connect

# Jetstream frames are one event each; 8 MiB leaves room for the largest records without being unbounded.
MAX_FRAME_BYTES = 8 * 1024 * 1024

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
class _Position:
    """Where the stream stands: last time_us yielded and the keys yielded at exactly that time."""

    cursor: int
    boundary_keys: set[EventKey] = field(default_factory=set)
    yielded: int = 0

    def accept(self, key: EventKey) -> bool:
        """True if the event is new; records it. Keys older than the boundary are replays too."""
        time_us = key[0]
        if time_us < self.cursor or (time_us == self.cursor and key in self.boundary_keys):
            return False
        if time_us > self.cursor:
            self.cursor = time_us
            self.boundary_keys = set()
        self.boundary_keys.add(key)
        self.yielded += 1
        return True


class _Dropped(Exception):
    """Internal: the connection broke or sent something unreadable; reconnect."""


def _read_frames(ws, idle_timeout: float) -> Iterator[str]:
    while True:
        try:
            frame = ws.recv(timeout=idle_timeout)
        except TimeoutError as exc:
            raise _Dropped("no data within idle timeout") from exc
        except ConnectionClosed as exc:
            raise _Dropped("connection closed") from exc
        yield frame.decode("utf-8", errors="replace") if isinstance(frame, bytes) else frame


def _parse(line: str) -> dict:
    try:
        event = json.loads(line)
        int(event["time_us"])
    except (ValueError, TypeError, KeyError) as exc:
        # A truncated or garbled frame means the transport broke mid-message: resume from the cursor.
        raise _Dropped("undecodable frame") from exc
    if not isinstance(event, dict):
        raise _Dropped("frame is not an event object")
    return event


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
) -> Iterator[str]:
    """Yield raw Jetstream JSON lines with `start_us <= time_us < end_us`; stop at the first later event.

    Reconnects on a dropped connection, a garbled frame or an idle stream, with exponential backoff
    (`backoff * 2**n`, capped at `max_backoff`), resuming with `cursor` = last time_us yielded. The retry
    budget counts consecutive failures without progress; exhausting it raises `SourceError`.
    `on_progress(last_time_us, n_yielded)` is called every `progress_every` events and at the end.
    """
    if end_us <= start_us:
        return
    host = urlsplit(url).netloc or "?"
    pos = _Position(cursor=start_us)
    failures = 0
    last_reason = "not started"
    while True:
        if failures > max_retries:
            raise SourceError(
                f"Jetstream endpoint {host} failed {failures} times in a row without progress "
                f"(last: {last_reason}); stopped at cursor {pos.cursor}"
            )
        if failures:
            sleep(min(max_backoff, backoff * 2 ** (failures - 1)))
        before = pos.yielded
        try:
            with connect(
                build_url(url, collections, pos.cursor),
                open_timeout=open_timeout,
                close_timeout=2.0,  # bounded: an early-closed generator must not hang on a full queue
                max_size=MAX_FRAME_BYTES,
                compression=None,
            ) as ws:
                for line in _read_frames(ws, idle_timeout):
                    event = _parse(line)
                    key = event_key(event)
                    if key[0] >= end_us:
                        # A graceful close would wait for the server's close frame behind frames we will
                        # never read (the receive queue is full), so hang up at once.
                        ws.close_socket()
                        if on_progress:
                            on_progress(pos.cursor, pos.yielded)
                        return
                    if not pos.accept(key):
                        continue
                    yield line
                    if on_progress and pos.yielded % progress_every == 0:
                        on_progress(pos.cursor, pos.yielded)
        except _Dropped as exc:
            last_reason = str(exc)
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            last_reason = f"cannot connect ({type(exc).__name__})"
        except InvalidURI as exc:
            raise SourceError(f"invalid Jetstream endpoint URL for host {host}") from exc
        # Progress resets the budget: a long window may legitimately see many unrelated drops.
        failures = 1 if pos.yielded > before else failures + 1
