"""Persona clustering: faiss k-means with exactly k clusters of a guaranteed minimum size.

Clusters below the minimum are filled with their nearest outside users by a min-cost assignment (scipy's
HiGHS), never dissolved, so k is kept whenever n >= k * min size; otherwise k is lowered to the largest that
fits and the result says why. Deterministic by construction: fixed seed, training on every point (no faiss
sub-sampling), a fixed thread count (1 by default, so results do not depend on the machine), a deterministic
solver, and deterministic tie-breaking when ids are renumbered.
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
    k_reason: str  # "kept: ..." or "lowered from K to k: ..." (read by the card and the audit)
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


def kmeans_plus_plus(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Greedy k-means++ seeding (as scikit-learn's): k rows of x, float32 (k, d).

    Each new centre is the best of 2 + log(k) candidates drawn with probability proportional to the
    squared distance to the nearest centre so far (the one lowering the total most).
    """
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    trials = 2 + int(np.log(k))
    norms = np.einsum("ij,ij->i", x, x, dtype=np.float64)

    def sq_to(rows: np.ndarray) -> np.ndarray:
        return np.maximum(norms[:, None] - 2.0 * (x @ x[rows].T) + norms[rows][None, :], 0.0)

    chosen = [int(rng.integers(n))]
    closest = sq_to(np.array(chosen))[:, 0]
    for _ in range(1, k):
        cumulative = np.cumsum(closest)
        candidates = np.minimum(np.searchsorted(cumulative, rng.random(trials) * cumulative[-1]), n - 1)
        dists = np.minimum(sq_to(candidates), closest[:, None])
        best = int(np.argmin(dists.sum(axis=0)))
        chosen.append(int(candidates[best]))
        closest = dists[:, best]
    return np.ascontiguousarray(x[chosen], dtype=np.float32)


def train_kmeans(
    x: np.ndarray,
    k: int,
    seed: int,
    niter: int,
    threads: int = 1,
    nredo: int = 1,
    init: str = "k-means++",
) -> tuple[np.ndarray, np.ndarray]:
    """faiss k-means on all points; returns (centroids float32 (k, d), nearest-centroid ids int64 (n,)).

    `init` is "k-means++" (seeded, see `kmeans_plus_plus`) or "random" (faiss's own: k random points).
    With `nredo` > 1, runs `nredo` times with seeds seed, seed+1, ... and keeps the lowest objective.
    """
    import faiss

    n, d = x.shape
    if k == 1:
        return x.mean(axis=0, keepdims=True, dtype=np.float64).astype(np.float32), np.zeros(n, dtype=np.int64)
    if init not in ("k-means++", "random"):
        raise ValueError(f"unknown init {init!r}; expected 'k-means++' or 'random'")
    best: tuple[float, faiss.Kmeans] | None = None
    with faiss_threads(threads):
        for redo in range(nredo):
            start = kmeans_plus_plus(x, k, seed + redo) if init == "k-means++" else None
            km = faiss.Kmeans(
                d,
                k,
                niter=niter,
                seed=seed + redo,
                verbose=False,
                # Above n/k faiss never sub-samples, so every point shapes the centroids.
                max_points_per_centroid=n // k + 1,
                min_points_per_centroid=1,
            )
            km.train(x, init_centroids=start)
            if best is None or km.obj[-1] < best[0]:
                best = (float(km.obj[-1]), km)
        assert best is not None
        _, labels = best[1].index.search(x, 1)
    return np.asarray(best[1].centroids, dtype=np.float32), labels[:, 0].astype(np.int64)


def _sq_dists(points: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances (len(points), len(centroids)), a float32 product returned as float64."""
    p = np.ascontiguousarray(points, dtype=np.float32)
    c = np.ascontiguousarray(centroids, dtype=np.float32)
    out = (p * p).sum(1, dtype=np.float64)[:, None] - 2.0 * (p @ c.T) + (c * c).sum(1, dtype=np.float64)
    return np.maximum(out, 0.0)


def feasible_k(n: int, k: int, min_cluster_size: int) -> tuple[int, str]:
    """(k to use, why): the requested k whenever n >= k * min_cluster_size, else the largest k that fits."""
    if k * min_cluster_size <= n:
        return k, f"kept: {n} users fill {k} clusters of at least {min_cluster_size}"
    k_used = max(1, n // min_cluster_size)
    return k_used, (
        f"lowered from {k} to {k_used}: {n} users cannot fill {k} clusters of at least {min_cluster_size} "
        f"(need {k * min_cluster_size})"
    )


def nearest_centroids(
    x: np.ndarray, centroids: np.ndarray, threads: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """(id int64 (n,), squared distance float64 (n,)) of every point's nearest centroid (exact L2 search)."""
    import faiss

    with faiss_threads(threads):
        index = faiss.IndexFlatL2(x.shape[1])
        index.add(np.ascontiguousarray(centroids, dtype=np.float32))
        dist, labels = index.search(x, 1)
    return labels[:, 0].astype(np.int64), np.maximum(dist[:, 0].astype(np.float64), 0.0)


def _rank_within_group(groups: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each group value, in the order the elements appear."""
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    run_start = np.repeat(starts, np.diff(np.r_[starts, groups.size]))
    out = np.empty(groups.size, dtype=np.int64)
    out[order] = np.arange(groups.size) - run_start
    return out


def _candidates(
    delta: np.ndarray, donor_points: np.ndarray, labels: np.ndarray, need: np.ndarray, spare: np.ndarray,
    factor: int,
) -> list[np.ndarray]:  # fmt: skip
    """For each small cluster, its `factor * (need + 1)` cheapest donor points, at most `spare` per donor.

    The cap keeps the candidates spread over donors that can actually give them, so the first solve is
    almost always feasible.
    """
    out = []
    for j in range(delta.shape[1]):
        order = donor_points[np.argsort(delta[donor_points, j], kind="stable")]
        usable = order[_rank_within_group(labels[order]) < spare[labels[order]]]
        out.append(np.sort(usable[: int(factor * (need[j] + 1))]))
    return out


def _solve_moves(
    delta: np.ndarray, labels: np.ndarray, small: np.ndarray, need: np.ndarray, spare: np.ndarray, cand: list
) -> np.ndarray | None:
    """Min-cost moves into the small clusters, or None if these candidates cannot cover every deficit.

    Variables x[i, j] (candidate point i moves into small cluster j) in {0, 1}; each small cluster gets
    exactly its deficit, each point moves at most once, each donor keeps at least the minimum. The matrix
    is a network matrix (laminar rows on one side), so the LP optimum HiGHS returns is integral.
    Returns the new label of every point.
    """
    from scipy.optimize import linprog
    from scipy.sparse import csr_array, vstack

    points = np.concatenate(cand)
    slot = np.repeat(np.arange(len(cand)), [c.size for c in cand])
    nvar = points.size
    cols = np.arange(nvar)
    uniq, point_row = np.unique(points, return_inverse=True)
    donors, donor_row = np.unique(labels[points], return_inverse=True)
    a_once = csr_array((np.ones(nvar), (point_row, cols)), shape=(uniq.size, nvar))
    a_spare = csr_array((np.ones(nvar), (donor_row, cols)), shape=(donors.size, nvar))
    result = linprog(
        delta[points, slot],
        A_ub=vstack([a_once, a_spare]).tocsr(),
        b_ub=np.concatenate([np.ones(uniq.size), spare[donors]]),
        A_eq=csr_array((np.ones(nvar), (slot, cols)), shape=(len(cand), nvar)),
        b_eq=need,
        bounds=(0, 1),
        method="highs-ds",  # dual simplex: a vertex, hence integral here
    )
    if result.status == 2:  # infeasible with these candidates
        return None
    if result.status != 0 or np.abs(result.x - np.round(result.x)).max() > 1e-6:
        raise RuntimeError(f"min-size repair LP failed: {result.message}")
    chosen = result.x > 0.5
    new = labels.copy()
    new[points[chosen]] = small[slot[chosen]]
    return new


def enforce_min_size(
    x: np.ndarray,
    labels: np.ndarray,
    centroids: np.ndarray,
    min_cluster_size: int,
    own: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Fill every cluster below the minimum with its nearest outside users, from clusters that can spare them.

    A min-cost assignment: the users moved are the ones whose squared distance grows least, no donor drops
    below the minimum, and no cluster is removed. Needs len(x) >= len(centroids) * min_cluster_size.
    `own` (optional) is each user's squared distance to its current centroid, if already known.
    Returns (new labels, number of users moved).
    """
    k = centroids.shape[0]
    if x.shape[0] < k * min_cluster_size:
        raise ValueError(f"{x.shape[0]} users cannot fill {k} clusters of at least {min_cluster_size}")
    sizes = np.bincount(labels, minlength=k)
    small = np.flatnonzero(sizes < min_cluster_size)
    if small.size == 0:
        return labels.copy(), 0
    need = (min_cluster_size - sizes[small]).astype(np.float64)
    spare = (sizes - min_cluster_size).astype(np.float64)
    # Cost of moving a user into small cluster j: its squared distance there minus where it is now.
    own = _sq_dists_rows(x, centroids, labels) if own is None else own
    delta = _sq_dists(x, centroids[small]) - own[:, None]
    donor_points = np.flatnonzero(spare[labels] > 0)
    factor = 2
    while True:
        cand = _candidates(delta, donor_points, labels, need, spare, factor)
        new = _solve_moves(delta, labels, small, need, spare, cand)
        if new is not None:
            return new, int((new != labels).sum())
        if factor > x.shape[0]:
            raise RuntimeError("no feasible repair found; this is a bug (n >= k * min_cluster_size)")
        factor *= 4


_CHUNK = 1 << 15  # rows per float64 block: bounded memory at any n


def _sq_dists_rows(x: np.ndarray, centroids: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Squared distance of every point to its own centroid, float64 (n,)."""
    out = np.empty(x.shape[0], dtype=np.float64)
    c64 = centroids.astype(np.float64)
    for start in range(0, x.shape[0], _CHUNK):
        rows = slice(start, start + _CHUNK)
        diff = x[rows].astype(np.float64) - c64[labels[rows]]
        out[rows] = np.einsum("ij,ij->i", diff, diff)
    return out


def cluster_sums(x: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(float64 (k, d) sum of each cluster's members, int64 (k,) sizes), in bounded-memory blocks."""
    from scipy.sparse import csr_array

    sums = np.zeros((k, x.shape[1]), dtype=np.float64)
    for start in range(0, x.shape[0], _CHUNK):
        part = labels[start : start + _CHUNK]
        onehot = csr_array((np.ones(part.size), (part, np.arange(part.size))), shape=(k, part.size))
        sums += onehot @ x[start : start + _CHUNK].astype(np.float64)
    return sums, np.bincount(labels, minlength=k)


def constrained_lloyd(
    x: np.ndarray,
    labels: np.ndarray,
    k: int,
    min_cluster_size: int,
    iters: int,
    threads: int = 1,
    tol: float = 1e-4,
) -> tuple[np.ndarray, int]:
    """Lloyd steps whose assignment keeps every cluster >= the minimum; stops when the inertia falls by less
    than `tol` (relative) or rises.

    Starts from a labelling that already satisfies the minimum; returns (best labels, steps run).
    The inertia of a labelling around its own means is sum |x|^2 - sum_c |sum_c|^2 / n_c (no pass over x).
    """
    total = float(np.einsum("ij,ij->", x, x, dtype=np.float64))

    def means_and_inertia(lab: np.ndarray) -> tuple[np.ndarray, float]:
        sums, sizes = cluster_sums(x, lab, k)
        inertia = total - float(((sums * sums).sum(1) / np.maximum(sizes, 1)).sum())
        return (sums / np.maximum(sizes, 1)[:, None]).astype(np.float32), inertia

    centroids, best = means_and_inertia(labels)
    for step in range(iters):
        nearest, dist = nearest_centroids(x, centroids, threads)
        candidate, _ = enforce_min_size(x, nearest, centroids, min_cluster_size, own=dist)
        if np.array_equal(candidate, labels):
            return labels, step
        new_centroids, value = means_and_inertia(candidate)
        if value >= best * (1 - tol):
            return labels, step + 1
        labels, centroids, best = candidate, new_centroids, value
    return labels, iters


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
    polish_iters: int = 10,
) -> ClusterResult:
    """k-means over user vectors: exactly k clusters, each of >= min_cluster_size users, whenever n allows.

    faiss k-means first; if some clusters come out below the minimum, they are filled with their nearest
    outside users (min-cost, see `enforce_min_size`) and up to `polish_iters` constrained Lloyd steps lower
    the inertia again. k is lowered only when n < k * min_cluster_size (`k_reason` says so).
    `nredo` > 1 trains that many times (seeds derived from `seed`) and keeps the lowest objective;
    `threads` is faiss's OpenMP thread count (keep it fixed for reproducible results).
    """
    x = _validate(vectors, k, min_cluster_size)
    n = x.shape[0]
    k_train, k_reason = feasible_k(n, k, min_cluster_size)
    notes = [] if k_train == k else [f"k {k_reason}"]
    centroids, labels = train_kmeans(x, k_train, seed, niter, threads, nredo)
    labels, moved = enforce_min_size(x, labels, centroids, min_cluster_size)
    if moved:
        labels, steps = constrained_lloyd(x, labels, k_train, min_cluster_size, polish_iters, threads)
        notes.append(
            f"{moved} users moved into clusters below {min_cluster_size}, then {steps} constrained "
            "Lloyd steps"
        )
    assignments, means, sizes = _renumber(x, labels)
    sq = _sq_dists_rows(x, means, assignments)
    return ClusterResult(
        assignments=assignments,
        centroids=means,
        distances=np.sqrt(sq).astype(np.float32),
        sizes=sizes,
        inertia=float(sq.sum()),
        k_requested=k,
        k_used=int(means.shape[0]),
        k_reason=k_reason,
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


def require_enough_users(users: int, min_cluster_size: int) -> None:
    """Fail with the cause and the fix when not even one cluster of the minimum size can be formed."""
    if users < min_cluster_size:
        noun = "user" if users == 1 else "users"
        raise ValueError(
            f"{users} in-scope {noun}, need {min_cluster_size} per cluster: "
            "lower BLUEPRINT_MIN_CLUSTER_SIZE or widen the window"
        )


def skip_reason(k: int, users: int, min_cluster_size: int) -> str | None:
    """Why granularity K cannot be built for `users` in-scope users (None when it can)."""
    if users < k * min_cluster_size:
        return f"{users} in-scope users < K × min_cluster_size = {k} × {min_cluster_size}"
    return None
