"""Partitions: daily for ingestion-side tables, monthly for releases."""

from __future__ import annotations

from datetime import date, timedelta

from dagster import DailyPartitionsDefinition, MonthlyPartitionsDefinition

# Bluesky opened in 2023; Jetstream archives start in late 2024.
PARTITIONS_START = "2023-01-01"

daily_partitions = DailyPartitionsDefinition(start_date=PARTITIONS_START)
monthly_partitions = MonthlyPartitionsDefinition(start_date=PARTITIONS_START)


def days_in_window(context) -> list[str]:
    """Every UTC day covered by the run's partition (or partition range), as YYYY-MM-DD."""
    window = context.partition_time_window
    first, end = window.start.date(), window.end.date()
    return [(first + timedelta(days=i)).isoformat() for i in range((end - first).days)]


def release_name(context) -> str:
    """`2025-03` for one month, `2025-03..2025-05` for an extended release over a month range."""
    keys = context.partition_key_range
    return month_label(keys.start, keys.end)


def month_label(first: str, last: str) -> str:
    """The release name of monthly partition keys (or days) `first`..`last`: `2025-03` or `2025-03..2025-05`."""
    first, last = first[:7], last[:7]
    return first if first == last else f"{first}..{last}"


def month_range(spec: str) -> tuple[str, str]:
    """Parse `2025-03` or `2025-03..2025-05` into first and last monthly partition keys."""
    first, _, last = spec.partition("..")
    last = last or first
    for month in (first, last):
        date.fromisoformat(month + "-01")  # raises ValueError on a malformed month
    if last < first:
        raise ValueError(f"month range ends before it starts: {spec}")
    return f"{first}-01", f"{last}-01"
