"""Release windows: one month or an extended range of months."""

from __future__ import annotations

import pytest
from dagster import BackfillPolicy, DagsterInstance, PartitionKeyRange, asset, materialize

from blueprint_assets.defs.partitions import monthly_partitions
from blueprint_assets.defs.tags import RANGE_END_TAG, RANGE_START_TAG
from blueprint_assets.lib.window import ReleaseWindow, run_days


def test_release_window_parses_single_and_extended_releases() -> None:
    assert ReleaseWindow.parse("2025-03").partition_keys == ("2025-03-01", "2025-03-01")
    assert ReleaseWindow.parse("2025-03..2025-05").partition_keys == ("2025-03-01", "2025-05-01")
    assert ReleaseWindow.parse("2025-03..2025-03").name == "2025-03"
    assert ReleaseWindow.parse("2025-03-01..2025-05-01").name == "2025-03..2025-05"
    days = ReleaseWindow.parse("2024-12..2025-02").days
    assert (days[0], days[-1], len(days)) == ("2024-12-01", "2025-02-28", 90)
    with pytest.raises(ValueError):
        ReleaseWindow.parse("2025-05..2025-03")
    with pytest.raises(ValueError):
        ReleaseWindow.parse("2025-13")


@pytest.mark.pipeline
def test_an_extended_release_is_one_run_over_every_day_of_its_months() -> None:
    seen = {}

    @asset(partitions_def=monthly_partitions, backfill_policy=BackfillPolicy.single_run())
    def window_probe(context) -> None:
        seen["name"] = ReleaseWindow.of_run(context).name
        seen["days"] = run_days(context)

    keys = PartitionKeyRange("2025-03-01", "2025-05-01")
    result = materialize(
        [window_probe],
        instance=DagsterInstance.ephemeral(),
        tags={
            RANGE_START_TAG: keys.start,
            RANGE_END_TAG: keys.end,
        },
    )
    assert result.success
    assert seen["name"] == "2025-03..2025-05"
    assert seen["days"][0] == "2025-03-01" and seen["days"][-1] == "2025-05-31" and len(seen["days"]) == 92
