"""stream_window against a local Jetstream-like websocket server that drops the connection twice."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from websockets.sync.server import ServerConnection, serve

from blueprint_assets.lib.sources.jetstream_live import SourceError, build_url, stream_window

DAY_START = 1_740_787_200_000_000  # 2025-03-01T00:00:00Z
DAY_END = DAY_START + 86_400_000_000
WANTED = ["app.bsky.feed.post", "app.bsky.feed.like", "app.bsky.graph.follow"]


def make_events() -> list[dict]:
    """2,000 in-window events (pairs share a time_us), 10 before the window, 20 after, some unwanted."""
    collections = WANTED + ["app.bsky.actor.profile"]
    times = [DAY_START - 10_000_000 * (10 - i) for i in range(10)]
    times += [DAY_START + (i // 2) * 86_400_000 for i in range(2000)]
    times += [DAY_END + 5_000_000 * i for i in range(20)]
    events = []
    for i, t in enumerate(times):
        events.append(
            {
                "did": f"did:plc:test{i % 37:04d}",
                "time_us": t,
                "kind": "commit",
                "commit": {
                    "rev": f"3lrev{i:06d}",
                    "operation": "create",
                    "collection": collections[i % len(collections)],
                    "rkey": f"3lkey{i:06d}",
                    "record": {"text": f"event {i}"},
                    "cid": f"bafytest{i:06d}",
                },
            }
        )
    return events


class FlakyJetstream:
    """Honours cursor and wantedCollections; connection 1 is cut abruptly, connection 2 sends half a frame."""

    def __init__(self, events: list[dict]) -> None:
        self.events = events
        self.connections: list[dict] = []
        self.lock = threading.Lock()

    def _select(self, path: str) -> list[dict]:
        query = parse_qs(urlsplit(path).query)
        cursor = int(query["cursor"][0])
        wanted = set(query.get("wantedCollections", []))
        return [e for e in self.events if e["time_us"] >= cursor and e["commit"]["collection"] in wanted]

    @staticmethod
    def _cut_inside_pair(selected: list[dict], at_least: int) -> int:
        """Index just after the first event of a same-time pair, so the replay must be deduplicated."""
        i = at_least
        while selected[i]["time_us"] != selected[i + 1]["time_us"]:
            i += 1
        return i + 1

    def handler(self, ws: ServerConnection) -> None:
        selected = self._select(ws.request.path)
        with self.lock:
            n = len(self.connections)
            self.connections.append({"cursor": int(parse_qs(urlsplit(ws.request.path).query)["cursor"][0])})
        if n == 0:
            cut = self._cut_inside_pair(selected, 600)
            for e in selected[:cut]:
                ws.send(json.dumps(e))
            ws.close_socket()  # abrupt: no close frame
            return
        if n == 1:
            cut = self._cut_inside_pair(selected, 500)
            for e in selected[:cut]:
                ws.send(json.dumps(e))
            line = json.dumps(selected[cut])
            ws.send(line[: len(line) // 2])  # truncated frame
            ws.close()
            return
        for e in selected:
            ws.send(json.dumps(e))
        with contextlib.suppress(Exception):
            ws.recv()  # idle until the client hangs up, like a live stream with nothing new


@pytest.fixture()
def server() -> Iterator[tuple[str, FlakyJetstream]]:
    fake = FlakyJetstream(make_events())
    srv = serve(fake.handler, "127.0.0.1", 0)
    port = srv.socket.getsockname()[1]
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"ws://127.0.0.1:{port}/subscribe", fake
    srv.shutdown()
    thread.join(timeout=5)


def test_window_exact_despite_two_drops(server: tuple[str, FlakyJetstream]) -> None:
    url, fake = server
    sleeps: list[float] = []
    progress: list[tuple[int, int]] = []
    lines = list(
        stream_window(
            url,
            DAY_START,
            DAY_END,
            WANTED,
            backoff=0.5,
            sleep=sleeps.append,
            on_progress=lambda t, n: progress.append((t, n)),
            progress_every=500,
        )
    )
    expected = [
        json.dumps(e)
        for e in fake.events
        if DAY_START <= e["time_us"] < DAY_END and e["commit"]["collection"] in WANTED
    ]
    assert len(expected) == 1500
    assert lines == expected
    assert len(set(lines)) == len(lines)
    assert len(fake.connections) == 3
    # Each reconnect resumed from the time_us of the last yielded event (inclusive replay).
    yielded_times = [json.loads(x)["time_us"] for x in lines]
    assert fake.connections[0]["cursor"] == DAY_START
    assert fake.connections[1]["cursor"] in yielded_times
    assert fake.connections[2]["cursor"] > fake.connections[1]["cursor"]
    assert sleeps == [0.5, 0.5]  # progress before each drop keeps the backoff at its first step
    assert progress[-1] == (yielded_times[-1], 1500)
    assert [n for _, n in progress[:3]] == [500, 1000, 1500]


def test_unreachable_endpoint_raises_source_error() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there any more
    sleeps: list[float] = []
    with pytest.raises(SourceError, match="failed 4 times") as info:
        list(
            stream_window(
                f"ws://127.0.0.1:{port}",
                DAY_START,
                DAY_END,
                WANTED,
                max_retries=3,
                backoff=1,
                sleep=sleeps.append,
            )
        )
    assert sleeps == [1, 2, 4]
    assert "cannot connect" in str(info.value)


def test_build_url_repeats_collections_and_sets_cursor() -> None:
    url = build_url("wss://jetstream2.us-east.bsky.network/subscribe", ["a.b.c", "d.e.f"], 123)
    query = parse_qs(urlsplit(url).query)
    assert query == {"wantedCollections": ["a.b.c", "d.e.f"], "cursor": ["123"]}
    assert urlsplit(url).path == "/subscribe"
