"""The fast default encoder: a model2vec static model distilled locally from the bundled all-MiniLM-L6-v2.

Distillation (model2vec's `distill`) runs MiniLM once over every token of its vocabulary, reduces the token
vectors to 256 dimensions with PCA and weights them by SIF (Zipf frequencies). Encoding a text is then a
tokenizer call and a mean of looked-up rows: tens of thousands of texts/s on 2 cores, no torch at encode
time. The model is built once (about 30 s on one core) into a cache folder (`Settings.model_cache_dir`:
BLUEPRINT_MODEL_CACHE, else `<data_dir>/models`; `blueprint prepare-encoder` builds it ahead of a run) and
loaded from there afterwards; no download is ever needed.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import shutil
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import numpy as np

STATIC_MODEL = "model2vec/all-MiniLM-L6-v2"
# Names under which the static model may be requested (BLUEPRINT_ENCODER); "default" is the platform default.
STATIC_ALIASES = frozenset({"default", "static", "model2vec", STATIC_MODEL})
PCA_DIMS = 256
SIF_COEFFICIENT = 1e-4
_DTYPE = "float32"  # keep distilled rows at full precision (the cache is ~30 MB)

log = logging.getLogger(__name__)


def static_model_id(max_tokens: int = 256) -> str:
    """Everything that determines the static vectors: teacher, distiller version, PCA, SIF, truncation."""
    version = metadata.version("model2vec")
    return "|".join(
        [
            STATIC_MODEL,
            f"m2v={version}",
            f"pca={PCA_DIMS}",
            f"sif={SIF_COEFFICIENT:g}",
            f"max_tokens={max_tokens}",
        ]
    )


def model_folder(cache_dir: str | Path) -> Path:
    """Where the distilled model for this model2vec version lives under `cache_dir`."""
    version = metadata.version("model2vec")
    return Path(cache_dir) / f"m2v-all-MiniLM-L6-v2-pca{PCA_DIMS}-v{version}"


def ensure_static_model(cache_dir: str | Path) -> Path:
    """The cached model folder, distilled first when missing (once; concurrent callers wait on a lock)."""
    folder = model_folder(cache_dir)
    if (folder / "model.safetensors").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with _locked(folder.with_name(folder.name + ".lock")):
        if not (folder / "model.safetensors").is_file():
            _distill_into(folder)
    return folder


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _distill_into(folder: Path) -> None:
    """Distill from the bundled MiniLM weights and move the result into place atomically."""
    import torch
    from model2vec.distill import distill

    from blueprint_assets.lib.personas.encoder import bundled_model_path, offline_env, torch_threads

    print(f"building the static encoder once into {folder} (about 30 s)", file=sys.stderr, flush=True)
    # One thread: more threads on a busy 2-core machine spin-wait (measured 27 s at 1 thread vs 70+ s at 2).
    torch.set_num_threads(torch_threads())
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    with offline_env():
        model = distill(
            model_name=str(bundled_model_path()),
            pca_dims=PCA_DIMS,
            sif_coefficient=SIF_COEFFICIENT,
            quantize_to=_DTYPE,
        )
    model.save_pretrained(str(tmp))
    os.replace(tmp, folder)
    print(f"static encoder ready: {folder}", file=sys.stderr, flush=True)


class StaticEncoder:
    """model2vec static embeddings: float32, L2-normalized rows, same interface as `SentenceEncoder`."""

    def __init__(self, cache_dir: str | Path, max_tokens: int = 256, batch_size: int = 1024) -> None:
        if max_tokens < 1 or batch_size < 1:
            raise ValueError("max_tokens and batch_size must be positive")
        from model2vec import StaticModel

        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.folder = ensure_static_model(cache_dir)
        self._model = StaticModel.from_pretrained(str(self.folder))
        self.dim = int(self._model.dim)
        self.model_id = static_model_id(max_tokens)
        # A text with no known token (only emoji, say) gets this fixed unit vector instead of a zero row.
        self._fallback = np.full(self.dim, 1.0 / np.sqrt(self.dim), dtype=np.float32)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Encode texts into a float32 (n, dim) array with unit-norm rows (zero rows never occur)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        raw = self._model.encode(
            [text or "" for text in texts],
            max_length=self.max_tokens,
            batch_size=self.batch_size,
            # Threads inside one process would fight Dagster's side-by-side partitions for the 2 cores.
            use_multiprocessing=False,
            normalize=False,
        )
        vectors = np.asarray(raw, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.maximum(norms, 1e-12)
        vectors[norms[:, 0] < 1e-12] = self._fallback
        return np.ascontiguousarray(vectors, dtype=np.float32)


def load_static_encoder(cache_dir: str | Path, max_tokens: int = 256) -> StaticEncoder:
    """The process-wide static encoder for a cache folder (loading takes well under a second once built)."""
    return _cached_static(str(cache_dir), max_tokens)


@functools.lru_cache(maxsize=4)
def _cached_static(cache_dir: str, max_tokens: int) -> StaticEncoder:
    return StaticEncoder(cache_dir, max_tokens=max_tokens)
