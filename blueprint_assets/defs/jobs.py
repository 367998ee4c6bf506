"""Jobs: the daily ingestion job, the monthly release job, sub-selections of them for the CLI, and the
executor their runs use outside the CLI."""

from __future__ import annotations

from dagster import define_asset_job, multiprocess_executor

from blueprint_assets.defs.partitions import daily_partitions, monthly_partitions

DAILY_ASSETS = ["raw_events", "actions", "anonymized_posts", "post_embeddings"]
daily_job = define_asset_job(
    "daily_ingestion",
    selection=DAILY_ASSETS,
    partitions_def=daily_partitions,
    description="Ingest, map and (later stages) anonymize and embed a range of days.",
)


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

# Scheduled, sensor and UI runs: one process per step, each forked from a server that loaded the definitions
# once, instead of a new interpreter loading them for every step (benchmarks/README.md, Start-up: a demo day
# of the daily job a third faster). The CLI runs in process and does not use it.
STEP_EXECUTOR = multiprocess_executor.configured(
    {"start_method": {"forkserver": {"preload_modules": ["blueprint_assets.definitions"]}}},
    name="forked_steps",
)


def selection_job(base_job: str, selection: list[str]):
    """A job over a subset of `base_job`'s assets, with the same partitions."""
    base = JOBS[base_job]
    return define_asset_job(f"{base_job}_selection", selection=selection, partitions_def=base.partitions_def)
