"""BluePrint-compatible metric definitions for `blueprint score --compat blueprint` (pure numpy).

They reproduce the published evaluation (ComplexData-MILA/BluePrint, evaluating/compute_metrics.py) with its
artifacts, so results can be set next to the paper's. The corrected definitions the scorer uses by default
live in `lib.evaluation.metrics`; docs/scoring.md lists every difference, why, and how large it is.

- text handling (`blueprint_text`): every message text, real or generated, is unicode_escape-decoded (kept as
  is when that fails), stripped, cut at the first `"` and then at the first `\\`, and a one-character result
  becomes empty; empty texts stay in the sets and are embedded;
- cosine distances as scikit-learn's `cosine_similarity` computes them (rows normalized in the input dtype);
- embedding JS: `np.histogram(density=True)` over 49 bins on [0, 2] without clipping (a self distance that
  rounds below 0 falls out), positive bins only, log2, summed over the union of positive bins;
- TF-IDF top-100: `argsort(weights)[-100:]`, so a document with fewer than 100 positive terms is padded with
  zero-weight terms in argsort order.
"""

from __future__ import annotations

import contextlib
from collections.abc import Hashable, Mapping

import numpy as np

from blueprint_assets.lib.evaluation import metrics

BIN_EDGES = np.linspace(0, 2, 50)


def blueprint_text(text: str | None) -> str:
    """A message text as BluePrint's `filter_text` leaves it (see the module docstring)."""
    out = text or ""
    with contextlib.suppress(UnicodeDecodeError):
        out = out.encode("utf-8").decode("unicode_escape")
    out = out.strip()
    for stop in ('"', "\\"):
        cut = out.find(stop)
        if cut != -1:
            out = out[:cut]
    return "" if len(out) == 1 else out


def tokenizer_safe(text: str) -> str:
    """Drop what UTF-8 cannot encode (lone surrogates from unicode_escape), as BluePrint does before encoding."""
    return text.encode("utf-8", errors="ignore").decode("utf-8")


def _sklearn_normalize(x: np.ndarray) -> np.ndarray:
    """scikit-learn's `normalize`: float inputs keep their dtype; near-zero norms are replaced by 1."""
    arr = np.array(x, dtype=x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64, copy=True)
    norms = np.sqrt(np.einsum("ij,ij->i", arr, arr))
    norms[norms < 10 * np.finfo(norms.dtype).eps] = 1.0
    arr /= norms[:, None]
    return arr


def _dict_js(p: Mapping[int, float], q: Mapping[int, float]) -> float:
    """BluePrint's dictionary JS divergence (log2), over the union of keys, skipping zero terms."""
    p_sum, q_sum = sum(p.values()), sum(q.values())
    if p_sum == 0 or q_sum == 0:
        return float("nan")  # BluePrint divides by zero here
    keys = set(p) | set(q)
    pn = {k: p.get(k, 0) / p_sum for k in keys}
    qn = {k: q.get(k, 0) / q_sum for k in keys}
    m = {k: (pn[k] + qn[k]) / 2 for k in keys}
    kl_p = sum(pn[k] * np.log2(pn[k] / m[k]) for k in keys if pn[k] > 0)
    kl_q = sum(qn[k] * np.log2(qn[k] / m[k]) for k in keys if qn[k] > 0)
    return float((kl_p + kl_q) / 2)


def embedding_js_divergence(real: np.ndarray, generated: np.ndarray) -> float:
    """JS divergence of the intra-set distance histograms, BluePrint's way (no clipping, see module)."""
    if len(real) == 0 or len(generated) == 0:
        return float("nan")
    unit = _sklearn_normalize(np.vstack([real, generated]))
    dist = 1 - unit @ unit.T
    n = len(real)
    with np.errstate(invalid="ignore", divide="ignore"):  # an all-dropped block gives NaN bins, as theirs
        real_hist, _ = np.histogram(dist[:n, :n].ravel(), bins=BIN_EDGES, density=True)
        gen_hist, _ = np.histogram(dist[n:, n:].ravel(), bins=BIN_EDGES, density=True)
    p = {i: float(v) for i, v in enumerate(real_hist) if v > 0}
    q = {i: float(v) for i, v in enumerate(gen_hist) if v > 0}
    return _dict_js(p, q)


def text_set_metrics(real: np.ndarray, generated: np.ndarray) -> dict[str, float]:
    """The embedding set metrics of one group: average and max cosine match `metrics`; JS is BluePrint's."""
    return {
        "avg_embedding_cosine": metrics.avg_embedding_cosine(real, generated),
        "max_cosine": metrics.max_cosine(real, generated),
        "js_divergence": embedding_js_divergence(real, generated),
    }


def top_tfidf_terms(
    docs: Mapping[Hashable, str], n: int = metrics.TOP_TERMS
) -> dict[Hashable, set[str]] | None:
    """Top-n terms per document as `argsort(weights)[-n:]` of one `TfidfVectorizer(min_df=2, max_df=0.95)`
    fitted on all documents (zero-weight padding included). None where BluePrint's vectorizer raises: the
    df bounds exclude each other (fewer than 3 documents) or no term survives them."""
    keys = list(docs)
    if 0.95 * len(keys) < 2:
        return None
    vocab, weights = metrics.tfidf_matrix([docs[k] for k in keys], 2, 0.95)
    if not vocab:
        return None
    return {key: {vocab[j] for j in np.argsort(weights[i])[-n:][::-1]} for i, key in enumerate(keys)}
