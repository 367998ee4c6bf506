"""Evaluation metrics for next-action prediction (pure numpy, no Dagster).

Action metrics follow scikit-learn's conventions exactly (`f1_score(average="macro", labels=ACTION_ORDER,
zero_division=0)`): every one of the 13 actions counts in the macro average, and a class absent from both the
truth and the predictions contributes F1 = 0.

Text metrics follow the BluePrint authors' evaluation (ComplexData-MILA/BluePrint, evaluating/compute_metrics.py):
- average-embedding cosine: cosine between the mean real and the mean generated embedding;
- maximum cosine: the single largest cosine over all (generated, real) pairs (their definition: a max over
  pairs, not a mean of per-item maxima);
- Jensen-Shannon divergence (log base 2, so in [0, 1]) between histograms of intra-set cosine distances,
  49 equal bins over [0, 2]. Like theirs, the full n x n distance matrix is histogrammed, self pairs (distance 0)
  and both orders included; unlike theirs, distances are clipped to [0, 2] so float error cannot drop a pair;
- Jaccard overlap of the top-100 TF-IDF terms, with a scikit-learn-equivalent TF-IDF fitted on one document per
  (group, source) (`min_df=2, max_df=0.95` as theirs);
- the legacy action score: BluePrint's "F1", which is accuracy over collapsed labels (like, repost, follow,
  ignore; everything else counts as post), reported beside the true macro-F1 so results compare with the paper;
- diagonality of a cluster x model matrix: 1 - off-diagonal sum / total; "lower is better" metrics (JS) are first
  mapped to 1 / (1 + x), as they do, so a higher diagonality always means models fit their own cluster best.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence

import numpy as np

from blueprint_assets.lib.actions_space import ACTION_ORDER

JS_BIN_EDGES = np.linspace(0.0, 2.0, 50)  # 50 edges = 49 bins, as BluePrint
TOP_TERMS = 100
_CHUNK = 1024  # rows per block for pairwise cosine work
# scikit-learn's default token pattern: words of 2+ word characters.
_TOKEN_RE = re.compile(r"(?u)\b\w\w+\b")


# ---------------------------------------------------------------- actions


def _indices(labels: Sequence[str], order: Sequence[str]) -> np.ndarray:
    index = {name: i for i, name in enumerate(order)}
    try:
        return np.fromiter((index[label] for label in labels), dtype=np.int64, count=len(labels))
    except KeyError as exc:
        raise ValueError(f"unknown action {exc.args[0]!r}; expected one of {', '.join(order)}") from None


def confusion_matrix(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] = ACTION_ORDER
) -> np.ndarray:
    """Counts, rows = true action, columns = predicted action, both in `labels` order."""
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} items but y_pred has {len(y_pred)}")
    n = len(labels)
    t, p = _indices(y_true, labels), _indices(y_pred, labels)
    return np.bincount(t * n + p, minlength=n * n).reshape(n, n)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den == 0 (scikit-learn's zero_division=0)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.zeros_like(num)
    np.divide(num, den, out=out, where=den != 0)
    return out


def per_class_prf(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class precision, recall, F1 and support from a confusion matrix (zero_division=0)."""
    tp = np.diag(cm).astype(np.float64)
    pred_count = cm.sum(axis=0)
    support = cm.sum(axis=1)
    fp, fn = pred_count - tp, support - tp
    return {
        "precision": _safe_div(tp, pred_count),
        "recall": _safe_div(tp, support),
        # 2tp / (2tp + fp + fn) is scikit-learn's F1 and is 0 (not NaN) when the class is absent everywhere.
        "f1": _safe_div(2 * tp, 2 * tp + fp + fn),
        "support": support,
    }


def macro_f1(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] = ACTION_ORDER) -> float:
    """Unweighted mean F1 over `labels`; classes absent from truth and prediction count as 0."""
    if not labels:
        return float("nan")
    cm = confusion_matrix(y_true, y_pred, ACTION_ORDER)
    f1 = per_class_prf(cm)["f1"]
    idx = _indices(list(labels), ACTION_ORDER)
    return float(f1[idx].mean())


def micro_f1(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] = ACTION_ORDER) -> float:
    """Micro-averaged F1 over `labels` (equals accuracy when labels cover every action)."""
    cm = confusion_matrix(y_true, y_pred, ACTION_ORDER)
    idx = _indices(list(labels), ACTION_ORDER)
    tp = np.diag(cm)[idx].sum()
    fp = cm.sum(axis=0)[idx].sum() - tp
    fn = cm.sum(axis=1)[idx].sum() - tp
    return float(_safe_div(2 * tp, 2 * tp + fp + fn))


def accuracy(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """Share of items whose predicted action equals the true one (NaN when empty)."""
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} items but y_pred has {len(y_pred)}")
    if not y_true:
        return float("nan")
    return sum(t == p for t, p in zip(y_true, y_pred, strict=True)) / len(y_true)


def common_actions(y_true: Sequence[str], k: int = 2) -> list[str]:
    """The k most frequent true actions; ties broken by ACTION_ORDER so the choice is deterministic."""
    counts = Counter(y_true)
    ranked = sorted(ACTION_ORDER, key=lambda a: (-counts.get(a, 0), ACTION_ORDER.index(a)))
    return [a for a in ranked[:k] if counts.get(a, 0) > 0]


# BluePrint's label collapse: the first true key of these, in this order, else "post". "ignore" is not one of
# the 13 actions, so it never matches here.
LEGACY_LABELS = ("like", "repost", "follow", "ignore")


def legacy_label(action: str) -> str:
    """An action as BluePrint's collapsed label."""
    return action if action in LEGACY_LABELS else "post"


def legacy_score(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """BluePrint's action "F1": tp = matching collapsed labels, fp = fn = the others; equals accuracy."""
    return accuracy([legacy_label(a) for a in y_true], [legacy_label(a) for a in y_pred])


def action_metrics(y_true: Sequence[str], y_pred: Sequence[str], common: Sequence[str]) -> dict:
    """All action metrics for one group of items, JSON-ready."""
    cm = confusion_matrix(y_true, y_pred)
    prf = per_class_prf(cm)
    rare = [a for a in ACTION_ORDER if a not in common]
    return {
        "n": len(y_true),
        "macro_f1": macro_f1(y_true, y_pred),
        "micro_f1": micro_f1(y_true, y_pred),
        "accuracy": accuracy(y_true, y_pred),
        "macro_f1_common": macro_f1(y_true, y_pred, list(common)),
        "macro_f1_rare": macro_f1(y_true, y_pred, rare),
        "legacy_score": legacy_score(y_true, y_pred),
        "per_class": {
            a: {
                "precision": float(prf["precision"][i]),
                "recall": float(prf["recall"][i]),
                "f1": float(prf["f1"][i]),
                "support": int(prf["support"][i]),
            }
            for i, a in enumerate(ACTION_ORDER)
        },
        "confusion": cm.tolist(),
    }


# ---------------------------------------------------------------- embeddings


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return _safe_div(x, np.broadcast_to(norms, x.shape))


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return 0.0
    return float(np.dot(a, b) / (na * nb))


def item_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine between two equally shaped embedding matrices."""
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch {a.shape} vs {b.shape}")
    return np.einsum("ij,ij->i", _unit_rows(a), _unit_rows(b))


def avg_embedding_cosine(real: np.ndarray, generated: np.ndarray) -> float:
    """Cosine between the mean real embedding and the mean generated embedding."""
    if len(real) == 0 or len(generated) == 0:
        return float("nan")
    return _cosine(np.mean(real, axis=0, dtype=np.float64), np.mean(generated, axis=0, dtype=np.float64))


def max_cosine(real: np.ndarray, generated: np.ndarray) -> float:
    """Largest cosine over all (generated, real) pairs (BluePrint's definition)."""
    if len(real) == 0 or len(generated) == 0:
        return float("nan")
    gen, ref = _unit_rows(generated), _unit_rows(real)
    # Chunked so a pooled population of 10^4 x 10^4 pairs never materializes at once.
    return max(float((gen[i : i + _CHUNK] @ ref.T).max()) for i in range(0, len(gen), _CHUNK))


def distance_histogram(emb: np.ndarray, include_self: bool = True) -> np.ndarray:
    """Probability histogram of intra-set cosine distances over JS_BIN_EDGES."""
    unit = _unit_rows(emb)
    n_bins = len(JS_BIN_EDGES) - 1
    hist = np.zeros(n_bins, dtype=np.int64)
    for start in range(0, len(unit), _CHUNK):
        dist = np.clip(1.0 - unit[start : start + _CHUNK] @ unit.T, 0.0, 2.0)
        if not include_self:
            rows = np.arange(len(dist))
            dist[rows, rows + start] = np.nan  # drop self pairs
            dist = dist[~np.isnan(dist)]
        # Equal-width bins: index arithmetic is np.histogram's result (last bin closed) at a fraction of the cost.
        idx = np.minimum((dist.ravel() * (n_bins / 2.0)).astype(np.int64), n_bins - 1)
        hist += np.bincount(idx, minlength=n_bins)
    total = hist.sum()
    return hist / total if total else hist.astype(np.float64)


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence in bits between two histograms (normalized here)."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.sum() == 0 or q.sum() == 0:
        return float("nan")
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(x: np.ndarray) -> float:
        nz = x > 0  # 0 * log 0 = 0; m > 0 wherever x > 0
        return float(np.sum(x[nz] * np.log2(x[nz] / m[nz])))

    return max(0.0, (kl(p) + kl(q)) / 2)


def embedding_js_divergence(real: np.ndarray, generated: np.ndarray, include_self: bool = True) -> float:
    """JS divergence between the intra-set cosine-distance histograms of two embedding sets."""
    if len(real) == 0 or len(generated) == 0:
        return float("nan")
    return js_divergence(distance_histogram(real, include_self), distance_histogram(generated, include_self))


def text_set_metrics(real: np.ndarray, generated: np.ndarray) -> dict[str, float]:
    """The embedding-based BluePrint set metrics for one group."""
    return {
        "avg_embedding_cosine": avg_embedding_cosine(real, generated),
        "max_cosine": max_cosine(real, generated),
        "js_divergence": embedding_js_divergence(real, generated),
    }


# ---------------------------------------------------------------- TF-IDF


def tokenize(text: str) -> list[str]:
    """scikit-learn's default analyzer: lowercase, tokens of 2+ word characters."""
    return _TOKEN_RE.findall(text.lower())


def tfidf_matrix(
    docs: Sequence[str], min_df: float = 2, max_df: float = 0.95
) -> tuple[list[str], np.ndarray]:
    """(vocabulary, l2-normalized TF-IDF matrix) equal to scikit-learn's `TfidfVectorizer(min_df, max_df)`.

    Integer df bounds are document counts, floats are proportions, as in scikit-learn. Smooth idf:
    ln((1 + n) / (1 + df)) + 1.
    """
    token_lists = [tokenize(d) for d in docs]
    n_docs = len(docs)
    df = Counter(t for tokens in token_lists for t in set(tokens))
    max_count = max_df if isinstance(max_df, int) else max_df * n_docs
    min_count = min_df if isinstance(min_df, int) else min_df * n_docs
    vocab = sorted(t for t, c in df.items() if min_count <= c <= max_count)
    col = {t: j for j, t in enumerate(vocab)}
    tf = np.zeros((n_docs, len(vocab)), dtype=np.float64)
    for i, tokens in enumerate(token_lists):
        for t, c in Counter(tokens).items():
            if t in col:
                tf[i, col[t]] = c
    idf = np.log((1 + n_docs) / (1 + np.array([df[t] for t in vocab], dtype=np.float64))) + 1
    weights = tf * idf
    return vocab, _unit_rows(weights) if len(vocab) else weights


def top_tfidf_terms(
    docs: Mapping[Hashable, str], n: int = TOP_TERMS, min_df: float = 2, max_df: float = 0.95
) -> dict[Hashable, set[str]]:
    """Top-n TF-IDF terms of each document, the vectorizer fitted on all of them.

    Only terms with positive weight are kept, ties broken alphabetically (BluePrint's argsort would fill short
    documents with arbitrary zero-weight terms). With fewer than 3 documents the df bounds are dropped: on a
    2-document corpus `min_df=2` and `max_df=0.95` together exclude every term.
    """
    keys = list(docs)
    if len(keys) < 3:
        min_df, max_df = 1, 1.0
    vocab, weights = tfidf_matrix([docs[k] for k in keys], min_df, max_df)
    out: dict[Hashable, set[str]] = {}
    for i, key in enumerate(keys):
        ranked = sorted((-w, vocab[j]) for j, w in enumerate(weights[i]) if w > 0)
        out[key] = {term for _, term in ranked[:n]}
    return out


def jaccard(a: set[str], b: set[str]) -> float:
    """|a & b| / |a | b|, 0 when both are empty (BluePrint's convention)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


# ---------------------------------------------------------------- diagonality


def diagonality(matrix: np.ndarray | Sequence[Sequence[float]], lower_is_better: bool = False) -> float:
    """1 - off-diagonal sum / total of a square cluster (rows) x model (columns) matrix.

    For lower-is-better metrics each value x is first mapped to 1 / (1 + x) (BluePrint's inversion), so the
    result reads the same way for every metric: 1 = all mass on the diagonal. NaN if any entry is NaN;
    0 when the total is 0, as theirs.
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"diagonality needs a square matrix, got shape {m.shape}")
    if np.isnan(m).any():
        return float("nan")
    if lower_is_better:
        m = 1.0 / (1.0 + m)
    total = m.sum()
    if total == 0:
        return 0.0
    return float(1.0 - (total - np.trace(m)) / total)
