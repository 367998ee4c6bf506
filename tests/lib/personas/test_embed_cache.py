"""The embedding cache: each distinct text is encoded once ever per model id, and lake vectors are reused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from blueprint_assets.lib.personas.embed_cache import Embedder, EmbeddingCache, seed_from_lake, text_key


class CountingEncoder:
    def __init__(self, model_id: str = "fake|pool=mean") -> None:
        self.model_id = model_id
        self.seen: list[str] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.seen += texts
        return np.array([[len(t), sum(map(ord, t)) % 97, 1.0] for t in texts], dtype=np.float32)


def test_texts_are_encoded_once_across_processes(tmp_path: Path) -> None:
    first = CountingEncoder()
    embed = Embedder(lambda: first, tmp_path / "cache", progress=False)
    a = embed(["cats", "dogs", "cats", ""])
    assert first.seen == ["cats", "dogs", ""]
    assert np.array_equal(a[0], a[2])
    embed(["dogs", "birds"])
    assert first.seen == ["cats", "dogs", "", "birds"]
    # A new Embedder (a later run) reads the cache from disk: nothing is encoded again.
    second = CountingEncoder()
    again = Embedder(lambda: second, tmp_path / "cache", progress=False)
    assert np.array_equal(again(["cats", "dogs", "", "birds"]), embed(["cats", "dogs", "", "birds"]))
    assert second.seen == [] and again.counts["from_cache"] == 4
    # Another model id never sees those vectors.
    other = CountingEncoder("other-model")
    Embedder(lambda: other, tmp_path / "cache", progress=False)(["cats"])
    assert other.seen == ["cats"]
    # Only hashes are stored, never texts.
    stored = b"".join(p.read_bytes() for p in (tmp_path / "cache").rglob("*.parquet"))
    assert b"cats" not in stored and text_key("cats").encode() in stored


def test_seed_from_lake_reuses_post_embeddings_of_the_same_model(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    for day in ("2025-03-01", "2025-03-02"):
        (lake / "anonymized_posts" / f"day={day}").mkdir(parents=True)
        (lake / "post_embeddings" / f"day={day}").mkdir(parents=True)
    posts = pa.table({"record_id": ["r1", "r2", "r3"], "text": ["hello world", "second post", None]})
    pq.write_table(posts, lake / "anonymized_posts" / "day=2025-03-01" / "part-0.parquet")
    pq.write_table(posts.slice(0, 0), lake / "anonymized_posts" / "day=2025-03-02" / "part-0.parquet")
    vectors = pa.table(
        {
            "record_id": ["r1", "r2"],
            "vector": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
            "model": ["fake|pool=mean", "another-model"],
        }
    )
    pq.write_table(vectors, lake / "post_embeddings" / "day=2025-03-01" / "part-0.parquet")
    cache = EmbeddingCache(tmp_path / "cache", "fake|pool=mean")
    assert seed_from_lake(cache, lake) == 1
    assert seed_from_lake(cache, lake) == 0  # lake files already seeded are not read again
    encoder = CountingEncoder()
    embed = Embedder(lambda: encoder, tmp_path / "cache2", lake_dir=lake, progress=False)
    out = embed(["hello world", "second post"])
    assert encoder.seen == ["second post"]  # r2 was stored by another model: encoded here
    assert out[0].tolist() == [1.0, 0.0, 0.0] and embed.counts["seeded_from_lake"] == 1
