"""Lake paths: local folders and object-store URLs, atomic replacement."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from blueprint_assets.core.lake import Lake, is_object_store, join, read_files, write_table_atomic


def test_object_store_roots_keep_their_scheme() -> None:
    lake = Lake("s3://bucket/blueprint")
    assert is_object_store(lake.data_dir) and not is_object_store("/srv/data")
    assert lake.root == "s3://bucket/blueprint/lake"
    assert (
        lake.day_file("actions", "2025-03-01")
        == "s3://bucket/blueprint/lake/actions/day=2025-03-01/part-0.parquet"
    )
    assert lake.partition_file("action_threads", "release", "2025-03..2025-05").endswith(
        "/action_threads/release=2025-03..2025-05/part-0.parquet"
    )
    assert join("gs://b/", "/lake/", "x") == "gs://b/lake/x"


def test_local_partitions_are_listed_and_replaced_atomically(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    assert lake.existing_days("actions") == []
    for day in ("2025-03-02", "2025-03-01"):
        write_table_atomic(pa.table({"x": [1, 2]}), lake.day_file("actions", day))
    (tmp_path / "lake" / "actions" / "day=2025-03-03").mkdir()  # an empty folder is not a partition
    assert lake.existing_days("actions") == ["2025-03-01", "2025-03-02"]
    write_table_atomic(pa.table({"x": [9]}), lake.day_file("actions", "2025-03-01"))
    assert read_files(lake.day_files("actions", ["2025-03-01"])).column("x").to_pylist() == [9]
    leftovers = [p.name for p in (tmp_path / "lake" / "actions").rglob("*.tmp")]
    assert leftovers == []
