"""The lake: Parquet partitions, one folder per table and partition, published atomically by a commit marker.

Layout: `<root>/lake/<table>/<key>=<value>/part-<unique>.parquet` plus `_COMMITTED.json`, the marker naming the
partition's current file. A write puts its data under a new unique key, then publishes it by replacing the
marker (one small atomic write, on a local folder and on an object store alike). Readers follow the marker,
so they see the previous version or the new one, never a half-written file; a writer killed mid-partition
leaves the previous version in place. After publishing, the writer deletes the version it replaced and
leftovers of killed writers older than `STRAY_GRACE_S` (a younger one may belong to a writer still running).
A partition written before markers existed (`part-0.parquet` alone) still reads. See docs/storage.md.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from blueprint_assets.lib.storage import storage
from blueprint_assets.lib.storage.layout import DataLayout
from blueprint_assets.lib.storage.storage import is_object_store, join, resolve  # noqa: F401 (re-exported)

PART_FILE = "part-0.parquet"  # the name of a partition that has no version yet (and of pre-marker files)
COMMIT_FILE = "_COMMITTED.json"
PART_PREFIX = "part-"
STRAY_GRACE_S = 3600.0


def resolve_root(root: str | Path):
    """(filesystem, path inside it) for a local folder or an object-store URL."""
    return resolve(storage.normalize_root(root))


def partition_of(path: str) -> str:
    """The partition folder of a file path inside it."""
    return path.rsplit("/", 1)[0]


def committed_part(partition: str) -> str | None:
    """The location of a partition's current file, or None when the partition has never been published."""
    text = storage.read_text(join(partition, COMMIT_FILE))
    if text is not None:
        return join(partition, json.loads(text)["file"])
    legacy = join(partition, PART_FILE)
    return legacy if storage.is_file(legacy) else None


@dataclass(frozen=True)
class Lake:
    """Paths and atomic Parquet I/O under `<data_dir>/lake` (a local folder or an object-store URL)."""

    data_dir: str

    @property
    def root(self) -> str:
        return DataLayout(self.data_dir).lake

    def partition_dir(self, table: str, key: str, value: str) -> str:
        return join(self.root, table, f"{key}={value}")

    def partition_file(self, table: str, key: str, value: str) -> str:
        """The partition's current file; for a partition not written yet, the path a writer is handed."""
        folder = self.partition_dir(table, key, value)
        return committed_part(folder) or join(folder, PART_FILE)

    def day_file(self, table: str, day: str) -> str:
        return self.partition_file(table, "day", day)

    def existing_values(self, table: str, key: str = "day") -> list[str]:
        """Partition values of `table` that have a published file, sorted."""
        values = set()
        for stored in storage.list_files(join(self.root, table)):
            parts = stored.relpath.split("/")
            if len(parts) == 2 and parts[0].startswith(f"{key}=") and parts[1] in (COMMIT_FILE, PART_FILE):
                values.add(parts[0].split("=", 1)[1])
        return sorted(values)

    def existing_days(self, table: str) -> list[str]:
        """Days for which `table` has a stored partition, sorted (local folder or object store)."""
        return self.existing_values(table, "day")

    def day_files(self, table: str, days: Iterable[str]) -> list[str]:
        """Stored partition files of `table` for the given days (missing days are skipped)."""
        present = set(self.existing_days(table))
        return [self.day_file(table, d) for d in sorted(set(days)) if d in present]

    def read_days(
        self, table: str, days: Iterable[str], columns: list[str] | None = None, *, every_day: bool = False,
        present_only: bool = False,
    ) -> pa.Table:  # fmt: skip
        """The rows of `table` for `days`: the one way to read a daily table over a window.

        Missing-day policy: a day with no stored partition contributes no rows (a quiet day, or one not
        ingested yet); with `every_day`, any missing day raises FileNotFoundError naming it (checks use
        this: they gate days that must exist). A window with no stored partition at all always raises.
        `present_only`: see `read_files`.
        """
        files = self.window_files(table, days, every_day=every_day)
        return read_files(files, columns=columns, present_only=present_only)

    def window_files(self, table: str, days: Iterable[str], *, every_day: bool = False) -> list[str]:
        """The stored files `read_days` reads, under its missing-day policy."""
        days = sorted(set(days))
        files = self.day_files(table, days)
        if every_day:
            missing = sorted(set(days) - {partition_of(f).rsplit("=", 1)[1] for f in files})
            if missing:
                raise FileNotFoundError(f"{table} has no stored partition for {', '.join(missing)}")
        if not files:
            span = f"{days[0]}..{days[-1]}" if days else "an empty window"
            raise FileNotFoundError(f"{table} has no stored partition in {span}")
        return files

    def all_files(self, table: str) -> list[str]:
        return [self.day_file(table, d) for d in self.existing_days(table)]

    def drop_table(self, table: str) -> list[str]:
        """Delete every partition of `table`; returns the partition values that were there."""
        folder = join(self.root, table)
        values = [name.split("=", 1)[1] for name in storage.list_folders(folder) if "=" in name]
        storage.delete_tree(folder)
        return sorted(values)


def temp_path_beside(final_path: str) -> str:
    """A new unique file in the partition of `final_path`: where a writer puts the next version."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return join(partition_of(final_path), f"{PART_PREFIX}{stamp}-{uuid.uuid4().hex[:12]}.parquet")


def commit_file(temp_path: str, final_path: str | None = None) -> None:
    """Publish a finished file as its partition's current version, then clean up what it replaced."""
    partition = partition_of(temp_path)
    previous = storage.read_text(join(partition, COMMIT_FILE))
    name = temp_path.rsplit("/", 1)[1]
    marker = {"file": name, "committed_at": datetime.now(UTC).isoformat(timespec="seconds")}
    storage.write_bytes(join(partition, COMMIT_FILE), json.dumps(marker).encode())
    replaced = json.loads(previous)["file"] if previous else PART_FILE
    _clean_partition(partition, keep=name, replaced=replaced)


def _clean_partition(partition: str, keep: str, replaced: str) -> None:
    now = time.time()
    for stored in storage.list_files(partition):
        name = stored.relpath
        if "/" in name or name in (keep, COMMIT_FILE) or not name.startswith(PART_PREFIX):
            continue
        stray_age = now - (stored.mtime_s or now)
        if name == replaced or stray_age > STRAY_GRACE_S:
            storage.delete_file(stored.location)


def write_table_atomic(table: pa.Table, final_path: str) -> None:
    """Write `table` as the new version of the partition holding `final_path` (see the module docstring)."""
    tmp = temp_path_beside(final_path)
    storage.make_dirs(partition_of(tmp))
    filesystem, inner = resolve(tmp)
    try:
        pq.write_table(table, inner, filesystem=filesystem, compression="zstd", write_statistics=True)
    except BaseException:
        storage.delete_file(tmp)
        raise
    commit_file(tmp, final_path)


def read_footer(path: str) -> pq.FileMetaData:
    """The footer of a Parquet file (local or on an object store): its rows and schema, no rows read."""
    filesystem, inner = resolve(path)
    return pq.read_metadata(inner, filesystem=filesystem)


def read_files(
    paths: list[str], columns: list[str] | None = None, *, present_only: bool = False
) -> pa.Table | None:
    """Concatenate the Parquet files in `paths` (None when there are none). With `present_only`, a file
    without some of `columns` gives what it has (an older partition, written before a column existed)."""
    if not paths:
        return None
    tables = []
    for path in paths:
        filesystem, inner = resolve(path)
        if columns is not None and present_only:
            parquet = pq.ParquetFile(inner, filesystem=filesystem)  # one open: footer and rows
            names = set(parquet.schema_arrow.names)
            tables.append(parquet.read(columns=[c for c in columns if c in names]))
        else:
            tables.append(pq.read_table(inner, columns=columns, partitioning=None, filesystem=filesystem))
    return pa.concat_tables(tables, promote_options="default")
