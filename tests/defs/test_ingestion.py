"""raw_events and actions: real samples, idempotence, quarantine, day assignment, blocking checks."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from dagster import AssetKey, asset
from support.pipeline import pipeline_resources, run_assets

from blueprint_assets.defs.ingestion.assets import actions, raw_events
from blueprint_assets.defs.ingestion.checks import actions_quality, raw_events_quality
from blueprint_assets.defs.partitions import daily_partitions
from blueprint_assets.lib.sources.archive import flatten_examples
from blueprint_assets.lib.storage.lake import Lake, read_files

# Every test here runs the Dagster asset chain (`make test-fast` leaves them out).
pytestmark = pytest.mark.pipeline

DAYS = ["2025-03-01", "2025-03-02", "2025-03-03"]


def resources(data_dir: Path, archive: Path) -> dict:
    return pipeline_resources(data_dir, archive)


def counts_by_action(lake: Lake, days: list[str]) -> dict[str, int]:
    files = lake.day_files("actions", days)
    sql = "SELECT action, count(*) FROM read_parquet(?, hive_partitioning = false) GROUP BY 1"
    return dict(duckdb.execute(sql, [files]).fetchall())


def file_bytes(root: Path) -> dict[str, bytes]:
    """Each partition's data bytes, by partition (a file's name is unique per write)."""
    files = sorted(root.rglob("*.parquet"))
    by_partition = {p.parent.relative_to(root).as_posix(): p.read_bytes() for p in files}
    assert len(by_partition) == len(files), "a replaced version of a partition was left behind"
    return by_partition


@pytest.fixture(scope="module")
def real_lake(real_samples, tmp_path_factory) -> Lake:
    base = tmp_path_factory.mktemp("real")
    flatten_examples(real_samples / "jetstream_examples.json", base / "archive")
    result = run_assets(
        [raw_events, actions, raw_events_quality, actions_quality], resources(base / "data", base / "archive"),
        DAYS[0], DAYS[-1],
    )  # fmt: skip
    assert result.success
    return Lake(str(base / "data"))


def test_real_sample_action_counts(real_lake: Lake) -> None:
    counts = counts_by_action(real_lake, DAYS)
    for name in ("like", "unlike", "repost", "unrepost", "follow", "unfollow", "block", "unblock",
                 "post_update", "post_delete"):  # fmt: skip
        assert counts[name] == 3, name
    assert counts["reply"] == 2 and counts["quote"] == 1 and "post" not in counts
    for day in DAYS:
        assert Path(real_lake.day_file("actions", day)).is_file()


def test_real_sample_dedup_and_ignored_collections(real_lake: Lake) -> None:
    raw = read_files(real_lake.all_files("raw_events")).to_pandas()
    assert raw["event_key"].is_unique
    # 230 events in the file, of which 3 appear twice (the `kinds.commit` examples repeat commits).
    assert len(raw) == 227
    not_actions = raw[
        ~raw["event_key"].isin(read_files(real_lake.all_files("actions")).column("event_key").to_pylist())
    ]
    collections = set(not_actions["collection"].dropna())
    assert "app.bsky.actor.profile" in collections and "xyz.statusphere.status" in collections
    assert set(not_actions.loc[not_actions["collection"].isna(), "kind"]) == {"identity", "account"}


def test_sample_ingestion_is_idempotent_and_quarantines(small_sample: Path, tmp_path: Path) -> None:
    res = resources(tmp_path / "data", small_sample)
    assert run_assets(
        [raw_events, actions, raw_events_quality, actions_quality], res, DAYS[0], DAYS[1]
    ).success
    lake_root = tmp_path / "data" / "lake"
    first = file_bytes(lake_root)
    assert run_assets(
        [raw_events, actions, raw_events_quality, actions_quality], res, DAYS[0], DAYS[1]
    ).success
    assert file_bytes(lake_root) == first, "re-materializing must give byte-identical partitions"
    lake = Lake(str(tmp_path / "data"))
    quarantine = read_files(lake.all_files("raw_events_quarantine")).to_pandas()
    assert len(quarantine) > 0 and quarantine["reason"].notna().all()
    assert {"truncated JSON", "HTML markup", "missing or non-string did"} <= set(quarantine["reason"])
    counts = counts_by_action(lake, DAYS[:2])
    assert counts["like"] == max(counts.values()), "likes dominate"
    assert len(counts) == 13


def test_events_are_assigned_by_time_not_folder(tmp_path: Path) -> None:
    """An event filed under a far-away folder still lands on its own day, once."""
    archive = tmp_path / "archive"
    event = {"did": "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", "time_us": 1740830400000000, "kind": "commit",
             "commit": {"rev": "r1", "operation": "create", "collection": "app.bsky.graph.follow", "rkey": "k1",
                        "record": {"subject": "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb"}}}  # fmt: skip
    folder = archive / "2025-04" / "17" / "05"
    folder.mkdir(parents=True)
    (folder / "late.jsonl").write_text(json.dumps(event) + "\n" + json.dumps(event) + "\n")
    assert run_assets([raw_events, actions], resources(tmp_path / "data", archive), "2025-03-01").success
    lake = Lake(str(tmp_path / "data"))
    assert counts_by_action(lake, ["2025-03-01"]) == {"follow": 1}


def duplicate_rows(table):
    import pyarrow as pa

    return pa.concat_tables([table, table.slice(0, 5)])  # repeated event keys


def shift_a_time(table):
    import pyarrow as pa

    times = table.column("time_us").to_pylist()
    times[0] += 3 * 86_400_000_000  # an event three days away from its partition
    return table.set_column(table.column_names.index("time_us"), "time_us", pa.array(times, pa.int64()))


def add_a_column(table):
    return table.append_column("note", table.column("kind"))  # a column the table does not have


def drop_a_column(table):
    return table.drop_columns(["rev"])  # one the quality suite reads no rows of


@pytest.mark.parametrize(
    ("corrupt", "expectation"),
    [
        (duplicate_rows, "expect_column_values_to_be_unique"),
        (shift_a_time, "expect_column_pair_values_to_be_equal"),
        (add_a_column, "expect_table_columns_to_match_set"),
        (drop_a_column, "expect_table_columns_to_match_set"),
    ],
)
def test_failing_check_blocks_downstream(
    small_sample: Path, tmp_path: Path, corrupt, expectation: str
) -> None:
    """A corrupted raw_events partition fails its blocking check and `actions` does not run."""
    lake = Lake(str(tmp_path / "data"))

    @asset(key=AssetKey("raw_events"), partitions_def=daily_partitions, group_name="ingestion")
    def corrupted_raw_events() -> None:
        good = tmp_path / "good"
        run_assets([raw_events], resources(good, small_sample), DAYS[0])
        table = read_files([Lake(str(good)).day_file("raw_events", DAYS[0])])
        Path(lake.day_file("raw_events", DAYS[0])).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(corrupt(table), lake.day_file("raw_events", DAYS[0]))

    result = run_assets(
        [corrupted_raw_events, actions, raw_events_quality], resources(tmp_path / "data", small_sample), DAYS[0],
        raise_on_error=False,
    )  # fmt: skip
    assert not result.success
    evaluations = result.get_asset_check_evaluations()
    assert [e.passed for e in evaluations] == [False]
    assert expectation in evaluations[0].description
    assert not Path(lake.day_file("actions", DAYS[0])).exists(), "actions must not materialize"
