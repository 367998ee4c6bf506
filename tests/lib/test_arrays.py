"""`distinct_sorted` gives what `np.unique` gives."""

import numpy as np
import pytest

from blueprint_assets.lib.arrays import distinct_sorted


@pytest.mark.parametrize("dtype", [np.uint64, ">u8", np.int64, np.int32, np.uint8])
def test_distinct_sorted_is_np_unique_for_integers(dtype: type | str) -> None:
    rng = np.random.default_rng(3)
    for size, high in [(0, 2), (1, 2), (2, 1), (1000, 50), (5000, 120)]:
        values = rng.integers(0, high, size).astype(dtype)
        got = distinct_sorted(values)
        assert got.dtype == np.unique(values).dtype
        assert np.array_equal(got, np.unique(values))


def test_distinct_sorted_of_full_range_digests() -> None:
    """Digests span the whole uint64 range (at and above 2**63 too) and repeat across raw parts."""
    rng = np.random.default_rng(4)
    digests = rng.integers(0, 2**64 - 1, 5000, dtype=np.uint64, endpoint=True).astype("<u8")
    values = np.concatenate([digests, digests[::3]])
    assert np.array_equal(distinct_sorted(values), np.unique(values))
    assert distinct_sorted(values).dtype == np.dtype("<u8")


def test_distinct_sorted_flattens_and_leaves_floats_to_np_unique() -> None:
    grid = np.array([[3, 1, 3], [2, 1, 9]], dtype=np.int64)
    assert distinct_sorted(grid).tolist() == [1, 2, 3, 9]
    floats = np.array([np.nan, 1.0, np.nan, -0.0, 0.0])
    assert np.array_equal(distinct_sorted(floats), np.unique(floats), equal_nan=True)
