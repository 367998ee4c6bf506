"""faiss k-means with a minimum cluster size: correctness, guarantees and determinism."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from support.pipeline import REPO
from support.vectors import planted

from blueprint_assets.lib.personas.clustering import (
    cluster_users,
    enforce_min_size,
    kmeans_plus_plus,
    silhouette_sample,
    train_kmeans,
)


def _digest(assignments: np.ndarray) -> str:
    return hashlib.sha1(assignments.tobytes()).hexdigest()


def test_recovers_planted_clusters_with_dense_ordered_ids() -> None:
    x, truth = planted((300, 200, 120, 80))
    # Random initialisation can split a blob; the best of 5 seeded runs finds the planted optimum.
    result = cluster_users(x, k=4, min_cluster_size=10, nredo=5)
    assert result.k_used == 4 and result.k_requested == 4
    assert result.assignments.dtype == np.int32 and result.assignments.shape == (700,)
    # Each planted blob maps to exactly one cluster, and ids are ordered by size (desc).
    for blob in range(4):
        assert np.unique(result.assignments[truth == blob]).size == 1
    assert result.sizes.tolist() == [300, 200, 120, 80]
    assert result.assignments[truth == 0][0] == 0 and result.assignments[truth == 3][0] == 3


def test_centroids_distances_and_inertia_are_consistent() -> None:
    x, _ = planted((150, 100, 60))
    result = cluster_users(x, k=3, min_cluster_size=10)
    for cid in range(result.k_used):
        np.testing.assert_allclose(result.centroids[cid], x[result.assignments == cid].mean(0), atol=1e-5)
    expected = np.linalg.norm(x - result.centroids[result.assignments], axis=1)
    np.testing.assert_allclose(result.distances, expected, rtol=1e-4, atol=1e-5)
    assert result.distances.dtype == np.float32 and result.centroids.dtype == np.float32
    assert result.inertia == pytest.approx(float((expected.astype(np.float64) ** 2).sum()), rel=1e-4)
    assert int(result.sizes.sum()) == x.shape[0]


def test_exact_k_with_every_cluster_at_least_the_minimum() -> None:
    # Five tiny far-away groups of 3 each attract a centroid; they are filled up, not dissolved.
    x, truth = planted((200, 150, 100, 3, 3, 3, 3, 3), spread=0.2, seed=3)
    result = cluster_users(x, k=8, min_cluster_size=10)
    assert result.k_used == 8 and result.k_requested == 8
    assert result.k_reason.startswith("kept")
    assert result.sizes.min() >= 10
    assert int(result.sizes.sum()) == x.shape[0]
    assert np.array_equal(np.unique(result.assignments), np.arange(8))
    # Plain k-means (same seed and init) does leave clusters below the minimum: the repair did real work.
    _, raw = train_kmeans(x, 8, seed=42, niter=25)
    assert np.bincount(raw, minlength=8).min() < 10
    assert any("moved into clusters below 10" in note for note in result.notes)
    # Each tiny group stays whole: its cluster was filled around it.
    for blob in range(3, 8):
        assert np.unique(result.assignments[truth == blob]).size == 1


def test_enforce_min_size_takes_the_nearest_users_that_can_be_spared() -> None:
    # Cluster 2 (one user at x=5) needs 2 more. The nearest outside users are cluster 1's (x=8..9), but
    # cluster 1 is at the minimum (3), so the two nearest of cluster 0, which can spare 2, move instead.
    centroids = np.array([[1.0, 0.0], [8.5, 0.0], [5.0, 0.0]], dtype=np.float32)
    xs = [0.0, 0.5, 1.0, 1.5, 2.0, 8.0, 8.5, 9.0, 5.0]
    x = np.array([[v, 0.0] for v in xs], dtype=np.float32)
    labels = np.array([0, 0, 0, 0, 0, 1, 1, 1, 2])
    new, moved = enforce_min_size(x, labels, centroids, min_cluster_size=3)
    assert moved == 2
    assert new.tolist() == [0, 0, 0, 2, 2, 1, 1, 1, 2]
    # With room to spare in cluster 1, its users are the cheaper ones to move.
    x2 = np.vstack([x, [[9.5, 0.0]]]).astype(np.float32)
    new2, _ = enforce_min_size(x2, np.append(labels, 1), centroids, min_cluster_size=3)
    # Costs into x=5: x=2 (from 0) 9 - 1 = 8, x=8 (from 1) 9 - 0.25 = 8.75, x=1.5 (from 0) 12.25 - 0.25 = 12.
    assert np.bincount(new2).tolist() == [4, 3, 3]
    assert new2[4] == 2 and new2[5] == 2


def test_enforce_min_size_never_empties_a_donor_below_the_minimum() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(200, 8)).astype(np.float32)
    centroids = rng.normal(size=(10, 8)).astype(np.float32) * 3
    labels = np.argmin(((x[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)
    new, moved = enforce_min_size(x, labels, centroids, min_cluster_size=20)
    assert np.bincount(new, minlength=10).tolist() == [20] * 10
    assert moved > 0
    with pytest.raises(ValueError, match="cannot fill 10 clusters of at least 21"):
        enforce_min_size(x, labels, centroids, min_cluster_size=21)


def test_k_is_lowered_only_when_users_cannot_fill_it() -> None:
    x, _ = planted((30, 25), seed=5)
    result = cluster_users(x, k=25, min_cluster_size=10)
    assert result.k_requested == 25
    assert result.k_used == 5
    assert result.sizes.min() >= 10
    assert (
        result.k_reason == "lowered from 25 to 5: 55 users cannot fill 25 clusters of at least 10 (need 250)"
    )
    assert result.k_reason in result.notes[0]
    exact = cluster_users(x, k=5, min_cluster_size=11)
    assert exact.k_used == 5 and exact.sizes.tolist() == [11] * 5


def test_kmeans_plus_plus_init_is_seeded_and_spreads_centres() -> None:
    x, truth = planted((100, 100, 100, 100), spread=0.1, seed=8)
    first = kmeans_plus_plus(x, 4, seed=1)
    assert first.tobytes() == kmeans_plus_plus(x, 4, seed=1).tobytes()
    # One seed per planted blob: D^2 sampling almost never picks two in the same tight blob.
    picked = {int(truth[np.flatnonzero((x == row).all(1))[0]]) for row in first}
    assert picked == {0, 1, 2, 3}
    with pytest.raises(ValueError, match="unknown init"):
        train_kmeans(x, 4, seed=1, niter=5, init="bogus")


def test_too_few_users_is_a_clear_error() -> None:
    x, _ = planted((5,))
    with pytest.raises(ValueError, match="cannot cluster 5 users with min_cluster_size=10"):
        cluster_users(x, k=2, min_cluster_size=10)


def test_single_cluster() -> None:
    x, _ = planted((12,))
    result = cluster_users(x, k=1, min_cluster_size=10)
    assert result.k_used == 1 and result.assignments.tolist() == [0] * 12


def test_same_input_gives_byte_identical_assignments_in_process() -> None:
    x, _ = planted((400, 300, 200, 100, 50), d=64, spread=1.5, seed=11)
    first = cluster_users(x, k=12, min_cluster_size=10)
    second = cluster_users(x.copy(), k=12, min_cluster_size=10)
    assert first.assignments.tobytes() == second.assignments.tobytes()
    assert first.centroids.tobytes() == second.centroids.tobytes()
    different_seed = cluster_users(x, k=12, min_cluster_size=10, seed=7)
    assert different_seed.k_used >= 5


def test_same_input_gives_byte_identical_assignments_across_processes() -> None:
    x, _ = planted((400, 300, 200, 100, 50), d=64, spread=1.5, seed=11)
    local = _digest(cluster_users(x, k=12, min_cluster_size=10).assignments)
    script = textwrap.dedent(
        """
        import hashlib, sys
        sys.path.insert(0, sys.argv[1])
        sys.path.insert(0, sys.argv[2])
        from support.vectors import planted
        from blueprint_assets.lib.personas.clustering import cluster_users
        x, _ = planted((400, 300, 200, 100, 50), d=64, spread=1.5, seed=11)
        print(hashlib.sha1(cluster_users(x, k=12, min_cluster_size=10).assignments.tobytes()).hexdigest())
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(REPO), str(REPO / "tests")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert out.stdout.strip() == local


def test_rejects_bad_vectors() -> None:
    with pytest.raises(ValueError, match="2-D"):
        cluster_users(np.zeros(20, dtype=np.float32))
    bad = np.ones((20, 4), dtype=np.float32)
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        cluster_users(bad, k=1)


def test_silhouette_matches_sklearn_on_the_same_sample() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    x, truth = planted((300, 200, 100), d=16, spread=1.0, seed=2)
    ours = silhouette_sample(x, truth, sample=250, seed=42)
    idx = np.sort(np.random.default_rng(42).choice(x.shape[0], size=250, replace=False))
    assert ours == pytest.approx(metrics.silhouette_score(x[idx], truth[idx]), abs=1e-5)
    # Shuffled labels destroy the structure.
    shuffled = np.random.default_rng(0).permutation(truth)
    assert silhouette_sample(x, shuffled, sample=250) < 0.05 < ours


def test_silhouette_needs_two_clusters() -> None:
    x, _ = planted((20,))
    with pytest.raises(ValueError, match="at least 2 clusters"):
        silhouette_sample(x, np.zeros(20, dtype=np.int32))


def test_clusters_real_sentence_embeddings_by_topic() -> None:
    from blueprint_assets.lib.personas.encoder import load_encoder

    sport = [
        f"{team} won the {game} match last night, what a goal!"
        for team in ("Arsenal", "Chelsea", "Liverpool")
        for game in ("football", "soccer", "league", "cup")
    ]
    food = [
        f"My {dish} recipe needs more {spice} and a slow oven"
        for dish in ("lasagna", "curry", "stew")
        for spice in ("garlic", "pepper", "basil", "cumin")
    ]
    vectors = load_encoder().encode(sport + food)
    result = cluster_users(vectors, k=2, min_cluster_size=5)
    labels = result.assignments
    assert len(set(labels[:12].tolist())) == 1 and len(set(labels[12:].tolist())) == 1
    assert labels[0] != labels[12]
    assert silhouette_sample(vectors, labels) > 0.1
