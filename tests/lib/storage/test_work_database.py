"""The throwaway work database: deleted after its block, and after a killed run by the next run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

from blueprint_assets.lib.storage.duck import configure, scratch_folder, work_database

ROOT = Path(__file__).resolve().parents[3]

# Opens a work database, stages a table and a scratch file, reports its files, then waits for stdin (a live
# run) or kills itself (a killed run).
RUN = """
import os, signal, sys, duckdb
from pathlib import Path
from blueprint_assets.lib.storage.duck import scratch_folder, work_database
con = duckdb.connect()
with work_database(con, Path(sys.argv[1])):
    con.execute("CREATE TABLE t AS SELECT range AS x FROM range(100000)")
    (scratch_folder(con) / "part.parquet").write_bytes(b"x")
    print(scratch_folder(con).name, flush=True)
    if sys.argv[2] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    sys.stdin.readline()
"""


def _run(spill: Path, how: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", RUN, str(spill), how],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _files(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


def test_the_next_run_deletes_what_a_killed_run_left_and_keeps_live_runs(tmp_path: Path) -> None:
    spill = tmp_path / "spill"
    killed = _run(spill, "kill")
    killed_scratch = killed.stdout.readline().strip()
    assert killed.wait() == -9
    killed_files = _files(spill)
    assert killed_scratch in killed_files and len(killed_files) >= 2  # the database and its scratch
    live = _run(spill, "wait")
    live_scratch = live.stdout.readline().strip()
    live_files = _files(spill) - killed_files
    old_scheme = spill / f"work-{'0' * 32}.duckdb"  # named before process ids were, and not held
    old_scheme.write_bytes(b"")
    own = spill / f"work-{os.getpid()}-{'f' * 32}.duckdb"  # this process's own: never tested, kept
    own.write_bytes(b"")
    try:
        con = duckdb.connect()
        configure(con, spill / "tmp")
        with work_database(con, spill):
            scratch = scratch_folder(con).name
            during = _files(spill)
    finally:
        live.communicate("\n")
    assert scratch in during and live_scratch in during and own.name in during
    assert live_files <= during
    assert not (killed_files & during) and old_scheme.name not in during
    assert _files(spill) == {"tmp", own.name}  # the live run cleaned up after itself
