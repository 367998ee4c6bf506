"""How the definitions reach the lake for a run: the window's daily tables and the release's own files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from blueprint_assets.defs.resources import LakeResource
from blueprint_assets.lib.personas.embeddings import vector_matrix
from blueprint_assets.lib.storage.lake import read_files
from blueprint_assets.lib.window import ReleaseWindow


def release_name(context) -> str:
    """The release a monthly run builds: `2025-03`, or `2025-03..2025-05` for a month range."""
    return ReleaseWindow.of_run(context).name


def release_file(lake: LakeResource, table: str, context) -> str:
    """The Parquet file of a release-level table (`<table>/release=<name>/`) for this run."""
    return lake.lake.partition_file(table, "release", release_name(context))


def read_release_table(lake: LakeResource, table: str, context) -> pa.Table:
    """A release-level table of this run's release."""
    return read_files([release_file(lake, table, context)])


def read_thread_table(lake: LakeResource, table: str, context) -> pa.Table:
    """A thread table of this run's release (action_threads, action_splits), decoded from the lake's
    layout (lib/release/thread_storage.py): the one way the definitions read one."""
    from blueprint_assets.lib.release.thread_storage import from_lake

    return from_lake(read_release_table(lake, table, context))


def write_thread_table(lake: LakeResource, table: str, context, rows: pa.Table) -> None:
    """Write a thread table of this run's release in the lake's layout, atomically."""
    from blueprint_assets.lib.release.thread_storage import to_lake
    from blueprint_assets.lib.storage.lake import write_table_atomic

    write_table_atomic(to_lake(rows), release_file(lake, table, context))


def release_rows(
    lake: LakeResource, table: str, days: list[str], columns: list[str] | None = None, *,
    present_only: bool = False,
) -> pa.Table:  # fmt: skip
    """A daily table's rows over a release window (`Lake.read_days`: days without partitions are skipped)."""
    return lake.lake.read_days(table, days, columns, present_only=present_only)


def release_dir(lake: LakeResource, context) -> Path:
    """The local folder of the run's release (on an object store: a staging copy, see `LakeResource`)."""
    return lake.release_folder(release_name(context))


def user_matrix(lake: LakeResource, context) -> tuple[list[str], np.ndarray]:
    """The release's in-scope users and their vectors, as a float32 (users, dim) matrix."""
    table = read_files([release_file(lake, "user_embeddings", context)])
    return table.column("user").to_pylist(), vector_matrix(table.column("vector"))
