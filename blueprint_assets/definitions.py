"""The one place where assets, checks, resources, jobs and schedules are assembled."""

from __future__ import annotations

from dagster import Definitions, define_asset_job, load_asset_checks_from_modules, load_assets_from_modules

import checks.ingestion_checks
import checks.privacy_checks
from blueprint_assets.assets import ingestion, privacy
from blueprint_assets.partitions import daily_partitions
from blueprint_assets.resources import (
    EventSourceResource,
    LakeResource,
    PrivacyResource,
    QueryEngine,
    default_data_dir,
)

all_assets = load_assets_from_modules([ingestion, privacy])
all_checks = load_asset_checks_from_modules([checks.ingestion_checks, checks.privacy_checks])

daily_job = define_asset_job(
    "daily_ingestion",
    selection=["raw_events", "actions", "anonymized_posts"],
    partitions_def=daily_partitions,
    description="Ingest, map and (later stages) anonymize and embed a range of days.",
)


def build_resources(
    data_dir: str | None = None, source_kind: str | None = None, source_path: str | None = None
):
    """Resources for a data directory; defaults come from the environment."""
    import os

    data_dir = data_dir or default_data_dir()
    return {
        "lake": LakeResource(data_dir=data_dir),
        "query_engine": QueryEngine(database=":memory:"),
        "privacy": PrivacyResource(
            data_dir=data_dir,
            ner=os.environ.get("BLUEPRINT_NER", "0") == "1",
            optout_file=os.environ.get("BLUEPRINT_OPTOUT_FILE") or None,
        ),
        "source": EventSourceResource(
            kind=source_kind or os.environ.get("BLUEPRINT_SOURCE", "jetstream-archive"),
            path=source_path or os.environ.get("BLUEPRINT_SOURCE_PATH", os.path.join(data_dir, "sample")),
        ),
    }


JOBS = {job.name: job for job in (daily_job,)}


def selection_job(base_job: str, selection: list[str]):
    """A job over a subset of `base_job`'s assets, with the same partitions."""
    base = JOBS[base_job]
    return define_asset_job(f"{base_job}_selection", selection=selection, partitions_def=base.partitions_def)


def build_definitions(extra_jobs: list | None = None, **resource_options) -> Definitions:
    """Definitions bound to a data directory and source (the CLI passes its flags here)."""
    return Definitions(
        assets=all_assets,
        asset_checks=all_checks,
        jobs=[*JOBS.values(), *(extra_jobs or [])],
        resources=build_resources(**resource_options),
    )


defs = build_definitions()
