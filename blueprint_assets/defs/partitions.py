"""Partitions: daily for ingestion-side tables, monthly for releases, and the asset settings of each."""

from __future__ import annotations

from dagster import BackfillPolicy, DailyPartitionsDefinition, MonthlyPartitionsDefinition

# Bluesky opened in 2023; Jetstream archives start in late 2024.
PARTITIONS_START = "2023-01-01"

daily_partitions = DailyPartitionsDefinition(start_date=PARTITIONS_START)
monthly_partitions = MonthlyPartitionsDefinition(start_date=PARTITIONS_START)


def daily_asset(group: str) -> dict:
    """`@asset` settings of a daily table of stage `group`: a day range is one run, a day one partition."""
    return {
        "partitions_def": daily_partitions,
        # A range of days is one run: a year of history costs one run, not 365.
        "backfill_policy": BackfillPolicy.single_run(),
        "group_name": group,
    }


def release_asset(group: str) -> dict:
    """`@asset` settings of a release-level asset of stage `group`: a month range is one run."""
    return {
        "partitions_def": monthly_partitions,
        # A month range (an extended release) is one run over the whole window.
        "backfill_policy": BackfillPolicy.single_run(),
        "group_name": group,
    }
