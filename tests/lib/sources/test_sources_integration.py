"""Network and backfill sources through real Dagster materializations of raw_events and actions."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import EnvVar, materialize
from support.local_servers import (
    HANDLE,
    PASSWORD,
    TINY,
    XrpcHandler,
    feed_post,
    http_server,
    needs_tiny,
    repost_reason,
    websocket_server,
)
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection

from blueprint_assets.defs.ingestion.assets import actions, raw_events
from blueprint_assets.defs.resources import EventSourceResource, LakeResource, PrivacyResource, QueryEngine
from blueprint_assets.defs.tags import RANGE_END_TAG, RANGE_START_TAG
from blueprint_assets.lib.sample import generate_sample, iter_events
from blueprint_assets.lib.sources.archive import day_of
from blueprint_assets.lib.sources.car_source import iter_car_events
from blueprint_assets.lib.sources.jetstream_live import SourceError
from blueprint_assets.lib.sources.source_lines import (
    BLUESKY_COLLECTIONS,
    SourceStats,
    line_sources_for,
)
from blueprint_assets.lib.storage.lake import Lake

DAY = "2025-03-01"
COMPARED = ["event_key", "day", "time_us", "did", "kind", "collection", "operation", "rkey", "rev", "raw"]


# The real resource delegates to `line_sources_for`.
LinesSource = EventSourceResource


def run(data_dir: Path, source: EventSourceResource, first: str, last: str | None = None, **kw):
    """Materialize raw_events + actions for one day or a day range."""
    resources = {
        "lake": LakeResource(data_dir=str(data_dir)),
        "query_engine": QueryEngine(database=":memory:"),
        "privacy": PrivacyResource(data_dir=str(data_dir)),
        "source": source,
    }
    if last is None or last == first:
        return materialize([raw_events, actions], partition_key=first, resources=resources, **kw)
    tags = {RANGE_START_TAG: first, RANGE_END_TAG: last}
    return materialize([raw_events, actions], tags=tags, resources=resources, **kw)


def day_file(data_dir: Path, table: str, day: str) -> Path:
    return Path(Lake(str(data_dir)).day_file(table, day))


def rows(path: Path, columns: list[str] | None = None) -> list[dict]:
    return pq.read_table(path, columns=columns).to_pylist()


def failure_text(result) -> str:
    """The step failure message including every cause (Dagster wraps the user error)."""
    parts = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            while error is not None:
                parts.append(error.message)
                error = error.cause
    return "\n".join(parts)


# --- (a) live: a replayed sample day equals the same day read from an archive -----------------------------


class ReplayJetstream:
    """A Jetstream-like server: time-ordered events from `cursor`; `wantedCollections` filters commits only
    (identity and account events always pass, as on Jetstream). Connection 1 is cut abruptly, connection 2
    ends with half a frame; later connections stream everything and then idle like a quiet live stream."""

    def __init__(self, lines: list[tuple[int, str, str | None]]) -> None:
        self.lines = lines  # (time_us, verbatim line, collection or None)
        self.cursors: list[int] = []
        self.lock = threading.Lock()

    def handler(self, ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path).query)
        cursor = int(query["cursor"][0])
        wanted = set(query.get("wantedCollections", []))
        selected = [line for t, line, c in self.lines if t >= cursor and (c is None or c in wanted)]
        with self.lock:
            n = len(self.cursors)
            self.cursors.append(cursor)
        if n == 0:
            for line in selected[:400]:
                ws.send(line)
            ws.close_socket()  # abrupt: no close frame
            return
        if n == 1:
            for line in selected[:300]:
                ws.send(line)
            ws.send(selected[300][: len(selected[300]) // 2])  # truncated frame
            ws.close()
            return
        # The client hangs up at the first event past its window, possibly mid-send.
        with contextlib.suppress(ConnectionClosed):
            for line in selected:
                ws.send(line)
            ws.recv()


def _in_time_order(table: list[dict]) -> list[dict]:
    return sorted(table, key=lambda r: (r["time_us"], r["event_key"]))


@pytest.mark.pipeline
def test_live_day_with_two_drops_equals_archive_day(tmp_path: Path) -> None:
    sample = {"days": 2, "users": 120, "seed": 11, "start": date.fromisoformat(DAY)}
    archive = tmp_path / "archive"
    generate_sample(archive, **sample)
    # The live server replays the same events (day 2 included: a live stream always has later events,
    # and the first one past the window is what ends the day's stream).
    served = []
    for item in iter_events(**sample):
        if item.status in ("ok", "duplicate"):
            ev = item.event
            coll = ev["commit"]["collection"] if ev["kind"] == "commit" else None
            served.append((ev["time_us"], item.line, coll))
    served.sort(key=lambda x: x[0])
    fake = ReplayJetstream(served)

    with websocket_server(fake.handler) as url:
        live = run(tmp_path / "live", LinesSource(kind="jetstream-live", url=url, backoff=0.01), DAY)
    assert live.success
    archived = run(tmp_path / "arch", LinesSource(kind="jetstream-archive", path=str(archive)), DAY)
    assert archived.success

    assert len(fake.cursors) == 3  # two drops, resumed from the last time_us each time
    assert fake.cursors[0] < fake.cursors[1] < fake.cursors[2]
    # raw_events keeps arrival order, which differs between the two sources: compare in time order.
    live_rows = _in_time_order(rows(day_file(tmp_path / "live", "raw_events", DAY), COMPARED))
    arch_rows = _in_time_order(rows(day_file(tmp_path / "arch", "raw_events", DAY), COMPARED))
    # Live asks only for the pipeline's collections; the archive holds every collection.
    expected = [r for r in arch_rows if r["kind"] != "commit" or r["collection"] in BLUESKY_COLLECTIONS]
    assert len(expected) > 800 and len(expected) < len(arch_rows)
    assert {r["kind"] for r in live_rows} == {"commit", "identity", "account"}
    assert live_rows == expected
    assert {r["day"] for r in live_rows} == {DAY}
    # The actions built from either source are identical.
    live_actions = rows(day_file(tmp_path / "live", "actions", DAY))
    assert len(live_actions) > 700
    assert live_actions == rows(day_file(tmp_path / "arch", "actions", DAY))


# --- (d) live: unreachable endpoint ------------------------------------------------------------------------


@pytest.mark.pipeline
def test_unreachable_live_endpoint_fails_clearly(tmp_path: Path) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there any more
    source = LinesSource(
        kind="jetstream-live", url=f"ws://127.0.0.1:{port}", max_retries=2, backoff=0.01, open_timeout=1
    )
    result = run(tmp_path, source, DAY, raise_on_error=False)
    assert not result.success
    text = failure_text(result)
    assert "failed 3 times in a row without progress (last: cannot connect" in text
    assert not day_file(tmp_path, "raw_events", DAY).exists()


# --- (b) CAR backfill: tiny.car ------------------------------------------------------------------------------


def contiguous_runs(days: list[str]) -> list[tuple[str, str]]:
    """Sorted distinct days -> (first, last) of each run of consecutive days."""
    runs: list[list[str]] = []
    for day in days:
        if runs and date.fromisoformat(runs[-1][1]) + timedelta(days=1) == date.fromisoformat(day):
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return [(a, b) for a, b in runs]


@needs_tiny
@pytest.mark.pipeline
def test_tiny_car_materializes_its_actions(tmp_path: Path) -> None:
    events, _ = iter_car_events(TINY.read_bytes())
    days = sorted({day_of(e["time_us"]) for e in events})
    runs = contiguous_runs(days)
    assert any(a != b for a, b in runs)  # at least one run is a real partition range
    for first, last in runs:
        assert run(tmp_path, LinesSource(kind="car", path=str(TINY)), first, last).success
    by_action: Counter[str] = Counter()
    n_raw = 0
    for day in days:
        by_action.update(r["action"] for r in rows(day_file(tmp_path, "actions", day), ["action"]))
        n_raw += len(rows(day_file(tmp_path, "raw_events", day), ["event_key"]))
    assert n_raw == 7
    assert by_action["post"] + by_action["reply"] + by_action["quote"] == 3
    assert by_action["reply"] == 1
    assert (by_action["like"], by_action["follow"], by_action["block"]) == (2, 1, 1)
    assert sum(by_action.values()) == 7


@needs_tiny
def test_car_stats_count_ignored_collections(tmp_path: Path) -> None:
    stats = SourceStats()
    sources = list(line_sources_for("car", days=[DAY], state_dir=tmp_path, path=str(TINY), stats=stats))
    lines = [line for _, _, it in sources for line in it]
    assert len(lines) == 7 and all(json.loads(x)["kind"] == "commit" for x in lines)
    summary = stats.summary()
    assert summary["ignored_by_collection"] == {"app.bsky.actor.profile": 1}
    assert summary["events_by_collection"] == {
        "app.bsky.feed.like": 2,
        "app.bsky.feed.post": 3,
        "app.bsky.graph.block": 1,
        "app.bsky.graph.follow": 1,
    }
    assert summary["inputs"] == 1 and summary["lines"] == 7


# --- (c) a corrupt CAR among several keeps the earlier partition ---------------------------------------------


@needs_tiny
@pytest.mark.pipeline
def test_corrupt_car_keeps_earlier_partition(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    events, _ = iter_car_events(TINY.read_bytes())
    day = day_of(events[0]["time_us"])
    assert run(data_dir, LinesSource(kind="car", path=str(TINY)), day).success
    tables = ("raw_events", "raw_events_quarantine", "actions")
    before = {t: day_file(data_dir, t, day).read_bytes() for t in tables}
    assert len(rows(day_file(data_dir, "raw_events", day), ["event_key"])) >= 2

    folder = tmp_path / "cars"
    folder.mkdir()
    shutil.copy(TINY, folder / "a.car")
    (folder / "b.car").write_bytes(TINY.read_bytes()[: len(TINY.read_bytes()) // 2])
    result = run(data_dir, LinesSource(kind="car", path=str(folder)), day, raise_on_error=False)
    assert not result.success
    text = failure_text(result)
    assert "repository #2 of 2: corrupt CAR file" in text
    assert events[0]["did"] not in text
    after = {t: day_file(data_dir, t, day).read_bytes() for t in tables}
    assert after == before

    # Opting in to skipping bad repositories keeps the good one's rows.
    skipping = LinesSource(kind="car", path=str(folder), skip_failed_repos=True)
    assert run(data_dir, skipping, day).success
    assert (
        rows(day_file(data_dir, "raw_events", day), COMPARED)
        == pq.read_table(pa.BufferReader(before["raw_events"]), columns=COMPARED).to_pylist()
    )


def test_unknown_kind_and_missing_config_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown source kind"):
        line_sources_for("ftp", days=[DAY], state_dir=tmp_path)
    with pytest.raises(ValueError, match="needs --path"):
        line_sources_for("car", days=[DAY], state_dir=tmp_path)
    with pytest.raises(ValueError, match="at least one actor"):
        line_sources_for("author-feed", days=[DAY], state_dir=tmp_path)
    assert issubclass(SourceError, RuntimeError)


# --- getRepo and getAuthorFeed over a local XRPC host ---------------------------------------------------------

ALICE = "did:plc:alicealicealicealice0000"
MISSING_DID = "did:plc:missingmissingmissing000"


def _feed_post(rkey: str, created: str, **extra: object) -> dict:
    return feed_post(ALICE, rkey, created, handle="alice.test", **extra)


# Newest first, like the AppView: one item after the window, three inside it, one before.
ALICE_FEED = [
    {"post": _feed_post("3la9", "2025-03-02T10:00:00.000Z")},
    {
        "post": {
            **_feed_post("3lb1", "2025-02-20T08:00:00.000Z"),
            "uri": "at://did:plc:bob/app.bsky.feed.post/3lb1",
        },
        "reason": repost_reason(ALICE, "alice.test", "2025-03-01T20:00:00.000Z", "3lrp1", "bafyreirepost1"),
    },
    {
        "post": _feed_post(
            "3la8",
            "2025-03-01T12:00:00.000Z",
            reply={
                "root": {"uri": "at://did:plc:bob/app.bsky.feed.post/3lb1", "cid": "bafyreib"},
                "parent": {"uri": "at://did:plc:bob/app.bsky.feed.post/3lb1", "cid": "bafyreib"},
            },
        )
    },  # fmt: skip
    {"post": _feed_post("3la7", "2025-03-01T06:00:00.000Z")},
    {"post": _feed_post("3la6", "2025-02-28T06:00:00.000Z")},
]


class FakeBsky(XrpcHandler):
    car: bytes = b""
    car_did: str = ""

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path == "/xrpc/com.atproto.sync.getRepo":
            if query["did"][0] == self.car_did:
                return self.send_body(200, self.car, "application/vnd.ipld.car")
            return self.send_repo_not_found(query["did"][0])
        if parts.path == "/xrpc/app.bsky.feed.getAuthorFeed" and query["actor"][0] == ALICE:
            return self.send_json(200, {"feed": ALICE_FEED})
        self.send_json(400, {"error": "InvalidRequest"})


@pytest.fixture()
def bsky_host() -> Iterator[str]:
    with http_server(FakeBsky) as url:
        yield url


@needs_tiny
@pytest.mark.pipeline
def test_car_by_did_via_get_repo_and_unknown_did(tmp_path: Path, bsky_host: str) -> None:
    events, _ = iter_car_events(TINY.read_bytes())
    FakeBsky.car, FakeBsky.car_did = TINY.read_bytes(), events[0]["did"]
    day = day_of(events[0]["time_us"])
    good = LinesSource(kind="car", dids=[FakeBsky.car_did], url=bsky_host, path="")
    assert run(tmp_path, good, day).success
    expected = sum(day_of(e["time_us"]) == day for e in events)
    assert len(rows(day_file(tmp_path, "raw_events", day), ["event_key"])) == expected >= 2

    bad = LinesSource(kind="car", dids=[FakeBsky.car_did, MISSING_DID], url=bsky_host, path="", backoff=0)
    result = run(tmp_path, bad, day, raise_on_error=False)
    assert not result.success
    text = failure_text(result)
    assert "repository #2 of 2: repository not found for account " in text
    assert MISSING_DID not in text and FakeBsky.car_did not in text


@pytest.mark.pipeline
def test_author_feed_window(tmp_path: Path, bsky_host: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLUEPRINT_BSKY_HANDLE", HANDLE)
    monkeypatch.setenv("BLUEPRINT_BSKY_APP_PASSWORD", PASSWORD)
    login = {
        "bsky_handle": EnvVar("BLUEPRINT_BSKY_HANDLE"),
        "bsky_password": EnvVar("BLUEPRINT_BSKY_APP_PASSWORD"),
    }
    source = LinesSource(kind="author-feed", actors=[ALICE], url=bsky_host, path="", **login)
    assert run(tmp_path, source, DAY).success
    got = rows(day_file(tmp_path, "actions", DAY), ["action", "record_uri", "subject_uri"])
    assert sorted((r["action"], r["record_uri"].rsplit("/", 1)[1]) for r in got) == [
        ("post", "3la7"),
        ("reply", "3la8"),
        ("repost", "3lrp1"),
    ]
    assert [r["subject_uri"] for r in got if r["action"] == "repost"] == [
        "at://did:plc:bob/app.bsky.feed.post/3lb1"
    ]
    assert list((tmp_path / "state" / "bsky_session").glob("bsky-session-*.txt"))

    monkeypatch.setenv("BLUEPRINT_BSKY_APP_PASSWORD", "wrong")
    result = run(tmp_path / "other", source, DAY, raise_on_error=False)
    assert not result.success
    text = failure_text(result)
    assert "Bluesky login rejected" in text and HANDLE not in text and ALICE not in text


def test_live_day_starting_late_is_flagged(tmp_path: Path) -> None:
    start_us = 1_740_787_200_000_000  # 2025-03-01T00:00:00Z
    lines = []
    for i, offset_s in enumerate(
        [3600, 3601, 90_000]
    ):  # first event one hour in; the last is on the next day
        event = {
            "did": "did:plc:late",
            "time_us": start_us + offset_s * 1_000_000,
            "kind": "identity",
            "n": i,
        }
        lines.append((event["time_us"], json.dumps(event), None))
    fake = ReplayJetstream(lines)
    fake.cursors = [0, 0]  # skip the two scripted drops
    stats = SourceStats()
    with websocket_server(fake.handler) as url:
        sources = line_sources_for("jetstream-live", days=[DAY], state_dir=tmp_path, url=url, stats=stats)
        got = [json.loads(line)["n"] for _, _, it in sources for line in it]
    assert got == [0, 1]
    assert stats.late_start_days == [DAY] and stats.lines == 2 and stats.inputs == 1
