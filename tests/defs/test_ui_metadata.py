"""What the Dagster UI reads: per-partition check results of range runs, table metadata, descriptions."""

from __future__ import annotations

import base64
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from dagster import AssetCheckKey, AssetKey, DagsterEventType, DagsterInstance, TableSchema, materialize
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from blueprint_assets.definitions import all_checks, defs
from blueprint_assets.defs.ingestion.assets import actions, raw_events
from blueprint_assets.defs.ingestion.checks import actions_quality, raw_events_quality
from blueprint_assets.defs.resources import EventSourceResource, LakeResource, PrivacyResource, QueryEngine
from blueprint_assets.defs.tags import RANGE_END_TAG, RANGE_START_TAG
from blueprint_assets.defs.ui_metadata import escape_placeholders, markdown_with_images
from blueprint_assets.lib.sample import generate_sample
from blueprint_assets.lib.storage.lake import Lake
from checks.partitioned import records_partitions

RANGE = {
    RANGE_START_TAG: "2025-03-01",
    RANGE_END_TAG: "2025-03-02",
}


def test_every_partitioned_check_records_its_partitions() -> None:
    partitioned = [c for c in all_checks if any(s.partitions_def for s in c.check_specs)]
    assert partitioned
    assert [c for c in partitioned if not records_partitions(c)] == []


@pytest.mark.pipeline
def test_a_range_run_shows_each_partition_as_passed(tmp_path: Path) -> None:
    generate_sample(tmp_path / "s", days=2, users=20, seed=3, start=date(2025, 3, 1))
    instance = DagsterInstance.ephemeral()
    resources = {
        "lake": LakeResource(data_dir=str(tmp_path)),
        "query_engine": QueryEngine(database=":memory:"),
        "privacy": PrivacyResource(data_dir=str(tmp_path)),
        "source": EventSourceResource(kind="jetstream-archive", path=str(tmp_path / "s")),
    }
    assets = [raw_events, actions, raw_events_quality, actions_quality]
    result = materialize(assets, resources=resources, instance=instance, tags=RANGE)
    assert result.success
    # Table metadata: the stored files' columns and row count.
    [raw] = [
        e.materialization.metadata
        for e in result.all_events
        if e.event_type == DagsterEventType.ASSET_MATERIALIZATION and e.asset_key == AssetKey("raw_events")
    ][:1]
    files = Lake(str(tmp_path)).day_files("raw_events", ["2025-03-01", "2025-03-02"])
    assert len(files) == 2
    assert raw["dagster/row_count"].value == sum(pq.read_metadata(f).num_rows for f in files) > 0
    schema = raw["dagster/column_schema"].value
    assert isinstance(schema, TableSchema)
    assert [c.name for c in schema.columns] == pq.read_schema(files[0]).names
    for asset_name, check_name in (("raw_events", "raw_events_quality"), ("actions", "actions_quality")):
        key = AssetCheckKey(AssetKey(asset_name), check_name)
        infos = {i.partition_key: i for i in instance.event_log_storage.get_asset_check_partition_info([key])}
        # What the UI's partition status reads: each day evaluated, passed, and about its latest materialization.
        for day in ("2025-03-01", "2025-03-02"):
            assert infos[day].latest_execution_status == AssetCheckExecutionRecordStatus.SUCCEEDED, day
            assert infos[day].is_current, day


def test_catalog_has_kinds_owners_and_escaped_descriptions() -> None:
    graph = defs.resolve_asset_graph()
    nodes = {key.to_user_string(): graph.get(key) for key in graph.get_all_asset_keys()}
    for name, node in nodes.items():
        assert node.owners, name
        assert node.kinds, name
    tables = set(nodes) - {"dataset_release", "privacy_audit_report"}
    assert all({"duckdb", "parquet"} <= set(nodes[name].kinds) for name in tables)
    assert "`<TYPE>`" in nodes["anonymized_posts"].description
    assert escape_placeholders("replaced by <EMAIL> and `<URL>`") == "replaced by `<EMAIL>` and `<URL>`"
    assert escape_placeholders("<b>bold</b> stays") == "<b>bold</b> stays"


def test_charts_are_embedded_for_the_ui(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\nnot really an image"
    (tmp_path / "chart.png").write_bytes(png)
    text = markdown_with_images("# Report\n\n![PII by day](chart.png)\n\n![gone](missing.png)\n", tmp_path)
    assert f"![PII by day](data:image/png;base64,{base64.b64encode(png).decode()})" in text
    assert "![gone](missing.png)" in text  # a missing file stays a link
