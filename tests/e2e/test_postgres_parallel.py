"""Two days materialized in parallel processes against the production instance config (Postgres storage)
give the same lake as the same days run one after the other, and both runs are recorded in Postgres."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path
from unittest import mock

import pyarrow.parquet as pq
import pytest
from support.e2e import (
    BIN,
    FIRST_DAY,
    LAST_DAY,
    REPO,
    Postgres,
    base_env,
    blueprint,
    check_ok,
    log_tail,
    sample_archive,
)

from blueprint_assets.defs.tags import PARTITION_TAG, RANGE_START_TAG

DAYS = [FIRST_DAY, LAST_DAY]


def run_day(run) -> str:
    return run.tags.get(PARTITION_TAG) or run.tags[RANGE_START_TAG]


DAILY_ASSETS = ("raw_events", "actions", "anonymized_posts", "post_embeddings")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("parallel")


@pytest.fixture(scope="module")
def secret() -> str:
    # One pseudonymization key for both lakes, so their pseudonyms can be compared. Never printed.
    return secrets.token_hex(32)


@pytest.fixture(scope="module")
def archive(workdir: Path) -> Path:
    return sample_archive(workdir, days=len(DAYS))


def day_run(archive: Path, data_dir: Path, day: str) -> list[str]:
    return [str(BIN / "blueprint"), "run", "--source-dir", str(archive), "--from", day, "--to", day,
            "--data-dir", str(data_dir)]  # fmt: skip


@pytest.fixture(scope="module")
def serial_lake(workdir: Path, archive: Path, secret: str) -> Path:
    """The reference: day 1 then day 2, one process at a time, on the default (SQLite) instance."""
    data_dir = workdir / "serial"
    env = base_env(data_dir, BLUEPRINT_SECRET=secret)
    for day in DAYS:
        log = workdir / f"serial-{day}.log"
        check_ok(blueprint(day_run(archive, data_dir, day)[1:], env, log), log)
    return data_dir / "lake"


@pytest.fixture(scope="module")
def parallel(workdir: Path, archive: Path, secret: str, postgres: Postgres) -> Path:
    """Both days at once in two processes sharing one data dir and the production dagster.yaml."""
    data_dir = workdir / "parallel"
    home = data_dir / "dagster_home"
    home.mkdir(parents=True)
    # cli.dagster_instance() keeps an existing dagster.yaml, so the CLI runs on the production instance.
    shutil.copy(REPO / "deployments" / "dagster.yaml", home / "dagster.yaml")
    env = base_env(data_dir, BLUEPRINT_SECRET=secret, **postgres.env())
    # Create the schema once first, as a deployment does (`dagster instance migrate`, or the webserver and
    # daemon starting before any run): two processes creating it at once race in dagster-postgres.
    log = workdir / "migrate.log"
    with log.open("w") as out:
        migrate = subprocess.run([str(BIN / "dagster"), "instance", "migrate"], env=env, cwd=REPO, stdout=out,
                                 stderr=subprocess.STDOUT)  # fmt: skip
    check_ok(migrate, log)
    processes = []
    try:
        for day in DAYS:
            log = workdir / f"parallel-{day}.log"
            with log.open("w") as out:
                command = day_run(archive, data_dir, day)
                processes.append(
                    (subprocess.Popen(command, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT), log)
                )
        codes = [process.wait(timeout=900) for process, _ in processes]
    finally:
        for process, _ in processes:  # never leave a run behind (the Postgres server is stopped next)
            if process.poll() is None:
                process.kill()
                process.wait()
    for code, (process, log) in zip(codes, processes, strict=True):
        assert code == 0, f"parallel run {' '.join(process.args[2:])} exited {code}:\n{log_tail(log)}"
    return data_dir


def materialized(instance, run_id: str) -> set[tuple[str, str]]:
    """(asset, partition) of every materialization a run recorded in the instance's event log."""
    events = [record.event_log_entry.dagster_event for record in instance.get_records_for_run(run_id).records]
    return {(e.asset_key.to_user_string(), e.partition) for e in events if e and e.is_step_materialization}


def test_both_runs_are_recorded_in_postgres(parallel: Path, postgres: Postgres):
    from dagster import DagsterInstance, DagsterRunStatus

    home = str(parallel / "dagster_home")
    with mock.patch.dict(os.environ, postgres.env()), DagsterInstance.from_config(home) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        runs = instance.get_runs()
        assert sorted(run_day(run) for run in runs) == DAYS
        assert {run.job_name for run in runs} == {"daily_ingestion"}
        assert {run.status for run in runs} == {DagsterRunStatus.SUCCESS}
        # The runs really were concurrent: each started before the other finished.
        records = instance.get_run_records()
        assert max(r.start_time for r in records) < min(r.end_time for r in records)
        # Each run's materializations are in the Postgres event log: every daily asset, for its own day.
        for run in runs:
            day = run_day(run)
            assert materialized(instance, run.run_id) == {(asset, day) for asset in DAILY_ASSETS}

    # And they really are rows in the server's database, not in a local SQLite file.
    import psycopg2

    with (
        psycopg2.connect(
            host=postgres.host,
            port=postgres.port,
            user=postgres.user,
            password=postgres.password,
            dbname=postgres.db,
        ) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT count(*), count(DISTINCT run_id) FROM runs WHERE status = 'SUCCESS'")
        assert cursor.fetchone() == (2, 2)
    assert not (parallel / "dagster_home" / "history").exists()


def partitions(lake: Path) -> dict[str, Path]:
    """`table/day=YYYY-MM-DD` -> folder, for every daily partition in a lake."""
    return {f"{d.parent.name}/{d.name}": d for d in sorted(lake.glob("*/day=*")) if d.is_dir()}


# Columns filled by resolving a delete against the create it undoes, which the pipeline looks up in the
# *earlier stored* days of `actions` (lib/ingest/actions.py). A day run in parallel with the day before cannot
# see that day yet, so these columns depend on scheduling; the rest of every row must not.
CROSS_DAY = {
    "actions": ("subject_uri", "subject_did", "resolved"),
    "anonymized_posts": ("subject_id", "subject_user", "resolved"),
}


def table_rows(folder: Path, drop: tuple[str, ...] = ()) -> list[str]:
    """The partition's rows in a canonical order, as comparable strings."""
    table = pq.read_table(folder, partitioning=None)
    table = table.drop_columns([c for c in drop if c in table.column_names])
    return sorted(map(repr, table.to_pylist()))


def differing_columns(serial: Path, concurrent: Path, columns: tuple[str, ...] | None = None) -> list[str]:
    """Names of the columns whose multiset of values differs. Counts and names only: this lake holds raw
    identifiers, which must not reach a test report."""
    a, b = pq.read_table(serial, partitioning=None), pq.read_table(concurrent, partitioning=None)
    names = columns or tuple(a.column_names)
    return [
        c
        for c in names
        if sorted(map(repr, a.column(c).to_pylist())) != sorted(map(repr, b.column(c).to_pylist()))
    ]


@pytest.fixture(scope="module")
def both_lakes(parallel: Path, serial_lake: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    serial, concurrent = partitions(serial_lake), partitions(parallel / "lake")
    assert sorted(concurrent) == sorted(serial)
    # The daily job's tables (and the quarantine beside raw_events), for both days.
    assert {"raw_events", "actions", "anonymized_posts", "post_embeddings"} <= {
        n.split("/")[0] for n in serial
    }
    assert {name.split("=")[1] for name in serial} == set(DAYS)
    return serial, concurrent


def test_parallel_lake_equals_serial_lake(both_lakes):
    """Every table and day holds the same rows (all columns but the cross-day ones), vectors bit for bit."""
    serial, concurrent = both_lakes
    for name, folder in serial.items():
        drop = CROSS_DAY.get(name.split("/")[0], ())
        expected, actual = table_rows(folder, drop), table_rows(concurrent[name], drop)
        assert expected, f"{name} is empty in the serial lake"
        assert len(actual) == len(expected), f"{name}: {len(actual)} rows in parallel, {len(expected)} serial"
        assert actual == expected, f"{name} differs in columns {differing_columns(folder, concurrent[name])}"


@pytest.mark.xfail(
    reason="actions resolves a delete against earlier days' stored actions, so a day materialized in parallel "
    "with the day before leaves cross-day undos unresolved (see CROSS_DAY); depends on scheduling",
    strict=False,
)
def test_cross_day_undo_resolution_does_not_depend_on_run_order(both_lakes):
    serial, concurrent = both_lakes
    differing = {
        name: columns
        for name, folder in serial.items()
        if (columns := differing_columns(folder, concurrent[name], CROSS_DAY.get(name.split("/")[0])))
        and name.split("/")[0] in CROSS_DAY
    }
    assert differing == {}
