"""The one place where assets, checks, resources, jobs and schedules are assembled."""

from __future__ import annotations

from dagster import Definitions, load_asset_checks_from_modules, load_assets_from_modules

from blueprint_assets.defs.automation import (
    archive_sensor,
    automated,
    daily_schedule,
    monthly_release_schedule,
)
from blueprint_assets.defs.ingestion import assets as ingestion
from blueprint_assets.defs.ingestion import checks as ingestion_checks
from blueprint_assets.defs.jobs import JOBS, RELEASE_ASSETS, STEP_EXECUTOR, daily_job, release_job
from blueprint_assets.defs.personas import assets as personas
from blueprint_assets.defs.personas import checks as personas_checks
from blueprint_assets.defs.privacy import assets as privacy
from blueprint_assets.defs.privacy import checks as privacy_checks
from blueprint_assets.defs.release import assets as release
from blueprint_assets.defs.release import checks as release_checks
from blueprint_assets.defs.resources import build_resources
from blueprint_assets.defs.ui_metadata import with_catalog_attributes
from blueprint_assets.lib.sources.kinds import ARCHIVE_KINDS
from blueprint_assets.settings import Settings

# Kinds, owners and UI-safe descriptions for every asset (defs/ui_metadata.py).
all_assets = with_catalog_attributes(load_assets_from_modules([ingestion, privacy, personas, release]))
all_checks = load_asset_checks_from_modules(
    [ingestion_checks, privacy_checks, personas_checks, release_checks]
)


def build_definitions(settings: Settings | None = None, extra_jobs: list | None = None) -> Definitions:
    """Definitions bound to `settings` (default: the environment; the CLI passes its flags as overrides)."""
    resources = build_resources(settings)
    source = resources["source"]
    watch_archive = source.kind in ARCHIVE_KINDS and source.path
    return Definitions(
        # Daily assets follow their upstream once its blocking checks pass; releases are cut by schedule.
        assets=automated(all_assets, exclude=RELEASE_ASSETS),
        asset_checks=all_checks,
        jobs=[*JOBS.values(), *(extra_jobs or [])],
        schedules=[daily_schedule(daily_job), monthly_release_schedule(release_job)],
        sensors=[archive_sensor(daily_job, source.path, exclude=source.exclude)] if watch_archive else [],
        resources=resources,
        executor=STEP_EXECUTOR,
    )


defs = build_definitions()
