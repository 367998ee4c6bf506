"""The static default encoder: model2vec distilled from the bundled all-MiniLM-L6-v2, cached, deterministic."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from blueprint_assets.lib.personas.encoder import DEFAULT_MODEL, encoder_for, encoder_model_id, is_static
from blueprint_assets.lib.personas.static_encoder import (
    STATIC_MODEL,
    StaticEncoder,
    load_static_encoder,
    model_folder,
    static_model_id,
)

TEXTS = [
    "Congress approved the new spending bill after a long debate.",
    "Lawmakers passed the budget legislation following lengthy arguments.",
    "My cat loves sleeping in the afternoon sun.",
    "",
    "🙂🙂🙂",
]


@pytest.fixture(scope="module")
def cache() -> str:
    return os.environ["BLUEPRINT_MODEL_CACHE"]  # set by conftest: one build shared by all tests


@pytest.fixture(scope="module")
def encoder(cache: str) -> StaticEncoder:
    return load_static_encoder(cache)


def test_built_once_into_the_cache_folder(encoder: StaticEncoder, cache: str) -> None:
    folder = model_folder(cache)
    assert encoder.folder == folder
    assert (folder / "model.safetensors").stat().st_size > 1_000_000
    assert not list(Path(cache).glob(".*.tmp"))  # the build was moved into place, nothing left behind
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    StaticEncoder(cache)  # a second load re-uses the cached model
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp


def test_vectors_are_float32_unit_rows_without_zero_rows(encoder: StaticEncoder) -> None:
    vectors = encoder.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), 256) and encoder.dim == 256
    assert vectors.dtype == np.float32 and vectors.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.encode([]).shape == (0, 256)


def test_vectors_are_deterministic_across_calls_batches_and_reloads(
    encoder: StaticEncoder, cache: str
) -> None:
    first = encoder.encode(TEXTS)
    assert np.array_equal(first, encoder.encode(TEXTS))
    assert np.array_equal(first[:2], np.vstack([encoder.encode([t]) for t in TEXTS[:2]]))
    assert np.array_equal(first, StaticEncoder(cache).encode(TEXTS))


def test_meaning_survives_distillation(encoder: StaticEncoder) -> None:
    a, b, c = encoder.encode(TEXTS[:3])
    assert float(a @ b) > float(a @ c) + 0.1


def test_model_id_names_teacher_distiller_and_truncation(encoder: StaticEncoder) -> None:
    assert encoder.model_id == static_model_id(256)
    assert encoder.model_id.startswith(f"{STATIC_MODEL}|m2v=") and encoder.model_id.endswith(
        "|max_tokens=256"
    )
    assert static_model_id(64) != static_model_id(256)


def test_names_select_the_static_default_or_a_transformer(cache: str) -> None:
    assert is_static("default") and is_static("static") and not is_static("minilm")
    assert encoder_for("default", cache) is load_static_encoder(cache)
    assert encoder_model_id("default") == static_model_id(256)
    assert encoder_model_id("minilm") == f"{DEFAULT_MODEL}|pool=mean|max_tokens=256"
    minilm = encoder_for("minilm", cache)
    assert minilm.model_id == encoder_model_id("minilm") and minilm.dim == 384
    with pytest.raises(ValueError, match="mean pooling"):
        encoder_for("default", cache, pooling="cls")


def test_posts_to_embed_keeps_the_first_row_of_each_record_in_id_order() -> None:
    import pyarrow as pa

    from blueprint_assets.lib.personas.embeddings import posts_to_embed

    posts = pa.table(
        {
            "record_id": ["b", "a", "b", "c", "d", "e"],
            "actor": ["u1", "u2", "u1", "u3", "u4", "u5"],
            "day": ["2025-03-01"] * 6,
            "action": ["post", "reply", "post", "quote", "like", "post"],
            "is_english": [True, True, True, True, True, False],
            "text": ["first b", "a", "edited b", "c", "liked", "hola"],
        }
    )
    chosen = posts_to_embed(posts)
    assert chosen.column("record_id").to_pylist() == ["a", "b", "c"]
    assert chosen.column("text").to_pylist() == ["a", "first b", "c"]


def test_day_vectors_reuse_stored_rows_and_encode_only_the_rest(encoder: StaticEncoder) -> None:
    import pyarrow as pa

    from blueprint_assets.lib.personas.embeddings import day_vectors

    todo = pa.table({"record_id": ["a", "b", "c"], "text": TEXTS[:3]})
    stored = (pa.array(["b", "x"]), np.full((2, encoder.dim), 0.5, dtype=np.float32))
    calls: list[list[str]] = []

    def encode(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        return encoder.encode(texts)

    matrix, missing = day_vectors(todo, stored, encode)
    assert missing == 2 and calls == [[TEXTS[0], TEXTS[2]]]
    assert np.array_equal(matrix[1], stored[1][0])
    assert np.array_equal(matrix[[0, 2]], encoder.encode([TEXTS[0], TEXTS[2]]))
