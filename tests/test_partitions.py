"""Release windows: one month or an extended range of months."""

from __future__ import annotations

import pytest
from dagster import BackfillPolicy, DagsterInstance, PartitionKeyRange, asset, materialize

from blueprint_assets.partitions import days_in_window, month_range, monthly_partitions, release_name


def test_month_range_parses_single_and_extended_releases() -> None:
    assert month_range("2025-03") == ("2025-03-01", "2025-03-01")
    assert month_range("2025-03..2025-05") == ("2025-03-01", "2025-05-01")
    with pytest.raises(ValueError):
        month_range("2025-05..2025-03")
    with pytest.raises(ValueError):
        month_range("2025-13")


def test_an_extended_release_is_one_run_over_every_day_of_its_months() -> None:
    seen = {}

    @asset(partitions_def=monthly_partitions, backfill_policy=BackfillPolicy.single_run())
    def window_probe(context) -> None:
        seen["name"] = release_name(context)
        seen["days"] = days_in_window(context)

    keys = PartitionKeyRange("2025-03-01", "2025-05-01")
    result = materialize(
        [window_probe],
        instance=DagsterInstance.ephemeral(),
        tags={
            "dagster/asset_partition_range_start": keys.start,
            "dagster/asset_partition_range_end": keys.end,
        },
    )
    assert result.success
    assert seen["name"] == "2025-03..2025-05"
    assert seen["days"][0] == "2025-03-01" and seen["days"][-1] == "2025-05-31" and len(seen["days"]) == 92
