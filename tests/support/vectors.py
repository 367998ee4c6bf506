"""Synthetic user vectors with planted clusters, for the clustering tests (also run in a subprocess)."""

from __future__ import annotations

import numpy as np


def planted(
    n_per: tuple[int, ...], d: int = 32, spread: float = 0.3, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs around well-separated random centers; returns (vectors, true labels)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(len(n_per), d)) * 3.0
    truth = np.repeat(np.arange(len(n_per)), n_per)
    x = centers[truth] + spread * rng.normal(size=(truth.size, d))
    return x.astype(np.float32), truth
