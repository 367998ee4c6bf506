"""Exactly K personas on the demo sample: K=25 gives 25 clusters of at least 10 users, through Dagster."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest
from dagster import DagsterInstance, materialize
from support.pipeline import pipeline_resources, run_assets

from blueprint_assets.defs.ingestion.assets import actions, raw_events
from blueprint_assets.defs.personas.assets import persona_clusters, post_embeddings, user_embeddings
from blueprint_assets.defs.personas.checks import persona_clusters_min_size
from blueprint_assets.defs.privacy.assets import anonymized_posts
from blueprint_assets.defs.resources import EncoderResource, ReleaseSettings
from blueprint_assets.lib.personas.clustering import enforce_min_size, train_kmeans
from blueprint_assets.lib.sample import generate_sample
from blueprint_assets.lib.storage.lake import Lake, read_files

# Every test here runs the Dagster asset chain (`make test-fast` leaves them out).
pytestmark = pytest.mark.pipeline

DAYS = ("2025-03-01", "2025-03-03")


@pytest.fixture(scope="module")
def demo_release(tmp_path_factory) -> tuple[Path, object]:
    """The `make demo` sample (3 days, 2,000 users, seed 7) run up to persona_clusters with K=25."""
    root = tmp_path_factory.mktemp("demo")
    generate_sample(root / "sample", days=3, users=2000, seed=7, start=date(2025, 3, 1))
    res = {
        **pipeline_resources(root / "data", root / "sample"),
        "encoder": EncoderResource(),
        "settings": ReleaseSettings(k=25, min_cluster_size=10),
    }
    assert run_assets([raw_events, actions, anonymized_posts, post_embeddings], res, *DAYS).success
    result = materialize(
        [user_embeddings, persona_clusters, persona_clusters_min_size],
        resources=res,
        partition_key="2025-03-01",
        instance=DagsterInstance.ephemeral(),
    )
    assert result.success
    return root / "data", result


def test_k25_on_the_demo_sample_gives_25_clusters_of_at_least_10(demo_release) -> None:
    data_dir, result = demo_release
    lake = Lake(str(data_dir))
    table = read_files([lake.partition_file("persona_clusters", "release", "2025-03")])
    sizes = np.bincount(np.asarray(table.column("cluster_id").to_pylist()))
    assert sizes.size == 25 and sizes.min() >= 10
    assert int(sizes.sum()) == table.num_rows >= 250
    (event,) = [
        e for e in result.get_asset_materialization_events() if e.asset_key.path == ["persona_clusters"]
    ]
    metadata = event.step_materialization_data.materialization.metadata
    # One release clusters several K; the per-K details sit under "granularities".
    assert metadata["k_requested"].value == [25] and metadata["k_used"].value == [25]
    assert metadata["k_lowered"].value is False
    detail = {str(k): v for k, v in metadata["granularities"].value.items()}["25"]
    assert detail["k_requested"] == 25 and detail["k_used"] == 25
    assert detail["k_reason"].startswith(f"kept: {table.num_rows} users fill 25 clusters")
    assert metadata["min_size"].value >= 10
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)


def test_demo_vectors_repair_keeps_all_25_when_plain_kmeans_leaves_a_small_cluster(demo_release) -> None:
    # faiss's random init on the same vectors leaves a cluster below 10 (the old code dissolved it).
    data_dir, _ = demo_release
    lake = Lake(str(data_dir))
    users = read_files([lake.partition_file("user_embeddings", "release", "2025-03")])
    x = np.asarray(users.column("vector").to_pylist(), dtype=np.float32)
    small_seen = False
    for seed in range(42, 52):
        centroids, labels = train_kmeans(x, 25, seed=seed, niter=25, init="random")
        if np.bincount(labels, minlength=25).min() >= 10:
            continue
        small_seen = True
        repaired, moved = enforce_min_size(x, labels, centroids, 10)
        sizes = np.bincount(repaired, minlength=25)
        assert moved > 0 and sizes.size == 25 and sizes.min() >= 10
    assert small_seen
