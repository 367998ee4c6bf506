"""The scale benchmark's pipeline: the real assets and their blocking checks, materialized in two Dagster
runs (the daily assets over the window's days, then the release assets for its month), timed step by step.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

START = date(2025, 3, 1)
MONTH_KEY = "2025-03-01"
DAILY_STEPS = ("raw_events", "actions", "anonymized_posts", "post_embeddings")
RELEASE_STEPS = ("user_embeddings", "persona_clusters", "action_threads", "action_splits", "dataset_release")
QUIET = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}  # no per-event DEBUG lines


def step_seconds(instance: Any, run_id: str) -> dict[str, float]:
    """Wall seconds of each step (= asset) of a finished run."""
    return {s.step_key: s.end_time - s.start_time for s in instance.get_run_step_stats(run_id)}


def run_pipeline(window: Path, data_dir: Path, days: int) -> tuple[dict[str, float], dict[str, float]]:
    """Materialize the daily then the release assets with their asset checks; seconds per asset, and
    seconds of the checks of each asset (a check is its own step)."""
    from dagster import DagsterInstance, materialize

    from blueprint_assets.defs.ingestion import assets as ingestion
    from blueprint_assets.defs.ingestion import checks as ingestion_checks
    from blueprint_assets.defs.personas import assets as personas
    from blueprint_assets.defs.personas import checks as personas_checks
    from blueprint_assets.defs.privacy import assets as privacy
    from blueprint_assets.defs.privacy import checks as privacy_checks
    from blueprint_assets.defs.release import assets as release
    from blueprint_assets.defs.release import checks as release_checks
    from blueprint_assets.defs.resources import build_resources
    from blueprint_assets.settings import Settings

    resources = build_resources(
        Settings.from_env(data_dir=str(data_dir), source="jetstream-archive", source_path=str(window))
    )
    assets = {
        a.key.to_user_string(): a
        for m in (ingestion, privacy, personas, release)
        for a in _defs_of(m, "AssetsDefinition")
    }
    checks = [
        c
        for m in (ingestion_checks, privacy_checks, personas_checks, release_checks)
        for c in _defs_of(m, "AssetChecksDefinition")
    ]
    last = START.replace(day=START.day + days - 1).isoformat()
    seconds: dict[str, float] = {}
    check_seconds: dict[str, float] = {}
    instance = DagsterInstance.ephemeral()
    checked = {c.node_def.name: _checked_asset(c) for c in checks}  # check step -> the asset it checks
    for steps, kwargs in (
        (
            DAILY_STEPS,
            {
                "tags": {
                    "dagster/asset_partition_range_start": START.isoformat(),
                    "dagster/asset_partition_range_end": last,
                }
            },
        ),
        (RELEASE_STEPS, {"partition_key": MONTH_KEY}),
    ):
        print(f"materializing {', '.join(steps)} ...", flush=True)
        their_checks = {name: asset for name, asset in checked.items() if asset in steps}
        result = materialize(
            [*(assets[s] for s in steps), *(c for c in checks if c.node_def.name in their_checks)],
            resources=resources,
            instance=instance,
            run_config=QUIET,
            **kwargs,
        )
        spent = step_seconds(instance, result.run_id)
        for step, step_s in spent.items():
            if step in their_checks:
                check_seconds[their_checks[step]] = check_seconds.get(their_checks[step], 0.0) + step_s
            else:
                seconds[step] = step_s
        print(
            "  " + ", ".join(f"{s} {seconds[s]:.1f}s (checks {check_seconds.get(s, 0):.1f}s)" for s in steps),
            flush=True,
        )
        costly = sorted((-step_s, step) for step, step_s in spent.items() if step in their_checks)[:6]
        print("  costliest checks: " + ", ".join(f"{step} {-neg:.1f}s" for neg, step in costly), flush=True)
    return seconds, check_seconds


def _defs_of(module: Any, kind: str) -> list[Any]:
    """The Dagster definitions of `kind` (a class name in `dagster`) a defs module holds."""
    import dagster

    return [v for v in vars(module).values() if isinstance(v, getattr(dagster, kind))]


def _checked_asset(check: Any) -> str:
    (asset,) = {key.asset_key.to_user_string() for key in check.check_keys}
    return asset
