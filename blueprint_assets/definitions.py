"""The one place where assets, checks, resources, jobs and schedules are assembled."""

from __future__ import annotations

import os

from dagster import Definitions, define_asset_job, load_asset_checks_from_modules, load_assets_from_modules

import checks.ingestion_checks
import checks.privacy_checks
import checks.release_checks
from blueprint_assets.assets import ingestion, personas, privacy, release
from blueprint_assets.assets.ui_metadata import with_catalog_attributes
from blueprint_assets.automation import archive_sensor, automated, daily_schedule, monthly_release_schedule
from blueprint_assets.lib.personas.static_encoder import model_cache_dir
from blueprint_assets.partitions import daily_partitions, monthly_partitions
from blueprint_assets.resources import (
    EncoderResource,
    EventSourceResource,
    LakeResource,
    PrivacyResource,
    QueryEngine,
    ReleaseSettings,
    default_data_dir,
)

# Kinds, owners and UI-safe descriptions for every asset (assets/ui_metadata.py).
all_assets = with_catalog_attributes(load_assets_from_modules([ingestion, privacy, personas, release]))
all_checks = load_asset_checks_from_modules(
    [checks.ingestion_checks, checks.privacy_checks, checks.release_checks]
)

DAILY_ASSETS = ["raw_events", "actions", "anonymized_posts", "post_embeddings"]
daily_job = define_asset_job(
    "daily_ingestion",
    selection=DAILY_ASSETS,
    partitions_def=daily_partitions,
    description="Ingest, map and (later stages) anonymize and embed a range of days.",
)


def _csv_env(name: str) -> list[str] | None:
    value = os.environ.get(name, "")
    return [item.strip() for item in value.split(",") if item.strip()] or None


# Network-source knobs: resource field -> (environment variable, type).
SOURCE_OPTION_ENV = {
    "idle_timeout": ("BLUEPRINT_SOURCE_IDLE_TIMEOUT", float),
    "max_retries": ("BLUEPRINT_SOURCE_MAX_RETRIES", int),
    "backoff": ("BLUEPRINT_SOURCE_BACKOFF", float),
}


def source_options(overrides: dict | None = None) -> dict:
    """Retry and timeout settings: the given values, else BLUEPRINT_SOURCE_* variables, else the defaults."""
    options = {}
    for name, (variable, cast) in SOURCE_OPTION_ENV.items():
        value = (overrides or {}).get(name)
        if value is None and os.environ.get(variable):
            try:
                value = cast(os.environ[variable])
            except ValueError:
                raise ValueError(f"{variable}={os.environ[variable]!r} is not a {cast.__name__}") from None
        if value is not None:
            options[name] = value
    return options


def parse_k_list(value: str) -> list[int]:
    """BLUEPRINT_K: one K (`25`) or a comma-separated list (`2,25,100,1000`), each a positive integer."""
    try:
        ks = sorted({int(part) for part in value.split(",") if part.strip()})
    except ValueError:
        raise ValueError(f"BLUEPRINT_K must be integers separated by commas, got {value!r}") from None
    if not ks or ks[0] < 1:
        raise ValueError(f"BLUEPRINT_K needs at least one K of 1 or more, got {value!r}")
    return ks


def build_resources(
    data_dir: str | None = None,
    source_kind: str | None = None,
    source_path: str | None = None,
    source_url: str | None = None,
    source_settings: dict | None = None,
    source_exclude: list[str] | None = None,
) -> dict:
    """Resources for a data directory; defaults come from the environment (BLUEPRINT_*)."""
    data_dir = data_dir or default_data_dir()
    kind = source_kind or os.environ.get("BLUEPRINT_SOURCE", "jetstream-archive")
    default_path = os.path.join(data_dir, "sample") if kind in ("jetstream-archive", "sample") else None
    return {
        "lake": LakeResource(data_dir=data_dir),
        "query_engine": QueryEngine(database=":memory:"),
        "privacy": PrivacyResource(
            data_dir=data_dir,
            ner=os.environ.get("BLUEPRINT_NER", "0") == "1",
            optout_file=os.environ.get("BLUEPRINT_OPTOUT_FILE") or None,
        ),
        "source": EventSourceResource(
            kind=kind,
            path=source_path or os.environ.get("BLUEPRINT_SOURCE_PATH") or default_path,
            url=source_url or os.environ.get("BLUEPRINT_SOURCE_URL") or None,
            dids=_csv_env("BLUEPRINT_SOURCE_DIDS"),
            actors=_csv_env("BLUEPRINT_SOURCE_ACTORS"),
            **source_options(source_settings),
            exclude=source_exclude or _csv_env("BLUEPRINT_SOURCE_EXCLUDE"),
        ),
        "encoder": EncoderResource(
            model_name=os.environ.get("BLUEPRINT_ENCODER", "default"), cache_dir=model_cache_dir(data_dir)
        ),
        "settings": ReleaseSettings(
            ks=parse_k_list(os.environ.get("BLUEPRINT_K", "25")),
            min_cluster_size=int(os.environ.get("BLUEPRINT_MIN_CLUSTER_SIZE", "10")),
            keywords_file=os.environ.get("BLUEPRINT_KEYWORDS_FILE") or None,
            require_keywords=os.environ.get("BLUEPRINT_REQUIRE_KEYWORDS", "0") == "1",
            split_strategy=os.environ.get("BLUEPRINT_SPLIT", "temporal"),
            stable_ids=os.environ.get("BLUEPRINT_STABLE_IDS", "0") == "1",
            contact=os.environ.get("BLUEPRINT_CONTACT", ""),
            gated=os.environ.get("BLUEPRINT_GATED", "0") == "1",
        ),
    }


RELEASE_ASSETS = [
    "user_embeddings",
    "persona_clusters",
    "action_threads",
    "action_splits",
    "dataset_release",
    "privacy_audit_report",
]
release_job = define_asset_job(
    "monthly_release",
    selection=RELEASE_ASSETS,
    partitions_def=monthly_partitions,
    description="Build a release (a month, or an extended release over a month range) from the daily tables.",
)

JOBS = {job.name: job for job in (daily_job, release_job)}


def selection_job(base_job: str, selection: list[str]):
    """A job over a subset of `base_job`'s assets, with the same partitions."""
    base = JOBS[base_job]
    return define_asset_job(f"{base_job}_selection", selection=selection, partitions_def=base.partitions_def)


def build_definitions(extra_jobs: list | None = None, **resource_options) -> Definitions:
    """Definitions bound to a data directory and source (the CLI passes its flags here)."""
    resources = build_resources(**resource_options)
    source = resources["source"]
    watch_archive = source.kind in ("jetstream-archive", "sample") and source.path
    return Definitions(
        # Daily assets follow their upstream once its blocking checks pass; releases are cut by schedule.
        assets=automated(all_assets, exclude=RELEASE_ASSETS),
        asset_checks=all_checks,
        jobs=[*JOBS.values(), *(extra_jobs or [])],
        schedules=[daily_schedule(daily_job), monthly_release_schedule(release_job)],
        sensors=[archive_sensor(daily_job, source.path, exclude=source.exclude)] if watch_archive else [],
        resources=resources,
    )


defs = build_definitions()
