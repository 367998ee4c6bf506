"""Schedules, the archive sensor and declarative automation for the daily and monthly jobs.

Nothing here imports `definitions.py` (which imports this module): the jobs are passed in.

- `daily_schedule(job)`: each day at 02:00 UTC, yesterday's partition of the daily job.
- `monthly_release_schedule(job)`: on the 2nd of each month, last month's release.
- `archive_sensor(job, archive_dir)`: runs the daily job for the days whose archive files appeared or changed.
- `automated(assets)`: every asset downstream of `raw_events` materializes eagerly once its parents are
  updated AND their blocking checks passed (a failed gate never lets the next stage start on its own).

Every run these request carries `blueprint/partition-writer: <job>/<partition>`, which the production
instance (deployments/dagster.yaml) limits to one run per value.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from dagster import (
    AssetsDefinition,
    AssetSelection,
    AutomationCondition,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    TimeWindowPartitionsDefinition,
    schedule,
    sensor,
)

from blueprint_assets.defs.tags import WRITER_TAG
from blueprint_assets.lib.sources.archive import home_day_of, list_archive_files, scan_file
from blueprint_assets.settings import Settings

AUTOMATION_ROOT = "raw_events"
HASH_CHUNK = 8 << 20


def writer_tags(job_name: str, partition_key: str) -> dict[str, str]:
    """The tag that serializes runs writing the same partitions (`<job>/<partition>`)."""
    return {WRITER_TAG: f"{job_name}/{partition_key}"}


# --------------------------------------------------------------------------------------------------------------
# Schedules


def _time_partitions(job) -> TimeWindowPartitionsDefinition:
    partitions_def = job.partitions_def
    if not isinstance(partitions_def, TimeWindowPartitionsDefinition):
        raise ValueError(f"job {job.name} is not time-partitioned")
    return partitions_def


def last_partition_key(partitions_def: TimeWindowPartitionsDefinition, at: datetime) -> str | None:
    """The newest complete partition at time `at` (yesterday for daily, last month for monthly)."""
    keys = partitions_def.get_partition_keys(current_time=at)
    return keys[-1] if keys else None


def partitioned_schedule(
    job,
    *,
    name: str,
    hour_of_day: int,
    minute_of_hour: int = 0,
    day_of_month: int | None = None,
    description: str | None = None,
    default_status: DefaultScheduleStatus = DefaultScheduleStatus.STOPPED,
) -> ScheduleDefinition:
    """Like `build_schedule_from_partitioned_job`, but each run is tagged with its own partition.

    (`build_schedule_from_partitioned_job` only accepts tags that are the same for every run.)
    """
    partitions_def = _time_partitions(job)
    cron = partitions_def.get_cron_schedule(
        minute_of_hour=minute_of_hour, hour_of_day=hour_of_day, day_of_month=day_of_month
    )

    @schedule(
        name=name,
        cron_schedule=cron,
        job=job,
        execution_timezone=partitions_def.timezone,
        description=description,
        default_status=default_status,
    )
    def _schedule(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
        at = context.scheduled_execution_time or datetime.now(UTC)
        key = last_partition_key(partitions_def, at)
        if key is None:
            return SkipReason(f"{job.name} has no complete partition at {at.isoformat()}")
        # run_key = partition: a retried tick never launches the same partition twice.
        return RunRequest(run_key=key, partition_key=key, tags=writer_tags(job.name, key))

    return _schedule


def daily_schedule(job, hour_of_day: int = 2, minute_of_hour: int = 0, **kwargs) -> ScheduleDefinition:
    """Each day (02:00 UTC by default), ingest, anonymize and embed yesterday's partition."""
    return partitioned_schedule(
        job,
        name=f"{job.name}_schedule",
        hour_of_day=hour_of_day,
        minute_of_hour=minute_of_hour,
        description="Yesterday's partition of the daily job (ingest, anonymize, embed).",
        **kwargs,
    )


def monthly_release_schedule(
    job, day_of_month: int = 2, hour_of_day: int = 4, minute_of_hour: int = 0, **kwargs
) -> ScheduleDefinition:
    """On the 2nd of each month (after the last day's daily run), build last month's release."""
    return partitioned_schedule(
        job,
        name=f"{job.name}_schedule",
        hour_of_day=hour_of_day,
        minute_of_hour=minute_of_hour,
        day_of_month=day_of_month,
        description="Last month's release, once its last day has been ingested.",
        **kwargs,
    )


# --------------------------------------------------------------------------------------------------------------
# Archive sensor: pure bookkeeping (no Dagster below until `archive_sensor`)


@dataclass
class WatchState:
    """The sensor cursor.

    files: relpath -> [size, mtime_ns, content sha256 (16 hex), [days it may hold events of]]
    days: day -> [generation, digest of the day's files when last requested]
    pending: days seen in changed files that were not yet requestable (the day is not over)
    """

    files: dict[str, list] = field(default_factory=dict)
    days: dict[str, list] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)

    @classmethod
    def from_cursor(cls, cursor: str | None) -> WatchState:
        if not cursor:
            return cls()
        data = json.loads(cursor)
        return cls(data.get("files", {}), data.get("days", {}), data.get("pending", []))

    def to_cursor(self) -> str:
        return json.dumps(
            {"files": self.files, "days": self.days, "pending": sorted(self.pending)},
            sort_keys=True,
            separators=(",", ":"),
        )


@dataclass(frozen=True)
class DayRequest:
    day: str
    run_key: str
    files: int


@dataclass
class WatchPlan:
    requests: list[DayRequest]
    state: WatchState
    changed_files: int
    removed_files: int
    deferred_files: int  # changed but left for the next tick (per-tick budget)
    skipped_days: list[str]  # outside the partitions (before the start), never requested


def content_digest(path: Path) -> str:
    """sha256 of the file's bytes (a touched but identical file is not a change)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def file_days(path: Path, relpath: str, mtime_ns: int) -> list[str]:
    """Days whose partition this file can change: the days of its events, plus its home day.

    The same scan and home day as `ArchiveIndex`. Only days that hold one of its events count, not the
    whole min..max span: one stray timestamp must not re-run a year.
    """
    scan = scan_file(path)
    return sorted(set(scan.days) | {home_day_of(relpath, scan, mtime_ns)})


def day_digest(files: dict[str, list], day: str) -> tuple[str, int]:
    """Digest over every file that feeds `day` (relpath and content), and how many there are."""
    members = sorted((rel, entry[2]) for rel, entry in files.items() if day in entry[3])
    return hashlib.sha256(json.dumps(members).encode()).hexdigest()[:16], len(members)


def plan_archive_requests(
    root: Path,
    state: WatchState,
    is_requestable: Callable[[str], bool | None],
    max_files: int = 2000,
    exclude: Sequence[str] = (),
) -> WatchPlan:
    """Compare the archive folder with the cursor and decide which days to (re-)run.

    `is_requestable(day)` is True for an existing partition, None for a day not over yet (kept pending),
    False for a day outside the partitions (dropped). A deleted file never triggers a run: re-running
    its day would erase history that retention cleanup only meant to stop storing twice.
    """
    files: dict[str, list] = {}
    dirty: set[str] = set(state.pending)
    changed = deferred = 0
    present = set()
    for path in list_archive_files(root, exclude):
        rel = path.relative_to(root).as_posix()
        present.add(rel)
        stat = path.stat()
        old = state.files.get(rel)
        if old and old[0] == stat.st_size and old[1] == stat.st_mtime_ns:
            files[rel] = old
            continue
        if changed >= max_files:
            deferred += 1  # not recorded: seen as changed again next tick
            if old:
                files[rel] = old
            continue
        changed += 1
        entry = [stat.st_size, stat.st_mtime_ns, content_digest(path), file_days(path, rel, stat.st_mtime_ns)]
        files[rel] = entry
        if not old or old[2] != entry[2]:
            dirty.update(entry[3])
            dirty.update(old[3] if old else [])  # events that moved out of a day change that day too
    removed = len(set(state.files) - present)

    days = dict(state.days)
    requests, pending, skipped = [], [], []
    for day in sorted(dirty):
        verdict = is_requestable(day)
        if verdict is None:
            pending.append(day)
            continue
        if not verdict:
            skipped.append(day)
            continue
        digest, count = day_digest(files, day)
        generation, last_digest = days.get(day, [0, None])
        # count == 0: every file of the day was edited away from it; like a deletion, that never re-runs.
        if count == 0 or digest == last_digest:
            continue
        generation += 1
        days[day] = [generation, digest]
        # The generation makes A -> B -> A content still re-run; the digest names what was read.
        requests.append(DayRequest(day, f"{day}:{generation}:{digest}", count))
    new_state = WatchState(files=files, days=days, pending=pending)
    return WatchPlan(requests, new_state, changed, removed, deferred, skipped)


# --------------------------------------------------------------------------------------------------------------
# Archive sensor: Dagster


def default_archive_dir() -> str:
    """`BLUEPRINT_SOURCE_PATH`, else `<data_dir>/sample` (the same default as the source resource)."""
    settings = Settings.from_env()
    return settings.source_path or settings.layout.sample


def day_requestable(
    partitions_def: TimeWindowPartitionsDefinition, now: datetime
) -> Callable[[str], bool | None]:
    keys = partitions_def.get_partition_keys(current_time=now)
    first, last = (keys[0], keys[-1]) if keys else (None, None)

    def check(day: str) -> bool | None:
        if first is None or day > last:
            return None
        return day >= first

    return check


def archive_sensor(
    job,
    archive_dir: str | Path | None = None,
    *,
    name: str = "archive_sensor",
    minimum_interval_seconds: int = 300,
    max_files_per_tick: int = 2000,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    exclude: Sequence[str] | None = None,
) -> SensorDefinition:
    """Run the daily `job` for every day whose archive files appeared or changed.

    `archive_dir` defaults (at each tick) to `BLUEPRINT_SOURCE_PATH`, else `<data_dir>/sample`.
    One RunRequest per day; its run_key holds a digest of the day's files, so a day changed again runs again.
    """
    partitions_def = _time_partitions(job)

    @sensor(
        name=name,
        job=job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description="Daily runs for the days whose Jetstream archive files appeared or changed.",
    )
    def _sensor(context: SensorEvaluationContext) -> SensorResult | SkipReason:
        root = Path(archive_dir or default_archive_dir())
        if not root.is_dir():
            return SkipReason(f"archive folder not found: {root}")
        state = WatchState.from_cursor(context.cursor)
        check = day_requestable(partitions_def, datetime.now(UTC))
        plan = plan_archive_requests(root, state, check, max_files=max_files_per_tick, exclude=exclude or ())
        context.log.info(
            f"{plan.changed_files} changed, {plan.removed_files} removed, {plan.deferred_files} deferred "
            f"file(s); {len(plan.requests)} day(s) to run, {len(plan.state.pending)} pending"
        )
        if plan.skipped_days:
            first, last = plan.skipped_days[0], plan.skipped_days[-1]
            context.log.warning(
                f"{len(plan.skipped_days)} day(s) before the partitions start ignored ({first}..{last})"
            )
        cursor = plan.state.to_cursor()
        if not plan.requests:
            return SensorResult(skip_reason=SkipReason("no archive day changed"), cursor=cursor)
        run_requests = [
            RunRequest(run_key=r.run_key, partition_key=r.day, tags=writer_tags(job.name, r.day))
            for r in plan.requests
        ]
        return SensorResult(run_requests=run_requests, cursor=cursor)

    return _sensor


# --------------------------------------------------------------------------------------------------------------
# Declarative automation


def gated_eager() -> AutomationCondition:
    """Eager, but only once every parent's blocking checks passed (or run in the same tick)."""
    return AutomationCondition.eager() & AutomationCondition.all_deps_blocking_checks_passed()


def automated(
    assets_defs: Sequence,
    root: str = AUTOMATION_ROOT,
    condition: AutomationCondition | None = None,
    exclude: Iterable[str] = (),
) -> list:
    """`assets_defs` with `condition` (default `gated_eager()`) on every asset downstream of `root`.

    Other objects (source assets, specs, `root` itself, `exclude`) are returned unchanged.
    """
    condition = condition or gated_eager()
    definitions = [a for a in assets_defs if isinstance(a, AssetsDefinition)]
    targets = AssetSelection.assets(root).downstream(include_self=False).resolve(definitions)
    targets = {key for key in targets if key.to_user_string() not in set(exclude)}

    def apply(spec):
        return spec.replace_attributes(automation_condition=condition) if spec.key in targets else spec

    return [a.map_asset_specs(apply) if isinstance(a, AssetsDefinition) else a for a in assets_defs]
