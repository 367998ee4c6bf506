"""User vectors: the mean of a user's post vectors, optionally with a behaviour profile (pure)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa

from blueprint_assets.lib.actions_space import ACTION_ORDER


def mean_vectors(
    post_vectors: pa.Table, users: set[str], record_ids: set[str]
) -> tuple[list[str], list[int], np.ndarray]:
    """(users sorted, posts per user, mean vector per user) over the given users' chosen posts."""
    sums: dict[str, np.ndarray] = {}
    counts: Counter = Counter()
    actors = post_vectors.column("actor").to_pylist()
    ids = post_vectors.column("record_id").to_pylist()
    vectors = post_vectors.column("vector")
    for index, (actor, record) in enumerate(zip(actors, ids, strict=True)):
        if actor not in users or record not in record_ids:
            continue
        vector = np.asarray(vectors[index].as_py(), dtype=np.float64)
        sums[actor] = sums[actor] + vector if actor in sums else vector
        counts[actor] += 1
    ordered = sorted(sums)
    if not ordered:
        return [], [], np.zeros((0, 0), dtype=np.float32)
    matrix = np.stack([sums[u] / counts[u] for u in ordered]).astype(np.float32)
    return ordered, [counts[u] for u in ordered], matrix


def behaviour_profiles(rows: pa.Table, users: list[str]) -> np.ndarray:
    """Each user's action-type distribution over the 13 actions (rows sum to 1)."""
    per_user: dict[str, Counter] = {u: Counter() for u in users}
    for actor, action in zip(
        rows.column("actor").to_pylist(), rows.column("action").to_pylist(), strict=True
    ):
        if actor in per_user:
            per_user[actor][action] += 1
    profile = np.array([[per_user[u][a] for a in ACTION_ORDER] for u in users], dtype=np.float32)
    totals = profile.sum(axis=1, keepdims=True)
    return profile / np.maximum(totals, 1)
