"""Dagster definitions by stage (ingestion, privacy, personas, release), with the partitions, resources,
jobs and automation they share. Stages refer to each other by `AssetKey` only."""
