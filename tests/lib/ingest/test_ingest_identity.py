"""The block-reading ingestion path gives the same action tables as the per-line path it replaced.

The digests were computed with the per-line path (main before the change) over the same inputs: the
demo sample (`blueprint sample --days 3 --users 2000 --seed 7`, as `make demo` writes it) and the real
examples file flattened into an hourly archive.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import duckdb
import pytest

from blueprint_assets.lib.ingest.actions import build_actions_day
from blueprint_assets.lib.ingest.raw_events import IngestStats, stage_lines, write_raw_days
from blueprint_assets.lib.ingest.staging import block_lines
from blueprint_assets.lib.sample import generate_sample
from blueprint_assets.lib.sources.archive import flatten_examples
from blueprint_assets.lib.sources.source_lines import line_sources_for
from blueprint_assets.lib.storage.duck import configure, work_database
from blueprint_assets.lib.storage.lake import Lake, read_files

DAYS = ["2025-03-01", "2025-03-02", "2025-03-03"]
DEMO_DIGEST = (45395, "ff9870c8037f985a44d78826d2b54530eaca431e5968c13f20dcda8b2bfefd55")
REAL_DIGEST = (33, "d838c7041b3b23fcef30ed986b5baf71cd0a2070bf864834f1fd9a6e4ffe4fd3")


def ingest(archive: Path, data: Path) -> Lake:
    lake, state = Lake(str(data)), data / "state"
    con = duckdb.connect()
    configure(con, state / "spill")
    with work_database(con, state / "spill"):
        sources = line_sources_for("jetstream-archive", days=DAYS, state_dir=state, path=str(archive))
        stage_lines(con, sources, IngestStats())
        write_raw_days(con, lake, DAYS, IngestStats())
        for day in DAYS:
            build_actions_day(con, lake, day)
    return lake


def actions_digest(lake: Lake) -> tuple[int, str]:
    sql = "SELECT * FROM read_parquet(?, hive_partitioning = false) ORDER BY day, time_us, event_key"
    rows = duckdb.execute(sql, [lake.day_files("actions", DAYS)]).fetchall()
    return len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()


@pytest.mark.slow  # generates the demo-size sample (~15 s of CPU)
def test_demo_sample_actions_are_unchanged(tmp_path: Path) -> None:
    generate_sample(tmp_path / "demo", days=3, users=2000, seed=7, start=date(2025, 3, 1))
    assert actions_digest(ingest(tmp_path / "demo", tmp_path / "data")) == DEMO_DIGEST


def test_real_examples_actions_are_unchanged(real_samples: Path, tmp_path: Path) -> None:
    flatten_examples(real_samples / "jetstream_examples.json", tmp_path / "real")
    assert actions_digest(ingest(tmp_path / "real", tmp_path / "data")) == REAL_DIGEST


def test_block_lines_match_python_line_reading() -> None:
    block = b'{"a":1}\r\n\n  \t \n\r\n {"b":2}\ncaf\xe9\r\r\n\x0c\nlast'
    raw, eol, blank = block_lines(block)
    lines = block.split(b"\n")
    expected = [line.rstrip(b"\r\n") for line in lines]
    got = [r[: len(r) - e] for r, e in zip(raw.to_pylist(), eol.tolist(), strict=True)]
    assert got == expected
    assert blank.tolist() == [not line.strip() for line in expected]


@pytest.mark.parametrize("ending", [b"", b"\n"])
def test_odd_lines_are_stored_like_before(tmp_path: Path, ending: bytes) -> None:
    """CRLF, whitespace-only and non-UTF-8 lines: quarantined bytes and blank counts as the line reader had."""
    archive = tmp_path / "archive" / "2025-03" / "01" / "00"
    archive.mkdir(parents=True)
    good = b'{"did":"did:plc:aaaaaaaaaaaaaaaaaaaaaaaa","time_us":1740787200000000,"kind":"identity"}'
    (archive / "f").write_bytes(
        good + b"\r\n \t\r\n\xff\xfebad\r\n" + good.replace(b"identity", b"account") + ending
    )
    lake = Lake(str(tmp_path / "data"))
    stats = IngestStats()
    con = duckdb.connect()
    configure(con, tmp_path / "spill")
    with work_database(con, tmp_path / "spill"):
        sources = line_sources_for(
            "jetstream-archive", days=DAYS[:1], state_dir=tmp_path, path=str(tmp_path / "archive")
        )
        stage_lines(con, sources, stats)
        write_raw_days(con, lake, DAYS[:1], stats)
    assert (stats.lines_read, stats.blank_lines) == (3, 1)
    raw = read_files([lake.day_file("raw_events", DAYS[0])])
    assert sorted(raw.column("raw").to_pylist()) == sorted(
        [good.decode(), good.decode().replace("identity", "account")]
    )
    assert sorted(raw.column("line_no").to_pylist()) == [1, 4]
    [bad] = read_files([lake.day_file("raw_events_quarantine", DAYS[0])]).to_pylist()
    assert (bad["line_no"], bad["raw_bytes"], bad["reason"]) == (3, b"\xff\xfebad", "not valid UTF-8")
