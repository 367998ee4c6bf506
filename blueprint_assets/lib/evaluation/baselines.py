"""Reference baselines for next-action prediction on a release folder (pure Python, no Dagster).

- `majority`: the most frequent training action everywhere. Text: empty unless that action carries text
  (post, reply, quote, post_update), then the most common non-empty training text of that action (ties: the
  alphabetically first).
- `cluster-prior`: each cluster's most frequent training action; text copied from a random training thread of
  that cluster with a non-empty last-message text (drawn per item, `random.Random(42)`, targets in file order).
- `retrieval`: the context of a thread is the text of its messages before the last one (the hidden last message
  has no text in validation/test, and is left out of training contexts to match). The nearest training thread of
  the same cluster by cosine of context embeddings gives the action and the last-message text. Threads with an
  empty context (e.g. a standalone post) fall back to `cluster-prior`.
- `lookup`: the most frequent training answer (action and text) for the same context pattern in the same
  cluster (`baseline_models.context_pattern`: thread length, where the acting user appears in the context,
  the last time-rank gap, whether the context has text), falling back to `cluster-prior`.
- `lightgbm`: one LightGBM classifier per cluster over thread features (`baseline_models`), text as
  `cluster-prior`.

Every baseline is "fit on train, then predict": `fit_baseline` returns a predictor, so the leaderboard can
apply cluster m's fitted model to every cluster's threads (the cluster x model matrix behind diagonality).

Ties between equally frequent actions are broken by ACTION_ORDER; clusters unseen in training fall back to
the global statistics.
"""

from __future__ import annotations

import csv
import json
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from blueprint_assets.lib.actions_space import ACTION_ORDER, TEXT_ACTIONS, one_hot
from blueprint_assets.lib.evaluation.scorer import Embed, Prediction, ScoringError, cached_embed

BASELINES = ("majority", "cluster-prior", "retrieval", "lookup", "lightgbm")
SEED = 42
_CHUNK = 1024  # query rows per similarity block


@dataclass(frozen=True)
class Thread:
    id: str
    cluster_id: int
    context: str
    action: str | None  # None when hidden (validation/test)
    text: str | None  # last message text, None when hidden or absent
    # (user_id, relative_integer_time, text) of every message, the last one (the acting user) included
    messages: tuple[tuple[str, int, str | None], ...] = field(default=(), compare=False)


Predictor = Callable[[Sequence["Thread"]], list[dict[str, Any]]]


def _last_action(message: dict[str, Any]) -> str | None:
    flags = message.get("actions") or {}
    chosen = [a for a in ACTION_ORDER if flags.get(a)]
    return chosen[0] if len(chosen) == 1 else None


def split_path(release_dir: str | Path, split: str, k: int | None = None) -> Path:
    """`data/{split}.parquet` of a release (its public side, granularity K), via lib/release/layout.py."""
    from blueprint_assets.lib.release.layout import LayoutError, data_root

    try:
        path = data_root(release_dir, k) / "data" / f"{split}.parquet"
    except LayoutError as exc:
        raise ScoringError(str(exc)) from exc
    if not path.is_file():
        raise ScoringError(f"release folder {Path(release_dir)} has no data/{split}.parquet")
    return path


def load_split(release_dir: str | Path, split: str, k: int | None = None) -> list[Thread]:
    """Threads of a release's `{split}.parquet`, in file order."""
    threads = []
    for row in pq.read_table(
        split_path(release_dir, split, k), columns=["id", "cluster_id", "thread"]
    ).to_pylist():
        messages = row["thread"] or []
        last = messages[-1] if messages else {}
        context = "\n".join(m["text"] for m in messages[:-1] if m.get("text"))
        compact = tuple((m["user_id"], int(m["relative_integer_time"]), m.get("text")) for m in messages)
        threads.append(
            Thread(row["id"], int(row["cluster_id"]), context, _last_action(last), last.get("text"), compact)
        )
    return threads


def _most_frequent(actions: Sequence[str]) -> str:
    counts = Counter(actions)
    return min(ACTION_ORDER, key=lambda a: (-counts.get(a, 0), ACTION_ORDER.index(a)))


def _prediction(thread_id: str, action: str, text: str | None) -> dict[str, Any]:
    return {"id": thread_id, **one_hot(action), "text": text or ""}


def _labelled(train: Sequence[Thread]) -> list[Thread]:
    labelled = [t for t in train if t.action is not None]
    if not labelled:
        raise ScoringError("the training split has no thread with exactly one action set")
    return labelled


def fit_majority(train: Sequence[Thread]) -> Predictor:
    """Most frequent training action for every target; text as described in the module docstring."""
    labelled = _labelled(train)
    action = _most_frequent([t.action for t in labelled])
    text = ""
    if action in TEXT_ACTIONS:
        counts = Counter(t.text for t in labelled if t.action == action and t.text)
        if counts:
            text = min(counts, key=lambda s: (-counts[s], s))
    return lambda targets: [_prediction(t.id, action, text) for t in targets]


def majority(train: Sequence[Thread], targets: Sequence[Thread]) -> list[dict[str, Any]]:
    return fit_majority(train)(targets)


class ClusterPrior:
    """Per-cluster most frequent action and pool of training texts, with one seeded random stream."""

    def __init__(self, train: Sequence[Thread], seed: int = SEED) -> None:
        labelled = _labelled(train)
        self.global_action = _most_frequent([t.action for t in labelled])
        self.global_texts = sorted(t.text for t in labelled if t.text)
        actions: dict[int, list[str]] = defaultdict(list)
        texts: dict[int, list[str]] = defaultdict(list)
        for t in sorted(labelled, key=lambda t: t.id):  # id order so the draw does not depend on file order
            actions[t.cluster_id].append(t.action)
            if t.text:
                texts[t.cluster_id].append(t.text)
        self.actions = {c: _most_frequent(a) for c, a in actions.items()}
        self.texts = dict(texts)
        self.rng = random.Random(seed)

    def action(self, cluster: int) -> str:
        return self.actions.get(cluster, self.global_action)

    def text(self, cluster: int) -> str:
        pool = self.texts.get(cluster) or self.global_texts
        return self.rng.choice(pool) if pool else ""

    def predict(self, thread: Thread) -> dict[str, Any]:
        return _prediction(thread.id, self.action(thread.cluster_id), self.text(thread.cluster_id))

    def __call__(self, targets: Sequence[Thread]) -> list[dict[str, Any]]:
        return [self.predict(t) for t in targets]


def cluster_prior(
    train: Sequence[Thread], targets: Sequence[Thread], seed: int = SEED
) -> list[dict[str, Any]]:
    """Each cluster's most frequent training action, text from a random training thread of the cluster."""
    return ClusterPrior(train, seed)(targets)


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms == 0, 1, norms)


def fit_retrieval(train: Sequence[Thread], embed: Embed, seed: int = SEED) -> Predictor:
    """Copy action and last text of the nearest same-cluster training thread by context cosine."""
    prior = ClusterPrior(train, seed)
    pool = [t for t in _labelled(train) if t.context]
    embed = cached_embed(embed)
    pool_vecs = _unit(embed([t.context for t in pool])) if pool else np.zeros((0, 0), dtype=np.float32)
    by_cluster: dict[int, list[int]] = defaultdict(list)
    for i, t in enumerate(pool):
        by_cluster[t.cluster_id].append(i)
    everything = list(range(len(pool)))

    def predict(targets: Sequence[Thread]) -> list[dict[str, Any]]:
        queries = [t for t in targets if t.context]
        nearest: dict[str, Thread] = {}
        if pool and queries:
            query_vecs = _unit(embed([t.context for t in queries]))
            groups: dict[int, list[int]] = defaultdict(list)
            for j, q in enumerate(queries):
                groups[q.cluster_id].append(j)
            for cluster, rows in groups.items():
                cand = np.array(by_cluster.get(cluster) or everything)  # unseen cluster: search all of train
                for start in range(0, len(rows), _CHUNK):
                    block = rows[start : start + _CHUNK]
                    sims = query_vecs[block] @ pool_vecs[cand].T
                    # argmax takes the first maximum: ties go to the earliest training thread.
                    for j, k in zip(block, sims.argmax(axis=1), strict=True):
                        nearest[queries[j].id] = pool[cand[k]]
        out = []
        for t in targets:
            hit = nearest.get(t.id)
            out.append(_prediction(t.id, hit.action, hit.text) if hit else prior.predict(t))
        return out

    return predict


def retrieval(
    train: Sequence[Thread], targets: Sequence[Thread], embed: Embed, seed: int = SEED
) -> list[dict[str, Any]]:
    return fit_retrieval(train, embed, seed)(targets)


def fit_baseline(
    name: str, train: Sequence[Thread], embed: Embed | None = None, workers: int = 1
) -> Predictor:
    """The fitted predictor of baseline `name` (retrieval needs `embed`; lightgbm fits `workers` models at a
    time)."""
    from blueprint_assets.lib.evaluation import baseline_models  # LightGBM is imported only when used

    if name == "majority":
        return fit_majority(train)
    if name == "cluster-prior":
        return ClusterPrior(train)
    if name == "retrieval":
        if embed is None:
            raise ValueError("the retrieval baseline needs an embed function")
        return fit_retrieval(train, embed)
    if name == "lookup":
        return baseline_models.fit_lookup(train, ClusterPrior(train))
    if name == "lightgbm":
        return baseline_models.fit_lightgbm(train, ClusterPrior(train), workers)
    raise ValueError(f"unknown baseline {name!r}; expected one of {', '.join(BASELINES)}")


def run_baseline(
    name: str,
    release_dir: str | Path,
    split: str = "validation",
    embed: Embed | None = None,
    k: int | None = None,
    workers: int = 1,
) -> list[dict[str, Any]]:
    """Predictions (`{"id", 13 action bools, "text"}` dicts) of baseline `name` for `split` (retrieval needs
    `embed`, e.g. a `lib/personas/embed_cache.build_embedder`; see `fit_baseline` for `workers`)."""
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; expected one of {', '.join(BASELINES)}")
    if name == "retrieval" and embed is None:
        raise ValueError("the retrieval baseline needs an embed function")
    train = load_split(release_dir, "train", k)
    return fit_baseline(name, train, embed, workers)(load_split(release_dir, split, k))


def write_predictions(path: str | Path, preds: Sequence[dict[str, Any]]) -> Path:
    """Write predictions as JSONL, or CSV (booleans as true/false) when the path ends in .csv."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    columns = ["id", *ACTION_ORDER, "text"]
    if out.suffix.lower() == ".csv":
        with out.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            for p in preds:
                writer.writerow([p["id"], *("true" if p[a] else "false" for a in ACTION_ORDER), p["text"]])
    else:
        with out.open("w", encoding="utf-8") as fh:
            for p in preds:
                fh.write(json.dumps({c: p[c] for c in columns}, ensure_ascii=False) + "\n")
    return out


def as_predictions(preds: Sequence[dict[str, Any]]) -> dict[str, Prediction]:
    """Baseline dicts -> the scorer's Prediction objects."""
    return {p["id"]: Prediction(p["id"], next(a for a in ACTION_ORDER if p[a]), p["text"]) for p in preds}
