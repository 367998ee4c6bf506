"""`--compat blueprint` against BluePrint's metric definitions, re-implemented here from issue 18's
description (and, where it is silent, the published behaviour it summarizes: strip and one-character texts);
the default mode against the values the scorer gave before the modes existed.

The references use scikit-learn's `TfidfVectorizer` and `cosine_similarity`, as BluePrint's code does, and
plain Python otherwise; they share no code with the scorer.
"""

from __future__ import annotations

import contextlib
import json
import math

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity
from support.scoring_inputs import ODD, answer_rows, blueprint_with_embed, hash_embed, prediction_rows

from blueprint_assets.lib.actions_space import one_hot
from blueprint_assets.lib.evaluation import compat, metrics, scorer

TOL = 1e-9

# ---------------------------------------------------------------- BluePrint, restated


def ref_text(text: str | None) -> str:
    """Read, unicode_escape-decode (keep on failure), strip, cut at the first quote then backslash, 1 char -> ''."""
    value = "" if text is None else text
    with contextlib.suppress(UnicodeDecodeError):
        value = bytes(value, "utf-8").decode("unicode_escape")
    value = value.strip()
    value = value.split('"', 1)[0]
    value = value.split("\\", 1)[0]
    return "" if len(value) == 1 else value


def ref_embed(texts: list[str]) -> np.ndarray:
    return hash_embed([t.encode("utf-8", "ignore").decode("utf-8") for t in texts])


def ref_js(real: np.ndarray, gen: np.ndarray) -> float:
    dist = 1 - cosine_similarity(np.vstack([real, gen]))
    n = len(real)
    edges = np.linspace(0, 2, 50)
    hists = []
    for block in (dist[:n, :n].flatten(), dist[n:, n:].flatten()):
        h, _ = np.histogram(block, bins=edges, density=True)
        kept = {i: v for i, v in enumerate(h) if v > 0}
        total = sum(kept.values())
        hists.append({i: v / total for i, v in kept.items()})
    p, q = hists
    keys = set(p) | set(q)
    m = {k: (p.get(k, 0) + q.get(k, 0)) / 2 for k in keys}
    kl_p = sum(p[k] * math.log2(p[k] / m[k]) for k in keys if p.get(k, 0) > 0)
    kl_q = sum(q[k] * math.log2(q[k] / m[k]) for k in keys if q.get(k, 0) > 0)
    return (kl_p + kl_q) / 2


def ref_top100(documents: dict) -> dict:
    """One vectorizer over every document; each document's argsort top 100, zero weights included."""
    keys = list(documents)
    vectorizer = TfidfVectorizer(min_df=2, max_df=0.95).fit([documents[k] for k in keys])
    names = vectorizer.get_feature_names_out()
    out = {}
    for k in keys:
        weights = vectorizer.transform([documents[k]]).toarray().flatten()
        out[k] = {names[i] for i in weights.argsort()[-100:][::-1]}
    return out


def ref_jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 0


def ref_label(actions: dict) -> str:
    if len(actions) == 0:
        return "post"
    for key in ("like", "repost", "follow", "ignore"):
        if actions.get(key):
            return key
    return "post"


def ref_legacy_f1(real: list[str], gen: list[str]) -> float:
    r = [ref_label(one_hot(a)) for a in real]
    g = [ref_label(one_hot(a)) for a in gen]
    tp = sum(x == y for x, y in zip(r, g, strict=True))
    fp = fn = sum(x != y for x, y in zip(r, g, strict=True))
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    return 2 * precision * recall / (precision + recall)


def ref_diagonality(matrix: list[list[float]]) -> float:
    total = sum(sum(row) for row in matrix)
    diagonal = sum(matrix[i][i] for i in range(len(matrix)))
    return 1 - (total - diagonal) / total


# ---------------------------------------------------------------- inputs


@pytest.fixture
def answers() -> dict[str, scorer.Answer]:
    return {r: scorer.Answer(r, c, a, t) for r, c, a, t in answer_rows()}


@pytest.fixture
def predictions() -> dict[str, scorer.Prediction]:
    return {r: scorer.Prediction(r, a, t) for r, a, t in prediction_rows()}


def by_cluster(answers: dict) -> dict[int, list[scorer.Answer]]:
    out: dict[int, list[scorer.Answer]] = {}
    for a in answers.values():
        out.setdefault(a.cluster_id, []).append(a)
    return out


# ---------------------------------------------------------------- metric-level agreement


def test_text_handling_matches_blueprint() -> None:
    for text in (*ODD, None, "", '"', "a\\", "  b  ", "caf\u00e9 \\u00e9"):
        assert compat.blueprint_text(text) == ref_text(text), text
    assert compat.blueprint_text('she said "no way"') == "she said "  # stripped before the cut
    assert compat.blueprint_text("x") == ""


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_js_matches_blueprint_and_drops_negative_self_distances(dtype: type, seed: int) -> None:
    rng = np.random.default_rng(seed)
    real = rng.normal(size=(40, 16)).astype(dtype)
    gen = np.vstack([real[:10], rng.normal(size=(25, 16))]).astype(dtype)
    assert compat.embedding_js_divergence(real, gen) == pytest.approx(ref_js(real, gen), abs=TOL)


def test_histogram_artifact_is_what_separates_the_modes() -> None:
    rng = np.random.default_rng(5)
    real = rng.normal(size=(30, 8)).astype(np.float32)
    gen = rng.normal(size=(30, 8)).astype(np.float32)
    unit = real / np.linalg.norm(real, axis=1, keepdims=True)
    assert (1 - np.einsum("ij,ij->i", unit, unit) < 0).any()  # some self distances round below 0
    blueprint = compat.embedding_js_divergence(real, gen)
    assert blueprint == pytest.approx(ref_js(real, gen), abs=TOL)
    assert blueprint != pytest.approx(metrics.embedding_js_divergence(real, gen), abs=1e-6)


def test_top100_padding_matches_blueprint() -> None:
    docs = {
        (0, "real"): "cat dog vote senate budget cat dog",
        (0, "gen"): "cat dog kitten garden",
        (1, "real"): "vote senate budget house election vote",
        (1, "gen"): "vote house cat",
    }
    ours, ref = compat.top_tfidf_terms(docs), ref_top100(docs)
    assert ours == ref
    positive = metrics.top_tfidf_terms(docs)
    assert any(len(ours[k]) > len(positive[k]) for k in docs)  # zero-weight padding


def test_legacy_score_matches_blueprint() -> None:
    real = [a for _, _, a, _ in answer_rows()]
    gen = [a for _, a, _ in prediction_rows()]
    assert metrics.legacy_score(real, gen) == pytest.approx(ref_legacy_f1(real, gen), abs=TOL)
    assert metrics.legacy_label("unlike") == "post" and metrics.legacy_label("follow") == "follow"


# ---------------------------------------------------------------- scorer-level agreement


def test_compat_score_matches_blueprint_per_cluster(answers: dict, predictions: dict) -> None:
    result = scorer.score(answers, predictions, hash_embed, mode="blueprint")
    assert result["settings"]["mode"] == "blueprint"
    groups = by_cluster(answers)
    docs = {}
    for c, items in groups.items():
        docs[(c, "validation")] = " ".join(ref_text(a.text) for a in items)
        docs[(c, "model")] = " ".join(ref_text(predictions[a.id].text) for a in items)
    top = ref_top100(docs)
    expected_js = []
    for c, items in groups.items():
        real = ref_embed([ref_text(a.text) for a in items])
        gen = ref_embed([ref_text(predictions[a.id].text) for a in items])
        got = result["clusters"][str(c)]
        expected_js.append(ref_js(real, gen))
        assert got["text"]["js_divergence"] == pytest.approx(expected_js[-1], abs=TOL)
        assert got["text"]["tfidf_jaccard"] == pytest.approx(
            ref_jaccard(top[(c, "validation")], top[(c, "model")]), abs=TOL
        )
        avg = cosine_similarity(real.mean(axis=0)[None], gen.mean(axis=0)[None])[0, 0]
        assert got["text"]["avg_embedding_cosine"] == pytest.approx(float(avg), abs=1e-6)
        assert got["text"]["max_cosine"] == pytest.approx(float(cosine_similarity(gen, real).max()), abs=1e-6)
        assert got["text"]["n_text_items"] == len(items)  # every item, empty texts embedded
        legacy = ref_legacy_f1([a.action for a in items], [predictions[a.id].action for a in items])
        assert got["actions"]["legacy_score"] == pytest.approx(legacy, abs=TOL)
    # BluePrint's population figure is the mean over clusters.
    assert result["population"]["text"]["js_divergence"] == pytest.approx(np.mean(expected_js), abs=TOL)
    json.dumps(result, allow_nan=False)


def _models(answers: dict, predictions: dict) -> dict[int, dict[str, scorer.Prediction]]:
    """Model m: right on cluster m's items, the fixed predictions elsewhere."""
    return {
        m: {
            i: scorer.Prediction(i, a.action, a.text or "") if a.cluster_id == m else predictions[i]
            for i, a in answers.items()
        }
        for m in sorted({a.cluster_id for a in answers.values()})
    }


def test_compat_matrix_matches_blueprint(answers: dict, predictions: dict) -> None:
    models = _models(answers, predictions)
    result = scorer.score_matrix(models, answers, hash_embed, mode="blueprint")
    groups = by_cluster(answers)
    clusters = sorted(groups)
    docs = {(c, "validation"): " ".join(ref_text(a.text) for a in groups[c]) for c in clusters}
    for m in clusters:
        docs.update({(c, m): " ".join(ref_text(models[m][a.id].text) for a in groups[c]) for c in clusters})
    top = ref_top100(docs)  # ONE vectorizer over the whole matrix
    jac = [[ref_jaccard(top[(c, "validation")], top[(c, m)]) for m in clusters] for c in clusters]
    js, legacy = [], []
    for c in clusters:
        real = ref_embed([ref_text(a.text) for a in groups[c]])
        js.append(
            [
                1 / (1 + ref_js(real, ref_embed([ref_text(models[m][a.id].text) for a in groups[c]])))
                for m in clusters
            ]
        )
        legacy.append(
            [
                ref_legacy_f1([a.action for a in groups[c]], [models[m][a.id].action for a in groups[c]])
                for m in clusters
            ]
        )
    got = result["metrics"]
    assert np.allclose(got["tfidf_jaccard"]["matrix"], jac, atol=TOL, rtol=0)
    assert got["tfidf_jaccard"]["diagonality"] == pytest.approx(ref_diagonality(jac), abs=TOL)
    assert got["js_divergence"]["diagonality"] == pytest.approx(ref_diagonality(js), abs=TOL)
    assert got["legacy_score"]["diagonality"] == pytest.approx(ref_diagonality(legacy), abs=TOL)
    assert np.allclose(got["legacy_score"]["matrix"], legacy, atol=TOL, rtol=0)


def test_default_matrix_fits_one_shared_tfidf(answers: dict, predictions: dict) -> None:
    models = _models(answers, predictions)
    result = scorer.score_matrix(models, answers, hash_embed)
    groups = by_cluster(answers)
    clusters = sorted(groups)
    docs = {}
    for c in clusters:
        texted = [a for a in groups[c] if a.text]
        docs[(c, "real")] = " ".join(a.text for a in texted)
        docs.update({(c, m): " ".join(models[m][a.id].text for a in texted) for m in clusters})
    terms = metrics.top_tfidf_terms(docs)  # positive terms only, fitted once on all 3 + 9 documents
    expected = [[metrics.jaccard(terms[(c, "real")], terms[(c, m)]) for m in clusters] for c in clusters]
    assert np.allclose(result["metrics"]["tfidf_jaccard"]["matrix"], expected, atol=TOL, rtol=0)


# ---------------------------------------------------------------- default mode unchanged

# The scorer's default-mode output on these inputs before the compat mode existed (commit 80287e5).
BEFORE = {
    "population": (0.370414201183432, 0.6944444444444444, 1.0, 0.25594405594405595, 21, 17, 0.31401050711708905,
                   0.6611854494056206, 0.912870929175277, 0.2790170171462749, 0.34539473684210525),
    "0": (0.021978021978021976, 0.08333333333333333, 0.0, 0.025974025974025972, 3, 2, 0.0,
          0.09128709224914702, 0.18257418583505539, 0.4732773112896197, 0.0),
    "1": (0.23076923076923078, 1.0, 1.0, 0.09090909090909091, 12, 10, 0.32130065516108663,
          0.6048913172810485, 0.912870929175277, 0.8756458021292387, 0.47368421052631576),
    "2": (0.3076923076923077, 1.0, 0.5, 0.2727272727272727, 6, 5, 0.4564354645876385,
          0.7280501219400903, 0.912870929175277, 0.7512916042584772, 0.5625),
}  # fmt: skip
ACTION_KEYS = ("macro_f1", "accuracy", "macro_f1_common", "macro_f1_rare")
TEXT_KEYS = ("n_text_items", "n_generated", "mean_item_cosine", "avg_embedding_cosine", "max_cosine",
             "js_divergence", "tfidf_jaccard")  # fmt: skip


def test_default_mode_is_unchanged(answers: dict, predictions: dict) -> None:
    result = scorer.score(answers, predictions, hash_embed)
    assert result["settings"]["mode"] == "default"
    for group, expected in BEFORE.items():
        block = result["population"] if group == "population" else result["clusters"][group]
        got = [block["actions"][k] for k in ACTION_KEYS] + [block["text"][k] for k in TEXT_KEYS]
        assert got == pytest.approx(list(expected), abs=1e-12), group


# ---------------------------------------------------------------- reports


@pytest.mark.parametrize("mode", scorer.MODES)
def test_report_shows_both_action_scores_and_names_the_encoder(
    answers: dict, predictions: dict, mode: str
) -> None:
    def embed(texts: list[str]) -> np.ndarray:
        return hash_embed(texts)

    embed.model_id = "hash-256|test"  # type: ignore[attr-defined]
    result = scorer.score(answers, predictions, embed, mode=mode)
    report = scorer.render_report(result)
    act = result["population"]["actions"]
    assert "Text encoder: hash-256|test." in report
    assert f"Scoring mode: {mode}" in report
    assert f"| macro-F1 (13 actions) | {act['macro_f1']:.4f} |" in report
    assert (
        f"| legacy action score (BluePrint's collapsed-label 'F1' = accuracy) | {act['legacy_score']:.4f} |"
        in report
    )
    assert "| macro-F1 common (" in report and "| macro-F1 rare (other 11) |" in report
    assert "| cluster | n | macro-F1 | F1 common | F1 rare | legacy |" in report


def test_cli_compat_flag_selects_blueprint_mode(
    tmp_path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    blueprint = blueprint_with_embed(monkeypatch, hash_embed)
    folder = tmp_path / "rel" / "private" / "answers"
    folder.mkdir(parents=True)
    with (folder / "validation.jsonl").open("w") as fh:
        for rid, c, action, text in answer_rows():
            fh.write(
                json.dumps(
                    {"id": rid, "cluster_id": c, "action": action, "actions": one_hot(action), "text": text}
                )
                + "\n"
            )
    preds = tmp_path / "p.jsonl"
    preds.write_text(
        "".join(json.dumps({"id": r, **one_hot(a), "text": t}) + "\n" for r, a, t in prediction_rows())
    )
    base = ["score", "--answers", str(tmp_path / "rel"), "--predictions", str(preds)]
    assert blueprint([*base, "--compat", "blueprint", "--out", str(tmp_path / "r.md")]) == 0
    assert "Scoring mode: blueprint" in capsys.readouterr().out
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["settings"]["mode"] == "blueprint"
    assert blueprint(base) == 0
    assert "Scoring mode: default" in capsys.readouterr().out
