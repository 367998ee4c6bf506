"""The lake: Parquet files, one directory per table and partition, written atomically.

Layout: `<root>/lake/<table>/<key>=<value>/part-0.parquet`. A partition is one file, replaced with
`os.replace`, so a crash leaves the previous version and concurrent readers never see half a file.
The root is a local folder or an object-store URL (`s3://bucket/prefix`); URLs are handled by
pyarrow's filesystem layer (see `resolve_root`).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

PART_FILE = "part-0.parquet"
OBJECT_STORE_SCHEMES = ("s3://", "gs://", "gcs://", "abfs://", "az://", "hdfs://")


def is_object_store(root: str) -> bool:
    """True when the data root is an object-store URL rather than a local folder."""
    return root.startswith(OBJECT_STORE_SCHEMES)


def resolve_root(root: str | Path) -> tuple[pafs.FileSystem, str]:
    """Return (filesystem, path inside it) for a local folder or an object-store URL."""
    text = str(root)
    if is_object_store(text):
        return pafs.FileSystem.from_uri(text)
    return pafs.LocalFileSystem(), str(Path(text).expanduser().resolve())


def join(root: str, *parts: str) -> str:
    """Join path parts with '/', keeping a URL scheme intact."""
    return "/".join([root.rstrip("/"), *(p.strip("/") for p in parts)])


@dataclass(frozen=True)
class Lake:
    """Paths and atomic Parquet I/O under `<data_dir>/lake`."""

    data_dir: str

    @property
    def root(self) -> str:
        return join(str(self.data_dir), "lake")

    def partition_dir(self, table: str, key: str, value: str) -> str:
        return join(self.root, table, f"{key}={value}")

    def partition_file(self, table: str, key: str, value: str) -> str:
        return join(self.partition_dir(table, key, value), PART_FILE)

    def day_file(self, table: str, day: str) -> str:
        return self.partition_file(table, "day", day)

    def table_glob(self, table: str, key: str = "day") -> str:
        return join(self.root, table, f"{key}=*", PART_FILE)

    def existing_days(self, table: str) -> list[str]:
        """Days for which `table` has a stored partition, sorted (local folder or object store)."""
        filesystem, base = resolve_root(join(self.root, table))
        selector = pafs.FileSelector(base, allow_not_found=True, recursive=True)
        days = []
        for info in filesystem.get_file_info(selector):
            parent, name = info.path.rsplit("/", 2)[-2:]
            if name == PART_FILE and parent.startswith("day=") and info.type == pafs.FileType.File:
                days.append(parent[4:])
        return sorted(days)

    def day_files(self, table: str, days: Iterable[str]) -> list[str]:
        """Stored partition files of `table` for the given days (missing days are skipped)."""
        present = set(self.existing_days(table))
        return [self.day_file(table, d) for d in sorted(set(days)) if d in present]

    def all_files(self, table: str) -> list[str]:
        return [self.day_file(table, d) for d in self.existing_days(table)]


def temp_path_beside(final_path: str) -> str:
    """A unique temporary file name in the destination folder (same filesystem, so rename is atomic)."""
    directory, name = os.path.split(final_path)
    return os.path.join(directory, f".{name}.{uuid.uuid4().hex}.tmp")


def commit_file(temp_path: str, final_path: str) -> None:
    """Atomically move a finished temp file into place."""
    os.replace(temp_path, final_path)


def write_table_atomic(table: pa.Table, final_path: str) -> None:
    """Write `table` as Parquet at `final_path`, replacing any previous file atomically."""
    os.makedirs(os.path.dirname(final_path), exist_ok=True)
    tmp = temp_path_beside(final_path)
    try:
        pq.write_table(table, tmp, compression="zstd", write_statistics=True)
        commit_file(tmp, final_path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def read_files(paths: list[str], columns: list[str] | None = None) -> pa.Table | None:
    """Concatenate the Parquet files in `paths` (None when there are none)."""
    if not paths:
        return None
    return pa.concat_tables(
        [pq.read_table(p, columns=columns, partitioning=None) for p in paths], promote_options="default"
    )
