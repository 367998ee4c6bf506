"""Local stand-ins for Bluesky endpoints, shared by the source tests: an XRPC host base handler (login,
JSON replies, getRepo's not-found error), server context managers for HTTP and websocket handlers on
127.0.0.1, the collector credentials with their fake session tokens, and the tiny.car sample."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from websockets.sync.server import ServerConnection, serve

from support.pipeline import samples_dir

TINY = samples_dir() / "tiny.car"
needs_tiny = pytest.mark.skipif(not TINY.exists(), reason="tiny.car sample absent (set BLUEPRINT_SAMPLES)")

# The collector account the author-feed source logs in with.
HANDLE = "collector.test"
PASSWORD = "abcd-efgh-ijkl-mnop"
COLLECTOR_DID = "did:plc:collector"


def fake_jwt(payload: dict) -> str:
    """An unsigned JWT: the atproto client only decodes the payload (scope, exp) of session tokens."""
    enc = [
        base64.urlsafe_b64encode(json.dumps(p).encode()).rstrip(b"=").decode()
        for p in ({"alg": "ES256K"}, payload)
    ]
    return f"{enc[0]}.{enc[1]}.c2ln"


ACCESS = fake_jwt({"scope": "com.atproto.appPass", "sub": COLLECTOR_DID, "exp": int(time.time()) + 7200})
REFRESH = fake_jwt({"scope": "com.atproto.refresh", "sub": COLLECTOR_DID, "exp": int(time.time()) + 86400})


def feed_post(did: str, rkey: str, created: str, handle: str = "someone.test", **extra: object) -> dict:
    """A getAuthorFeed post view of `did`'s post `rkey`; `extra` goes into the record (reply, embed)."""
    record = {"$type": "app.bsky.feed.post", "text": f"post {rkey}", "langs": ["en"], "createdAt": created}
    return {
        "uri": f"at://{did}/app.bsky.feed.post/{rkey}",
        "cid": f"bafyrei{rkey}",
        "author": {"did": did, "handle": handle},
        "record": {**record, **extra},
        "indexedAt": created,
    }


def repost_reason(did: str, handle: str, indexed_at: str, rkey: str = "", cid: str = "") -> dict:
    """A feed item's reasonRepost by `did`; with `rkey` it names the repost record (as the AppView does)."""
    reason: dict = {"$type": "app.bsky.feed.defs#reasonRepost", "by": {"did": did, "handle": handle}}
    if rkey:
        reason |= {"uri": f"at://{did}/app.bsky.feed.repost/{rkey}", "cid": cid}
    return {**reason, "indexedAt": indexed_at}


class XrpcHandler(BaseHTTPRequestHandler):
    """A quiet XRPC host: createSession accepts HANDLE/PASSWORD; subclasses add `do_GET`."""

    logins = 0  # createSession calls, counted on the subclass

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def send_body(
        self, status: int, body: bytes, ctype: str = "application/json", headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        self.send_body(status, json.dumps(body).encode(), headers=headers)

    def send_repo_not_found(self, did: str) -> None:
        """getRepo's reply for an unknown account (its message names the DID, as the real relay's does)."""
        self.send_json(400, {"error": "RepoNotFound", "message": f"Could not find repo for DID: {did}"})

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/xrpc/com.atproto.server.createSession":
            return self.send_json(404, {"error": "MethodNotImplemented"})
        type(self).logins += 1
        if body.get("identifier") != HANDLE or body.get("password") != PASSWORD:
            return self.send_json(
                401, {"error": "AuthenticationRequired", "message": "Invalid identifier or password"}
            )
        self.send_json(
            200, {"accessJwt": ACCESS, "refreshJwt": REFRESH, "handle": HANDLE, "did": COLLECTOR_DID}
        )


@contextlib.contextmanager
def _serve_in_thread(server: Any, url: str) -> Iterator[str]:
    """Run `server.serve_forever()` in a daemon thread for the block (http.server's and websockets' servers
    both stop with `shutdown()`); yields `url`."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        thread.join(timeout=5)


@contextlib.contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on a free port of 127.0.0.1; yields the base URL."""
    # The server's own context closes its socket once the thread has stopped.
    with (
        ThreadingHTTPServer(("127.0.0.1", 0), handler) as server,
        _serve_in_thread(server, f"http://127.0.0.1:{server.server_address[1]}") as url,
    ):
        yield url


@contextlib.contextmanager
def websocket_server(handler: Callable[[ServerConnection], None]) -> Iterator[str]:
    """Serve the websocket `handler` on a free port of 127.0.0.1; yields a Jetstream-style subscribe URL."""
    server = serve(handler, "127.0.0.1", 0)
    with _serve_in_thread(server, f"ws://127.0.0.1:{server.socket.getsockname()[1]}/subscribe") as url:
        yield url
