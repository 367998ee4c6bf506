"""Score next-action predictions against a release's hidden answers (pure Python, no Dagster).

Two modes (docs/scoring.md lists every difference, its reason and its measured size):
- `default`, the corrected metrics: text metrics over the items whose true last message has non-empty text;
  real set = those answer texts, generated set = the non-empty predicted texts of the same items; an empty
  predicted text scores 0 in the per-item cosine rather than being embedded;
- `blueprint` (`--compat blueprint`), BluePrint's published code: every item's text enters both sets after
  BluePrint's text handling (`compat.blueprint_text`), empty texts embedded; BluePrint's JS histogram and
  top-100 padding; the action "F1" is the legacy collapsed-label score; population text metrics are the mean
  over clusters, as BluePrint averages per model.
Both modes report macro-F1 (overall, common, rare) and the legacy score. Common actions (the 2 most frequent in
the answers) are fixed on the whole population so per-cluster figures compare. In matrix mode one TF-IDF is
fitted on every (cluster, source) document of the whole matrix, as BluePrint does.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from blueprint_assets.lib.evaluation import compat, metrics
from blueprint_assets.lib.evaluation.score_report import render_matrix_report, render_report
from blueprint_assets.lib.evaluation.submissions import (
    Answer,
    Prediction,
    ScoringError,
    _problems,
    _raise_if,
    check_coverage,
    load_answers,
    load_predictions,
    resolve_answers_path,
)

__all__ = [
    "Answer",
    "Prediction",
    "ScoringError",
    "check_coverage",
    "load_answers",
    "load_predictions",
    "render_matrix_report",
    "render_report",
    "resolve_answers_path",
    "score",
    "score_files",
    "score_matrix",
]

Embed = Callable[[list[str]], np.ndarray]

MODES = ("default", "blueprint")
TEXT_METRICS = ("mean_item_cosine", "avg_embedding_cosine", "max_cosine", "js_divergence", "tfidf_jaccard")
ACTION_SUMMARY = ("macro_f1", "macro_f1_common", "macro_f1_rare", "legacy_score", "accuracy")
MATRIX_METRICS = ("macro_f1", "legacy_score", "accuracy", *TEXT_METRICS)
LOWER_IS_BETTER = frozenset({"js_divergence"})


# ---------------------------------------------------------------- text sets


def cached_embed(embed: Embed) -> Embed:
    """Wrap `embed` so each distinct text is encoded once across calls (matrix scoring reuses answers)."""
    cache: dict[str, np.ndarray] = {}

    def wrapped(texts: list[str]) -> np.ndarray:
        new = list(dict.fromkeys(t for t in texts if t not in cache))
        if new:
            vectors = np.asarray(embed(new), dtype=np.float32)
            if vectors.shape[0] != len(new):
                raise ValueError(f"embed returned {vectors.shape[0]} vectors for {len(new)} texts")
            cache.update(zip(new, vectors, strict=True))
        return np.stack([cache[t] for t in texts]) if texts else np.zeros((0, 0), dtype=np.float32)

    wrapped.model_id = getattr(embed, "model_id", None)  # type: ignore[attr-defined]
    return wrapped


def text_pairs(
    items: Iterable[Answer], preds: Mapping[str, Prediction], mode: str
) -> dict[str, tuple[str, str]]:
    """id -> (real text, generated text) of the items that enter the text sets in `mode`."""
    if mode == "blueprint":
        return {a.id: (compat.blueprint_text(a.text), compat.blueprint_text(preds[a.id].text)) for a in items}
    return {a.id: (a.text, preds[a.id].text) for a in items if a.text}


def _embed_key(text: str, mode: str) -> str:
    return compat.tokenizer_safe(text) if mode == "blueprint" else text


def _vectors(pairs: Mapping[str, tuple[str, str]], embed: Embed, mode: str) -> dict[str, np.ndarray]:
    """One embed call for every distinct text of the sets (empty texts only in blueprint mode)."""
    texts = [_embed_key(t, mode) for pair in pairs.values() for t in pair]
    unique = list(dict.fromkeys(t for t in texts if t or mode == "blueprint"))
    return dict(zip(unique, np.asarray(embed(unique)), strict=True)) if unique else {}


def _text_block(
    group: list[Answer], pairs: Mapping[str, tuple[str, str]], vectors: Mapping[str, np.ndarray], mode: str
) -> dict[str, Any]:
    """Per-item cosine and the set metrics over one group's items."""
    dim = next(iter(vectors.values())).shape[0] if vectors else 0
    texted = [pairs[a.id] for a in group if a.id in pairs]
    paired = [(r, g) for r, g in texted if g or mode == "blueprint"]

    def stack(texts: list[str]) -> np.ndarray:
        return np.stack([vectors[_embed_key(t, mode)] for t in texts]) if texts else np.zeros((0, dim))

    real_m = stack([r for r, _ in texted])
    gen_m = stack([g for _, g in paired])
    # Default mode: an empty predicted text scores 0 for its item (it is not embedded).
    cos_sum = float(metrics.item_cosines(stack([r for r, _ in paired]), gen_m).sum()) if paired else 0.0
    set_metrics = compat.text_set_metrics if mode == "blueprint" else metrics.text_set_metrics
    return {
        "n_text_items": len(texted),
        "n_generated": len(paired),
        "mean_item_cosine": cos_sum / len(texted) if texted else float("nan"),
        **set_metrics(real_m, gen_m),
    }


def tfidf_documents(
    by_cluster: Mapping[int, list[Answer]], pairs: Mapping[str, tuple[str, str]], source: Hashable
) -> dict[tuple[int, Hashable], str]:
    """One document per (cluster, "real") and (cluster, source): the cluster's texts joined by spaces."""
    docs: dict[tuple[int, Hashable], str] = {}
    for c, group in by_cluster.items():
        texted = [pairs[a.id] for a in group if a.id in pairs]
        if texted:
            docs[(c, "real")] = " ".join(r for r, _ in texted)
            docs[(c, source)] = " ".join(g for _, g in texted)
    return docs


def jaccard_by_cluster(
    docs: Mapping[tuple[int, Hashable], str], sources: Iterable[Hashable], mode: str
) -> dict[Hashable, dict[int, float]]:
    """source -> cluster -> Jaccard of the top-100 terms against the cluster's real document, with ONE
    TF-IDF fitted on all `docs` (BluePrint's corpus)."""
    if not docs:
        return {source: {} for source in sources}
    terms = compat.top_tfidf_terms(docs) if mode == "blueprint" else metrics.top_tfidf_terms(docs)
    out: dict[Hashable, dict[int, float]] = {}
    for source in sources:
        out[source] = {}
        for c, src in docs:
            if src == source:
                value = (
                    float("nan") if terms is None else metrics.jaccard(terms[(c, "real")], terms[(c, src)])
                )
                out[source][c] = value
    return out


# ---------------------------------------------------------------- scoring


def _nan_to_none(obj: Any) -> Any:
    """JSON has no NaN: undefined metrics (e.g. no text items) become null."""
    if isinstance(obj, float):
        return None if math.isnan(obj) else obj
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_nan_to_none(v) for v in obj]
    return obj


def _nanmean(values: Iterable[float | None]) -> float:
    vals = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(vals)) if vals else float("nan")


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown scoring mode {mode!r}; expected one of {', '.join(MODES)}")


def score(
    answers: Mapping[str, Answer],
    predictions: Mapping[str, Prediction],
    embed: Embed,
    mode: str = "default",
    jaccard: Mapping[int, float] | None = None,
) -> dict[str, Any]:
    """Population and per-cluster metrics, JSON-ready (undefined values are None).

    `jaccard` (cluster -> value) replaces the TF-IDF fit of this call: matrix mode fits one for all models.
    """
    _check_mode(mode)
    check_coverage(answers, predictions)
    items = list(answers.values())
    y_true = [a.action for a in items]
    common = metrics.common_actions(y_true)
    by_cluster = {c: [a for a in items if a.cluster_id == c] for c in sorted({a.cluster_id for a in items})}
    pairs = text_pairs(items, predictions, mode)
    vectors = _vectors(pairs, embed, mode)
    if jaccard is None:
        jaccard = jaccard_by_cluster(tfidf_documents(by_cluster, pairs, "generated"), ["generated"], mode)[
            "generated"
        ]

    def group_result(group: list[Answer], jac: float) -> dict[str, Any]:
        acts = [a.action for a in group]
        return {
            "actions": metrics.action_metrics(acts, [predictions[a.id].action for a in group], common),
            "text": {**_text_block(group, pairs, vectors, mode), "tfidf_jaccard": jac},
        }

    per_cluster = {c: group_result(g, jaccard.get(c, float("nan"))) for c, g in by_cluster.items()}
    population = group_result(items, _nanmean(jaccard.values()))
    population["cluster_mean"] = {
        name: _nanmean([r["text"][name] for r in per_cluster.values()]) for name in TEXT_METRICS
    } | {name: _nanmean([r["actions"][name] for r in per_cluster.values()]) for name in ACTION_SUMMARY}
    if mode == "blueprint":
        # BluePrint has no pooled set metrics: it averages the per-cluster values.
        for name in ("avg_embedding_cosine", "max_cosine", "js_divergence"):
            population["text"][name] = population["cluster_mean"][name]
        population["text"]["cluster_mean"] = True
    return _nan_to_none(
        {
            "settings": {"mode": mode, "encoder": getattr(embed, "model_id", None)},
            "n_items": len(items),
            "n_clusters": len(by_cluster),
            "common_actions": common,
            "action_counts": {a: n for a, n in Counter(y_true).most_common()},
            "population": population,
            "clusters": {str(c): r for c, r in per_cluster.items()},
        }
    )


# ---------------------------------------------------------------- cluster x model matrix


_MODEL_FILE = re.compile(r"^(?:cluster|model)_(\d+)\.(?:jsonl|csv)$")


def load_matrix_dir(path: str | Path) -> dict[int, Path]:
    """Per-cluster model prediction files `cluster_{i}.jsonl|csv` (or `model_{i}`) in a folder."""
    folder = Path(path)
    if not folder.is_dir():
        raise ScoringError(f"matrix folder {folder} does not exist")
    found: dict[int, Path] = {}
    for f in sorted(folder.iterdir()):
        m = _MODEL_FILE.match(f.name)
        if m:
            if int(m.group(1)) in found:
                raise ScoringError(f"matrix folder {folder}: two prediction files for cluster {m.group(1)}")
            found[int(m.group(1))] = f
    if not found:
        raise ScoringError(f"matrix folder {folder} holds no cluster_<i>.jsonl or cluster_<i>.csv files")
    return found


def score_matrix(
    models: Mapping[int, str | Path | Mapping[str, Prediction]],
    answers: Mapping[str, Answer],
    embed: Embed,
    mode: str = "default",
) -> dict[str, Any]:
    """Score each cluster's model against every cluster's answers; diagonality of each metric.

    `models[m]` are the predictions of the model fitted to cluster m, over the whole split. Entry [c][m] of each
    matrix is model m's metric on cluster c's items (rows = answers' cluster, columns = model), BluePrint's
    orientation; JS divergence is inverted (1 / (1 + x)) before the diagonality. The TF-IDF behind the Jaccard
    is fitted once, on the real and every model's document of every cluster.
    """
    _check_mode(mode)
    clusters = sorted({a.cluster_id for a in answers.values()})
    missing = [c for c in clusters if c not in models]
    extra = sorted(m for m in models if m not in clusters)
    _raise_if(
        _problems(
            ("no model predictions for clusters", missing),
            ("model predictions for clusters absent from the answers", extra),
        ),
        "matrix scoring",
    )
    embed = cached_embed(embed)
    preds = {
        m: models[m] if isinstance(models[m], Mapping) else load_predictions(models[m], answers)
        for m in clusters
    }
    items = list(answers.values())
    by_cluster = {c: [a for a in items if a.cluster_id == c] for c in clusters}
    docs: dict[tuple[int, Hashable], str] = {}
    for m in clusters:
        docs.update(tfidf_documents(by_cluster, text_pairs(items, preds[m], mode), m))
    jac = jaccard_by_cluster(docs, clusters, mode)
    results = {m: score(answers, preds[m], embed, mode, jaccard=jac[m]) for m in clusters}

    def cell(m: int, c: int, name: str) -> float:
        r = results[m]["clusters"][str(c)]
        value = r["actions"].get(name, r["text"].get(name))
        return float("nan") if value is None else float(value)

    out: dict[str, Any] = {
        "settings": {"mode": mode, "encoder": getattr(embed, "model_id", None)},
        "clusters": clusters,
        "metrics": {},
    }
    for name in MATRIX_METRICS:
        matrix = [[cell(m, c, name) for m in clusters] for c in clusters]
        out["metrics"][name] = {
            "matrix": matrix,
            "lower_is_better": name in LOWER_IS_BETTER,
            "diagonality": metrics.diagonality(matrix, lower_is_better=name in LOWER_IS_BETTER),
        }
    out["models"] = {
        str(m): {name: r["population"]["actions"][name] for name in ACTION_SUMMARY}
        for m, r in results.items()
    }
    return _nan_to_none(out)


def score_files(
    answers_path: str | Path,
    predictions_path: str | Path | None = None,
    *,
    embed: Embed,
    matrix_dir: str | Path | None = None,
    split: str = "validation",
    k: int | None = None,
    mode: str = "default",
) -> tuple[dict[str, Any], str]:
    """Load, validate and score in one call, as `blueprint score` does: (JSON-ready result, Markdown report).

    `answers_path` is a release folder, an answers folder or an answers JSONL (`k`: the granularity of a
    multi-K release). Scores one predictions file, or with `matrix_dir` a folder of `cluster_<i>` files, one
    model per cluster (the cluster x model matrix and its diagonality).
    """
    if predictions_path is None and matrix_dir is None:
        raise ValueError("give a predictions file or a matrix folder")
    answers = load_answers(answers_path, split, k)
    if matrix_dir is not None:
        result = score_matrix(load_matrix_dir(matrix_dir), answers, embed, mode)
        return result, render_matrix_report(result)
    result = score(answers, load_predictions(predictions_path, answers, split), embed, mode)
    return result, render_report(result)
