"""Blocking data-quality checks on raw_events and actions (great-expectations 1.x inside asset checks)."""

import pandas as pd
from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity

from blueprint_assets.defs.partitions import daily_partitions
from blueprint_assets.defs.resources import LakeResource
from blueprint_assets.lib.actions_space import ACTION_ORDER
from blueprint_assets.lib.ingest.raw_events import accounting_problems, read_accounting
from blueprint_assets.lib.window import run_days
from checks.gx_suite import expectations, run_suite
from checks.partitioned import asset_check
from checks.results import outcome_result

RAW_COLUMNS = [
    "event_key", "day", "time_us", "did", "kind", "collection", "operation", "rkey", "rev",
    "source_file", "line_no", "raw",
]  # fmt: skip
ACTION_COLUMNS = [
    "event_key", "day", "time_us", "action", "actor_did", "record_uri", "text", "langs", "reply_parent_uri",
    "reply_root_uri", "quote_uri", "subject_uri", "subject_did", "facets_json", "resolved",
]  # fmt: skip


def with_time_day(frame: pd.DataFrame) -> pd.DataFrame:
    """Add `time_day`, the UTC day of each row's `time_us`, so one expectation covers every day of a range."""
    stamps = pd.to_datetime(frame["time_us"], unit="us", utc=True, errors="coerce")
    return frame.assign(time_day=stamps.dt.strftime("%Y-%m-%d"))


def day_table_quality(
    context: AssetCheckExecutionContext,
    lake: LakeResource,
    table: str,
    columns: list[str],
    not_null: tuple[str, ...],
    extra: tuple = (),
) -> AssetCheckResult:
    """The suite both lake tables share: exactly `columns`, non-null keys, the table's `extra` expectations,
    unique event keys, and every row's day and time inside the checked window."""
    days = run_days(context)
    frame = with_time_day(lake.lake.read_days(table, days, columns, every_day=True).to_pandas())
    gx = expectations()
    suite = [
        gx.ExpectTableColumnsToMatchSet(column_set=[*columns, "time_day"], exact_match=True),
        *(gx.ExpectColumnValuesToNotBeNull(column=c) for c in not_null),
        *extra,
        gx.ExpectColumnValuesToBeUnique(column="event_key"),
        gx.ExpectColumnValuesToBeInSet(column="day", value_set=days),
        # Times inside their partition's day.
        gx.ExpectColumnPairValuesToBeEqual(column_A="day", column_B="time_day"),
    ]
    return outcome_result(run_suite(frame, suite, table), table, len(frame))


@asset_check(asset="raw_events", blocking=True, partitions_def=daily_partitions)
def raw_events_quality(context: AssetCheckExecutionContext, lake: LakeResource) -> AssetCheckResult:
    """Schema, not-null keys, times inside the day, unique event keys."""
    columns = [c for c in RAW_COLUMNS if c != "raw"]
    return day_table_quality(
        context, lake, "raw_events", columns, ("event_key", "day", "time_us", "did", "kind")
    )


@asset_check(asset="actions", blocking=True, partitions_def=daily_partitions)
def actions_quality(context: AssetCheckExecutionContext, lake: LakeResource) -> AssetCheckResult:
    """Schema, not-null keys, action type within the 13, times inside the day, unique event keys."""
    return day_table_quality(
        context,
        lake,
        "actions",
        [c for c in ACTION_COLUMNS if c != "langs"],
        ("event_key", "time_us", "action", "actor_did"),
        extra=(expectations().ExpectColumnValuesToBeInSet(column="action", value_set=list(ACTION_ORDER)),),
    )


def stored_rows(lake: LakeResource, table: str, days: list[str]) -> int:
    """Rows in the stored partitions of `table` for `days` (Parquet footers only)."""
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(f).metadata.num_rows for f in lake.lake.day_files(table, days))


@asset_check(asset="raw_events", blocking=True, partitions_def=daily_partitions)
def raw_events_line_accounting(context: AssetCheckExecutionContext, lake: LakeResource) -> AssetCheckResult:
    """Every line read is accounted for: lines_read = kept + quarantined + duplicates + outside_window
    + opted_out, with kept and quarantined counted in the stored partitions."""
    days = run_days(context)
    record = read_accounting(lake.layout.state, days)
    stored = {
        "kept": stored_rows(lake, "raw_events", days),
        "quarantined": stored_rows(lake, "raw_events_quarantine", days),
    }
    problems = accounting_problems(record, stored)
    return AssetCheckResult(
        passed=not problems,
        severity=AssetCheckSeverity.ERROR,
        description="; ".join(problems)
        or "every line read is kept, quarantined, a duplicate or outside the window",
        metadata={**(record or {}), **{f"stored_{k}": v for k, v in stored.items()}},
    )
