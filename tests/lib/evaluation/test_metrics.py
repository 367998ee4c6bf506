"""Evaluation metrics against hand-computed values and scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import confusion_matrix as sk_confusion
from sklearn.metrics import f1_score, precision_recall_fscore_support

from blueprint_assets.lib.actions_space import ACTION_ORDER
from blueprint_assets.lib.evaluation import metrics

Y_TRUE = ["like", "like", "post", "reply"]
Y_PRED = ["like", "post", "post", "like"]


def test_confusion_matrix_hand() -> None:
    cm = metrics.confusion_matrix(Y_TRUE, Y_PRED)
    i = {a: k for k, a in enumerate(ACTION_ORDER)}
    assert cm.shape == (13, 13)
    assert cm[i["like"], i["like"]] == 1
    assert cm[i["like"], i["post"]] == 1
    assert cm[i["post"], i["post"]] == 1
    assert cm[i["reply"], i["like"]] == 1
    assert cm.sum() == 4


def test_per_class_and_macro_f1_hand() -> None:
    prf = metrics.per_class_prf(metrics.confusion_matrix(Y_TRUE, Y_PRED))
    like, post, reply = (ACTION_ORDER.index(a) for a in ("like", "post", "reply"))
    # like: tp 1, fp 1 (reply->like), fn 1; post: tp 1, fp 1, fn 0; reply: tp 0, fn 1.
    assert prf["precision"][like] == pytest.approx(0.5)
    assert prf["recall"][like] == pytest.approx(0.5)
    assert prf["f1"][like] == pytest.approx(0.5)
    assert prf["precision"][post] == pytest.approx(0.5)
    assert prf["recall"][post] == pytest.approx(1.0)
    assert prf["f1"][post] == pytest.approx(2 / 3)
    assert prf["f1"][reply] == 0.0
    assert prf["support"].tolist()[reply] == 1
    # 10 classes absent from both sides count as 0 in the 13-way mean.
    assert metrics.macro_f1(Y_TRUE, Y_PRED) == pytest.approx((0.5 + 2 / 3) / 13)
    assert metrics.accuracy(Y_TRUE, Y_PRED) == pytest.approx(0.5)
    assert metrics.micro_f1(Y_TRUE, Y_PRED) == pytest.approx(0.5)
    assert metrics.macro_f1(Y_TRUE, Y_PRED, ["like", "post"]) == pytest.approx((0.5 + 2 / 3) / 2)


@pytest.mark.parametrize("seed", range(8))
def test_against_sklearn_on_random_inputs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # A random subset of the actions so that some classes are absent from truth, prediction or both.
    present = list(rng.choice(ACTION_ORDER, size=rng.integers(1, 14), replace=False))
    n = int(rng.integers(1, 200))
    y_true = list(rng.choice(present, size=n))
    y_pred = list(rng.choice(present + ["like", "block"], size=n))
    labels = list(ACTION_ORDER)
    expected = f1_score(y_true, y_pred, average="macro", labels=labels, zero_division=0)
    assert metrics.macro_f1(y_true, y_pred) == pytest.approx(expected, abs=1e-12)
    assert metrics.micro_f1(y_true, y_pred) == pytest.approx(
        f1_score(y_true, y_pred, average="micro", labels=labels, zero_division=0), abs=1e-12
    )
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    prf = metrics.per_class_prf(metrics.confusion_matrix(y_true, y_pred))
    np.testing.assert_allclose(prf["precision"], p)
    np.testing.assert_allclose(prf["recall"], r)
    np.testing.assert_allclose(prf["f1"], f)
    np.testing.assert_array_equal(prf["support"], s)
    np.testing.assert_array_equal(
        metrics.confusion_matrix(y_true, y_pred), sk_confusion(y_true, y_pred, labels=labels)
    )
    rare = labels[3:]
    assert metrics.macro_f1(y_true, y_pred, rare) == pytest.approx(
        f1_score(y_true, y_pred, average="macro", labels=rare, zero_division=0), abs=1e-12
    )


def test_unknown_action_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown action 'ignore'"):
        metrics.macro_f1(["like"], ["ignore"])


def test_common_actions_ranks_by_count_then_action_order() -> None:
    assert metrics.common_actions(["post", "like", "like", "repost", "repost", "post", "reply"]) == [
        "like",
        "repost",
    ]
    assert metrics.common_actions(["reply"]) == ["reply"]
    result = metrics.action_metrics(Y_TRUE, Y_PRED, ["like", "post"])
    assert result["macro_f1_common"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert result["macro_f1_rare"] == 0.0
    assert result["per_class"]["post"]["recall"] == 1.0


def test_avg_embedding_and_max_cosine_hand() -> None:
    real = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert metrics.avg_embedding_cosine(real, np.array([[1.0, 0.0]])) == pytest.approx(1 / math.sqrt(2))
    gen = np.array([[0.0, -1.0], [0.6, -0.8]])
    # BluePrint's max cosine is the max over all pairs (0.6), not the mean of per-item maxima (0.3).
    assert metrics.max_cosine(np.array([[1.0, 0.0]]), gen) == pytest.approx(0.6)
    assert math.isnan(metrics.max_cosine(np.zeros((0, 2)), gen))
    np.testing.assert_allclose(
        metrics.item_cosines(real, np.array([[2.0, 0.0], [1.0, 1.0]])), [1, 1 / math.sqrt(2)]
    )


def test_js_divergence_of_a_set_with_itself_is_zero() -> None:
    emb = np.random.default_rng(0).normal(size=(30, 16))
    assert metrics.embedding_js_divergence(emb, emb) == 0.0
    assert metrics.embedding_js_divergence(emb, emb[::-1]) == pytest.approx(0.0, abs=1e-12)


def test_js_divergence_hand_and_scipy() -> None:
    same = np.array([[1.0, 0.0], [1.0, 0.0]])  # all four distances 0 -> bin 0
    ortho = np.array([[1.0, 0.0], [0.0, 1.0]])  # two self pairs at 0, two pairs at distance 1 -> bin 24
    p, q = metrics.distance_histogram(same), metrics.distance_histogram(ortho)
    assert p[0] == 1.0
    assert q[0] == 0.5 and q[24] == 0.5 and len(q) == 49
    # m = (0.75, 0.25): JS = (log2(1/0.75) + 0.5 log2(0.5/0.75) + 0.5 log2(0.5/0.25)) / 2
    expected = (math.log2(4 / 3) + 0.5 * math.log2(2 / 3) + 0.5) / 2
    assert metrics.embedding_js_divergence(same, ortho) == pytest.approx(expected)
    assert metrics.js_divergence(p, q) == pytest.approx(jensenshannon(p, q, base=2) ** 2)
    # Without self pairs the orthogonal set is all at distance 1: disjoint support, JS = 1 bit.
    assert metrics.js_divergence(
        metrics.distance_histogram(same, include_self=False),
        metrics.distance_histogram(ortho, include_self=False),
    ) == pytest.approx(1.0)


def test_js_divergence_matches_scipy_on_random_sets() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(40, 8)), rng.normal(size=(25, 8)) + 0.5
    p, q = metrics.distance_histogram(a), metrics.distance_histogram(b)
    value = metrics.embedding_js_divergence(a, b)
    assert 0 < value <= 1
    assert value == pytest.approx(jensenshannon(p, q, base=2) ** 2)


def test_tfidf_matches_sklearn() -> None:
    docs = [
        "the cat sat on the mat",
        "the dog sat on the log",
        "cats and dogs and the mat",
        "a bird on a wire, the end",
        "dog dog dog bird",
    ]
    vocab, weights = metrics.tfidf_matrix(docs, min_df=2, max_df=0.95)
    sk = TfidfVectorizer(min_df=2, max_df=0.95)
    expected = sk.fit_transform(docs).toarray()
    assert vocab == list(sk.get_feature_names_out())
    np.testing.assert_allclose(weights, expected, atol=1e-12)


def test_top_terms_and_jaccard_hand() -> None:
    assert metrics.jaccard({"a", "b", "c"}, {"b", "c", "d"}) == 0.5
    assert metrics.jaccard(set(), set()) == 0.0
    terms = metrics.top_tfidf_terms({"real": "apple apple banana", "gen": "apple cherry"}, n=2)
    # Two documents: df bounds dropped; apple is in both (idf 1), banana/cherry in one (idf ln(1.5)+1).
    assert terms == {"real": {"apple", "banana"}, "gen": {"apple", "cherry"}}
    top1 = metrics.top_tfidf_terms({"real": "apple apple banana", "gen": "apple cherry"}, n=1)
    assert top1["real"] == {"apple"}  # tf 2 * idf 1 beats tf 1 * idf 1.405
    assert top1["gen"] == {"cherry"}


def test_diagonality_hand() -> None:
    assert metrics.diagonality([[3, 1], [1, 5]]) == pytest.approx(0.8)
    # Lower-is-better: 1/(1+x) -> [[1, .5], [.5, 1]] -> 1 - 1/3.
    assert metrics.diagonality([[0, 1], [1, 0]], lower_is_better=True) == pytest.approx(2 / 3)
    assert metrics.diagonality([[0, 0], [0, 0]]) == 0.0
    assert math.isnan(metrics.diagonality([[1, float("nan")], [0, 1]]))
    with pytest.raises(ValueError, match="square"):
        metrics.diagonality([[1, 2, 3], [4, 5, 6]])
