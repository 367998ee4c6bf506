"""Personas benchmark: sentence encoding throughput and faiss k-means vs scikit-learn KMeans.

1. Encoding: texts/s of the default encoder (bundled all-MiniLM-L6-v2, CPU, 1 torch thread by default)
   on a few hundred ~200-character posts, against encoding the same texts one per call (no batching);
   plus the same batch with 2 torch threads against 1.
2. k-means: faiss (all points, seed 42, random init: `train_kmeans(init="random")`) vs scikit-learn
   KMeans (init="random", n_init=1, tol=0, same max iterations, 2 threads) on the same 200,000 x 384
   clustered, L2-normalized float32 vectors, K=25 and K=1000; faiss with 2 threads and with 1 (the
   `cluster_users` default). sklearn stops early once labels no longer change, so when it does, faiss
   is also timed for the same number of iterations. Inertia of both is computed by the same function
   (sum of squared distances to the assigned final centroid).

Records merged into benchmarks/results.json (keyed by name): personas_encode_throughput[_2threads],
personas_kmeans_k{K}_seconds[_faiss1thread|_equal_iters], personas_kmeans_k{K}_inertia.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS_PATH, record, report_and_merge  # noqa: E402

from blueprint_assets.lib.personas.clustering import faiss_threads, train_kmeans  # noqa: E402
from blueprint_assets.lib.personas.encoder import load_encoder, set_torch_threads, torch_threads  # noqa: E402
from blueprint_assets.settings import Settings  # noqa: E402

_WORDS_TEXT = (
    "election senate vote policy budget climate housing rent city council mayor school teachers nurses "
    "hospital wages inflation prices groceries weather storm garden coffee morning train bus traffic "
    "concert album movie game team season coach players debate speech campaign rally ballot court ruling "
    "law justice rights protest march community volunteers library park bikes lane neighbours dinner"
)
WORDS = _WORDS_TEXT.split()


def make_texts(n: int, seed: int = 7) -> list[str]:
    """Deterministic ~200-character posts."""
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        words: list[str] = []
        while sum(len(w) + 1 for w in words) < 200:
            words.append(rng.choice(WORDS))
        text = " ".join(words)[:200]
        texts.append(text[0].upper() + text[1:] + ".")
    return texts


def make_vectors(n: int, d: int, centers: int, seed: int = 0) -> np.ndarray:
    """Gaussian blobs on the unit sphere, like sentence embeddings of topical posts."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centers, d), dtype=np.float32)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    x = c[rng.integers(0, centers, n)] + rng.standard_normal((n, d), dtype=np.float32) * np.float32(0.04)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x, dtype=np.float32)


def inertia(x: np.ndarray, labels: np.ndarray, centroids: np.ndarray, chunk: int = 20000) -> float:
    """Sum of squared distances of points to their assigned centroid (float64 accumulation)."""
    total = 0.0
    for start in range(0, x.shape[0], chunk):
        diff = x[start : start + chunk].astype(np.float64) - centroids[labels[start : start + chunk]]
        total += float((diff * diff).sum())
    return total


def _encode_rate(encoder, texts: list[str], threads: int) -> float:
    os.environ["BLUEPRINT_TORCH_THREADS"] = str(threads)  # read by every encode() call
    start = time.perf_counter()
    encoder.encode(texts)
    return len(texts) / (time.perf_counter() - start)


def bench_encoding(n_texts: int) -> list[dict]:
    encoder = load_encoder()
    texts = make_texts(n_texts)
    saved = os.environ.get("BLUEPRINT_TORCH_THREADS")
    encoder.encode(texts[:8])  # warm-up: first call pays lazy initialisation
    default = _encode_rate(encoder, texts, torch_threads())
    few = texts[: max(20, n_texts // 5)]
    start = time.perf_counter()
    for text in few:
        encoder.encode([text])
    single = len(few) / (time.perf_counter() - start)
    # Last, so a spinning 2-thread OpenMP pool cannot slow the 1-thread figures.
    two = _encode_rate(encoder, texts, 2)
    if saved is None:
        os.environ.pop("BLUEPRINT_TORCH_THREADS", None)
    else:
        os.environ["BLUEPRINT_TORCH_THREADS"] = saved
    mean_chars = sum(map(len, texts)) / len(texts)
    print(
        f"encode ({n_texts} texts, {mean_chars:.0f} chars, dim {encoder.dim}): {default:.1f} texts/s batched "
        f"(batch {encoder.batch_size}, {torch_threads()} thread) vs {single:.1f} texts/s one text per call, "
        f"ratio {default / single:.2f}; 2 torch threads {two:.1f} texts/s, ratio {two / default:.2f}"
    )
    return [
        record(
            "personas_encode_throughput", default, "texts/s", "one_text_per_call", single, default / single
        ),
        record(
            "personas_encode_throughput_2threads", two, "texts/s", "1_thread_batched", default, two / default
        ),
    ]


def bench_kmeans(x: np.ndarray, k: int, iters: int, threads: int) -> list[dict]:
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        start = time.perf_counter()
        km = KMeans(k, init="random", n_init=1, max_iter=iters, tol=0.0, random_state=42).fit(x)
        sk_s = time.perf_counter() - start
    sk_inertia = inertia(x, km.labels_, km.cluster_centers_.astype(np.float64))
    records = []
    for faiss_threads_n in (threads, 1):
        start = time.perf_counter()
        centroids, labels = train_kmeans(x, k, seed=42, niter=iters, threads=faiss_threads_n, init="random")
        faiss_s = time.perf_counter() - start
        faiss_inertia = inertia(x, labels, centroids.astype(np.float64))
        print(
            f"k-means K={k}, {iters} it, {x.shape[0]}x{x.shape[1]}: faiss ({faiss_threads_n} thr) {faiss_s:.1f}s vs "
            f"sklearn ({threads} thr, ran {km.n_iter_} it) {sk_s:.1f}s, speed-up {sk_s / faiss_s:.2f}x; inertia "
            f"faiss {faiss_inertia:.1f} vs sklearn {sk_inertia:.1f}, ratio {faiss_inertia / sk_inertia:.4f}"
        )
        suffix = "" if faiss_threads_n == threads else f"_faiss{faiss_threads_n}thread"
        records.append(
            record(
                f"personas_kmeans_k{k}_seconds{suffix}", faiss_s, "s", "sklearn_kmeans", sk_s, sk_s / faiss_s
            )
        )
        if not suffix:
            records.append(
                record(
                    f"personas_kmeans_k{k}_inertia",
                    faiss_inertia,
                    "sum sq dist",
                    "sklearn_kmeans",
                    sk_inertia,
                    faiss_inertia / sk_inertia,
                )
            )
    if km.n_iter_ < iters:
        # sklearn stops once labels stop changing; faiss always runs niter. Compare equal work too.
        start = time.perf_counter()
        centroids, labels = train_kmeans(x, k, seed=42, niter=int(km.n_iter_), threads=1, init="random")
        faiss_s = time.perf_counter() - start
        faiss_inertia = inertia(x, labels, centroids.astype(np.float64))
        print(
            f"k-means K={k}, equal work ({km.n_iter_} it): faiss (1 thr) {faiss_s:.1f}s vs sklearn {sk_s:.1f}s, "
            f"speed-up {sk_s / faiss_s:.2f}x; inertia ratio {faiss_inertia / sk_inertia:.4f}"
        )
        name = f"personas_kmeans_k{k}_seconds_equal_iters"
        records.append(record(name, faiss_s, "s", "sklearn_kmeans", sk_s, sk_s / faiss_s))
    return records


def main() -> None:
    set_torch_threads(Settings.from_env().torch_threads)  # BLUEPRINT_TORCH_THREADS, as a run would
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=300)
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--centers", type=int, default=200, help="hidden blobs in the synthetic data")
    parser.add_argument("--iters", type=int, default=25, help="max iterations for K=25 (both libraries)")
    parser.add_argument("--iters-k1000", type=int, default=25, help="max iterations for K=1000 (both)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ks", type=lambda v: [int(k) for k in v.split(",")], default=[25, 1000])
    parser.add_argument("--skip-encode", action="store_true")
    parser.add_argument("--results", type=Path, default=RESULTS_PATH)
    args = parser.parse_args()

    t0 = time.perf_counter()
    records = [] if args.skip_encode else bench_encoding(args.texts)
    x = make_vectors(args.points, args.dim, args.centers)
    with faiss_threads(args.threads):
        for k in args.ks:
            records += bench_kmeans(x, k, args.iters_k1000 if k >= 1000 else args.iters, args.threads)
    report_and_merge(records, args.results)
    print(f"total {time.perf_counter() - t0:.0f}s; merged {len(records)} records into {args.results}")


if __name__ == "__main__":
    main()
