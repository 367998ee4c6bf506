"""Shared state several workers update at once (opt-outs, archive index, cursors): one object per update.

Object stores have no append, and pyarrow.fs offers no conditional write, so a read-modify-write of one
shared file would silently lose a concurrent worker's update. Instead every update is its own object,
`<folder>/<UTC time>-<unique>.json`, and readers merge all of them in name (= time) order. Nothing is ever
overwritten, so two workers writing at the same moment both keep their update. `compact` folds many
entries into one and deletes only the entries it read, so an entry written meanwhile survives.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from blueprint_assets.lib.storage import storage
from blueprint_assets.lib.storage.storage import join

ENTRY_SUFFIX = ".json"


def append_entry(folder: str, entry: dict) -> str:
    """Store `entry` as a new object in `folder`; returns its location."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    location = join(folder, f"{stamp}-{uuid.uuid4().hex[:12]}{ENTRY_SUFFIX}")
    storage.write_bytes(location, json.dumps(entry, sort_keys=True).encode())
    return location


def read_entries(folder: str) -> list[tuple[str, dict]]:
    """(location, entry) of every entry in `folder`, oldest first; entries deleted meanwhile are skipped."""
    entries = []
    for stored in storage.list_files(folder):
        if "/" in stored.relpath or not stored.relpath.endswith(ENTRY_SUFFIX):
            continue
        try:
            text = storage.read_text(stored.location)
        except OSError:
            # Deleted by a compaction while being read (some servers then cut the stream): skip it.
            if storage.is_file(stored.location):
                raise
            continue
        if text is not None:
            entries.append((stored.location, json.loads(text)))
    return entries


def compact(folder: str, merged: dict, read: list[str]) -> None:
    """Replace the entries at `read` by one entry `merged` (written first, so nothing is ever missing)."""
    if len(read) < 2:
        return
    append_entry(folder, merged)
    for location in read:
        storage.delete_file(location)


def save_cursor(state_dir: str, name: str, value: int) -> None:
    """Record that a stream has reached `value`; the cursor is the highest value any worker recorded."""
    folder = join(state_dir, f"cursor_{name}")
    append_entry(folder, {"cursor": int(value)})
    entries = read_entries(folder)
    top = max(e["cursor"] for _, e in entries)
    # Lower entries can never be the answer again: deleting them loses nothing.
    for location, entry in entries:
        if entry["cursor"] < top:
            storage.delete_file(location)


def load_cursor(state_dir: str, name: str) -> int | None:
    """The highest value recorded for the stream, or None before the first one."""
    values = [e["cursor"] for _, e in read_entries(join(state_dir, f"cursor_{name}"))]
    return max(values) if values else None
