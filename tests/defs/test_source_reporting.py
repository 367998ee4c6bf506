"""What a source skips or repairs reaches the run: asset metadata, the run's event log, the terminal line.

Also the live source's dedup by event key: out-of-order events are kept, a malformed twin (time_us as a
string) neither displaces the valid event nor vanishes (ingestion quarantines it), and reconnects, replays
and malformed events are counted. Real Dagster materializations, a local Jetstream websocket server.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyarrow.parquet as pq
import pytest
from dagster import DagsterEventType, DagsterInstance, materialize
from support.local_servers import TINY, needs_tiny, websocket_server
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection

from blueprint_assets.defs.ingestion.assets import raw_events
from blueprint_assets.defs.resources import (
    EventSourceResource,
    LakeResource,
    PrivacyResource,
    QueryEngine,
    build_resources,
)
from blueprint_assets.lib.sources.archive import day_of
from blueprint_assets.lib.sources.car_source import iter_car_events
from blueprint_assets.lib.sources.jetstream_live import StreamStats, stream_window
from blueprint_assets.lib.storage.lake import Lake
from blueprint_assets.settings import Settings

DAY = "2025-03-01"
DAY_START = 1_740_787_200_000_000  # 2025-03-01T00:00:00Z
NEXT_DAY = DAY_START + 86_400_000_000
WANTED = ["app.bsky.feed.post"]


def materialize_raw(data_dir: Path, source: EventSourceResource, day: str):
    """raw_events for one day on an ephemeral instance; returns (result, instance)."""
    instance = DagsterInstance.ephemeral()
    resources = {
        "lake": LakeResource(data_dir=str(data_dir)),
        "query_engine": QueryEngine(database=":memory:"),
        "privacy": PrivacyResource(data_dir=str(data_dir)),
        "source": source,
    }
    result = materialize([raw_events], partition_key=day, resources=resources, instance=instance)
    return result, instance


def raw_metadata(result) -> dict:
    (event,) = [e for e in result.all_events if e.event_type == DagsterEventType.ASSET_MATERIALIZATION]
    return {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}


def run_log(instance: DagsterInstance, result) -> str:
    return "\n".join(entry.user_message for entry in instance.all_logs(result.run_id))


@needs_tiny
@pytest.mark.pipeline
def test_car_other_collections_reach_metadata_and_run_log(tmp_path: Path) -> None:
    events, _ = iter_car_events(TINY.read_bytes())
    day = min(day_of(e["time_us"]) for e in events)
    result, instance = materialize_raw(tmp_path, EventSourceResource(kind="car", path=str(TINY)), day)
    assert result.success
    metadata = raw_metadata(result)
    assert metadata["source"]["ignored_by_collection"] == {"app.bsky.actor.profile": 1}
    assert metadata["source"]["kind"] == "car" and metadata["source"]["lines"] == 7
    assert "ignored by collection app.bsky.actor.profile 1" in metadata["summary"]
    assert "ignored by collection app.bsky.actor.profile 1" in run_log(instance, result)


# --- live: out-of-order events and malformed twins over a local Jetstream server ------------------------------


def post(i: int, time_us: int | str) -> str:
    event = {
        "did": f"did:plc:live{i % 5:04d}",
        "time_us": time_us,
        "kind": "commit",
        "commit": {
            "rev": f"3lrev{i:06d}",
            "operation": "create",
            "collection": "app.bsky.feed.post",
            "rkey": f"3lkey{i:06d}",
            "record": {"text": f"post {i}", "createdAt": "2025-03-01T00:00:00Z"},
            "cid": f"bafy{i:06d}",
        },
    }
    return json.dumps(event)


VALID = [post(i, DAY_START + i * 1_000_000) for i in range(40)]
TWIN_12 = post(12, str(DAY_START + 12_000_000))  # the same event with time_us as a string
TWIN_25 = post(25, str(DAY_START + 25_000_000))
LATER = post(99, NEXT_DAY + 1)  # the next day's first event ends the window


class ScriptedJetstream:
    """Connection 1: in order, then 11 before 10, then 12's malformed twin before 12, cut abruptly after 19.
    Connection 2: replays from 5 events before its cursor, sends 25's twin after 25, then the next day."""

    def __init__(self) -> None:
        self.cursors: list[int] = []

    def handler(self, ws: ServerConnection) -> None:
        cursor = int(parse_qs(urlsplit(ws.request.path).query)["cursor"][0])
        self.cursors.append(cursor)
        if len(self.cursors) == 1:
            frames = VALID[:10] + [VALID[11], VALID[10], TWIN_12] + VALID[12:20]
            for frame in frames:
                ws.send(frame)
            ws.close_socket()  # abrupt: no close frame
            return
        first = (cursor - DAY_START) // 1_000_000
        frames = VALID[first - 5 : 26] + [TWIN_25] + VALID[26:] + [LATER]
        with contextlib.suppress(ConnectionClosed):
            for frame in frames:
                ws.send(frame)
            ws.recv()


def test_stream_keeps_out_of_order_events_and_never_trades_a_valid_event_for_a_twin() -> None:
    fake = ScriptedJetstream()
    stats = StreamStats()
    with websocket_server(fake.handler) as url:
        lines = list(stream_window(url, DAY_START, NEXT_DAY, WANTED, backoff=0, stats=stats))
    valid = [line for line in lines if line in VALID]
    assert sorted(valid) == sorted(VALID)  # every valid event, once
    assert valid.index(VALID[11]) < valid.index(VALID[10])  # kept in arrival order
    assert [line for line in lines if line not in VALID] == [TWIN_12, TWIN_25]
    assert fake.cursors == [DAY_START, DAY_START + 19_000_000]
    assert stats.reconnects == 1 and stats.connections == 2
    assert stats.replays_dropped == 6  # events 14..19 replayed from before the cursor
    assert stats.malformed_events == 2 and stats.out_of_order == 1


@pytest.mark.pipeline
def test_live_run_quarantines_twins_and_reports_what_the_stream_did(tmp_path: Path) -> None:
    with websocket_server(ScriptedJetstream().handler) as url:
        source = EventSourceResource(kind="jetstream-live", url=url, backoff=0.0)
        result, instance = materialize_raw(tmp_path, source, DAY)
    assert result.success
    lake = Lake(str(tmp_path))
    kept = pq.read_table(lake.day_file("raw_events", DAY), columns=["raw"]).column("raw").to_pylist()
    assert sorted(kept) == sorted(VALID)
    quarantine = pq.read_table(lake.day_file("raw_events_quarantine", DAY))
    reasons = quarantine.column("reason").to_pylist()
    assert len(reasons) == 2 and set(reasons) == {"missing or non-integer time_us"}
    metadata = raw_metadata(result)
    assert metadata["events"] == 40 and metadata["quarantined"] == 2
    assert metadata["duplicates_dropped"] == 6 and metadata["source_replays_dropped"] == 6
    stream = metadata["source"]["stream"]
    assert (stream["reconnects"], stream["replays_dropped"], stream["malformed_events"]) == (1, 6, 2)
    assert "reconnects 1" in metadata["summary"] and "replays dropped 6" in metadata["summary"]
    assert "replays dropped 6" in run_log(instance, result)
    assert "did:plc:" not in metadata["summary"] + run_log(instance, result)


def test_retry_settings_come_from_the_environment_and_the_cli(monkeypatch) -> None:
    monkeypatch.setenv("BLUEPRINT_SOURCE_IDLE_TIMEOUT", "5.5")
    monkeypatch.setenv("BLUEPRINT_SOURCE_MAX_RETRIES", "3")
    monkeypatch.setenv("BLUEPRINT_SOURCE_BACKOFF", "0.25")
    source = build_resources(Settings.from_env(data_dir="unused"))["source"]
    assert (source.idle_timeout, source.max_retries, source.backoff) == (5.5, 3, 0.25)
    flags = {"idle_timeout": 2.0, "max_retries": None, "backoff": 4.0}  # what `blueprint run` passes
    source = build_resources(Settings.from_env(data_dir="unused", **flags))["source"]
    assert (source.idle_timeout, source.max_retries, source.backoff) == (2.0, 3, 4.0)
