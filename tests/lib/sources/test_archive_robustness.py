"""Archive layouts, damaged files, quarantine reasons and line accounting (issues 13.1, 13.2, 17.2, 17.3)."""

from __future__ import annotations

import gzip
import json
import shutil
import zlib
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, asset
from support.pipeline import pipeline_resources, run_assets

from blueprint_assets.cli import main as cli_main
from blueprint_assets.defs.ingestion.assets import actions, raw_events
from blueprint_assets.defs.ingestion.checks import (
    actions_quality,
    raw_events_line_accounting,
    raw_events_quality,
)
from blueprint_assets.defs.partitions import daily_partitions
from blueprint_assets.defs.resources import EventSourceResource
from blueprint_assets.lib.ingest import quarantine
from blueprint_assets.lib.ingest.raw_events import read_accounting
from blueprint_assets.lib.sources.archive import flatten_examples, list_archive_files
from blueprint_assets.lib.storage.lake import Lake, read_files, write_table_atomic

DAYS = ["2025-03-01", "2025-03-02", "2025-03-03"]
CHECKED = [raw_events, actions, raw_events_quality, actions_quality, raw_events_line_accounting]


def action_counts(data_dir: Path, days: list[str]) -> dict[str, int]:
    files = Lake(str(data_dir)).day_files("actions", days)
    sql = "SELECT action, count(*) FROM read_parquet(?, hive_partitioning = false) GROUP BY 1"
    return dict(duckdb.execute(sql, [files]).fetchall())


def quarantine_rows(data_dir: Path) -> list[dict]:
    return read_files(Lake(str(data_dir)).all_files("raw_events_quarantine")).to_pylist()


def blueprint_layout(flat: Path, out: Path, gzip_some: bool = True) -> None:
    """BluePrint's dump layout: `<prefix>-YYYY-MM/DD/HH/<name without extension>`, every other file gzip."""
    for number, path in enumerate(sorted(flat.rglob("*.jsonl"))):
        month, day, hour = path.relative_to(flat).parts[:3]
        target = out / f"jetstream-{month}" / day / hour / f"part{number:04d}"
        target.parent.mkdir(parents=True, exist_ok=True)
        data = path.read_bytes()
        target.write_bytes(gzip.compress(data) if gzip_some and number % 2 else data)


@pytest.fixture(scope="module")
def flat_archive(real_samples, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("flat") / "archive"
    flatten_examples(real_samples / "jetstream_examples.json", out)
    return out


@pytest.mark.pipeline
def test_extensionless_hourly_layout_gives_the_same_actions(flat_archive: Path, tmp_path: Path) -> None:
    layout = tmp_path / "dump"
    blueprint_layout(flat_archive, layout)
    (layout / ".DS_Store").write_bytes(b"\x00\x01binary")  # hidden: never read
    (layout / "README.txt").write_text("not events\n")  # excluded by glob below
    assert all(not p.suffix for p in list_archive_files(layout, ["*.txt"]))
    a = run_assets(CHECKED, pipeline_resources(tmp_path / "a", flat_archive), DAYS[0], DAYS[-1])
    res = pipeline_resources(tmp_path / "b", layout)
    res["source"] = EventSourceResource(kind="jetstream-archive", path=str(layout), exclude=["*.txt"])
    b = run_assets(CHECKED, res, DAYS[0], DAYS[-1])
    assert a.success and b.success
    expected = action_counts(tmp_path / "a", DAYS)
    assert expected and action_counts(tmp_path / "b", DAYS) == expected
    assert quarantine_rows(tmp_path / "b") == [], "hidden and excluded files are not read"


def test_cli_refuses_a_folder_without_readable_files(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "empty"
    (folder / ".git").mkdir(parents=True)
    (folder / ".git" / "HEAD").write_text("ref\n")
    code = cli_main(
        ["run", "--from", DAYS[0], "--source-dir", str(folder), "--data-dir", str(tmp_path / "d")]
    )
    assert code == 2
    assert "no readable file" in capsys.readouterr().err


@pytest.mark.pipeline
def test_days_without_files_warn(flat_archive: Path, tmp_path: Path) -> None:
    result = run_assets([raw_events], pipeline_resources(tmp_path / "d", flat_archive), "2025-06-01")
    metadata = result.asset_materializations_for_node("raw_events")[0].metadata
    assert metadata["files_read"].value == 0
    assert "no source file holds events" in metadata["warnings"].value[0]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"<<<<<<< HEAD", quarantine.MERGE_CONFLICT),
        (b"=======", quarantine.MERGE_CONFLICT),
        (b">>>>>>> origin/main", quarantine.MERGE_CONFLICT),
        (b"<!DOCTYPE html><html><body>502</body></html>", quarantine.HTML),
        (b'{"did":"did:plc:x","time_us":17', quarantine.TRUNCATED),
        (b'{"did":"did:plc:x","kind":"comm', quarantine.TRUNCATED),
        (b'{"a":1}{"b":2}', quarantine.SEVERAL_VALUES),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", quarantine.BINARY),
        (b"caf\xe9 au lait", quarantine.NOT_UTF8),
        (b"ERROR read tcp: reset", quarantine.PLAIN_TEXT),
        (b'{"a": tru}', quarantine.INVALID_JSON),
    ],
)
def test_unparseable_lines_say_what_they_are(line: bytes, reason: str) -> None:
    assert quarantine.describe_unparseable(line) == reason


def event(n: int, day: str = "2025-03-01", **extra) -> dict:
    base = {"2025-03-01": 1740787200000000, "2025-03-02": 1740873600000000}[day]
    return {
        "did": "did:plc:" + "a" * 24, "time_us": base + n * 1_000_000, "kind": "commit",
        "commit": {"rev": f"r{n}", "operation": "create", "collection": "app.bsky.feed.like", "rkey": f"k{n}",
                   "record": {"subject": {"uri": "at://did:plc:bbbbbbbbbbbbbbbbbbbbbbbb/app.bsky.feed.post/p"}}},
        **extra,
    }  # fmt: skip


def jsonl(events: list[dict]) -> bytes:
    return b"".join(json.dumps(e).encode() + b"\n" for e in events)


@pytest.mark.pipeline
def test_merge_conflicts_damaged_gzip_and_accounting(tmp_path: Path) -> None:
    """Merge-conflict lines get their own reason; a corrupt and a truncated gzip among good files never
    abort the run: the good lines are kept, each damaged file is quarantined where it broke; the line
    accounting balances (a year-2099 event counts as outside the window); an escaped NUL is stripped."""
    archive = tmp_path / "archive"
    hour = archive / "2025-03" / "01" / "00"
    hour.mkdir(parents=True)
    good = [event(n) for n in range(10)]
    good[0]["commit"] = {"rev": "r0", "operation": "create", "collection": "app.bsky.feed.post", "rkey": "k0",
                         "record": {"text": "nul\u0000here", "langs": ["en"]}}  # fmt: skip
    (hour / "good").write_bytes(
        jsonl(good[:5]) + b"<<<<<<< HEAD\n" + jsonl(good[5:6]) + b"=======\n>>>>>>> theirs\n" + jsonl(good[6:])
        + jsonl([event(99, time_us=4_070_908_800_000_000)])  # 2099-01-01, far outside the window
    )  # fmt: skip
    corrupt = bytearray(gzip.compress(jsonl([event(n) for n in range(100, 110)])))
    corrupt[-8] ^= 0xFF  # bad CRC32 in the trailer
    (hour / "corrupt.gz").write_bytes(bytes(corrupt))
    many = jsonl([event(n, "2025-03-02") for n in range(200, 5200)])
    truncated = zlib.compressobj(9, zlib.DEFLATED, 31)
    whole = truncated.compress(many) + truncated.flush()
    (hour / "truncated").write_bytes(whole[: len(whole) // 2])

    data = tmp_path / "data"
    result = run_assets(CHECKED, pipeline_resources(data, archive), DAYS[0], DAYS[1])
    assert result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations["raw_events_line_accounting"].passed

    rows = quarantine_rows(data)
    reasons = {(r["source_file"].rsplit("/", 1)[-1], r["reason"]) for r in rows}
    assert ("good", quarantine.MERGE_CONFLICT) in reasons
    assert sum(r["reason"] == quarantine.MERGE_CONFLICT for r in rows) == 3
    assert ("corrupt.gz", "corrupt gzip after line 10") in reasons, "a CRC error is found after the last line"
    [cut] = [r for r in rows if r["source_file"].endswith("truncated")]
    assert cut["reason"].startswith("truncated gzip after line ")
    kept_before_cut = int(cut["reason"].rsplit(" ", 1)[1])
    assert 0 < kept_before_cut < 5000

    lake = Lake(str(data))
    raw = read_files(lake.day_files("raw_events", DAYS[:2]))
    assert raw.num_rows == 10 + 10 + kept_before_cut, "every line before the damage is kept"
    record = read_accounting(data / "state", DAYS[:2])
    assert record["outside_window"] == 1 and record["quarantined"] == 5
    metadata = result.asset_materializations_for_node("raw_events")[0].metadata
    assert metadata["corrupt_files"].value == 2
    texts = read_files(lake.day_files("actions", DAYS[:2])).column("text").to_pylist()
    assert "nulhere" in texts and not any("\x00" in (t or "") for t in texts)


@pytest.mark.pipeline
def test_accounting_check_fails_on_a_planted_mismatch(small_sample: Path, tmp_path: Path) -> None:
    """One stored raw_events row gone after ingestion: the books no longer balance, actions is blocked."""
    data = tmp_path / "data"
    lake = Lake(str(data))

    @asset(key=AssetKey("raw_events"), partitions_def=daily_partitions, group_name="ingestion")
    def raw_events_losing_a_row() -> None:
        scratch = tmp_path / "scratch"
        assert run_assets([raw_events], pipeline_resources(scratch, small_sample), DAYS[0]).success
        source = Lake(str(scratch))
        table = read_files([source.day_file("raw_events", DAYS[0])])
        write_table_atomic(table.slice(1), lake.day_file("raw_events", DAYS[0]))
        quarantined = read_files([source.day_file("raw_events_quarantine", DAYS[0])])
        write_table_atomic(quarantined, lake.day_file("raw_events_quarantine", DAYS[0]))
        shutil.copytree(scratch / "state" / "ingest_accounting", data / "state" / "ingest_accounting")

    result = run_assets(
        [raw_events_losing_a_row, actions, raw_events_line_accounting], pipeline_resources(data, small_sample),
        DAYS[0], raise_on_error=False,
    )  # fmt: skip
    assert not result.success
    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed and "kept:" in evaluation.description
    assert not Path(lake.day_file("actions", DAYS[0])).exists()
