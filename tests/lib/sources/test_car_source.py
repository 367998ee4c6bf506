"""CAR backfill: the real tiny.car sample, corruption, an MST built by hand, and fetch_repo over local HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from support.local_servers import TINY, XrpcHandler, http_server, needs_tiny

from blueprint_assets.lib.sources.car_source import (
    CorruptCarError,
    RepoNotFoundError,
    SourceError,
    fetch_repo,
    iter_car_events,
    parse_created_at,
    to_json_compatible,
    walk_mst,
)

KNOWN_DID = "did:plc:knownknownknownknown0000"
MISSING_DID = "did:plc:missingmissingmissing000"
FLAKY_DID = "did:plc:flakyflakyflakyflaky0000"


@needs_tiny
def test_tiny_car_yields_creation_events() -> None:
    events, stats = iter_car_events(TINY.read_bytes())
    by_collection: dict[str, int] = {}
    for e in events:
        by_collection[e["commit"]["collection"]] = by_collection.get(e["commit"]["collection"], 0) + 1
    assert by_collection == {
        "app.bsky.feed.post": 3,
        "app.bsky.feed.like": 2,
        "app.bsky.graph.follow": 1,
        "app.bsky.graph.block": 1,
    }
    assert stats["events"] == by_collection
    assert stats["ignored"] == {"app.bsky.actor.profile": 1}
    assert stats["records"] == 8
    # One account, one commit rev, Jetstream shape, JSON-serialisable, time-ordered.
    assert len({e["did"] for e in events}) == 1 and events[0]["did"].startswith("did:plc:")
    assert len({e["commit"]["rev"] for e in events}) == 1
    for e in events:
        assert set(e) == {"did", "time_us", "kind", "commit"} and e["kind"] == "commit"
        assert set(e["commit"]) == {"rev", "operation", "collection", "rkey", "record", "cid"}
        assert e["commit"]["operation"] == "create" and e["commit"]["cid"].startswith("bafyrei")
        assert e["time_us"] == parse_created_at(e["commit"]["record"]["createdAt"])
        assert e["commit"]["record"]["$type"] == e["commit"]["collection"]
        json.dumps(e)
    assert [e["time_us"] for e in events] == sorted(e["time_us"] for e in events)
    # A reply keeps its strong refs; a blob ref becomes Jetstream's {"$link": ...}.
    posts = [e["commit"]["record"] for e in events if e["commit"]["collection"] == "app.bsky.feed.post"]
    assert sum("reply" in p for p in posts) == 1
    thumbs = [p["embed"]["external"]["thumb"] for p in posts if "embed" in p]
    assert thumbs and thumbs[0]["ref"]["$link"].startswith("bafkrei")


@needs_tiny
@pytest.mark.parametrize("keep", [0.5, 0.97])
def test_truncated_car_is_corrupt(tmp_path: Path, keep: float) -> None:
    data = TINY.read_bytes()
    cut = tmp_path / "cut.car"
    cut.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(CorruptCarError, match="^corrupt CAR file: "):
        iter_car_events(cut.read_bytes())


def test_garbage_is_corrupt() -> None:
    with pytest.raises(CorruptCarError, match="corrupt CAR file"):
        iter_car_events(b"\x00not a car at all")


def test_walk_mst_multilevel_prefix_compression() -> None:
    # root: l -> A, entries [post/3b (t -> B)]; A: [like/1, like/2 (prefix shared)]; B: [post/3c]
    blocks = {
        "root": {"l": "A", "e": [{"p": 0, "k": b"app.bsky.feed.post/3b", "v": "r3", "t": "B"}]},
        "A": {
            "l": None,
            "e": [
                {"p": 0, "k": b"app.bsky.feed.like/1", "v": "r1", "t": None},
                {"p": 19, "k": b"2", "v": "r2", "t": None},
            ],
        },
        # prefix compression is per node: the first entry of a node always has p = 0
        "B": {"l": None, "e": [{"p": 0, "k": b"app.bsky.feed.post/3c", "v": "r4", "t": None}]},
    }
    assert list(walk_mst(blocks, "root")) == [
        ("app.bsky.feed.like/1", "r1"),
        ("app.bsky.feed.like/2", "r2"),
        ("app.bsky.feed.post/3b", "r3"),
        ("app.bsky.feed.post/3c", "r4"),
    ]
    del blocks["B"]
    with pytest.raises(CorruptCarError, match="MST node"):
        list(walk_mst(blocks, "root"))


def test_parse_created_at_variants() -> None:
    assert parse_created_at("2025-03-01T00:00:00Z") == 1_740_787_200_000_000
    assert parse_created_at("2025-03-01T00:00:00.123456789Z") == 1_740_787_200_123_456
    assert parse_created_at("2025-03-01T01:00:00.5+01:00") == 1_740_787_200_500_000
    assert parse_created_at("2025-03-01T00:00:00") == 1_740_787_200_000_000
    assert parse_created_at("yesterday") is None and parse_created_at(None) is None


def test_to_json_compatible_bytes_and_links() -> None:
    assert to_json_compatible({"a": [b"\x00\x01"]}) == {"a": [{"$bytes": "AAE"}]}


class RepoHost(XrpcHandler):
    car: bytes = b""
    calls: list[str] = []
    flaky_failed = False

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        parts = urlsplit(self.path)
        did = parse_qs(parts.query).get("did", [""])[0]
        type(self).calls.append(did)
        if parts.path != "/xrpc/com.atproto.sync.getRepo":
            self.send_json(404, {"error": "MethodNotImplemented"})
        elif did == KNOWN_DID or (did == FLAKY_DID and type(self).flaky_failed):
            self.send_body(200, self.car, "application/vnd.ipld.car")
        elif did == FLAKY_DID:
            type(self).flaky_failed = True
            self.send_json(503, {"error": "Unavailable"})
        else:
            self.send_repo_not_found(did)


@pytest.fixture()
def repo_host() -> Iterator[str]:
    RepoHost.car = TINY.read_bytes()
    RepoHost.calls = []
    RepoHost.flaky_failed = False
    with http_server(RepoHost) as url:
        yield url


@needs_tiny
def test_fetch_repo_known_unknown_and_flaky(repo_host: str) -> None:
    data = fetch_repo(KNOWN_DID, repo_host)
    assert data == TINY.read_bytes()
    events, _ = iter_car_events(data)
    assert len(events) == 7

    with pytest.raises(RepoNotFoundError, match="RepoNotFound") as info:
        fetch_repo(MISSING_DID, repo_host)
    assert MISSING_DID not in str(info.value) and "127.0.0.1" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__

    sleeps: list[float] = []
    assert fetch_repo(FLAKY_DID, repo_host, sleep=sleeps.append, backoff=0.25) == data
    assert sleeps == [0.25]
    assert RepoHost.calls == [KNOWN_DID, MISSING_DID, FLAKY_DID, FLAKY_DID]


def test_fetch_repo_unreachable_host_raises() -> None:
    sleeps: list[float] = []
    with pytest.raises(SourceError, match="after 3 attempts") as info:
        fetch_repo(KNOWN_DID, "http://127.0.0.1:9", max_retries=2, sleep=sleeps.append, label="account #3")
    assert "account #3" in str(info.value) and KNOWN_DID not in str(info.value)
    assert sleeps == [1.0, 2.0]
