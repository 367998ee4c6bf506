"""Helpers for the end-to-end tests: the real CLI and servers as subprocesses, ports, logs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the venv's console scripts (blueprint, dagster-webserver)
ARTIFACTS = REPO / "artifacts" / "e2e"
FIRST_DAY, LAST_DAY, MONTH = "2025-03-01", "2025-03-02", "2025-03"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of `make demo`: offline, no telemetry, everything under `data_dir`."""
    env = dict(os.environ)
    env.update(
        BLUEPRINT_DATA_DIR=str(data_dir),
        DAGSTER_HOME=str(data_dir / "dagster_home"),
        TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        GX_ANALYTICS_ENABLED="False",
    )
    env.update(extra)
    return env


def blueprint(args: list[str], env: dict[str, str], log: Path) -> subprocess.CompletedProcess:
    """Run the real `blueprint` console script; its output goes to `log` (kept out of the test output)."""
    with log.open("w") as out:
        return subprocess.run(
            [str(BIN / "blueprint"), *args], env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT
        )


def sample_archive(workdir: Path, days: int) -> Path:
    """A generated archive of `days` days from FIRST_DAY (300 users, seed 5), made with the real CLI."""
    out = workdir / "archive"
    log = workdir / "sample.log"
    args = [
        "sample",
        "--out",
        str(out),
        "--days",
        str(days),
        "--users",
        "300",
        "--seed",
        "5",
        "--start",
        FIRST_DAY,
    ]
    check_ok(blueprint(args, base_env(workdir / "unused"), log), log)
    return out


def log_tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def check_ok(result: subprocess.CompletedProcess, log: Path) -> None:
    assert result.returncode == 0, (
        f"{' '.join(map(str, result.args))} exited {result.returncode}:\n{log_tail(log)}"
    )


def wait_for_http(url: str, process: subprocess.Popen, log: Path, timeout: float = 120.0) -> bytes:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read()
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer in {timeout:.0f} s:\n{log_tail(log)}")


def stop(process: subprocess.Popen) -> None:
    """Stop a server started in its own session, children included (the webserver forks a code server)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@dataclass(frozen=True)
class Demo:
    data_dir: Path
    env: dict[str, str]


def postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        pytest.fail("PostgreSQL is not installed: run `bash scripts/e2e_setup.sh` (or `make e2e`)")
    return found[-1].parent


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    password: str
    db: str

    def new_database(self, name: str) -> Postgres:
        """Another database on the same server, so a test module's instance holds only its own runs."""
        command = [
            str(postgres_bin() / "createdb"),
            "-h",
            self.host,
            "-p",
            str(self.port),
            "-U",
            self.user,
            name,
        ]
        subprocess.run(
            command, env={**os.environ, "PGPASSWORD": self.password}, check=True, capture_output=True
        )
        return replace(self, db=name)

    def env(self) -> dict[str, str]:
        """The DAGSTER_PG_* variables that deployments/dagster.yaml reads."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": self.db,
        }
