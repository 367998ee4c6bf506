"""DuckDB's own line reading (lib.ingest.native) stages exactly what the Python block reader stages.

Every test ingests the same archive twice, natively (the default) and with `native=False` (every file
through the Python reader), and compares the written tables and the accounting. Files DuckDB cannot read
as Python would (invalid UTF-8, carriage returns, a byte-order mark, gzip, damage, over-long lines) must
come out the same because they fall back to the Python reader.
"""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from blueprint_assets.lib.ingest.actions import build_actions_day
from blueprint_assets.lib.ingest.native import native_file
from blueprint_assets.lib.ingest.raw_events import IngestStats, stage_lines, write_raw_days
from blueprint_assets.lib.sources.archive import LineBlocks, flatten_examples
from blueprint_assets.lib.sources.source_lines import SourceStats, line_sources_for
from blueprint_assets.lib.storage.duck import configure, work_database
from blueprint_assets.lib.storage.lake import Lake, read_files

DAY = "2025-03-01"
DAY_US = 1740787200000000
TABLES = ("raw_events", "raw_events_quarantine", "actions")


def ingest(archive: Path, data: Path, days: list[str], native: bool) -> dict[str, Any]:
    """Ingest `days` of `archive` into a fresh lake under `data`; what was written and counted."""
    lake, state = Lake(str(data)), data / "state"
    stats, delivered = IngestStats(), SourceStats()
    con = duckdb.connect()
    configure(con, state / "spill")
    with work_database(con, state / "spill"):
        sources = line_sources_for(
            "jetstream-archive", days=days, state_dir=state, path=str(archive), stats=delivered
        )
        stage_lines(con, sources, stats, native=native)
        write_raw_days(con, lake, days, stats)
        for day in days:
            build_actions_day(con, lake, day)
    # The staged Parquet parts and the work database go with the run.
    assert not [p for p in (state / "spill").rglob("*") if p.suffix in (".parquet", ".duckdb")]
    tables = {
        table: sorted(map(repr, read_files(lake.day_files(table, days)).to_pylist())) for table in TABLES
    }
    counts = (stats.accounting(), stats.blank_lines, stats.files_read, stats.corrupt_files, delivered.lines)
    return {"tables": tables, "counts": counts, "stats": stats}


def assert_same(archive: Path, tmp_path: Path, days: list[str]) -> dict[str, Any]:
    native = ingest(archive, tmp_path / "native", days, native=True)
    python = ingest(archive, tmp_path / "python", days, native=False)
    assert native["counts"] == python["counts"]
    for table in TABLES:
        assert native["tables"][table] == python["tables"][table], table
    assert python["stats"].native_files == 0
    return native


def event(n: int, **commit: Any) -> bytes:
    record = {"$type": "app.bsky.feed.post", "text": f"post {n}", "createdAt": "2025-03-01T00:00:00Z"}
    body = {
        "did": f"did:plc:{n:024d}",
        "time_us": DAY_US + n * 1_000_000,
        "kind": "commit",
        "commit": {
            "rev": f"rev{n}",
            "operation": "create",
            "collection": "app.bsky.feed.post",
            "rkey": f"r{n}",
            "record": record,
            **commit,
        },
    }
    return json.dumps(body, separators=(",", ":")).encode()


def odd_archive(root: Path) -> Path:
    """One hour folder per kind of file, each with good lines around the odd ones."""
    files: dict[str, bytes] = {
        # Native: blank and whitespace-only lines, JSON after leading space, a NUL byte, broken JSON,
        # a duplicate of another file's event, no newline at the end.
        "00/plain.jsonl": b"\n".join(
            [
                event(1),
                b"",
                b"\x0b\x0c \t",
                b" " + event(2),
                b'{"did":"x\x00y"}',
                b'{"did":',
                b"[1]",
                event(30),
                event(3),
            ]
        ),  # fmt: skip
        # Fallbacks: invalid UTF-8, a lone and a CRLF carriage return, a byte-order mark, the delimiter
        # byte, an over-long line.
        "01/bad_utf8.jsonl": event(4) + b"\n\xff\xfebad\n" + event(5) + b"\n",
        "02/crlf.jsonl": event(6) + b"\r\n" + event(7) + b"\rx\n" + event(8) + b"\r\r\n",
        "03/bom.jsonl": b"\xef\xbb\xbf" + event(9) + b"\n" + event(10) + b"\n",
        "04/delimiter.jsonl": event(11) + b"\n" + b'{"a":"\x01"}\n' + event(12) + b"\n",
        "05/long.jsonl": event(13, record={"text": "x" * 3_000_000}) + b"\n" + event(14) + b"\n",
        "06/dup.jsonl": event(30) + b"\n" + event(15) + b"\n\n",
    }
    for name, content in files.items():
        path = root / "2025-03" / "01" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    gz = gzip.compress(b"".join(event(n) + b"\n" for n in range(40, 400)))
    (root / "2025-03" / "01" / "07").mkdir()
    (root / "2025-03" / "01" / "07" / "good.jsonl.gz").write_bytes(gz)
    (root / "2025-03" / "01" / "08").mkdir()
    other = gzip.compress(b"".join(event(n) + b"\n" for n in range(400, 800)))
    (root / "2025-03" / "01" / "08" / "truncated.jsonl.gz").write_bytes(other[: len(other) // 2])
    return root


def test_native_reads_only_plain_local_files(tmp_path: Path) -> None:
    plain, gz, bom = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    plain.write_bytes(event(1) + b"\n")
    gz.write_bytes(gzip.compress(event(1) + b"\n"))  # gzip whatever its name
    bom.write_bytes(b"\xef\xbb\xbf" + event(1) + b"\n")
    assert native_file(LineBlocks(plain)) == plain
    assert native_file(LineBlocks(gz)) is None
    assert native_file(LineBlocks(bom)) is None
    assert native_file(LineBlocks(tmp_path / "missing.jsonl")) is None
    assert native_file(iter([b"{}"])) is None  # network sources are lines, not files


def test_odd_files_fall_back_with_the_same_accounting(tmp_path: Path) -> None:
    result = assert_same(odd_archive(tmp_path / "archive"), tmp_path, [DAY])
    stats = result["stats"]
    # Only the files DuckDB reads exactly as Python does were read natively (plain.jsonl, dup.jsonl).
    assert stats.native_files == 2
    assert stats.corrupt_files == 1 and stats.blank_lines == 3
    assert stats.duplicates_by_day[DAY] == 1
    quarantine = read_files([Lake(str(tmp_path / "native")).day_file("raw_events_quarantine", DAY)])
    rows = {(r["source_file"], r["line_no"]): r["reason"] for r in quarantine.to_pylist()}
    assert rows[("2025-03/01/00/plain.jsonl", 5)] == "binary data"
    assert rows[("2025-03/01/00/plain.jsonl", 6)] == "truncated JSON"
    assert rows[("2025-03/01/00/plain.jsonl", 7)] == "JSON is not an object"
    assert rows[("2025-03/01/01/bad_utf8.jsonl", 2)] == "not valid UTF-8"
    assert rows[("2025-03/01/03/bom.jsonl", 1)] == "plain text, not JSON"
    assert rows[("2025-03/01/04/delimiter.jsonl", 2)] == "binary data"
    assert any(
        f == "2025-03/01/08/truncated.jsonl.gz" and "truncated gzip" in r for (f, _), r in rows.items()
    )


def test_sample_tables_are_identical(small_sample: Path, tmp_path: Path) -> None:
    result = assert_same(small_sample, tmp_path, ["2025-03-01", "2025-03-02"])
    assert result["stats"].native_files > 0 and result["stats"].accounting()["kept"] > 1000


def test_real_examples_tables_are_identical(real_samples: Path, tmp_path: Path) -> None:
    flatten_examples(real_samples / "jetstream_examples.json", tmp_path / "real")
    days = [date(2025, 3, d).isoformat() for d in (1, 2, 3)]
    result = assert_same(tmp_path / "real", tmp_path, days)
    assert result["stats"].native_files > 0 and len(result["tables"]["actions"]) > 0


@pytest.mark.parametrize("content", [b"", b"\n", b"\n\n", b"  \n"])
def test_files_without_events(tmp_path: Path, content: bytes) -> None:
    archive = tmp_path / "archive" / "2025-03" / "01" / "00"
    archive.mkdir(parents=True)
    (archive / "empty.jsonl").write_bytes(content)
    (archive / "one.jsonl").write_bytes(event(1))
    assert_same(tmp_path / "archive", tmp_path, [DAY])


def test_no_native_reads_without_insertion_order(tmp_path: Path) -> None:
    """Native line numbers follow the scan's order, which DuckDB keeps only with insertion order on."""
    archive = tmp_path / "archive" / "2025-03" / "01" / "00"
    archive.mkdir(parents=True)
    (archive / "one.jsonl").write_bytes(event(1) + b"\n" + event(2) + b"\n")
    con = duckdb.connect()
    configure(con, tmp_path / "spill")
    con.execute("SET preserve_insertion_order = false")
    stats = IngestStats()
    sources = line_sources_for(
        "jetstream-archive", days=[DAY], state_dir=tmp_path, path=str(archive.parents[2])
    )
    with work_database(con, tmp_path / "spill"):
        stage_lines(con, sources, stats)
    assert (stats.native_files, stats.lines_read) == (0, 2)


def test_a_file_restaged_in_several_chunks_keeps_every_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A carriage return sends the file back to the Python reader; in chunks of two lines, the repeat of
    line 1 in line 3 must set aside line 3 only (each chunk's rows have row ids of their own)."""
    from blueprint_assets.lib.ingest import staging
    from blueprint_assets.lib.sources import archive

    monkeypatch.setattr(staging, "CHUNK_LINES", 2)
    # Blocks of about one line each, so that chunks can end every two lines.
    monkeypatch.setattr(archive.LineBlocks.__init__, "__defaults__", (300,))
    hour = tmp_path / "archive" / "2025-03" / "01" / "00"
    hour.mkdir(parents=True)
    (hour / "cr.jsonl").write_bytes(b"\n".join([event(1), event(2) + b"\r", event(1), event(4)]) + b"\n")
    result = ingest(tmp_path / "archive", tmp_path / "data", [DAY], native=True)
    stats = result["stats"]
    assert stats.native_files == 0  # DuckDB refused the carriage return; Python read the file
    assert (stats.events_by_day[DAY], stats.duplicates_by_day[DAY]) == (3, 1)
    kept = sorted(eval(row)["line_no"] for row in result["tables"]["raw_events"])  # noqa: S307 - our own repr
    assert kept == [1, 2, 4]


OPTED_OUT = b"did:plc:" + b"b" * 24  # the opt-out filter finds DIDs of the real form only


@pytest.mark.parametrize("native", [True, False])
def test_raw_events_keep_arrival_order_around_set_aside_rows(tmp_path: Path, native: bool) -> None:
    """Repeats and opted-out rows leave the partition; every other line stays where it arrived."""
    files = {
        "00/a.jsonl": [5, 1, 5, 3],  # a repeat inside the file, and an opted-out account's event (3)
        "01/b.jsonl": [2, 1, 4],  # a repeat of the first file's event
        "02/c.jsonl": [6],  # nothing set aside in this part
    }
    for name, numbers in files.items():
        path = tmp_path / "archive" / "2025-03" / "01" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [event(n) for n in numbers]
        path.write_bytes(
            b"".join(line.replace(b"did:plc:" + b"0" * 23 + b"3", OPTED_OUT) + b"\n" for line in lines)
        )
    lake, state = Lake(str(tmp_path / "data")), tmp_path / "data" / "state"
    stats = IngestStats()
    con = duckdb.connect()
    configure(con, state / "spill")
    with work_database(con, state / "spill"):
        sources = line_sources_for(
            "jetstream-archive", days=[DAY], state_dir=state, path=str(tmp_path / "archive")
        )
        stage_lines(con, sources, stats, native=native)
        write_raw_days(
            con, lake, [DAY], stats, excluded=lambda dids: [d for d in dids if d == OPTED_OUT.decode()]
        )
    table = read_files(lake.day_files("raw_events", [DAY]))
    assert table.column("rkey").to_pylist() == ["r5", "r1", "r2", "r4", "r6"]
    assert table.column("line_no").to_pylist() == [1, 2, 1, 3, 1]
    assert stats.accounting() == {
        "lines_read": 8, "kept": 5, "quarantined": 0, "duplicates": 2, "outside_window": 0, "opted_out": 1,
    }  # fmt: skip


def test_a_bad_line_its_file_reports_on_another_day_is_outside_the_window(tmp_path: Path) -> None:
    """A file filed under the day before holds one of the window's events and a bad line: the event is
    kept, and the bad line, reported on the file's own day, is counted outside the window."""
    path = tmp_path / "archive" / "2025-02" / "28" / "23" / "late.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(event(1) + b"\nnot json\n" + event(2) + b"\n")
    result = assert_same(tmp_path / "archive", tmp_path, [DAY])
    assert result["stats"].accounting() == {
        "lines_read": 3, "kept": 2, "quarantined": 0, "duplicates": 0, "outside_window": 1, "opted_out": 0,
    }  # fmt: skip
