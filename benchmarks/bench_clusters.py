"""Exact-K persona clustering: `cluster_users` vs k-means-constrained's KMeansConstrained, same vectors.

Input: 20,000 x 384 float32 vectors on the unit sphere, Gaussian blobs around 59 topics whose sizes follow
1/rank (a few big topics, a long tail), like sentence embeddings of users' posts. For each K (25, 100) and
each minimum size (10, BluePrint's default, and n / (2K), where the constraint binds hard) both methods
cluster the same vectors with the same minimum:

- ours: `lib.personas.clustering.cluster_users` (k-means++ seeding, faiss k-means, min-cost repair of clusters
  below the minimum, constrained Lloyd polish), one faiss thread;
- baseline: `KMeansConstrained(n_clusters=K, size_min=m, n_init=1, random_state=42)` (k-means++ seeding,
  a min-cost flow assignment at every iteration; n_init=1 so both do one run: its default of 10 would
  take 10x longer and is not what ours does).

Both run with BLAS limited to the same thread count (`--threads`, default 1), and the figure is CPU time
(`time.process_time`: with one thread it is the compute time, steady on a shared, loaded machine; wall time is
printed beside it). Inertia of both is computed
by the same function, around the mean of each cluster's members. Every result is checked: K clusters,
each of at least m. Records merged into benchmarks/results.json:
clusters_k{K}_min{m}_seconds (ratio = speed-up, KMeansConstrained seconds / ours) and
clusters_k{K}_min{m}_inertia (ratio = ours / KMeansConstrained; <= 1.01 is "within 1%").
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS_PATH, record, report_and_merge  # noqa: E402

from blueprint_assets.lib.personas.clustering import cluster_users  # noqa: E402


def topic_vectors(n: int, d: int, topics: int = 59, noise: float = 0.5, seed: int = 0) -> np.ndarray:
    """Unit vectors around `topics` random directions, topic sizes proportional to 1/rank."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, topics + 1)
    centers = rng.standard_normal((topics, d)).astype(np.float32)
    labels = rng.choice(topics, n, p=weights / weights.sum())
    x = centers[labels] + rng.standard_normal((n, d)).astype(np.float32) * np.float32(noise)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x, dtype=np.float32)


def inertia_of(x: np.ndarray, labels: np.ndarray) -> float:
    """Sum of squared distances to the mean of each point's cluster (float64)."""
    total = 0.0
    for c in np.unique(labels):
        members = x[labels == c].astype(np.float64)
        total += float(((members - members.mean(axis=0)) ** 2).sum())
    return total


def _check(name: str, labels: np.ndarray, k: int, minimum: int) -> np.ndarray:
    sizes = np.bincount(labels, minlength=k)
    if sizes.size != k or sizes.min() < minimum:
        raise SystemExit(f"{name} broke the constraint: {sizes.size} clusters, smallest {sizes.min()}")
    return sizes


def bench_one(x: np.ndarray, k: int, minimum: int, threads: int) -> list[dict]:
    import faiss  # noqa: F401  (imports paid before timing, for both sides)
    import scipy.optimize  # noqa: F401
    from k_means_constrained import KMeansConstrained
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        start, wall = time.process_time(), time.perf_counter()
        ours = cluster_users(x, k=k, min_cluster_size=minimum, threads=threads)
        ours_s, ours_wall = time.process_time() - start, time.perf_counter() - wall
        start, wall = time.process_time(), time.perf_counter()
        kmc = KMeansConstrained(n_clusters=k, size_min=minimum, n_init=1, random_state=42).fit(x)
        kmc_s, kmc_wall = time.process_time() - start, time.perf_counter() - wall
    ours_sizes = _check("cluster_users", ours.assignments, k, minimum)
    kmc_sizes = _check("KMeansConstrained", np.asarray(kmc.labels_), k, minimum)
    ours_inertia = inertia_of(x, ours.assignments)
    kmc_inertia = inertia_of(x, np.asarray(kmc.labels_))
    print(
        f"K={k} min={minimum} ({x.shape[0]}x{x.shape[1]}): cluster_users {ours_s:.2f} cpu-s ({ours_wall:.2f}s "
        f"wall) vs KMeansConstrained {kmc_s:.2f} cpu-s ({kmc_wall:.2f}s wall, {kmc.n_iter_} it), speed-up "
        f"{kmc_s / ours_s:.1f}x; inertia {ours_inertia:.1f} vs "
        f"{kmc_inertia:.1f}, ratio {ours_inertia / kmc_inertia:.4f}; smallest cluster {ours_sizes.min()} vs "
        f"{kmc_sizes.min()}; {'; '.join(ours.notes) or 'no repair needed'}",
        flush=True,
    )
    name = f"clusters_k{k}_min{minimum}"
    return [
        record(f"{name}_seconds", ours_s, "cpu s", "kmeans_constrained", kmc_s, kmc_s / ours_s),
        record(f"{name}_inertia", ours_inertia, "sum sq dist", "kmeans_constrained", kmc_inertia),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--ks", type=lambda v: [int(k) for k in v.split(",")], default=[25, 100])
    parser.add_argument(
        "--minimums",
        default="10,half",
        help="comma-separated minimum sizes; 'half' means points / (2K), a binding constraint",
    )
    parser.add_argument("--threads", type=int, default=1, help="BLAS / faiss threads for both")
    parser.add_argument("--quick", action="store_true", help="5,000 points, K=25 only")
    parser.add_argument("--results", type=Path, default=RESULTS_PATH)
    args = parser.parse_args()
    if args.quick:
        args.points, args.ks = 5_000, [25]

    x = topic_vectors(args.points, args.dim)
    records: list[dict] = []
    for k in args.ks:
        for text in args.minimums.split(","):
            minimum = args.points // (2 * k) if text.strip() == "half" else int(text)
            records += bench_one(x, k, minimum, args.threads)
    report_and_merge(records, args.results)
    print(f"merged {len(records)} records into {args.results}")


if __name__ == "__main__":
    main()
