"""Partitions in parallel workers, as on a cluster: the Dagster daemon launches one process per run (what
the K8sRunLauncher does with pods) from the production instance config (Postgres, QueuedRunCoordinator),
and every run writes into a real S3-compatible server (moto) with `BLUEPRINT_DATA_DIR=s3://...`.

Several runs materialize different days of one window at once; a second run of one day is queued at the
same time. The lake equals a serial local run, and the two runs of the same day never overlapped: the tag
concurrency limit made the second one wait.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from pathlib import Path
from unittest import mock

import pytest
import yaml
from support.e2e import (
    BIN,
    REPO,
    Postgres,
    base_env,
    blueprint,
    check_ok,
    log_tail,
    sample_archive,
)
from support.object_store import lake_digests, moto_s3

from blueprint_assets.defs.tags import PARTITION_TAG, WRITER_TAG
from blueprint_assets.lib.storage.lake import COMMIT_FILE

DAYS = ["2025-03-01", "2025-03-02", "2025-03-03"]
TWICE = DAYS[1]  # queued twice at once: the second run must wait for the first
# Resolved against earlier days' stored actions, so they depend on run order (see test_postgres_parallel.py).
CROSS_DAY = {
    "actions": ("subject_uri", "subject_did", "resolved"),
    "anonymized_posts": ("subject_id", "subject_user", "resolved"),
}
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("object-store-parallel")


@pytest.fixture(scope="module")
def secret() -> str:
    return secrets.token_hex(32)  # one key for both lakes, so pseudonyms compare; never printed


@pytest.fixture(scope="module")
def s3():
    with moto_s3() as server:
        yield server


@pytest.fixture(scope="module")
def archive(workdir: Path) -> Path:
    return sample_archive(workdir, days=len(DAYS))


@pytest.fixture(scope="module")
def serial(workdir: Path, archive: Path, secret: str) -> str:
    """The reference: one day after the other, one process, a local folder, the default SQLite instance."""
    data_dir = workdir / "serial"
    env = base_env(data_dir, BLUEPRINT_SECRET=secret)
    started = time.monotonic()
    for day in DAYS:
        log = workdir / f"serial-{day}.log"
        args = ["run", "--source-dir", str(archive), "--from", day, "--to", day, "--data-dir", str(data_dir)]
        check_ok(blueprint(args, env, log), log)
    TIMINGS["serial_local_s"] = time.monotonic() - started
    return str(data_dir)


def _instance_home(workdir: Path) -> Path:
    home = workdir / "dagster_home"
    home.mkdir()
    config = yaml.safe_load((REPO / "deployments" / "dagster.yaml").read_text())
    # The assets carry eager automation conditions; the test launches exactly the runs it checks.
    config["auto_materialize"] = {"enabled": False}
    config["run_coordinator"]["config"]["dequeue_interval_seconds"] = 2
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    return home


def _launch(env: dict, day: str, log: Path) -> None:
    tags = {PARTITION_TAG: day, WRITER_TAG: f"daily_ingestion/{day}"}
    with log.open("a") as out:
        result = subprocess.run([str(BIN / "dagster"), "job", "launch", "-w", str(REPO / "workspace.yaml"),
                                 "-j", "daily_ingestion", "--tags", json.dumps(tags)], env=env, cwd=REPO,
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    assert result.returncode == 0, f"launching {day} failed:\n{log_tail(log)}"


def _wait_for_runs(home: Path, pg_env: dict, count: int, timeout: float = 1800.0) -> list:
    from dagster import DagsterInstance, DagsterRunStatus

    done = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
    deadline = time.monotonic() + timeout
    with mock.patch.dict(os.environ, pg_env), DagsterInstance.from_config(str(home)) as instance:
        while time.monotonic() < deadline:
            records = instance.get_run_records()
            if len(records) >= count and all(r.dagster_run.status in done for r in records):
                return records
            time.sleep(3)
    raise AssertionError(f"runs did not finish in {timeout:.0f} s")


@pytest.fixture(scope="module")
def parallel(workdir: Path, archive: Path, secret: str, postgres: Postgres, s3) -> dict:
    """Four runs queued at once (three days, one of them twice) on a daemon, writing into the bucket."""
    # A database of its own: the Postgres-parallel module counts the runs of the shared server's instance.
    postgres = postgres.new_database("dagster_object_store")
    data_dir = s3.url("parallel")
    home = _instance_home(workdir)
    env = base_env(workdir / "unused", **postgres.env(), **s3.env, BLUEPRINT_DATA_DIR=data_dir,
                   BLUEPRINT_SECRET=secret, DAGSTER_HOME=str(home), BLUEPRINT_SOURCE_PATH=str(archive),
                   BLUEPRINT_SCRATCH_DIR=str(workdir / "scratch"), PYTHONPATH=str(REPO))  # fmt: skip
    log = workdir / "daemon.log"
    with log.open("w") as out:
        migrate = subprocess.run([str(BIN / "dagster"), "instance", "migrate"], env=env, cwd=REPO, stdout=out,
                                 stderr=subprocess.STDOUT)  # fmt: skip
    check_ok(migrate, log)
    started = time.monotonic()
    launches = workdir / "launch.log"
    for day in [*DAYS, TWICE]:
        _launch(env, day, launches)
    with log.open("a") as out:
        daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")],
                                  env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        records = _wait_for_runs(home, postgres.env(), len(DAYS) + 1)
    finally:
        os.killpg(daemon.pid, 15)
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, 9)
            daemon.wait()
    TIMINGS["parallel_object_store_s"] = time.monotonic() - started
    return {"data_dir": data_dir, "records": records, "log": log}


def test_every_run_succeeded_and_different_days_ran_at_once(parallel) -> None:
    from dagster import DagsterRunStatus

    records = parallel["records"]
    assert sorted(r.dagster_run.tags[PARTITION_TAG] for r in records) == sorted([*DAYS, TWICE])
    failed = [
        r.dagster_run.tags[PARTITION_TAG] for r in records if r.dagster_run.status != DagsterRunStatus.SUCCESS
    ]
    assert not failed, f"runs failed for {failed}:\n{log_tail(parallel['log'])}"
    spans = sorted((r.start_time, r.end_time) for r in records)
    assert any(b[0] < a[1] for a, b in zip(spans, spans[1:], strict=False)), "no two runs overlapped"


def test_two_runs_of_the_same_day_did_not_overlap(parallel) -> None:
    same = sorted(
        (r.start_time, r.end_time) for r in parallel["records"] if r.dagster_run.tags[PARTITION_TAG] == TWICE
    )
    assert len(same) == 2
    (_, first_end), (second_start, _) = same
    assert first_end <= second_start, "the tag concurrency limit let two writers of one partition run at once"


def test_parallel_object_store_lake_equals_serial_local_lake(parallel, serial, s3) -> None:
    expected = lake_digests(serial, CROSS_DAY)
    actual = lake_digests(parallel["data_dir"], CROSS_DAY)
    assert {"raw_events", "actions", "anonymized_posts", "post_embeddings"} <= {
        n.split("/")[0] for n in expected
    }
    assert sorted(actual) == sorted(expected)
    differing = sorted(name for name in expected if actual[name] != expected[name])
    assert not differing, f"partitions differ: {differing}"
    # Each partition holds exactly its current version (the twice-run day's first version was cleaned up).
    for name in expected:
        keys = s3.keys(f"parallel/lake/{name}/")
        assert sorted(k.rsplit("/", 1)[1].split("-")[0] for k in keys) == sorted([COMMIT_FILE, "part"]), name
    assert not [k for k in s3.keys("parallel/") if "secret" in k]
    print(f"\nwall seconds: {json.dumps(TIMINGS)}")
