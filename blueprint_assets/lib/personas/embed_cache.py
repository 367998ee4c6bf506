"""Text embeddings encoded once: a persistent cache keyed by encoder model id and text hash (no Dagster).

The scorer, the baselines and the leaderboard embed texts through an `Embedder`: it looks each text up in
memory, then in the on-disk cache, and encodes only what neither holds. The cache can be seeded from the
lake's `post_embeddings` (vectors the pipeline already computed for the same anonymized texts, matched by
record id and model id), so texts the pipeline encoded are never encoded again.

Layout: `<cache_dir>/<sha1(model_id)[:16]>/` holds `model_id.txt` and `part-<sha1 of keys>.parquet` files with
columns `text_sha256` (string) and `vector` (list<float32>), each written to a temporary file and renamed, and
never rewritten (a run appends one part). Only hashes are stored, never texts. The cache is a local folder.
"""

from __future__ import annotations

import glob
import hashlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

CHUNK = 512  # texts per encoder call, so progress shows on long runs


class Encoder(Protocol):
    model_id: str

    def encode(self, texts: list[str]) -> np.ndarray: ...


def text_key(text: str) -> str:
    """sha256 hex of the text (surrogates kept, so every Python string has a key)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def model_folder(cache_dir: str | Path, model_id: str) -> Path:
    return Path(cache_dir) / hashlib.sha1(model_id.encode()).hexdigest()[:16]


class EmbeddingCache:
    """On-disk vectors of one model id, keyed by text hash; new vectors are appended as a new part file."""

    def __init__(self, cache_dir: str | Path, model_id: str) -> None:
        self.model_id = model_id
        self.folder = model_folder(cache_dir, model_id)
        self._vectors: dict[str, np.ndarray] | None = None

    def vectors(self) -> dict[str, np.ndarray]:
        if self._vectors is None:
            self._vectors = {}
            for path in sorted(glob.glob(str(self.folder / "part-*.parquet"))):
                table = pq.read_table(path)
                flat = table.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False)
                matrix = np.asarray(flat, dtype=np.float32).reshape(table.num_rows, -1)
                self._vectors.update(zip(table.column("text_sha256").to_pylist(), matrix, strict=True))
        return self._vectors

    def add(self, keys: Sequence[str], vectors: np.ndarray) -> int:
        """Store the vectors of keys not yet cached; returns how many were new."""
        known = self.vectors()
        new = [(k, v) for k, v in zip(keys, vectors, strict=True) if k not in known]
        new = list(dict(new).items())
        if not new:
            return 0
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "model_id.txt").write_text(self.model_id + "\n", encoding="utf-8")
        names = [k for k, _ in new]
        table = pa.table(
            {"text_sha256": names, "vector": [np.asarray(v, dtype=np.float32).tolist() for _, v in new]}
        )
        digest = hashlib.sha1("".join(names).encode()).hexdigest()[:16]
        final = self.folder / f"part-{digest}.parquet"
        tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, final)  # atomic: a reader sees the whole part or none of it
        known.update(new)
        return len(new)


def _file_stamp(path: str) -> str:
    stat = os.stat(path)
    return f"{path}|{stat.st_size}|{stat.st_mtime_ns}"


def seed_from_lake(cache: EmbeddingCache, lake_dir: str | Path) -> int:
    """Add the lake's stored post vectors of `cache.model_id` under the hash of their anonymized text.

    Lake files already seeded (same path, size and mtime, listed in `seeded_from.txt`) are skipped, so a
    warm run does not re-read the lake."""
    lake = Path(lake_dir)
    vec_files = sorted(glob.glob(str(lake / "post_embeddings" / "*" / "*.parquet")))
    post_files = sorted(glob.glob(str(lake / "anonymized_posts" / "*" / "*.parquet")))
    stamps = [_file_stamp(f) for f in (*vec_files, *post_files)]
    marker = cache.folder / "seeded_from.txt"
    done = set(marker.read_text(encoding="utf-8").splitlines()) if marker.is_file() else set()
    if not vec_files or not post_files or set(stamps) <= done:
        return 0
    texts: dict[str, str] = {}
    for path in post_files:
        table = pq.read_table(path, columns=["record_id", "text"])
        for rid, text in zip(
            table.column("record_id").to_pylist(), table.column("text").to_pylist(), strict=True
        ):
            if text:
                texts.setdefault(rid, text)
    keys, rows = [], []
    for path in vec_files:
        table = pq.read_table(path, columns=["record_id", "vector", "model"])
        for rid, vector, model in zip(
            *(table.column(c).to_pylist() for c in ("record_id", "vector", "model")), strict=True
        ):
            if model == cache.model_id and rid in texts:
                keys.append(text_key(texts[rid]))
                rows.append(vector)
    added = cache.add(keys, np.asarray(rows, dtype=np.float32)) if keys else 0
    cache.folder.mkdir(parents=True, exist_ok=True)
    marker.write_text("\n".join(sorted(done | set(stamps))) + "\n", encoding="utf-8")
    return added


class Embedder:
    """texts -> float32 vectors (one row per text), each distinct text encoded at most once ever.

    `load` builds the encoder lazily (loading costs seconds). `model_id` names the vectors and keys the cache;
    `counts` says how many texts were encoded and how many came from the caches.
    """

    def __init__(
        self,
        load: Callable[[], Encoder],
        cache_dir: str | Path | None = None,
        lake_dir: str | Path | None = None,
        progress: bool = True,
    ) -> None:
        self._load = load
        self._encoder: Encoder | None = None
        self.cache_dir = cache_dir
        self.lake_dir = lake_dir
        self.progress = progress
        self._memory: dict[str, np.ndarray] = {}
        self._disk: EmbeddingCache | None = None
        self.counts = {"encoded": 0, "from_cache": 0, "seeded_from_lake": 0}

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = self._load()
        return self._encoder

    @property
    def model_id(self) -> str:
        return self.encoder.model_id

    def _cache(self) -> EmbeddingCache | None:
        if self._disk is None and self.cache_dir is not None:
            self._disk = EmbeddingCache(self.cache_dir, self.model_id)
            if self.lake_dir is not None:
                self.counts["seeded_from_lake"] += seed_from_lake(self._disk, self.lake_dir)
        return self._disk

    def __call__(self, texts: list[str]) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        todo = {k: t for k, t in zip(keys, texts, strict=True) if k not in self._memory}
        disk = self._cache() if todo else None
        if disk is not None:
            stored = disk.vectors()
            hits = [k for k in todo if k in stored]
            self._memory.update((k, stored[k]) for k in hits)
            self.counts["from_cache"] += len(hits)
            todo = {k: t for k, t in todo.items() if k not in stored}
        if todo:
            self._encode(list(todo), list(todo.values()), disk)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self._memory[k] for k in keys])

    def _encode(self, keys: list[str], texts: list[str], disk: EmbeddingCache | None) -> None:
        for start in range(0, len(texts), CHUNK):
            vectors = np.asarray(self.encoder.encode(texts[start : start + CHUNK]), dtype=np.float32)
            self._memory.update(zip(keys[start : start + CHUNK], vectors, strict=True))
            if self.progress and len(texts) > CHUNK:
                done = min(start + CHUNK, len(texts))
                print(f"  encoded {done}/{len(texts)} texts", file=sys.stderr, flush=True)
        self.counts["encoded"] += len(texts)
        if disk is not None:
            disk.add(keys, np.stack([self._memory[k] for k in keys]))


def default_cache_dir(data_dir: str | Path) -> Path:
    """`<data_dir>/cache/embeddings`, the embedding cache of a data dir."""
    return Path(data_dir) / "cache" / "embeddings"


def data_dir_of(release_dir: str | Path | None, default: str | Path) -> Path:
    """The data dir a release folder sits in (`<data>/releases/<window>[/public]`), else `default` (the
    configured data dir, `Settings.data_dir`)."""
    if release_dir is not None:
        path = Path(release_dir).resolve()
        for parent in path.parents:
            if parent.name == "releases":
                return parent.parent
    return Path(default).resolve()


def encoder_loader(models_dir: str | Path, **settings: Any) -> Callable[[], Encoder]:
    """A loader of the project's encoder: `load_encoder(**settings)` (all-MiniLM-L6-v2 by default, or the
    sentence-transformers model named by `model_name`); `model_name="static"` is the static model2vec
    encoder `post_embeddings` uses by default (built once under `models_dir`, so its lake vectors are reused)."""

    def load() -> Encoder:
        from blueprint_assets.lib.personas import encoder  # owned by the encoder module

        name = settings.get("model_name")
        if name and encoder.is_static(name):
            options = {k: v for k, v in settings.items() if k in ("pooling", "max_tokens")}
            return encoder.encoder_for(name, models_dir, **options)
        return encoder.load_encoder(**settings)

    return load


def build_embedder(
    models_dir: str | Path,
    cache_dir: str | Path | None,
    lake_dir: str | Path | None = None,
    model_name: str | None = None,
    pooling: str | None = None,
    max_tokens: int | None = None,
    prefix: str | None = None,
) -> Embedder:
    """The `Embedder` of the scorer, baselines and leaderboard from explicit values: the encoder (None keeps
    the encoder's default), built static models under `models_dir`, the cache (None: no cache) seeded from
    `lake_dir`'s `post_embeddings` (None: not seeded)."""
    given = {"model_name": model_name, "pooling": pooling, "max_tokens": max_tokens, "prefix": prefix}
    options = {key: value for key, value in given.items() if value}
    return Embedder(encoder_loader(models_dir, **options), cache_dir, lake_dir if cache_dir else None)
