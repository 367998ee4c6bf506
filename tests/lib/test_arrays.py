"""`distinct_sorted` gives what `np.unique` gives."""

import numpy as np
import pytest

from blueprint_assets.lib.arrays import distinct_sorted


@pytest.mark.parametrize("dtype", [np.uint64, "<u8", np.int64, np.int32, np.uint8])
def test_distinct_sorted_is_np_unique_for_integers(dtype) -> None:
    rng = np.random.default_rng(3)
    for size, high in [(0, 2), (1, 2), (2, 1), (1000, 50), (5000, 120)]:
        values = rng.integers(0, high, size).astype(dtype)
        got = distinct_sorted(values)
        assert got.dtype == np.unique(values).dtype
        assert np.array_equal(got, np.unique(values))


def test_distinct_sorted_flattens_and_leaves_floats_to_np_unique() -> None:
    grid = np.array([[3, 1, 3], [2, 1, 9]], dtype=np.int64)
    assert distinct_sorted(grid).tolist() == [1, 2, 3, 9]
    floats = np.array([np.nan, 1.0, np.nan, -0.0, 0.0])
    assert np.array_equal(distinct_sorted(floats), np.unique(floats), equal_nan=True)
