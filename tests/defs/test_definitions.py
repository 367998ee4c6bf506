"""The assembled definitions are complete: every asset is gated by a blocking check, every job resolves,
every schedule and sensor targets something that exists, and every stage's checks module is loaded."""

from __future__ import annotations

import importlib

import pytest
from dagster import AssetChecksDefinition, AssetKey
from support.pipeline import REPO

from blueprint_assets.definitions import defs
from blueprint_assets.defs.jobs import JOBS

DEFS_DIR = REPO / "blueprint_assets" / "defs"
# Assets with no blocking check of their own, and why. Keep this short: a new asset gets a check.
UNCHECKED: dict[str, str] = {
    "privacy_audit_report": "the last asset: it reports on the release's checks and gates nothing downstream",
}


@pytest.fixture(scope="module")
def graph():
    return defs.resolve_asset_graph()


def scanned_check_keys() -> set:
    """The check keys defined in `blueprint_assets/defs/*/checks.py`, found by importing each file found."""
    keys = set()
    for path in sorted(DEFS_DIR.glob("*/checks.py")):
        module = importlib.import_module(f"blueprint_assets.defs.{path.parent.name}.checks")
        for value in vars(module).values():
            if isinstance(value, AssetChecksDefinition):
                keys |= set(value.check_keys)
    return keys


def test_every_asset_has_a_blocking_check(graph) -> None:
    assets = {key.to_user_string() for key in graph.get_all_asset_keys()}
    blocked = {
        key.asset_key.to_user_string() for key in graph.asset_check_keys if graph.get_check_spec(key).blocking
    }
    assert set(UNCHECKED) <= assets, "an exception names an asset that no longer exists"
    assert sorted(assets - blocked - set(UNCHECKED)) == []
    assert sorted(set(UNCHECKED) & blocked) == [], "an exception now has a blocking check: drop it"


def test_every_check_module_is_loaded(graph) -> None:
    scanned = scanned_check_keys()
    stages = {path.parent.name for path in DEFS_DIR.glob("*/checks.py")}
    assert stages == {"ingestion", "privacy", "personas", "release"}
    assert len(scanned) >= len(stages)
    assert set(graph.asset_check_keys) == scanned
    assert len(graph.asset_check_keys) == len(scanned)


def test_every_job_resolves() -> None:
    names = {job.name for job in defs.jobs}
    assert set(JOBS) <= names
    for name in names:
        job = defs.resolve_job_def(name)
        assert job.name == name
        assert job.asset_layer.executable_asset_keys, f"{name} selects no asset"


def test_schedules_and_sensors_target_existing_jobs(graph) -> None:
    jobs = {job.name for job in defs.jobs}
    assets = set(graph.get_all_asset_keys())
    targets = [*defs.schedules, *defs.sensors]
    assert {t.name for t in targets} >= {
        "daily_ingestion_schedule",
        "monthly_release_schedule",
        "archive_sensor",
    }
    for target in targets:
        assert target.job_name in jobs, f"{target.name} targets {target.job_name}, not a job"
        job = defs.resolve_job_def(target.job_name)
        assert set(job.asset_layer.executable_asset_keys) <= assets
    assert defs.resolve_schedule_def("daily_ingestion_schedule").job_name == "daily_ingestion"
    assert defs.resolve_sensor_def("archive_sensor").job_name == "daily_ingestion"
    assert (
        AssetKey("dataset_release")
        in defs.resolve_job_def("monthly_release").asset_layer.executable_asset_keys
    )


# Libraries a step loads when it needs them: every run worker, code server and CLI command loads the
# definitions, and importing presidio alone (with spaCy, transformers and torch) took about 6 s.
HEAVY_LIBRARIES = ("presidio_analyzer", "spacy", "torch", "transformers", "great_expectations", "model2vec")


def test_loading_the_definitions_leaves_the_heavy_libraries_unloaded() -> None:
    import subprocess
    import sys

    probe = (
        "import sys, blueprint_assets.definitions; "
        f"print(','.join(m for m in {HEAVY_LIBRARIES!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == ""


def test_every_job_forks_its_steps_from_loaded_definitions() -> None:
    """Scheduled and UI runs use the forkserver executor that preloads this code location (defs/jobs.py)."""
    from blueprint_assets.defs.jobs import STEP_EXECUTOR

    for name in JOBS:
        assert defs.resolve_job_def(name).executor_def is STEP_EXECUTOR
    assert STEP_EXECUTOR.name == "forked_steps"
