"""The default sentence encoder: real bundled all-MiniLM-L6-v2 weights, offline, on CPU."""

from __future__ import annotations

import os

import numpy as np
import pytest

from blueprint_assets.lib.personas.encoder import (
    DEFAULT_MODEL,
    EncoderUnavailableError,
    SentenceEncoder,
    bundled_model_path,
    load_encoder,
)


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return load_encoder()


def test_bundled_weights_are_found() -> None:
    path = bundled_model_path()
    assert (path / "model.safetensors").stat().st_size > 10_000_000
    assert (path / "tokenizer.json").is_file()


def test_encode_shape_dtype_and_unit_norm(encoder: SentenceEncoder) -> None:
    vectors = encoder.encode(["The senate passed the bill.", "I baked sourdough bread today.", ""])
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    assert vectors.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.dim == 384


def test_model_id_names_model_pooling_and_truncation(encoder: SentenceEncoder) -> None:
    assert encoder.model_id == f"{DEFAULT_MODEL}|pool=mean|max_tokens=256"


def test_empty_input_gives_empty_matrix(encoder: SentenceEncoder) -> None:
    assert encoder.encode([]).shape == (0, 384)


def test_similar_meanings_are_closer(encoder: SentenceEncoder) -> None:
    a, b, c = encoder.encode(
        [
            "Congress approved the new spending bill after a long debate.",
            "Lawmakers passed the budget legislation following lengthy arguments.",
            "My cat loves sleeping in the afternoon sun.",
        ]
    )
    assert float(a @ b) > 0.5
    assert float(a @ b) > float(a @ c) + 0.3


def test_batching_does_not_change_vectors(encoder: SentenceEncoder) -> None:
    texts = [f"post number {i} about the election and the economy" for i in range(10)]
    together = encoder.encode(texts)
    alone = np.vstack([encoder.encode([t]) for t in texts[:3]])
    np.testing.assert_allclose(together[:3], alone, atol=1e-5)


def test_load_encoder_is_cached_per_process(encoder: SentenceEncoder) -> None:
    assert load_encoder() is encoder


def test_loading_leaves_offline_env_as_it_was() -> None:
    before = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    load_encoder(pooling="cls", max_tokens=16)
    assert {k: os.environ.get(k) for k in before} == before


def test_pooling_and_max_tokens_change_the_vectors(encoder: SentenceEncoder) -> None:
    short = load_encoder(pooling="cls", max_tokens=16)
    assert short.model_id == f"{DEFAULT_MODEL}|pool=cls|max_tokens=16"
    head = "the city council voted on the new housing plan " * 3
    texts = [head + "and everyone was happy about it", head + "but the mayor vetoed it immediately"]
    cut = short.encode(texts)
    full = encoder.encode(texts)
    # Past 16 tokens the tails are cut off, so both texts encode identically; with 256 they differ.
    np.testing.assert_allclose(cut[0], cut[1], atol=1e-6)
    assert float(full[0] @ full[1]) < 0.999
    # CLS pooling is a different embedding from mean pooling of the same text.
    assert float(short.encode([head])[0] @ encoder.encode([head])[0]) < 0.99


def test_unknown_model_offline_gives_clear_error() -> None:
    with pytest.raises(EncoderUnavailableError, match="intfloat/multilingual-e5-large.*offline"):
        SentenceEncoder("intfloat/multilingual-e5-large", pooling="cls", max_tokens=128, offline=True)


def test_invalid_pooling_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown pooling"):
        SentenceEncoder(pooling="median")


def test_torch_threads_default_and_override(monkeypatch) -> None:
    from blueprint_assets.lib.personas.encoder import set_torch_threads, torch_threads
    from blueprint_assets.settings import Settings

    monkeypatch.delenv("BLUEPRINT_TORCH_THREADS", raising=False)
    set_torch_threads(Settings.from_env().torch_threads)
    assert torch_threads() == 1
    monkeypatch.setenv("BLUEPRINT_TORCH_THREADS", "64")
    set_torch_threads(Settings.from_env().torch_threads)
    try:
        assert torch_threads() == len(os.sched_getaffinity(0))  # capped at the CPUs this process may use
    finally:
        set_torch_threads(None)
