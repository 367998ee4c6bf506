"""Numpy helpers the domains share.

`distinct_sorted` stands in for a plain `np.unique(values)`: the numpy pinned here (2.4) answers that call
from a hash table, then sorts what it found, and on a million 64-bit integers it took 0.6 to 0.9 s where a
sort and one comparison of neighbours take 0.01 s. The leak scans' digests and row numbers and the answer
keys go through it.
"""

from __future__ import annotations

import numpy as np


def distinct_sorted(values: np.ndarray) -> np.ndarray:
    """The distinct values, ascending, flattened: what `np.unique(values)` gives. Integers take the sort;
    anything else (floats, whose NaNs `np.unique` merges) is left to `np.unique`."""
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.integer):
        return np.unique(values)
    ordered = np.sort(values.reshape(-1))
    if ordered.size < 2:
        return ordered
    keep = np.empty(ordered.size, dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]
