"""Backfill of chosen accounts through `app.bsky.feed.getAuthorFeed` (AppView), as Jetstream-shaped creates.

Posts, replies and quotes come from each feed item's post record (time_us = record `createdAt`, falling
back to the post's `indexedAt`); items with a repost reason become `app.bsky.feed.repost` creates by the
feed owner (time_us = reason `indexedAt`). Like a CAR export this shows current state only: deleted posts
are absent, edits show their latest text. The feed does not expose commit revisions, so `rev` is the
record's rkey (a TID stamped at creation); a repost whose record URI the AppView omits gets a deterministic
TID-shaped rkey derived from its time and subject.

Login uses an app password from BLUEPRINT_BSKY_HANDLE / BLUEPRINT_BSKY_APP_PASSWORD; the session string is
kept in a 0600 file and re-used (Bluesky limits createSession to 30 per 5 minutes / 300 per day).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from atproto_client import Client, models
from atproto_client.client.session import Session, SessionEvent
from atproto_client.exceptions import (
    BadRequestError,
    NetworkError,
    RateLimitExceededError,
    RequestErrorBase,
    RequestException,
    UnauthorizedError,
)
from atproto_core.exceptions import AtProtocolError

from blueprint_assets.lib.sources.car_source import parse_created_at
from blueprint_assets.lib.sources.jetstream_live import SourceError

HANDLE_ENV = "BLUEPRINT_BSKY_HANDLE"
PASSWORD_ENV = "BLUEPRINT_BSKY_APP_PASSWORD"
REPOST_REASON = "app.bsky.feed.defs#reasonRepost"
PIN_REASON = "app.bsky.feed.defs#reasonPin"
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
# Errors that mean "this account cannot be read", not "the request failed".
_ACTOR_UNAVAILABLE = {"InvalidRequest", "BlockedActor", "BlockedByActor", "AccountTakedown", "NotFound"}
_TOKEN_ERRORS = {"ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing"}


class AuthError(SourceError):
    """Login failed or no credentials were configured."""


def _xrpc_error(exc: RequestErrorBase) -> tuple[int | None, str | None]:
    response = exc.response
    if response is None:
        return None, None
    name = getattr(response.content, "error", None)
    return response.status_code, name if isinstance(name, str) else None


def _write_private(path: Path, text: str) -> None:
    """Atomically write a credential file readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)  # O_CREAT's mode does not apply if the file already existed
    os.replace(tmp, path)


@dataclass
class BskySession:
    """Lazily logged-in atproto `Client` whose session string persists in `session_dir`."""

    session_dir: Path
    base_url: str = "https://bsky.social"
    handle: str | None = None
    password: str | None = None
    client_factory: Callable[..., Client] = Client
    logins: int = 0  # createSession calls made by this object (the scarce, rate-limited resource)
    _client: Client | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.session_dir = Path(self.session_dir)
        # The login comes from the caller (Settings reads BLUEPRINT_BSKY_*); this module reads no environment.
        self.handle = self.handle or None
        self.password = self.password or None

    @property
    def session_file(self) -> Path:
        # Named by a hash: the file name must not reveal the handle.
        digest = hashlib.sha256(f"{self.base_url}|{self.handle or ''}".encode()).hexdigest()[:16]
        return self.session_dir / f"bsky-session-{digest}.txt"

    def client(self) -> Client:
        """The logged-in client; imports the stored session if there is one, else logs in."""
        if self._client is None:
            self._client = self._new_client(reuse=True)
        return self._client

    def relogin(self) -> Client:
        """Drop the stored session (expired or revoked) and log in with the app password."""
        self.session_file.unlink(missing_ok=True)
        self._client = self._new_client(reuse=False)
        return self._client

    def _new_client(self, reuse: bool) -> Client:
        client = self.client_factory(base_url=self.base_url)
        path = self.session_file

        def persist(event: SessionEvent, session: Session) -> None:
            if event in (SessionEvent.CREATE, SessionEvent.REFRESH):
                _write_private(path, session.export())

        client.on_session_change(persist)
        if reuse and path.exists():
            try:
                client.login(session_string=path.read_text().strip(), fetch_bsky_profile=False)
                return client
            except (ValueError, AtProtocolError):
                path.unlink(missing_ok=True)  # unreadable session file: fall back to a fresh login
        if not self.handle or not self.password:
            raise AuthError(f"no Bluesky credentials: set {HANDLE_ENV} and {PASSWORD_ENV} (an app password)")
        self.logins += 1
        try:
            client.login(self.handle, self.password, fetch_bsky_profile=False)
        except RateLimitExceededError:
            raise AuthError("Bluesky login is rate-limited; wait, and keep the session file") from None
        except (UnauthorizedError, BadRequestError):
            raise AuthError(
                f"Bluesky login rejected: check {HANDLE_ENV} and {PASSWORD_ENV} (use an app password)"
            ) from None
        except RequestErrorBase as exc:
            status, _ = _xrpc_error(exc)
            raise AuthError(f"Bluesky login failed (HTTP {status or type(exc).__name__})") from None
        return client


@dataclass
class Retry:
    """Backoff policy for 429 (honours `ratelimit-reset`, epoch seconds), 5xx and transport errors."""

    max_retries: int = 6
    backoff: float = 2.0
    max_wait: float = 900.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time

    def wait_for(self, exc: Exception, attempt: int) -> float | None:
        """Seconds to wait before retry `attempt` (1-based), or None if `exc` is not retryable."""
        exponential = self.backoff * 2 ** (attempt - 1)
        if isinstance(exc, RateLimitExceededError):
            reset = exc.reset_at
            if reset is not None:
                return min(self.max_wait, max(0.0, reset.timestamp() - self.clock()) + 0.05)
            return min(self.max_wait, exc.retry_after or exponential)
        if isinstance(exc, NetworkError):  # transport failure, 502, 409, 413
            return min(self.max_wait, exponential)
        if isinstance(exc, RequestException) and exc.response is not None and exc.response.status_code >= 500:
            return min(self.max_wait, exponential)
        return None


def _split_uri(uri: str) -> tuple[str, str, str]:
    """at://did/collection/rkey -> (did, collection, rkey)."""
    parts = uri.removeprefix("at://").split("/")
    if len(parts) != 3:
        raise ValueError("not a record URI")
    return parts[0], parts[1], parts[2]


def synthetic_tid(time_us: int, salt: str) -> str:
    """A TID-shaped key (13 base32-sortable chars) from a time and a salt, stable across runs."""
    clock_id = int(hashlib.sha256(salt.encode()).hexdigest(), 16) % 1024
    value = (time_us << 10) | clock_id
    return "".join(_TID_ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def _create(did: str, time_us: int, collection: str, rkey: str, record: dict, cid: str) -> dict:
    return {
        "did": did,
        "time_us": time_us,
        "kind": "commit",
        "commit": {
            "rev": rkey,
            "operation": "create",
            "collection": collection,
            "rkey": rkey,
            "record": record,
            "cid": cid,
        },
    }


def map_feed_item(item: dict) -> dict | None:
    """One `FeedViewPost` (raw JSON) -> a Jetstream-shaped create, or None for pins and unusable items."""
    post = item.get("post") or {}
    reason = item.get("reason") or {}
    reason_type = reason.get("$type")
    if reason_type == PIN_REASON:
        return None  # a pinned post is repeated at the top of the feed; the real item comes later
    if reason_type == REPOST_REASON:
        owner = (reason.get("by") or {}).get("did")
        time_us = parse_created_at(reason.get("indexedAt"))
        if not owner or time_us is None or not post.get("uri"):
            return None
        try:
            _, _, rkey = _split_uri(reason["uri"]) if reason.get("uri") else ("", "", "")
        except ValueError:
            rkey = ""
        rkey = rkey or synthetic_tid(time_us, f"{owner}|{post['uri']}")
        record = {
            "$type": "app.bsky.feed.repost",
            "subject": {"cid": post.get("cid", ""), "uri": post["uri"]},
            "createdAt": reason["indexedAt"],
        }
        return _create(owner, time_us, "app.bsky.feed.repost", rkey, record, reason.get("cid") or "")
    record = post.get("record")
    try:
        did, collection, rkey = _split_uri(post.get("uri", ""))
    except ValueError:
        return None
    if not isinstance(record, dict) or collection != "app.bsky.feed.post":
        return None
    time_us = parse_created_at(record.get("createdAt"))
    time_us = time_us if time_us is not None else parse_created_at(post.get("indexedAt"))
    if time_us is None:
        return None
    return _create(did, time_us, collection, rkey, record, post.get("cid", ""))


def _item_time(item: dict) -> int | None:
    reason = item.get("reason") or {}
    return parse_created_at(reason.get("indexedAt") or (item.get("post") or {}).get("indexedAt"))


def _fetch_page(
    session: BskySession | Client, actor: str, cursor: str | None, limit: int, retry: Retry, who: str
) -> dict:
    """One getAuthorFeed page as raw JSON, with retries and one re-login on an expired session."""
    relogged = False
    attempt = 0
    params = models.AppBskyFeedGetAuthorFeed.Params(
        actor=actor, cursor=cursor, limit=limit, filter="posts_with_replies"
    )
    while True:
        client = session.client() if isinstance(session, BskySession) else session
        try:
            # invoke_query (the call behind client.get_author_feed) returns the AppView's JSON as is,
            # so records keep the exact atproto JSON form ($type, {"$link"} blob refs) Jetstream uses.
            response = client.invoke_query("app.bsky.feed.getAuthorFeed", params=params)
        except (UnauthorizedError, BadRequestError) as exc:
            status, error = _xrpc_error(exc)
            if (
                isinstance(session, BskySession)
                and not relogged
                and (status == 401 or error in _TOKEN_ERRORS)
            ):
                relogged = True
                session.relogin()
                continue
            if status == 400 and error in _ACTOR_UNAVAILABLE:
                raise _ActorUnavailable(error) from None
            raise SourceError(f"author feed of {who} refused: HTTP {status} {error or ''}".rstrip()) from None
        except RequestErrorBase as exc:
            attempt += 1
            wait = retry.wait_for(exc, attempt)
            status, _ = _xrpc_error(exc)
            if wait is None or attempt > retry.max_retries:
                tail = f" after {attempt} attempts" if wait is not None else ""
                raise SourceError(
                    f"author feed of {who} failed{tail} (HTTP {status or type(exc).__name__})"
                ) from None
            retry.sleep(wait)
            continue
        content = response.content
        if not isinstance(content, dict) or not isinstance(content.get("feed"), list):
            raise SourceError(f"author feed of {who}: malformed response")
        return content


class _ActorUnavailable(Exception):
    pass


def iter_author_feed_events(
    session: BskySession | Client,
    actors: Iterable[str],
    *,
    since_us: int | None = None,
    until_us: int | None = None,
    limit: int = 100,
    retry: Retry | None = None,
    stats: dict[str, Any] | None = None,
    skip_unavailable: bool = True,
) -> Iterator[dict]:
    """Yield Jetstream-shaped creates for each account (handle or DID), oldest first per account.

    Pages until the cursor runs out or, with `since_us`, until a page reaches items indexed before it.
    Only events with `since_us <= time_us < until_us` are kept; duplicates (same did/collection/rkey, e.g.
    an item shifted across pages by new posts) are dropped. Accounts that do not exist or block the viewer
    are skipped and counted (or raise with `skip_unavailable=False`). Errors name accounts by position.
    `stats` (if given) is filled with counters: pages, items, events, duplicates, skipped, unavailable.
    """
    retry = retry or Retry()
    counters: Counter[str] = Counter()
    by_collection: Counter[str] = Counter()
    seen: set[tuple[str, str, str]] = set()
    for index, actor in enumerate(actors, start=1):
        who = f"account #{index}"
        buffered: list[dict] = []
        cursor: str | None = None
        try:
            while True:
                page = _fetch_page(session, actor, cursor, limit, retry, who)
                counters["pages"] += 1
                reached_since = False
                for item in page["feed"]:
                    counters["items"] += 1
                    item_time = _item_time(item)
                    reached_since |= since_us is not None and item_time is not None and item_time < since_us
                    event = map_feed_item(item)
                    if event is None:
                        counters["skipped"] += 1
                        continue
                    key = (event["did"], event["commit"]["collection"], event["commit"]["rkey"])
                    if key in seen:
                        counters["duplicates"] += 1
                        continue
                    seen.add(key)
                    if (since_us is None or event["time_us"] >= since_us) and (
                        until_us is None or event["time_us"] < until_us
                    ):
                        buffered.append(event)
                next_cursor = page.get("cursor")
                # A repeated cursor would loop forever; an empty page means the end.
                if not next_cursor or next_cursor == cursor or not page["feed"] or reached_since:
                    break
                cursor = next_cursor
        except _ActorUnavailable as exc:
            if not skip_unavailable:
                raise SourceError(f"{who} is unavailable ({exc})") from None
            counters["unavailable"] += 1
            continue
        buffered.sort(key=lambda e: (e["time_us"], e["commit"]["collection"], e["commit"]["rkey"]))
        for event in buffered:
            by_collection[event["commit"]["collection"]] += 1
            yield event
        if stats is not None:
            stats.update(counters, events=dict(by_collection))
    if stats is not None:
        stats.update(counters, events=dict(by_collection))
