"""End-to-end fixtures: a demo data directory built with the real CLI, the Dagster webserver serving it,
headless Chromium, and a throwaway PostgreSQL server. Run with `make e2e` (scripts/e2e_setup.sh installs
Chromium and PostgreSQL); `make test` does not collect this folder."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.e2e import (
    ARTIFACTS,
    BIN,
    FIRST_DAY,
    LAST_DAY,
    MONTH,
    REPO,
    Demo,
    Postgres,
    base_env,
    blueprint,
    check_ok,
    free_port,
    postgres_bin,
    stop,
    wait_for_http,
)


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Demo:
    """A small demo data directory made exactly as a maintainer would: sample, run, release."""
    root = tmp_path_factory.mktemp("demo")
    data_dir = root / "data"
    env = base_env(data_dir)
    sample = ["sample", "--out", str(data_dir / "sample"), "--days", "2", "--users", "400"]
    check_ok(blueprint(sample, env, root / "sample.log"), root / "sample.log")
    run = ["run", "--source-dir", str(data_dir / "sample"), "--from", FIRST_DAY, "--to", LAST_DAY]
    check_ok(blueprint([*run, "--data-dir", str(data_dir)], env, root / "run.log"), root / "run.log")
    release = ["release", "--months", MONTH, "--data-dir", str(data_dir)]
    result = blueprint(release, env, root / "release.log")
    if result.returncode != 0:
        # 400 sample users may be too few for 25 clusters of at least 10 in-scope users: use fewer clusters.
        env = {**env, "BLUEPRINT_K": "5"}
        result = blueprint(release, env, root / "release.log")
    check_ok(result, root / "release.log")
    return Demo(data_dir, env)


@pytest.fixture(scope="session")
def webserver(demo: Demo) -> Iterator[str]:
    """`dagster-webserver` over the demo's persistent instance; yields its base URL."""
    port = free_port()
    log = demo.data_dir.parent / "webserver.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            env=demo.env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/server_info", process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A real PostgreSQL server on 127.0.0.1 on a free port, with password authentication, in a temp dir."""
    binaries = postgres_bin()
    # initdb refuses to run as root: run the server as the `postgres` system user the package created.
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    # Not under pytest's tmp_path: that is private to root, and the server user must reach its folder.
    root = Path(tempfile.mkdtemp(prefix="e2e-postgres-"))
    data, log, pwfile = root / "data", root / "server.log", root / "pwfile"
    password = secrets.token_hex(16)
    pwfile.write_text(password + "\n")
    if as_root:
        shutil.chown(root, "postgres", "postgres")
        shutil.chown(pwfile, "postgres", "postgres")
    pg = Postgres("127.0.0.1", free_port(), "blueprint", password, "dagster")

    def run(*args: str) -> None:
        result = subprocess.run([*prefix, *args], capture_output=True, text=True)
        assert result.returncode == 0, f"{args[0]} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"

    run(str(binaries / "initdb"), "-D", str(data), "-U", pg.user, f"--pwfile={pwfile}",
        "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync")  # fmt: skip
    # Sockets in our folder (not /var/run/postgresql) and TCP on loopback only.
    options = f"-h 127.0.0.1 -p {pg.port} -k {root} -c fsync=off"
    run(str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")
    try:
        env = {**os.environ, "PGPASSWORD": password}
        subprocess.run(
            [str(binaries / "createdb"), "-h", pg.host, "-p", str(pg.port), "-U", pg.user, pg.db],
            env=env,
            check=True,
            capture_output=True,
        )
        yield pg
    finally:
        subprocess.run([*prefix, str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
                       capture_output=True)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)
