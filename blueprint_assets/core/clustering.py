"""Persona clustering: faiss k-means with a guaranteed minimum cluster size.

Deterministic by construction: fixed seed, training on every point (no faiss sub-sampling), a fixed
thread count (1 by default, so results do not depend on the machine), and deterministic tie-breaking
when small clusters are dissolved and ids are renumbered.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ClusterResult:
    """Dense cluster ids 0..k_used-1, ordered by size (desc) then centroid coordinates.

    `distances` is the Euclidean distance of each point to its final centroid (the mean of its members);
    `inertia` is the sum of squared distances (sklearn's definition).
    """

    assignments: np.ndarray  # int32 (n,)
    centroids: np.ndarray  # float32 (k_used, d)
    distances: np.ndarray  # float32 (n,)
    sizes: np.ndarray  # int64 (k_used,)
    inertia: float
    k_requested: int
    k_used: int
    notes: list[str] = field(default_factory=list)


@contextlib.contextmanager
def faiss_threads(threads: int) -> Iterator[None]:
    """Run faiss with a fixed OpenMP thread count, restoring the previous one afterwards."""
    import faiss

    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(max(1, threads))
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def _validate(vectors: np.ndarray, k: int, min_cluster_size: int) -> np.ndarray:
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] == 0:
        raise ValueError(f"vectors must be a 2-D (n, d) array, got shape {vectors.shape}")
    if not np.isfinite(x).all():
        raise ValueError("vectors contain NaN or infinite values")
    if k < 1 or min_cluster_size < 1:
        raise ValueError("k and min_cluster_size must be >= 1")
    if x.shape[0] < min_cluster_size:
        raise ValueError(
            f"cannot cluster {x.shape[0]} users with min_cluster_size={min_cluster_size}: "
            "need at least min_cluster_size users"
        )
    return x


def train_kmeans(
    x: np.ndarray, k: int, seed: int, niter: int, threads: int = 1, nredo: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """faiss k-means on all points; returns (centroids float32 (k, d), nearest-centroid ids int64 (n,))."""
    import faiss

    n, d = x.shape
    if k == 1:
        return x.mean(axis=0, keepdims=True, dtype=np.float64).astype(np.float32), np.zeros(n, dtype=np.int64)
    with faiss_threads(threads):
        km = faiss.Kmeans(
            d,
            k,
            niter=niter,
            nredo=nredo,
            seed=seed,
            verbose=False,
            # Above n/k faiss never sub-samples, so every point shapes the centroids.
            max_points_per_centroid=n // k + 1,
            min_points_per_centroid=1,
        )
        km.train(x)
        _, labels = km.index.search(x, 1)
    return np.asarray(km.centroids, dtype=np.float32), labels[:, 0].astype(np.int64)


def _sq_dists(points: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances (len(points), len(centroids)) in float64 for stable tie-breaking."""
    p = points.astype(np.float64)
    c = centroids.astype(np.float64)
    out = (p * p).sum(1)[:, None] - 2.0 * p @ c.T + (c * c).sum(1)[None, :]
    return np.maximum(out, 0.0)


def enforce_min_size(
    x: np.ndarray, labels: np.ndarray, centroids: np.ndarray, min_cluster_size: int
) -> tuple[np.ndarray, int]:
    """Dissolve clusters below the minimum, smallest first, moving members to the nearest live cluster.

    A receiving cluster may itself be small; it is either lifted over the minimum or dissolved later.
    Each round removes one cluster, so this ends with all live clusters >= min_cluster_size (n >= min).
    Returns (new labels, number of points moved).
    """
    labels = labels.copy()
    k = centroids.shape[0]
    sizes = np.bincount(labels, minlength=k)
    alive = sizes > 0
    moved = 0
    while True:
        small = np.flatnonzero(alive & (sizes < min_cluster_size))
        if small.size == 0:
            return labels, moved
        # Smallest first; ties by lowest id (np.argmin takes the first).
        victim = int(small[np.argmin(sizes[small])])
        alive[victim] = False
        targets = np.flatnonzero(alive)
        members = np.flatnonzero(labels == victim)
        nearest = targets[np.argmin(_sq_dists(x[members], centroids[targets]), axis=1)]
        labels[members] = nearest
        sizes[victim] = 0
        np.add.at(sizes, nearest, 1)
        moved += members.size


def _renumber(x: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dense ids by size desc then centroid coordinates; returns (labels int32, centroids, sizes)."""
    used, starts, sizes = np.unique(np.sort(labels), return_index=True, return_counts=True)
    # Sum members per cluster in one pass over label-sorted rows (stable sort keeps it deterministic).
    sums = np.add.reduceat(x[np.argsort(labels, kind="stable")].astype(np.float64), starts, axis=0)
    means = (sums / sizes[:, None]).astype(np.float32)
    sizes = sizes.astype(np.int64)
    order = sorted(range(used.size), key=lambda i: (-int(sizes[i]), tuple(means[i].tolist())))
    remap = np.full(int(labels.max()) + 1, -1, dtype=np.int32)
    remap[used[order]] = np.arange(used.size, dtype=np.int32)
    return remap[labels], means[order], sizes[order]


def cluster_users(
    vectors: np.ndarray,
    k: int = 25,
    min_cluster_size: int = 10,
    seed: int = 42,
    niter: int = 25,
    threads: int = 1,
    nredo: int = 1,
) -> ClusterResult:
    """k-means over user vectors with every final cluster holding >= min_cluster_size users.

    `nredo` > 1 trains that many times (seeds derived from `seed`) and keeps the lowest objective;
    `threads` is faiss's OpenMP thread count (keep it fixed for reproducible results).
    """
    x = _validate(vectors, k, min_cluster_size)
    n = x.shape[0]
    notes: list[str] = []
    k_train = k
    if k * min_cluster_size > n:
        k_train = max(1, n // min_cluster_size)
        notes.append(
            f"k lowered from {k} to {k_train}: {n} users cannot fill {k} clusters of >= {min_cluster_size}"
        )
    centroids, labels = train_kmeans(x, k_train, seed, niter, threads, nredo)
    labels, moved = enforce_min_size(x, labels, centroids, min_cluster_size)
    if moved:
        notes.append(f"{moved} users moved out of clusters smaller than {min_cluster_size}")
    assignments, means, sizes = _renumber(x, labels)
    if means.shape[0] < k_train:
        notes.append(f"{k_train - means.shape[0]} empty or dissolved clusters removed")
    diff = x.astype(np.float64) - means[assignments].astype(np.float64)
    sq = (diff * diff).sum(axis=1)
    return ClusterResult(
        assignments=assignments,
        centroids=means,
        distances=np.sqrt(sq).astype(np.float32),
        sizes=sizes,
        inertia=float(sq.sum()),
        k_requested=k,
        k_used=int(means.shape[0]),
        notes=notes,
    )


def silhouette_sample(
    vectors: np.ndarray, assignments: np.ndarray, sample: int = 2000, seed: int = 42
) -> float:
    """Mean silhouette (Euclidean) over a seeded random sample, computed within the sample like sklearn.

    Points alone in their cluster within the sample score 0. Raises if the sample has < 2 clusters.
    """
    x = np.asarray(vectors, dtype=np.float64)
    labels = np.asarray(assignments)
    n = x.shape[0]
    if labels.shape != (n,):
        raise ValueError("assignments must have one label per vector")
    idx = np.sort(np.random.default_rng(seed).choice(n, size=min(sample, n), replace=False))
    xs, ls = x[idx], labels[idx]
    clusters, inverse = np.unique(ls, return_inverse=True)
    if clusters.size < 2:
        raise ValueError("silhouette needs at least 2 clusters in the sample")
    sq = (xs * xs).sum(1)
    dist = np.sqrt(np.maximum(sq[:, None] - 2.0 * xs @ xs.T + sq[None, :], 0.0))
    np.fill_diagonal(dist, 0.0)
    onehot = np.zeros((idx.size, clusters.size))
    onehot[np.arange(idx.size), inverse] = 1.0
    counts = onehot.sum(0)
    sums = dist @ onehot  # (m, c): total distance of each point to each cluster
    own = counts[inverse] - 1
    a = np.where(own > 0, sums[np.arange(idx.size), inverse] / np.maximum(own, 1), 0.0)
    mean_other = sums / counts[None, :]
    mean_other[np.arange(idx.size), inverse] = np.inf
    b = mean_other.min(axis=1)
    s = np.where(own > 0, (b - a) / np.maximum(np.maximum(a, b), 1e-12), 0.0)
    return float(s.mean())
