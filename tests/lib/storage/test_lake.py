"""Lake partitions on a local folder: commit markers, atomic replacement, clean-up, legacy partitions."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from blueprint_assets.lib.storage import lake as lake_module
from blueprint_assets.lib.storage.lake import (
    COMMIT_FILE,
    PART_FILE,
    Lake,
    is_object_store,
    join,
    read_files,
    temp_path_beside,
    write_table_atomic,
)


def test_object_store_roots_keep_their_scheme() -> None:
    lake = Lake("s3://bucket/blueprint/")
    assert is_object_store(lake.data_dir) and not is_object_store("/srv/data")
    assert lake.root == "s3://bucket/blueprint/lake"
    assert (
        lake.partition_dir("actions", "day", "2025-03-01")
        == "s3://bucket/blueprint/lake/actions/day=2025-03-01"
    )
    assert join("gs://b/", "/lake/", "x") == "gs://b/lake/x"


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_local_partitions_are_listed_and_replaced_atomically(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    assert lake.existing_days("actions") == []
    assert lake.day_file("actions", "2025-03-01").endswith(f"/day=2025-03-01/{PART_FILE}")
    for day in ("2025-03-02", "2025-03-01"):
        write_table_atomic(pa.table({"x": [1, 2]}), lake.day_file("actions", day))
    (tmp_path / "lake" / "actions" / "day=2025-03-03").mkdir()  # an empty folder is not a partition
    assert lake.existing_days("actions") == ["2025-03-01", "2025-03-02"]
    first = lake.day_file("actions", "2025-03-01")
    write_table_atomic(pa.table({"x": [9]}), lake.day_file("actions", "2025-03-01"))
    assert read_files(lake.day_files("actions", ["2025-03-01"])).column("x").to_pylist() == [9]
    partition = tmp_path / "lake" / "actions" / "day=2025-03-01"
    # The replaced version is gone: one data file and the marker naming it.
    current = json.loads((partition / COMMIT_FILE).read_text())["file"]
    assert _files(partition) == sorted([COMMIT_FILE, current]) and not os.path.exists(first)


def test_an_unpublished_file_is_invisible_and_old_strays_are_cleaned(tmp_path: Path, monkeypatch) -> None:
    lake = Lake(str(tmp_path))
    write_table_atomic(pa.table({"x": [1]}), lake.day_file("posts", "2025-03-01"))
    # A writer that died after writing its data but before publishing it.
    stray = temp_path_beside(lake.day_file("posts", "2025-03-01"))
    pq.write_table(pa.table({"x": [666]}), stray)
    assert read_files(lake.all_files("posts")).column("x").to_pylist() == [1]
    # A young stray may belong to a writer still running: the next publish keeps it ...
    write_table_atomic(pa.table({"x": [2]}), lake.day_file("posts", "2025-03-01"))
    assert os.path.exists(stray)
    # ... and removes it once it is older than the grace period.
    old = time.time() - lake_module.STRAY_GRACE_S - 60
    os.utime(stray, (old, old))
    write_table_atomic(pa.table({"x": [3]}), lake.day_file("posts", "2025-03-01"))
    assert not os.path.exists(stray)
    assert read_files(lake.all_files("posts")).column("x").to_pylist() == [3]


def test_a_partition_written_before_markers_still_reads_and_is_replaced(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    legacy = tmp_path / "lake" / "actions" / "day=2025-03-01" / PART_FILE
    legacy.parent.mkdir(parents=True)
    pq.write_table(pa.table({"x": [5]}), legacy)
    assert lake.existing_days("actions") == ["2025-03-01"]
    assert read_files(lake.all_files("actions")).column("x").to_pylist() == [5]
    write_table_atomic(pa.table({"x": [6]}), lake.day_file("actions", "2025-03-01"))
    assert not legacy.exists()
    assert read_files(lake.all_files("actions")).column("x").to_pylist() == [6]


def test_present_only_reads_what_an_older_partition_has(tmp_path: Path) -> None:
    old, new = tmp_path / "old.parquet", tmp_path / "new.parquet"
    pq.write_table(pa.table({"a": [1], "b": ["x"]}), old)
    pq.write_table(pa.table({"a": [2], "b": ["y"], "c": [True]}), new)
    table = read_files([str(old), str(new)], columns=["a", "c"], present_only=True)
    assert table.to_pydict() == {"a": [1, 2], "c": [None, True]}
    try:
        read_files([str(old)], columns=["a", "c"])
    except Exception as exc:  # without it, a missing column is an error
        assert "c" in str(exc)
    else:
        raise AssertionError("a missing column was read without present_only")
