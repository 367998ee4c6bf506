"""Jobs: the daily ingestion job, the monthly release job, and sub-selections of them for the CLI."""

from __future__ import annotations

from dagster import define_asset_job

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


def selection_job(base_job: str, selection: list[str]):
    """A job over a subset of `base_job`'s assets, with the same partitions."""
    base = JOBS[base_job]
    return define_asset_job(f"{base_job}_selection", selection=selection, partitions_def=base.partitions_def)
