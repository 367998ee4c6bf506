"""Scorer speed (issue 12.6): scoring a release's validation predictions with and without the embedding cache.

Input: a built release (default `data/releases/2025-03`, what `make demo` builds; `--release DIR`) and the
`retrieval` baseline's predictions for its validation split (texts copied from training threads, as a real
model's would be new texts). Measured in the same run, same predictions, same encoder:
- baseline `scorer_cold`: `blueprint score` with the cache off, so every answer and prediction text is
  encoded (what the scorer did before the cache);
- figure `scorer_seconds`: the same scoring with the cache seeded from the lake's `post_embeddings` and
  holding the answer texts of a previous run (a modeller's inner loop: the answers never change; new
  predicted texts are still encoded);
- `scorer_seconds_new_texts`: the warm cache but every predicted text new (suffixed), so they are encoded.
ratio = cold / warm (a speed-up, > 1 is better). Goal: under 30 s for about 3,000 predictions.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, WORK_DIR, merge_results, record, report  # noqa: E402

from blueprint_assets.lib.evaluation import (
    baselines,  # noqa: E402
    scorer,
)
from blueprint_assets.lib.personas import embed_cache


def timed_score(answers: dict, preds: dict, embed: embed_cache.Embedder) -> tuple[float, dict]:
    start = time.perf_counter()
    scorer.score(answers, preds, embed)
    return time.perf_counter() - start, dict(embed.counts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release", default=str(ROOT / "data" / "releases" / "2025-03"))
    parser.add_argument("--quick", action="store_true", help="accepted for run_all; same size")
    args = parser.parse_args()
    release = Path(args.release)
    try:
        answers = scorer.load_answers(release, "validation")
    except scorer.ScoringError as exc:
        print(f"bench_scorer: skipped ({exc}); run `make demo` first or pass --release")
        return 0
    cache = WORK_DIR / "scorer_cache"
    shutil.rmtree(cache, ignore_errors=True)
    data_dir = embed_cache.data_dir_of(release, ROOT / "data")
    lake = data_dir / "lake"
    loader = embed_cache.encoder_loader(data_dir / "models")
    loader().encode(["warm up"])  # model load is not part of either figure
    train_embed = embed_cache.Embedder(loader, cache, lake, progress=False)
    preds = baselines.as_predictions(baselines.run_baseline("retrieval", release, embed=train_embed))
    n = len(preds)

    cold_s, cold = timed_score(answers, preds, embed_cache.Embedder(loader, None, progress=False))
    scorer.score(answers, preds, embed_cache.Embedder(loader, cache, lake, progress=False))  # a previous run
    warm_s, warm = timed_score(answers, preds, embed_cache.Embedder(loader, cache, lake, progress=False))
    fresh = {i: scorer.Prediction(i, p.action, f"{p.text} (v2)" if p.text else "") for i, p in preds.items()}
    new_s, new = timed_score(answers, fresh, embed_cache.Embedder(loader, cache, lake, progress=False))
    print(
        f"{n} predictions; encoded cold {cold['encoded']}, warm {warm['encoded']}, new texts {new['encoded']}"
    )
    recs = [
        report(
            record("scorer_seconds", warm_s, "s", "scorer_cold", cold_s, ratio=cold_s / warm_s),
            goal=f"< 30 s for {n} predictions",
        ),
        report(record("scorer_seconds_new_texts", new_s, "s", "scorer_cold", cold_s, ratio=cold_s / new_s)),
    ]
    merge_results(recs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
