"""The throwaway work database: deleted after its block, and after a run of this host that was killed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

from blueprint_assets.lib.storage.duck import configure, scratch_folder, work_database


def _work_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def _killed_run_leftovers(directory: Path) -> list[str]:
    """Run a process that opens a work database, stages a table and a scratch file, and is killed."""
    script = f"""
import os, signal, duckdb
from pathlib import Path
from blueprint_assets.lib.storage.duck import scratch_folder, work_database
con = duckdb.connect()
with work_database(con, Path({str(directory)!r})):
    con.execute("CREATE TABLE t AS SELECT range AS x FROM range(100000)")
    (scratch_folder(con) / "part.parquet").write_bytes(b"x")
    os.kill(os.getpid(), signal.SIGKILL)
"""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    result = subprocess.run([sys.executable, "-c", script], env=env, check=False)
    assert result.returncode == -9
    return _work_files(directory)


def test_a_killed_runs_work_database_is_deleted_by_the_next_run(tmp_path: Path) -> None:
    spill = tmp_path / "spill"
    left = _killed_run_leftovers(spill)
    assert any(name.endswith(".duckdb") for name in left) and any(name.endswith(".scratch") for name in left)
    # A live run's files (this process's id) look the same and must stay.
    prefix, host = left[0].split("-")[:2]
    live = spill / f"{prefix}-{host}-{os.getpid()}-{'f' * 32}.duckdb"
    live.write_bytes(b"")
    con = duckdb.connect()
    configure(con, spill / "tmp")
    with work_database(con, spill):
        scratch = scratch_folder(con).name
        during = _work_files(spill)
    assert live.name in during and scratch in during and not set(left) & set(during)
    assert _work_files(spill) == sorted([live.name, "tmp"])
