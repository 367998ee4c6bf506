"""User vectors: the mean of a user's post vectors, optionally with a behaviour profile (pure)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from blueprint_assets.lib.actions_space import ACTION_ORDER
from blueprint_assets.lib.personas.embeddings import vector_matrix


def mean_vectors(
    post_vectors: pa.Table, users: set[str], record_ids: set[str]
) -> tuple[list[str], list[int], np.ndarray]:
    """(users sorted, posts per user, mean vector per user) over the given users' chosen posts.

    Each user's sum runs over their posts in row order in float64 (`np.add.at` adds in index order), from
    -0.0, which adds as nothing: the means are the ones a loop adding each post's vector gives, bit for bit.
    """
    chosen = post_vectors.filter(
        pc.and_(
            _member(post_vectors.column("actor"), users),
            _member(post_vectors.column("record_id"), record_ids),
        )
    )
    names = chosen.column("actor").to_pylist()
    ordered = sorted(set(names))
    if not ordered:
        return [], [], np.zeros((0, 0), dtype=np.float32)
    index = {user: i for i, user in enumerate(ordered)}
    at = np.fromiter((index[name] for name in names), np.int64, len(names))
    vectors = vector_matrix(chosen.column("vector")).astype(np.float64)
    sums = np.full((len(ordered), vectors.shape[1]), -0.0)
    np.add.at(sums, at, vectors)
    counts = np.bincount(at, minlength=len(ordered))
    return ordered, counts.tolist(), (sums / counts[:, None]).astype(np.float32)


def _member(column: pa.ChunkedArray, values: set[str | None]) -> pa.ChunkedArray:
    """Per value of the string column, whether it is in `values` (a null is when None is)."""
    members = sorted(v for v in values if v is not None) + ([None] if None in values else [])
    return pc.is_in(column.cast(pa.string()), value_set=pa.array(members, pa.string()), skip_nulls=False)


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
