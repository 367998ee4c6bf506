"""Long ranges cost what their data costs (issue 12.5): only days some archive file holds are run."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from blueprint_assets.cli import main as cli_main
from blueprint_assets.lib.sources.archive import ArchiveFile, flatten_examples, plan_segments
from blueprint_assets.lib.storage.lake import Lake


def entry(days: list[str], home: str) -> ArchiveFile:
    return ArchiveFile("f", 1, 1, None, None, home, days)


def test_plan_keeps_only_days_with_data() -> None:
    files = [
        entry(["2025-03-01", "2025-03-02"], "2025-03-01"),
        entry(["2025-03-04"], "2025-03-04"),  # two days later: same run (a file may straddle them)
        entry(["2025-06-01", "2099-01-01"], "2025-06-01"),  # a stray far-future timestamp adds nothing
        entry(["2019-01-01"], "2019-01-01"),  # before the range
    ]
    assert plan_segments(files, "2020-01-01", "2025-12-31") == [
        ("2025-03-01", "2025-03-04"),
        ("2025-06-01", "2025-06-01"),
    ]
    assert plan_segments(files, "2025-03-02", "2025-03-02") == [("2025-03-02", "2025-03-02")]
    assert plan_segments(files, "2024-01-01", "2024-12-31") == []


@pytest.mark.pipeline
def test_six_year_range_runs_only_the_data_days(real_samples: Path, tmp_path: Path, capsys) -> None:
    archive = tmp_path / "archive"
    flatten_examples(real_samples / "jetstream_examples.json", archive)
    data = tmp_path / "data"
    code = cli_main(
        ["run", "--from", "2020-01-01", "--to", "2025-12-31", "--source-dir", str(archive),
         "--data-dir", str(data), "--select", "raw_events,actions"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0
    assert "planning: 3 day(s) with archive data in 1 run(s)" in err and "empty day(s) skipped" in err
    lake = Lake(str(data))
    assert lake.existing_days("actions") == ["2025-03-01", "2025-03-02", "2025-03-03"]
    files = lake.day_files("actions", lake.existing_days("actions"))
    rows = duckdb.execute(
        "SELECT count(*) FROM read_parquet(?, hive_partitioning = false)", [files]
    ).fetchone()
    assert rows[0] == 33  # every action of the real examples, as when the three days are run alone
