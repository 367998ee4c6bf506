"""Author-feed backfill against a local XRPC server (createSession + paged getAuthorFeed with 429 and 500)."""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from support.local_servers import ACCESS, HANDLE, PASSWORD, XrpcHandler, feed_post, http_server, repost_reason

from blueprint_assets.lib.sources.author_feed import (
    AuthError,
    BskySession,
    Retry,
    iter_author_feed_events,
    map_feed_item,
    synthetic_tid,
)

ALICE = "did:plc:alicealicealicealice0000"
BOB = "did:plc:bobbobbobbobbobbobbob0000"
CAROL = "did:plc:carolcarolcarolcarol0000"


def _ref(did: str, rkey: str) -> dict:
    return {"uri": f"at://{did}/app.bsky.feed.post/{rkey}", "cid": f"bafyrei{rkey}"}


# Alice's feed, newest first, over 3 pages. p1's last item repeats at the top of p2 (pagination shift).
ALICE_PAGES = [
    [
        {"post": feed_post(ALICE, "3la9", "2025-03-03T10:00:00.000Z")},
        {
            "post": feed_post(BOB, "3lb1", "2025-03-01T08:00:00.000Z"),
            "reason": repost_reason(ALICE, "alice.test", "2025-03-03T09:00:00.000Z"),
        },
        {
            "post": feed_post(
                ALICE,
                "3la8",
                "2025-03-03T08:00:00.000Z",
                reply={"root": _ref(BOB, "3lb1"), "parent": _ref(BOB, "3lb1")},
            )
        },
    ],
    [
        {
            "post": feed_post(
                ALICE,
                "3la8",
                "2025-03-03T08:00:00.000Z",
                reply={"root": _ref(BOB, "3lb1"), "parent": _ref(BOB, "3lb1")},
            )
        },
        {
            "post": feed_post(
                ALICE,
                "3la7",
                "2025-03-02T12:00:00.000Z",
                embed={"$type": "app.bsky.embed.record", "record": _ref(CAROL, "3lc1")},
            )
        },
    ],
    [
        {"post": feed_post(ALICE, "3la6", "2025-03-02T06:00:00.000Z")},
        {
            "post": feed_post(CAROL, "3lc1", "2025-02-27T06:00:00.000Z"),
            "reason": repost_reason(
                ALICE, "alice.test", "2025-03-01T20:00:00.000Z", "3lrp1", "bafyreirepost1"
            ),
        },
    ],
]
BOB_PAGES = [
    [
        {
            "post": feed_post(BOB, "3lb2", "2025-03-02T01:00:00.000Z"),
            "reason": {"$type": "app.bsky.feed.defs#reasonPin"},
        },
        {"post": feed_post(BOB, "3lb2", "2025-03-02T01:00:00.000Z")},
        {"post": feed_post(BOB, "3lb1", "2025-03-01T08:00:00.000Z")},
    ]
]


class Xrpc(XrpcHandler):
    feed_calls: list[tuple[str, str | None]] = []
    failed: set[str] = set()

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        parts = urlsplit(self.path)
        if parts.path != "/xrpc/app.bsky.feed.getAuthorFeed":
            return self.send_json(404, {"error": "MethodNotImplemented"})
        if self.headers.get("Authorization") != f"Bearer {ACCESS}":
            return self.send_json(401, {"error": "AuthMissing"})
        query = parse_qs(parts.query)
        actor, cursor = query["actor"][0], query.get("cursor", [None])[0]
        type(self).feed_calls.append((actor, cursor))
        pages = {ALICE: ALICE_PAGES, BOB: BOB_PAGES}.get(actor)
        if pages is None:
            return self.send_json(400, {"error": "InvalidRequest", "message": f"Profile not found: {actor}"})
        page_no = int(cursor or 0)
        if actor == ALICE and page_no == 1 and "429" not in self.failed:
            self.failed.add("429")
            reset = str(int(time.time()) + 1)
            return self.send_json(
                429, {"error": "RateLimitExceeded"}, {"ratelimit-reset": reset, "ratelimit-remaining": "0"}
            )
        if actor == ALICE and page_no == 2 and "500" not in self.failed:
            self.failed.add("500")
            return self.send_json(500, {"error": "InternalServerError"})
        body: dict = {"feed": pages[page_no]}
        if page_no + 1 < len(pages):
            body["cursor"] = str(page_no + 1)
        self.send_json(200, body)


@pytest.fixture()
def xrpc() -> Iterator[str]:
    Xrpc.logins, Xrpc.feed_calls, Xrpc.failed = 0, [], set()
    with http_server(Xrpc) as url:
        yield url


def _run(base: str, tmp_path: Path, sleeps: list[float], stats: dict) -> list[dict]:
    session = BskySession(tmp_path / "sessions", base_url=base, handle=HANDLE, password=PASSWORD)
    retry = Retry(backoff=0.5, sleep=sleeps.append)
    return list(iter_author_feed_events(session, [ALICE, BOB, "did:plc:nobody"], retry=retry, stats=stats))


def test_feed_mapped_with_retries_and_session_reuse(xrpc: str, tmp_path: Path) -> None:
    sleeps: list[float] = []
    stats: dict = {}
    events = _run(xrpc, tmp_path, sleeps, stats)

    keys = [(e["did"], e["commit"]["collection"], e["commit"]["rkey"]) for e in events]
    assert len(keys) == len(set(keys))
    alice = [e for e in events if e["did"] == ALICE]
    assert [(e["commit"]["collection"], e["commit"]["rkey"]) for e in alice] == [
        ("app.bsky.feed.repost", "3lrp1"),
        ("app.bsky.feed.post", "3la6"),
        ("app.bsky.feed.post", "3la7"),
        ("app.bsky.feed.post", "3la8"),
        (
            "app.bsky.feed.repost",
            synthetic_tid(alice[4]["time_us"], f"{ALICE}|at://{BOB}/app.bsky.feed.post/3lb1"),
        ),
        ("app.bsky.feed.post", "3la9"),
    ]
    assert [e["time_us"] for e in alice] == sorted(e["time_us"] for e in alice)
    by_rkey = {e["commit"]["rkey"]: e for e in alice}
    assert by_rkey["3la8"]["commit"]["record"]["reply"]["parent"]["uri"].endswith("/3lb1")  # reply
    assert by_rkey["3la7"]["commit"]["record"]["embed"]["record"]["uri"].endswith("/3lc1")  # quote
    repost = by_rkey["3lrp1"]
    assert repost["commit"]["record"]["subject"]["uri"] == f"at://{CAROL}/app.bsky.feed.post/3lc1"
    assert repost["commit"]["cid"] == "bafyreirepost1"
    assert repost["time_us"] == 1_740_859_200_000_000  # reason.indexedAt 2025-03-01T20:00Z, not the post's
    assert alice[4]["commit"]["record"]["createdAt"] == "2025-03-03T09:00:00.000Z"
    # Bob: the pinned duplicate is skipped, both posts kept.
    assert sorted(e["commit"]["rkey"] for e in events if e["did"] == BOB) == ["3lb1", "3lb2"]
    for e in events:
        assert e["kind"] == "commit" and e["commit"]["operation"] == "create"
        json.dumps(e)

    assert len(events) == 8
    assert stats["duplicates"] == 1 and stats["unavailable"] == 1 and stats["skipped"] == 1
    assert stats["events"] == {"app.bsky.feed.post": 6, "app.bsky.feed.repost": 2}
    # 429 waited until ratelimit-reset (about a second); the 500 used the first backoff step.
    assert len(sleeps) == 2 and 0 < sleeps[0] <= 2.1 and sleeps[1] == 0.5
    assert Xrpc.feed_calls.count((ALICE, "1")) == 2 and Xrpc.feed_calls.count((ALICE, "2")) == 2

    session_files = list((tmp_path / "sessions").iterdir())
    assert len(session_files) == 1 and HANDLE not in session_files[0].name
    assert stat.S_IMODE(session_files[0].stat().st_mode) == 0o600
    assert Xrpc.logins == 1

    # Second run, new objects, same session dir: the stored session is re-used, no second login.
    again = _run(xrpc, tmp_path, [], {})
    assert again == events
    assert Xrpc.logins == 1


def test_bad_credentials_clear_error(xrpc: str, tmp_path: Path) -> None:
    session = BskySession(tmp_path, base_url=xrpc, handle=HANDLE, password="wrong")
    with pytest.raises(AuthError, match="login rejected") as info:
        list(iter_author_feed_events(session, [ALICE]))
    assert HANDLE not in str(info.value) and "wrong" not in str(info.value)
    assert not list(tmp_path.iterdir())


def test_missing_credentials_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("BLUEPRINT_BSKY_HANDLE", raising=False)
    monkeypatch.delenv("BLUEPRINT_BSKY_APP_PASSWORD", raising=False)
    with pytest.raises(AuthError, match="BLUEPRINT_BSKY_APP_PASSWORD"):
        BskySession(tmp_path, base_url="http://127.0.0.1:9").client()


def test_unavailable_actor_can_raise(xrpc: str, tmp_path: Path) -> None:
    session = BskySession(tmp_path, base_url=xrpc, handle=HANDLE, password=PASSWORD)
    with pytest.raises(Exception, match=r"account #2 is unavailable") as info:
        list(iter_author_feed_events(session, [BOB, "did:plc:nobody"], skip_unavailable=False))
    assert "nobody" not in str(info.value)


def test_map_feed_item_ignores_non_posts() -> None:
    assert map_feed_item({"post": {"uri": "at://did:plc:x/app.bsky.feed.generator/a", "record": {}}}) is None
    assert map_feed_item({}) is None
    assert len(synthetic_tid(1_740_787_200_000_000, "x")) == 13
