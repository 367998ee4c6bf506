"""What the Dagster UI reads: per-partition check results of range runs, table metadata, descriptions."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from dagster import AssetCheckKey, AssetKey, DagsterInstance, materialize
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from blueprint_assets.assets.ingestion import actions, raw_events
from blueprint_assets.core.sample import generate_sample
from blueprint_assets.definitions import all_checks
from blueprint_assets.resources import EventSourceResource, LakeResource, PrivacyResource, QueryEngine
from checks.ingestion_checks import actions_quality, raw_events_quality
from checks.partitioned import records_partitions

RANGE = {
    "dagster/asset_partition_range_start": "2025-03-01",
    "dagster/asset_partition_range_end": "2025-03-02",
}


def test_every_partitioned_check_records_its_partitions() -> None:
    partitioned = [c for c in all_checks if any(s.partitions_def for s in c.check_specs)]
    assert partitioned
    assert [c for c in partitioned if not records_partitions(c)] == []


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
    assert materialize(assets, resources=resources, instance=instance, tags=RANGE).success
    for asset_name, check_name in (("raw_events", "raw_events_quality"), ("actions", "actions_quality")):
        key = AssetCheckKey(AssetKey(asset_name), check_name)
        infos = {i.partition_key: i for i in instance.event_log_storage.get_asset_check_partition_info([key])}
        # What the UI's partition status reads: each day evaluated, passed, and about its latest materialization.
        for day in ("2025-03-01", "2025-03-02"):
            assert infos[day].latest_execution_status == AssetCheckExecutionRecordStatus.SUCCEEDED, day
            assert infos[day].is_current, day
