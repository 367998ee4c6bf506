"""The raw identifiers of a window as `KnownIdentifiers`, harvested once per raw_events part and stored.

Harvesting a window's raw events is most of a leak scan's cost, and the steps of a scheduled run (one
process per step) each need it. So each committed raw part is harvested once, `RAW_BATCH_ROWS` lines at a
time (the month at once held every raw line in memory), and its sorted digests
(`lib.privacy.identifier_digests`) are stored in the state folder (`DIGEST_FOLDER`):
- the file is named after the part, and committed parts have unique names, so a rewritten partition
  (re-ingested, or rewritten by `forget`) is harvested again; the files of parts a day no longer holds are
  deleted when the day is next read;
- the folder is named by the key's check value (`key_id`): digests made under another secret are never
  read, and are deleted;
- `forget` deletes the whole folder (`forget_digests`): the account's identifiers must not stay, even as
  digests.
"""

from __future__ import annotations

import functools

import numpy as np
import pyarrow.parquet as pq

from blueprint_assets.lib.arrays import distinct_sorted
from blueprint_assets.lib.parallel import forked_map
from blueprint_assets.lib.privacy.identifier_digests import (
    EMPTY_DIGESTS,
    KnownIdentifiers,
    digest_key,
    digests,
    key_id,
)
from blueprint_assets.lib.privacy.scans import harvest_identifiers, identity_handles
from blueprint_assets.lib.storage import storage
from blueprint_assets.lib.storage.lake import PART_FILE, resolve
from blueprint_assets.lib.storage.storage import join

DIGEST_FOLDER = "raw_identifier_digests"
# Lines harvested at once: their Python strings (~600 bytes each) are what a harvest holds in memory.
RAW_BATCH_ROWS = 262_144
_SUFFIX = ".digests"
_MAGIC = b"BPRID1\n"  # a digest file: this, the count as 8 little-endian bytes, then the digests


def window_identifiers(state: str, raw_files: list[str], secret: bytes, workers: int = 1) -> KnownIdentifiers:
    """The identifiers of the raw_events files `raw_files`, each part's digests read from the state folder
    `state` when stored there, else harvested (by `workers` processes) and stored."""
    key = digest_key(secret)
    root = join(state, DIGEST_FOLDER)
    folder = join(root, key_id(key))
    for stale in storage.list_folders(root):  # digests of another secret can never be read again
        if stale != key_id(key):
            storage.delete_tree(join(root, stale))
    parts = [_part_digests(raw_file, folder, key, workers) for raw_file in raw_files]
    return KnownIdentifiers.union(parts, key)


def forget_digests(state: str) -> None:
    """Delete every stored digest (forget: the account's identifiers must not stay, even as digests)."""
    storage.delete_tree(join(state, DIGEST_FOLDER))


def _part_digests(raw_file: str, folder: str, key: bytes, workers: int) -> np.ndarray:
    """One raw part's sorted digests: stored, or harvested and stored (a legacy `part-0.parquet` is rewritten
    in place, so its name does not name its content: it is harvested every time)."""
    partition, name = raw_file.rsplit("/", 1)
    if name == PART_FILE:
        return _harvest(raw_file, key, workers)
    day_folder = join(folder, partition.rsplit("/", 1)[1])  # `day=<day>`
    stored_at = join(day_folder, name.removesuffix(".parquet") + _SUFFIX)
    found = _read(stored_at)
    if found is None:
        found = _harvest(raw_file, key, workers)
        storage.write_bytes(stored_at, _MAGIC + len(found).to_bytes(8, "little") + found.tobytes())
    # Parts this partition no longer holds; not another process's file being written (a `.tmp`).
    for other in storage.list_files(day_folder):
        if other.location != stored_at and "/" not in other.relpath and other.relpath.endswith(_SUFFIX):
            storage.delete_file(other.location)
    return found


def _read(location: str) -> np.ndarray | None:
    """A stored digest file, or None when it is missing or not whole."""
    try:
        data = storage.read_bytes(location)
    except FileNotFoundError:
        return None
    head = len(_MAGIC) + 8
    if not data.startswith(_MAGIC) or len(data) < head:
        return None
    count = int.from_bytes(data[len(_MAGIC) : head], "little")
    if len(data) != head + 8 * count:
        return None
    return np.frombuffer(data, dtype="<u8", offset=head)


def _harvest(raw_file: str, key: bytes, workers: int) -> np.ndarray:
    """The sorted digests of the identifiers of one raw_events file, read `RAW_BATCH_ROWS` lines at a time;
    forked workers harvest and digest the lines, so only digests come back."""
    filesystem, inner = resolve(raw_file)
    parts = [EMPTY_DIGESTS]
    for batch in pq.ParquetFile(inner, filesystem=filesystem).iter_batches(
        batch_size=RAW_BATCH_ROWS, columns=["kind", "raw"]
    ):
        lines = batch.column("raw").to_pylist()
        handles = identity_handles(batch.column("kind").to_pylist(), lines)
        parts.append(_line_digests([], key, handles))
        parts.extend(forked_map(functools.partial(_line_digests, key=key), lines, workers))
    return distinct_sorted(np.concatenate(parts))


def _line_digests(lines: list[str | None], key: bytes, handles: list[str | None] = ()) -> np.ndarray:
    """The sorted digests of what `harvest_identifiers` finds in `lines` and `handles`."""
    return distinct_sorted(digests(harvest_identifiers(lines, handles), key))
