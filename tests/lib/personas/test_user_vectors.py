"""User vectors (lib/personas/user_vectors.py) and the vector columns they are read from and written as."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from blueprint_assets.lib.personas.embeddings import vector_lists, vector_matrix
from blueprint_assets.lib.personas.user_vectors import mean_vectors


def _loop_means(rows: list[dict], users: set[str], records: set[str]) -> dict[str, np.ndarray]:
    """Each user's mean as a loop adding each chosen post's vector in row order gives it."""
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    for row in rows:
        if row["actor"] in users and row["record_id"] in records:
            vector = np.asarray(row["vector"], dtype=np.float64)
            sums[row["actor"]] = sums[row["actor"]] + vector if row["actor"] in sums else vector
            counts[row["actor"]] = counts.get(row["actor"], 0) + 1
    return {user: (sums[user] / counts[user]).astype(np.float32) for user in sums}


@pytest.mark.parametrize("seed", range(3))
def test_means_equal_a_loop_over_the_posts_bit_for_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(400):
        vector = rng.normal(size=6).astype(np.float32)
        vector[rng.integers(6)] = -0.0  # a negative zero first: a sum from +0.0 would lose its sign
        rows.append({"actor": f"u{rng.integers(30)}" if i % 17 else None, "record_id": f"r{i % 350}",
                     "vector": vector.tolist()})  # fmt: skip
    table = pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [("actor", pa.string()), ("record_id", pa.string()), ("vector", pa.list_(pa.float32(), 6))]
        ),
    )
    users = {f"u{i}" for i in range(0, 30, 2)}
    records = {f"r{i}" for i in range(0, 350, 3)}
    ordered, counts, matrix = mean_vectors(table, users, records)
    expected = _loop_means(rows, users, records)
    assert ordered == sorted(expected)
    assert counts == [sum(1 for r in rows if r["actor"] == u and r["record_id"] in records) for u in ordered]
    assert matrix.tobytes() == np.stack([expected[u] for u in ordered]).tobytes()


def test_no_chosen_post_gives_no_user() -> None:
    table = pa.table(
        {"actor": ["a"], "record_id": ["r"], "vector": pa.array([[1.0]], pa.list_(pa.float32(), 1))}
    )
    users, counts, matrix = mean_vectors(table, {"b"}, {"r"})
    assert (users, counts, matrix.shape) == ([], [], (0, 0))


def test_vector_columns_round_trip_and_uneven_lists_are_refused() -> None:
    matrix = np.arange(12, dtype=np.float32).reshape(4, 3)
    column = vector_lists(matrix)
    assert column.type == pa.list_(pa.float32())
    assert column.to_pylist() == matrix.tolist()
    assert vector_matrix(pa.chunked_array([column.slice(1), column.slice(0, 1)])).tolist() == (
        matrix[[1, 2, 3, 0]].tolist()
    )
    assert vector_matrix(pa.chunked_array([], pa.list_(pa.float32()))).shape == (0, 0)
    with pytest.raises(ValueError, match="different lengths"):
        vector_matrix(pa.chunked_array([pa.array([[1.0, 2.0], [3.0]], pa.list_(pa.float32()))]))
