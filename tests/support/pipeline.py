"""Helpers for tests that run Dagster assets: the real resources for a data directory, materializing a day
range, the real-samples folder, and every output file as text for leak scans."""

from __future__ import annotations

import os
from pathlib import Path

from blueprint_assets.defs.tags import RANGE_END_TAG, RANGE_START_TAG

REPO = Path(__file__).resolve().parents[2]


def samples_dir() -> Path:
    return Path(os.environ.get("BLUEPRINT_SAMPLES", REPO.parent / "shared" / "samples"))


def range_tags(first: str, last: str) -> dict[str, str]:
    return {RANGE_START_TAG: first, RANGE_END_TAG: last}


def run_assets(
    assets: list, resources: dict, first: str, last: str | None = None, raise_on_error: bool = True
):
    """Materialize `assets` (with their checks) for a day range through real Dagster execution."""
    from dagster import DagsterInstance, materialize

    return materialize(
        assets,
        resources=resources,
        instance=DagsterInstance.ephemeral(),
        tags=range_tags(first, last or first),
        raise_on_error=raise_on_error,
    )


def pipeline_resources(data_dir: Path, archive: Path, **privacy_options) -> dict:
    """The real resources for a data directory and an archive folder."""
    from blueprint_assets.defs.resources import (
        EventSourceResource,
        LakeResource,
        PrivacyResource,
        QueryEngine,
    )

    return {
        "lake": LakeResource(data_dir=str(data_dir)),
        "query_engine": QueryEngine(database=":memory:"),
        "source": EventSourceResource(kind="jetstream-archive", path=str(archive)),
        "privacy": PrivacyResource(data_dir=str(data_dir), **privacy_options),
    }


def all_output_text(root: Path) -> dict[str, str]:
    """Every file below `root` as text (Parquet files decoded to their rows), for leak scans."""
    import pyarrow.parquet as pq

    texts = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            texts[str(path)] = repr(pq.read_table(path, partitioning=None).to_pylist())
        elif path.suffix in (".png", ".duckdb"):
            texts[str(path)] = path.read_bytes().decode("latin-1")
        else:
            texts[str(path)] = path.read_text(errors="replace")
    return texts
