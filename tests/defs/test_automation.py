"""Schedules, the archive sensor and gated declarative automation, through real Dagster evaluation."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from dagster import (
    AssetCheckKey,
    AssetKey,
    AssetSelection,
    DagsterInstance,
    Definitions,
    SensorResult,
    SkipReason,
    asset,
    build_schedule_context,
    build_sensor_context,
    evaluate_automation_conditions,
    materialize,
)
from support.pipeline import pipeline_resources

from blueprint_assets.definitions import all_assets, all_checks
from blueprint_assets.defs.automation import (
    archive_sensor,
    automated,
    daily_schedule,
    monthly_release_schedule,
)
from blueprint_assets.defs.ingestion.assets import actions, raw_events
from blueprint_assets.defs.ingestion.checks import actions_quality, raw_events_quality
from blueprint_assets.defs.jobs import daily_job, release_job
from blueprint_assets.defs.partitions import daily_partitions
from blueprint_assets.defs.resources import LakeResource, QueryEngine, build_resources
from blueprint_assets.defs.tags import WRITER_TAG
from blueprint_assets.lib.ingest.actions import build_actions_day
from blueprint_assets.lib.storage.lake import read_files, write_table_atomic
from blueprint_assets.settings import Settings

# ---------------------------------------------------------------------------------------------------- schedules


def repository(data_dir: Path):
    """The jobs, schedules and sensor resolved together, as the code server loads them."""
    defs = Definitions(
        assets=all_assets,
        asset_checks=all_checks,
        jobs=[daily_job, release_job],
        schedules=[daily_schedule(daily_job), monthly_release_schedule(release_job)],
        sensors=[archive_sensor(daily_job, data_dir / "sample")],
        resources=build_resources(Settings.from_env(data_dir=str(data_dir))),
    )
    return defs.get_repository_def()


@pytest.fixture(scope="module")
def repo_def(tmp_path_factory):
    return repository(tmp_path_factory.mktemp("defs"))


def scheduled(repo_def, name: str, when: datetime) -> list:
    context = build_schedule_context(scheduled_execution_time=when, repository_def=repo_def)
    data = repo_def.get_schedule_def(name).evaluate_tick(context)
    return list(data.run_requests or [])


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (datetime(2025, 3, 15, 2, 0, tzinfo=UTC), "2025-03-14"),
        (datetime(2025, 3, 1, 2, 0, tzinfo=UTC), "2025-02-28"),
        (datetime(2024, 3, 1, 2, 0, tzinfo=UTC), "2024-02-29"),
    ],
)
def test_daily_schedule_requests_yesterday_with_writer_tag(repo_def, when: datetime, expected: str) -> None:
    schedule_def = daily_schedule(daily_job)
    assert schedule_def.cron_schedule == "0 2 * * *" and schedule_def.execution_timezone == "UTC"
    [request] = scheduled(repo_def, schedule_def.name, when)
    assert request.partition_key == expected
    assert request.tags[WRITER_TAG] == f"daily_ingestion/{expected}"
    assert request.run_key == expected


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (datetime(2025, 3, 2, 4, 0, tzinfo=UTC), "2025-02-01"),
        (datetime(2025, 1, 2, 4, 0, tzinfo=UTC), "2024-12-01"),
    ],
)
def test_monthly_schedule_requests_last_month(repo_def, when: datetime, expected: str) -> None:
    schedule_def = monthly_release_schedule(release_job)
    assert schedule_def.cron_schedule == "0 4 2 * *"
    [request] = scheduled(repo_def, schedule_def.name, when)
    assert request.partition_key == expected
    assert request.tags[WRITER_TAG] == f"monthly_release/{expected}"


def test_schedules_and_sensor_load_in_definitions(repo_def) -> None:
    """The jobs, schedules and sensor resolve together (names, targets, partitions)."""
    repo = repo_def
    assert {s.name for s in repo.schedule_defs} == {"daily_ingestion_schedule", "monthly_release_schedule"}
    assert repo.get_sensor_def("archive_sensor").job_name == "daily_ingestion"


# ------------------------------------------------------------------------------------------------------- sensor


def event_line(time_us: int, rkey: str) -> str:
    return json.dumps(
        {
            "did": "did:plc:sensortestaaaaaaaaaaaaaa",
            "time_us": time_us,
            "kind": "commit",
            "commit": {"rev": "r1", "operation": "create", "collection": "app.bsky.feed.like", "rkey": rkey},
        }
    )


def us(stamp: datetime) -> int:
    return int(stamp.timestamp()) * 1_000_000


def tick(sensor_def, cursor: str | None) -> tuple[list, str | None, str | None]:
    """Evaluate one tick: (run requests, skip message, new cursor)."""
    result = sensor_def(build_sensor_context(cursor=cursor))
    if isinstance(result, SkipReason):
        return [], result.skip_message, cursor
    assert isinstance(result, SensorResult)
    skip = result.skip_reason.skip_message if result.skip_reason else None
    return list(result.run_requests or []), skip, result.cursor


@pytest.fixture()
def archive(small_sample: Path, tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    shutil.copytree(small_sample, root)
    return root


def test_sensor_requests_new_changed_and_spilled_days(archive: Path) -> None:
    sensor_def = archive_sensor(daily_job, archive)
    requests, skip, cursor = tick(sensor_def, None)
    assert skip is None
    assert sorted(r.partition_key for r in requests) == ["2025-03-01", "2025-03-02"]
    for request in requests:
        assert request.tags[WRITER_TAG] == f"daily_ingestion/{request.partition_key}"
        assert request.run_key.startswith(request.partition_key + ":")
    first_keys = {r.partition_key: r.run_key for r in requests}

    # Nothing changed: no run, an explicit skip.
    requests, skip, cursor = tick(sensor_def, cursor)
    assert requests == [] and skip == "no archive day changed"

    # A file of 2025-03-01 grows: only that day runs again, under a new run key.
    target = archive / "2025-03/01/05/events.jsonl"
    with open(target, "a") as handle:
        handle.write(event_line(us(datetime(2025, 3, 1, 5, 30, tzinfo=UTC)), "added1") + "\n")
    requests, _, cursor = tick(sensor_def, cursor)
    assert [r.partition_key for r in requests] == ["2025-03-01"]
    assert requests[0].run_key != first_keys["2025-03-01"]

    # A new file in the 2025-03-02 folder holding an event of 2025-03-03: both days are read from it.
    late = archive / "2025-03/02/23/late.jsonl"
    late.write_text(event_line(us(datetime(2025, 3, 3, 0, 0, 5, tzinfo=UTC)), "late1") + "\n")
    requests, _, cursor = tick(sensor_def, cursor)
    assert sorted(r.partition_key for r in requests) == ["2025-03-02", "2025-03-03"]


def test_sensor_maps_a_file_to_the_days_of_its_events_only(tmp_path: Path) -> None:
    """A stray event weeks away adds its own day, not every day in between; a bogus time adds none."""
    root = tmp_path / "archive"
    target = root / "2025-03/01/05/events.jsonl"
    target.parent.mkdir(parents=True)
    lines = [
        event_line(us(datetime(2025, 3, 1, 5, 0, tzinfo=UTC)), "a"),
        event_line(us(datetime(2025, 2, 10, 12, 0, tzinfo=UTC)), "b"),
        event_line(us(datetime(2025, 3, 1, 5, 0, tzinfo=UTC)) // 1000, "c"),  # milliseconds: quarantined
    ]
    target.write_text("\n".join(lines) + "\n")
    with gzip.open(root / "2025-03/01/05/more.jsonl.gz", "wt") as handle:
        handle.write(event_line(us(datetime(2025, 3, 4, 1, 0, tzinfo=UTC)), "d") + "\n")
    requests, _, _ = tick(archive_sensor(daily_job, root), None)
    assert sorted(r.partition_key for r in requests) == ["2025-02-10", "2025-03-01", "2025-03-04"]


def test_sensor_ignores_touch_and_deletion_and_reruns_reverted_content(archive: Path) -> None:
    sensor_def = archive_sensor(daily_job, archive)
    _, _, cursor = tick(sensor_def, None)
    target = archive / "2025-03/02/10/events.jsonl"
    original = target.read_bytes()

    # Same bytes, new mtime (an rsync re-copy): not a change.
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000_000))
    requests, skip, cursor = tick(sensor_def, cursor)
    assert requests == [] and skip is not None

    # Deleting a file never re-runs its day (that would erase its events from the lake).
    (archive / "2025-03/01/00/events.jsonl").unlink()
    requests, _, cursor = tick(sensor_def, cursor)
    assert requests == []
    assert "2025-03/01/00/events.jsonl" not in json.loads(cursor)["files"]

    # Change, then change back: each state change runs the day, with distinct run keys.
    changed = original + event_line(us(datetime(2025, 3, 2, 10, 1, tzinfo=UTC)), "x").encode() + b"\n"
    keys = []
    for content in (changed, original):
        target.write_bytes(content)
        requests, _, cursor = tick(sensor_def, cursor)
        assert [r.partition_key for r in requests] == ["2025-03-02"]
        keys.append(requests[0].run_key)
    assert len(set(keys)) == 2


def test_sensor_holds_days_that_are_not_over_and_skips_missing_folder(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    now = datetime.now(UTC)
    today = root / now.strftime("%Y-%m/%d/%H") / "events.jsonl"
    today.parent.mkdir(parents=True)
    today.write_text(event_line(us(now), "today1") + "\n")
    sensor_def = archive_sensor(daily_job, root)
    requests, skip, cursor = tick(sensor_def, None)
    # Today's partition does not exist yet: nothing is requested, the day waits in the cursor.
    assert requests == [] and skip is not None
    assert json.loads(cursor)["pending"] == [now.date().isoformat()]

    requests, skip, _ = tick(archive_sensor(daily_job, tmp_path / "absent"), None)
    assert requests == [] and "archive folder not found" in skip


def test_sensor_default_folder_comes_from_environment(archive: Path, monkeypatch) -> None:
    monkeypatch.setenv("BLUEPRINT_SOURCE_PATH", str(archive))
    requests, _, _ = tick(archive_sensor(daily_job), None)
    assert sorted(r.partition_key for r in requests) == ["2025-03-01", "2025-03-02"]


# --------------------------------------------------------------------------------------------------- automation

DAY = "2025-03-02"  # the sample's last day: the latest complete partition at EVALUATED_AT
EVALUATED_AT = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)
POSTS = AssetKey("anonymized_posts")


@asset(name="actions", deps=[raw_events], partitions_def=daily_partitions)
def corrupted_actions(context, lake: LakeResource, query_engine: QueryEngine) -> None:
    """The real actions partition, with its first row written twice (duplicate event key)."""
    day = context.partition_key
    with query_engine.configured_connection(lake.layout.spill) as con:
        build_actions_day(con, lake.lake, day)
    path = lake.lake.day_file("actions", day)
    table = read_files([path])
    write_table_atomic(pa.concat_tables([table, table.slice(0, 1)]), path)


def conditions_by_name(assets_defs: list) -> dict:
    return {spec.key.to_user_string(): spec.automation_condition for a in assets_defs for spec in a.specs}


def test_automated_applies_to_downstream_of_raw_events_only() -> None:
    conditions = conditions_by_name(automated(all_assets))
    assert conditions["raw_events"] is None
    downstream = ("actions", "anonymized_posts", "post_embeddings", "user_embeddings", "dataset_release")
    for name in downstream:
        assert conditions[name] is not None, name
    assert all(c is None for c in conditions_by_name(all_assets).values())  # the originals are untouched
    assert conditions_by_name(automated(all_assets, exclude=["dataset_release"]))["dataset_release"] is None


@pytest.mark.parametrize("check_passes", [True, False])
@pytest.mark.pipeline
def test_downstream_waits_for_blocking_checks(small_sample: Path, tmp_path: Path, check_passes: bool) -> None:
    instance = DagsterInstance.ephemeral()
    resources = pipeline_resources(tmp_path / "data", small_sample)
    defs = Definitions(
        assets=automated(all_assets),
        asset_checks=all_checks,
        resources=build_resources(Settings.from_env(data_dir=str(tmp_path / "data"))),
    )
    selection = AssetSelection.assets(POSTS, AssetKey("actions"))

    first = evaluate_automation_conditions(
        defs, instance, asset_selection=selection, evaluation_time=EVALUATED_AT
    )
    assert first.get_requested_partitions(POSTS) == set()  # its parents are missing

    actions_def = actions if check_passes else corrupted_actions
    result = materialize(
        [raw_events, actions_def, raw_events_quality, actions_quality],
        resources=resources,
        instance=instance,
        partition_key=DAY,
        raise_on_error=False,
    )
    verdicts = {e.asset_check_key: e.passed for e in result.get_asset_check_evaluations()}
    assert verdicts[AssetCheckKey(AssetKey("raw_events"), "raw_events_quality")]
    assert verdicts[AssetCheckKey(AssetKey("actions"), "actions_quality")] is check_passes
    assert instance.get_latest_materialization_event(AssetKey("actions")) is not None

    second = evaluate_automation_conditions(
        defs, instance, asset_selection=selection, cursor=first.cursor,
        evaluation_time=EVALUATED_AT + timedelta(minutes=1),
    )  # fmt: skip
    expected = {DAY} if check_passes else set()
    assert second.get_requested_partitions(POSTS) == expected
    # actions ran in the same run as its parent: no second request for it.
    assert second.get_requested_partitions(AssetKey("actions")) == set()
