"""The learned baselines, built the way the Kaggle SocialSim winner built theirs (pure Python, no Dagster).

- `lookup`: the most frequent training action for the same context pattern in the same cluster
  (`context_pattern`), its text the most frequent training text of that pattern and action; patterns never
  seen in the cluster fall back to the cluster prior.
- `lightgbm`: one LightGBM multiclass model per cluster over `thread_features`: the context's action and text
  statistics, the time-rank gaps, the thread length and the cluster's action prior. Unweighted classes:
  on the demo release balanced class weights scored lower on macro-F1 (0.264 against 0.281). Clusters with too few training
  threads, or a single action, use the cluster prior. Text: a training text of the cluster, as
  `cluster-prior`.
Both are deterministic (fixed seeds, one LightGBM thread per model; models fitted side by side are
unchanged).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from blueprint_assets.lib.actions_space import ACTION_ORDER, TEXT_ACTIONS

if TYPE_CHECKING:
    from blueprint_assets.lib.evaluation.baselines import ClusterPrior, Predictor, Thread

MIN_CLUSTER_TRAIN = 30  # below this a per-cluster model is noise; use the prior
LGBM_PARAMS: dict[str, Any] = {
    "n_estimators": 150,
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_child_samples": 5,
    "random_state": 42,
    "n_jobs": 1,
    "deterministic": True,
    "force_row_wise": True,
    "verbose": -1,
}
PLACEHOLDERS = ("<URL>", "<USERNAME>", "<EMAIL_ADDRESS>", "<PHONE_NUMBER>")
FEATURE_NAMES = (
    "n_context",
    "n_context_users",
    "n_context_text",
    "n_context_no_text",
    "n_context_by_actor",
    "actor_in_context",
    "actor_is_root",
    "actor_is_previous",
    "context_chars",
    "last_context_chars",
    "last_context_words",
    "hashtags",
    "questions",
    "exclamations",
    "placeholders",
    "last_gap",
    "span",
    "mean_gap",
    "max_gap",
    "last_time",
    *(f"prior_{a}" for a in ACTION_ORDER),
)


def _parts(thread: Thread) -> tuple[list[tuple[str, int, str | None]], str, int]:
    msgs = list(thread.messages)
    if not msgs:
        return [], "", 0
    actor, time, _ = msgs[-1]
    return msgs[:-1], actor, time


def thread_features(thread: Thread, prior: Sequence[float]) -> list[float]:
    """Numeric features of one thread (FEATURE_NAMES order); the hidden last message is never read."""
    context, actor, last_time = _parts(thread)
    texts = [m[2] or "" for m in context]
    times = [m[1] for m in context] + [last_time]
    gaps = np.diff(times) if len(times) > 1 else np.zeros(1)
    last_text = texts[-1] if texts else ""
    joined = " ".join(texts)
    return [
        len(context),
        len({m[0] for m in context}),
        sum(1 for t in texts if t),
        sum(1 for t in texts if not t),
        sum(1 for m in context if m[0] == actor),
        float(any(m[0] == actor for m in context)),
        float(bool(context) and context[0][0] == actor),
        float(bool(context) and context[-1][0] == actor),
        len(joined),
        len(last_text),
        len(last_text.split()),
        joined.count("#"),
        joined.count("?"),
        joined.count("!"),
        sum(joined.count(p) for p in PLACEHOLDERS),
        float(gaps[-1]),
        float(times[-1] - times[0]),
        float(np.mean(gaps)),
        float(np.max(gaps)),
        float(last_time),
        *prior,
    ]


def context_pattern(thread: Thread) -> tuple[Any, ...]:
    """A coarse signature of the context: length, where the actor appears, last gap bucket, any text."""
    context, actor, last_time = _parts(thread)
    if not context:
        where = "none"
    elif context[0][0] == actor:
        where = "root"
    elif any(m[0] == actor for m in context):
        where = "other"
    else:
        where = "absent"
    gap = last_time - context[-1][1] if context else 0
    bucket = next(i for i, edge in enumerate((0, 1, 2, 5, 10, float("inf"))) if gap <= edge)
    return (min(len(context), 3), where, bucket, any(m[2] for m in context))


def _best_text(threads: Sequence[Thread], action: str) -> str | None:
    counts = Counter(t.text for t in threads if t.action == action and t.text)
    return min(counts, key=lambda s: (-counts[s], s)) if counts else None


def fit_lookup(train: Sequence[Thread], prior: ClusterPrior) -> Predictor:
    """Most frequent (action, text) of the same (cluster, context pattern) in train, else the cluster prior."""
    from blueprint_assets.lib.evaluation.baselines import _labelled, _most_frequent, _prediction

    groups: dict[tuple[int, tuple[Any, ...]], list[Thread]] = defaultdict(list)
    for t in _labelled(train):
        groups[(t.cluster_id, context_pattern(t))].append(t)
    table = {}
    for key, threads in groups.items():
        action = _most_frequent([t.action for t in threads])
        table[key] = (action, _best_text(threads, action) if action in TEXT_ACTIONS else "")

    def predict(targets: Sequence[Thread]) -> list[dict[str, Any]]:
        out = []
        for t in targets:
            hit = table.get((t.cluster_id, context_pattern(t)))
            if hit is None:
                out.append(prior.predict(t))
            else:
                action, text = hit
                out.append(_prediction(t.id, action, text if text is not None else prior.text(t.cluster_id)))
        return out

    return predict


def cluster_priors(train: Sequence[Thread]) -> tuple[dict[int, list[float]], list[float]]:
    """Per-cluster and global training action frequencies, in ACTION_ORDER."""
    counts: dict[int, Counter] = defaultdict(Counter)
    for t in train:
        if t.action is not None:
            counts[t.cluster_id][t.action] += 1
    total = sum((c for c in counts.values()), Counter())

    def freq(c: Counter) -> list[float]:
        n = sum(c.values()) or 1
        return [c.get(a, 0) / n for a in ACTION_ORDER]

    return {k: freq(c) for k, c in counts.items()}, freq(total)


def fit_lightgbm(train: Sequence[Thread], prior: ClusterPrior, workers: int = 1) -> Predictor:
    """One LightGBM classifier per cluster (LGBM_PARAMS; see the module docstring), `workers` fitted at a
    time. Each model is trained on one thread and LightGBM releases the GIL while it trains, so threads
    share the cores and every model is the same as when fitted alone."""
    import lightgbm

    from blueprint_assets.lib.evaluation.baselines import _labelled, _prediction

    labelled = _labelled(train)
    priors, global_prior = cluster_priors(labelled)
    by_cluster: dict[int, list[Thread]] = defaultdict(list)
    for t in labelled:
        by_cluster[t.cluster_id].append(t)

    def fit(cluster: int) -> Any:
        threads = by_cluster[cluster]
        x = np.array([thread_features(t, priors[cluster]) for t in threads], dtype=np.float64)
        return lightgbm.LGBMClassifier(**LGBM_PARAMS).fit(x, [t.action for t in threads])

    fitted = [
        cluster
        for cluster, threads in sorted(by_cluster.items())
        if len(threads) >= MIN_CLUSTER_TRAIN and len({t.action for t in threads}) >= 2
    ]
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="lightgbm") as pool:
        models: dict[int, Any] = dict(zip(fitted, pool.map(fit, fitted), strict=True))

    def predict(targets: Sequence[Thread]) -> list[dict[str, Any]]:
        actions: dict[str, str] = {}
        groups: dict[int, list[Thread]] = defaultdict(list)
        for t in targets:
            groups[t.cluster_id].append(t)
        for cluster, threads in groups.items():
            if cluster not in models:
                actions.update((t.id, prior.action(cluster)) for t in threads)
                continue
            feats = priors.get(cluster, global_prior)
            x = np.array([thread_features(t, feats) for t in threads], dtype=np.float64)
            actions.update(zip((t.id for t in threads), models[cluster].predict(x), strict=True))
        out = []
        for t in targets:
            action = str(actions[t.id])
            out.append(_prediction(t.id, action, prior.text(t.cluster_id) if action in TEXT_ACTIONS else ""))
        return out

    return predict
