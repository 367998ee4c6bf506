"""Backfill from repository exports (CAR v1 files of `com.atproto.sync.getRepo`).

A CAR holds the *current state* of a repository, not its history: it shows which records exist now, so
deletes (unlike, unfollow, post_delete, ...) and updates (post_update) cannot be seen in a backfill; an
edited record appears once, as a create with its latest content. Every record of the export is turned into
a Jetstream-shaped `create` commit event with `time_us` taken from the record's `createdAt` (a claim made by
the author's client, not the relay's indexing time) and `rev` = the export's commit rev (the revision that
created each record is not kept in the repository). The commit signature is not verified.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import libipld
from atproto_core.car import CAR
from atproto_core.exceptions import InvalidCARFile

from blueprint_assets.lib.actions_space import BLUESKY_COLLECTIONS
from blueprint_assets.lib.sources.jetstream_live import SourceError

# Collections turned into events (BLUESKY_COLLECTIONS); anything else is only counted.
EVENT_COLLECTIONS = BLUESKY_COLLECTIONS

_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:?\d{2})?$",
)


class CorruptCarError(SourceError):
    """The bytes are not a well-formed repository export."""


class RepoNotFoundError(SourceError):
    """The host does not hold (or no longer serves) the requested repository."""


def account_ref(did: str) -> str:
    """Short, stable, non-identifying label of an account for messages and logs."""
    return "account " + hashlib.sha256(did.encode("utf-8")).hexdigest()[:12]


def parse_created_at(value: Any) -> int | None:
    """RFC 3339 datetime -> microseconds since epoch UTC; None if absent or malformed.

    Accepts 'Z', numeric offsets, no offset (taken as UTC) and any number of fractional digits
    (atproto clients emit 3, 6 or 9).
    """
    if not isinstance(value, str):
        return None
    match = _RFC3339.match(value.strip())
    if not match:
        return None
    day, clock, frac, tz = match.groups()
    tz = "+00:00" if tz in (None, "Z", "z") else (tz if ":" in tz else f"{tz[:3]}:{tz[3:]}")
    try:
        base = datetime.fromisoformat(f"{day}T{clock}{tz}")
    except ValueError:
        return None
    micros = int((frac or "0")[:6].ljust(6, "0"))
    return int(base.astimezone(UTC).timestamp()) * 1_000_000 + micros


def _looks_like_cid(value: bytes) -> bool:
    # libipld returns CID links and byte strings both as bytes; CIDv1 starts with 0x01 and decodes.
    if not value or value[0] != 0x01:
        return False
    try:
        libipld.decode_cid(value)
    except ValueError:
        return False
    return True


def to_json_compatible(value: Any) -> Any:
    """DAG-CBOR value -> the atproto JSON form Jetstream uses: links as {"$link"}, bytes as {"$bytes"}."""
    if isinstance(value, dict):
        return {k: to_json_compatible(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json_compatible(v) for v in value]
    if isinstance(value, bytes):
        if _looks_like_cid(value):
            return {"$link": libipld.encode_cid(value)}
        return {"$bytes": base64.b64encode(value).decode("ascii").rstrip("=")}
    return value


def _cid_str(raw: Any) -> str:
    return libipld.encode_cid(raw) if isinstance(raw, bytes) else str(raw)


def _load(car_bytes: bytes) -> tuple[dict, dict[str, Any]]:
    """Decode the CAR; return the commit object and blocks keyed by CID string."""
    try:
        car = CAR.from_bytes(car_bytes)
    except (InvalidCARFile, ValueError, RecursionError, TypeError) as exc:
        # The decoder's own message can quote block content; keep only its type.
        raise CorruptCarError(f"corrupt CAR file: undecodable ({type(exc).__name__})") from exc
    blocks = {str(cid): block for cid, block in car.blocks.items()}
    commit = blocks.get(str(car.root))
    if not isinstance(commit, dict) or not isinstance(commit.get("did"), str) or "data" not in commit:
        raise CorruptCarError("corrupt CAR file: root block is not a repository commit")
    return commit, blocks


def walk_mst(blocks: dict[str, Any], root_cid: str) -> Iterator[tuple[str, str]]:
    """Yield (record path, record CID) in key order from an MST of repo format v2/v3.

    Node = {"l": left subtree CID | None, "e": [{"p": shared prefix len, "k": key suffix, "v": value CID,
    "t": right subtree CID | None}]}; keys are prefix-compressed against the previous entry of the node.
    """
    seen: set[str] = set()
    # Explicit stack instead of recursion so deep trees cannot hit the recursion limit.
    expanded: list[Any] = [("node", root_cid)]
    while expanded:
        kind, payload = expanded.pop()
        if kind == "leaf":
            yield payload
            continue
        cid = payload
        if cid in seen:
            raise CorruptCarError("corrupt CAR file: MST contains a cycle")
        seen.add(cid)
        node = blocks.get(cid)
        if not isinstance(node, dict) or not isinstance(node.get("e"), list):
            raise CorruptCarError("corrupt CAR file: missing or malformed MST node")
        todo: list[Any] = []
        if node.get("l") is not None:
            todo.append(("node", _cid_str(node["l"])))
        key = b""
        for entry in node["e"]:
            try:
                key = key[: int(entry["p"])] + bytes(entry["k"])
                todo.append(("leaf", (key.decode("utf-8"), _cid_str(entry["v"]))))
            except (KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
                raise CorruptCarError("corrupt CAR file: malformed MST entry") from exc
            if entry.get("t") is not None:
                todo.append(("node", _cid_str(entry["t"])))
        expanded.extend(reversed(todo))


def _event(did: str, rev: str, collection: str, rkey: str, cid: str, record: dict, time_us: int) -> dict:
    return {
        "did": did,
        "time_us": time_us,
        "kind": "commit",
        "commit": {
            "rev": rev,
            "operation": "create",
            "collection": collection,
            "rkey": rkey,
            "record": to_json_compatible(record),
            "cid": cid,
        },
    }


def iter_car_events(car_bytes: bytes) -> tuple[list[dict], dict[str, Any]]:
    """Parse a repository export into creation events (sorted by time_us, then path) and stats.

    stats = {"records": n, "events": {collection: n}, "ignored": {collection: n},
    "no_created_at": {collection: n}}; records of EVENT_COLLECTIONS without a usable `createdAt` are
    skipped and counted, since an event without a time cannot be partitioned.
    """
    commit, blocks = _load(car_bytes)
    did, rev = commit["did"], str(commit.get("rev", ""))
    emitted: Counter[str] = Counter()
    ignored: Counter[str] = Counter()
    undated: Counter[str] = Counter()
    events: list[dict] = []
    n_records = 0
    for path, cid in walk_mst(blocks, _cid_str(commit["data"])):
        n_records += 1
        collection, _, rkey = path.partition("/")
        if collection not in EVENT_COLLECTIONS:
            ignored[collection] += 1
            continue
        record = blocks.get(cid)
        if not isinstance(record, dict):
            raise CorruptCarError(f"corrupt CAR file: record block missing for a {collection} record")
        time_us = parse_created_at(record.get("createdAt"))
        if time_us is None:
            undated[collection] += 1
            continue
        events.append(_event(did, rev, collection, rkey, cid, record, time_us))
        emitted[collection] += 1
    events.sort(key=lambda e: (e["time_us"], e["commit"]["collection"], e["commit"]["rkey"]))
    stats = {
        "records": n_records,
        "events": dict(emitted),
        "ignored": dict(ignored),
        "no_created_at": dict(undated),
    }
    return events, stats


_NOT_FOUND_ERRORS = {"RepoNotFound", "RepoTakendown", "RepoDeactivated", "RepoSuspended", "NotFound"}


def _xrpc_error_name(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    content = getattr(response, "content", None)
    name = getattr(content, "error", None)
    return name if isinstance(name, str) else None


def fetch_repo(
    did: str,
    base_url: str = "https://bsky.social",
    client: Any = None,
    *,
    max_retries: int = 3,
    backoff: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    label: str | None = None,
) -> bytes:
    """Download the CAR export of `did` via `com.atproto.sync.get_repo` (no auth needed; the account's PDS
    or a relay serves it). Retries transport errors and 5xx; raises `RepoNotFoundError` for an unknown,
    taken-down or deactivated repo. `label` names the account in messages (default: a hash of the DID).
    """
    from atproto_client import Client
    from atproto_client.exceptions import BadRequestError, NetworkError, RequestException

    who = label or account_ref(did)
    client = client or Client(base_url=base_url)
    attempt = 0
    while True:
        try:
            data = client.com.atproto.sync.get_repo({"did": did})
        except (BadRequestError, RequestException, NetworkError) as exc:
            # `from None` everywhere: the SDK's own message may quote the DID back from the server.
            status = getattr(getattr(exc, "response", None), "status_code", None)
            error = _xrpc_error_name(exc)
            if status in (400, 404) and (error in _NOT_FOUND_ERRORS or status == 404):
                raise RepoNotFoundError(f"repository not found for {who} ({error or status})") from None
            retryable = isinstance(exc, NetworkError) or status is None or status == 429 or status >= 500
            if not retryable:
                raise SourceError(f"getRepo failed for {who}: HTTP {status} {error or ''}".rstrip()) from None
            attempt += 1
            if attempt > max_retries:
                reason = f"HTTP {status}" if status else type(exc).__name__
                raise SourceError(f"getRepo failed for {who} after {attempt} attempts ({reason})") from None
            sleep(backoff * 2 ** (attempt - 1))
            continue
        if not isinstance(data, bytes):
            raise SourceError(f"getRepo for {who} did not return a CAR file")
        return data
