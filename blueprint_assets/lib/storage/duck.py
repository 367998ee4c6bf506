"""DuckDB plumbing shared by ingestion and actions: bounded memory, a disk-backed work database, and
atomic Parquet output."""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from blueprint_assets.lib.storage.lake import commit_file, partition_of, temp_path_beside
from blueprint_assets.lib.storage.storage import delete_file, make_dirs


def configure(con: duckdb.DuckDBPyConnection, temp_dir: Path, memory_limit: str = "1GB") -> None:
    """Bound DuckDB's memory and let it spill to `temp_dir`."""
    temp_dir.mkdir(parents=True, exist_ok=True)
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET temp_directory = '{temp_dir.as_posix()}'")
    con.execute("SET preserve_insertion_order = true")


WORK_CHECKPOINT_THRESHOLD = "1TB"


@contextmanager
def work_database(con: duckdb.DuckDBPyConnection, directory: Path) -> Iterator[None]:
    """Make a throwaway DuckDB file under `directory` the default catalog while the block runs.

    Working tables created in it are disk-backed: DuckDB can drop their pages from memory instead of
    holding the whole window (an in-memory table can only grow). Scratch files beside it
    (`scratch_folder`) live as long. Both are deleted afterwards, and so are those a killed run left
    behind (`remove_orphaned_work`).
    """
    directory.mkdir(parents=True, exist_ok=True)
    remove_orphaned_work(directory)
    path = directory / f"{_WORK_PREFIX}{os.getpid()}-{uuid.uuid4().hex}.duckdb"
    previous, compression, threshold = con.execute(
        "SELECT current_database(), current_setting('force_compression'), current_setting('checkpoint_threshold')"
    ).fetchone()
    con.execute(f"ATTACH '{path.as_posix()}' AS ingest_work")
    con.execute("USE ingest_work")
    # The file lives for one run, and its tables (such as the day's mapped commits, texts included) are
    # written once and read once: compressing their pages is not worth it (FSST analysis of every raw
    # line more than doubled the cost of staging, when lines were staged into this file).
    con.execute("SET force_compression = 'uncompressed'")
    # Nor is checkpointing: large writes already put their row groups in the file (the WAL only points at
    # them), and a checkpoint per statement rewrote the tables' metadata each time (it cost as much as the
    # parse it followed, when lines were staged here).
    con.execute(f"SET checkpoint_threshold = '{WORK_CHECKPOINT_THRESHOLD}'")
    try:
        yield
    finally:
        try:
            con.execute("SET force_compression = ?", [compression])
            con.execute("SET checkpoint_threshold = ?", [threshold])
            con.execute(f'USE "{previous}"')
            con.execute("DETACH ingest_work")
        except duckdb.Error:
            pass  # a broken connection is closed by its owner; the file is removed either way
        _remove_work(path)


def _remove_work(path: Path) -> None:
    """Delete a work database's scratch folder, its write-ahead log, and then the database file: the file is
    what `remove_orphaned_work` looks for, so it goes last, in case this is cut short too."""
    shutil.rmtree(_scratch_of(path), ignore_errors=True)
    for leftover in (path.with_name(path.name + ".wal"), path):
        leftover.unlink(missing_ok=True)


_WORK_PREFIX = "work-"


def remove_orphaned_work(directory: Path) -> None:
    """Delete the work databases under `directory` that no running process holds open.

    A run that is killed cannot delete its own, which holds up to a window of staged lines. DuckDB holds a
    lock on a database file while it is attached, and the lock ends with the process, so an unlocked file
    is a leftover. This process's own files are skipped: testing a lock it holds would release it (POSIX
    locks belong to the process).
    """
    own = f"{_WORK_PREFIX}{os.getpid()}-"
    for path in directory.glob(f"{_WORK_PREFIX}*.duckdb"):
        if not path.name.startswith(own) and not _locked(path):
            _remove_work(path)


def _locked(path: Path) -> bool:
    """Whether another process holds `path` locked, or it cannot be opened to tell (gone, or not ours)."""
    try:
        with open(path, "r+b") as handle:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released when the file is closed
    except OSError:
        return True
    return False


def _scratch_of(database: Path) -> Path:
    return database.with_name(database.name + ".scratch")


def scratch_folder(con: duckdb.DuckDBPyConnection) -> Path:
    """A folder for working files that lives (and is deleted) with the current work database."""
    ((path,),) = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchall()
    if not path:
        raise RuntimeError("scratch_folder needs a work database (lib.storage.duck.work_database)")
    folder = _scratch_of(Path(path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def copy_to_parquet(
    con: duckdb.DuckDBPyConnection,
    query: str,
    params: list,
    final_path: str,
    row_group_rows: int | None = None,
) -> None:
    """COPY a query's result to Parquet (zstd level 1) atomically: a new file in the partition, then commit.

    zstd level 1 compresses the raw JSON about as well as the default level 3 (~10% larger), in less time.
    On an object store DuckDB writes through the registered filesystem (`storage.register_with_duckdb`).
    """
    tmp = temp_path_beside(final_path)
    make_dirs(partition_of(tmp))
    options = "FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1"
    if row_group_rows:
        options += f", ROW_GROUP_SIZE {int(row_group_rows)}"
    try:
        con.execute(f"COPY ({query}) TO '{tmp}' ({options})", params)
    except BaseException:
        delete_file(tmp)
        raise
    commit_file(tmp, final_path)
