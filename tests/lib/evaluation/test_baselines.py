"""Baselines on a tiny hand-built release folder; their prediction files must pass the scorer."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support.scoring_inputs import blueprint_with_embed

from blueprint_assets.lib.actions_space import ACTION_ORDER, one_hot
from blueprint_assets.lib.evaluation import baselines, scorer

ACTIONS_TYPE = pa.struct([pa.field(a, pa.bool_()) for a in ACTION_ORDER])
MESSAGE_TYPE = pa.struct(
    [
        pa.field("user_id", pa.string()),
        pa.field("relative_integer_time", pa.int64()),
        pa.field("text", pa.string()),
        pa.field("actions", ACTIONS_TYPE),
    ]
)
SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("cluster_id", pa.int32()),
        pa.field("thread", pa.list_(MESSAGE_TYPE)),
    ]
)


def hash_embed(texts: list[str]) -> np.ndarray:
    """Deterministic bag-of-words embedding (1024 hashed dimensions)."""
    out = np.zeros((len(texts), 1024), dtype=np.float32)
    for i, text in enumerate(texts):
        for word in re.findall(r"\w+", text.lower()) or [""]:
            out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % 1024] += 1.0
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def thread(tid: str, cluster: int, context: list[str], action: str, text: str | None) -> dict[str, Any]:
    msgs = [
        {"user_id": f"u{i}", "relative_integer_time": i, "text": t, "actions": None}
        for i, t in enumerate(context)
    ]
    msgs.append(
        {"user_id": "me", "relative_integer_time": len(context), "text": text, "actions": one_hot(action)}
    )
    return {"id": tid, "cluster_id": cluster, "thread": msgs, "action": action, "text": text}


TRAIN = [
    # cluster 0: cats people who mostly like
    thread("a1", 0, ["my cat sleeps all day"], "like", None),
    thread("a2", 0, ["kittens playing with yarn"], "like", None),
    thread("a3", 0, ["cat food prices went up"], "reply", "switch to dry food"),
    thread("a4", 0, [], "post", "new kitten photo"),
    thread("a5", 0, ["vet visit tomorrow for my cat"], "like", None),
    # cluster 1: politics people who mostly reply
    thread("b1", 1, ["the senate vote is tonight"], "reply", "call your senator"),
    thread("b2", 1, ["polls close at eight"], "reply", "go vote now"),
    thread("b3", 1, ["budget bill passed the house"], "repost", None),
    thread("b4", 1, ["debate night thoughts"], "reply", "go vote now"),
    thread("b5", 1, [], "post", "go vote now"),
    thread("b6", 1, ["election turnout record"], "like", None),
]
VALIDATION = [
    thread("v1", 0, ["my cat sleeps all day"], "like", None),
    thread("v2", 0, ["cat food prices went up again"], "reply", "try wet food"),
    thread("v3", 0, [], "post", "cat nap"),
    thread("v4", 1, ["the senate vote is tonight"], "reply", "call them"),
    thread("v5", 1, ["budget bill passed the house today"], "repost", None),
    thread("v6", 2, ["a cluster never seen in training"], "follow", None),
]


def _hidden(t: dict[str, Any]) -> dict[str, Any]:
    msgs = [dict(m) for m in t["thread"]]
    msgs[-1]["text"], msgs[-1]["actions"] = None, None
    return {"id": t["id"], "cluster_id": t["cluster_id"], "thread": msgs}


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(
        [{k: r[k] for k in ("id", "cluster_id", "thread")} for r in rows], schema=SCHEMA
    )


@pytest.fixture
def release(tmp_path: Path) -> Path:
    root = tmp_path / "releases" / "2025-03"  # the release layout: public/ data, private/ answers
    (root / "public" / "data").mkdir(parents=True)
    (root / "private" / "answers").mkdir(parents=True)
    pq.write_table(_table(TRAIN), root / "public" / "data" / "train.parquet")
    pq.write_table(_table([_hidden(t) for t in VALIDATION]), root / "public" / "data" / "validation.parquet")
    with (root / "private" / "answers" / "validation.jsonl").open("w") as fh:
        for t in VALIDATION:
            key = {"id": t["id"], "cluster_id": t["cluster_id"], "action": t["action"]}
            fh.write(json.dumps({**key, "actions": one_hot(t["action"]), "text": t["text"]}) + "\n")
    return root


def _action(pred: dict[str, Any]) -> str:
    chosen = [a for a in ACTION_ORDER if pred[a]]
    assert len(chosen) == 1
    return chosen[0]


def test_load_split_hides_nothing_in_train_and_everything_in_validation(release: Path) -> None:
    train = {t.id: t for t in baselines.load_split(release, "train")}
    assert train["a3"] == baselines.Thread("a3", 0, "cat food prices went up", "reply", "switch to dry food")
    assert train["a4"].context == ""
    val = {t.id: t for t in baselines.load_split(release, "validation")}
    assert val["v2"].action is None and val["v2"].text is None
    assert val["v2"].context == "cat food prices went up again"


def test_majority(release: Path) -> None:
    preds = baselines.run_baseline("majority", release)
    # like: 4 in train, reply: 4 -> tie broken by ACTION_ORDER (like first); like carries no text.
    assert [p["id"] for p in preds] == [t["id"] for t in VALIDATION]
    assert {_action(p) for p in preds} == {"like"}
    assert {p["text"] for p in preds} == {""}


def test_majority_text_is_most_common_text_of_a_text_action(release: Path) -> None:
    train = baselines.load_split(release, "train")
    train = [t for t in train if t.action != "like"]  # reply becomes the majority
    preds = baselines.majority(train, baselines.load_split(release, "validation"))
    assert {(_action(p), p["text"]) for p in preds} == {("reply", "go vote now")}


def test_cluster_prior(release: Path) -> None:
    preds = {p["id"]: p for p in baselines.run_baseline("cluster-prior", release)}
    assert _action(preds["v1"]) == "like" and _action(preds["v4"]) == "reply"
    assert _action(preds["v6"]) == "like"  # unseen cluster -> global majority
    cluster0_texts = {"switch to dry food", "new kitten photo"}
    assert preds["v1"]["text"] in cluster0_texts and preds["v2"]["text"] in cluster0_texts
    assert preds["v4"]["text"] in {"call your senator", "go vote now"}
    again = {p["id"]: p for p in baselines.run_baseline("cluster-prior", release)}
    assert again == preds  # seeded


def test_retrieval_copies_the_nearest_same_cluster_thread(release: Path) -> None:
    preds = {p["id"]: p for p in baselines.run_baseline("retrieval", release, embed=hash_embed)}
    assert (_action(preds["v1"]), preds["v1"]["text"]) == ("like", "")  # identical context to a1
    assert (_action(preds["v2"]), preds["v2"]["text"]) == ("reply", "switch to dry food")  # nearest a3
    assert (_action(preds["v4"]), preds["v4"]["text"]) == ("reply", "call your senator")  # b1
    assert _action(preds["v5"]) == "repost"  # b3
    assert _action(preds["v3"]) == "like"  # empty context -> cluster prior
    assert _action(preds["v6"]) in ACTION_ORDER  # unseen cluster searches all of train


@pytest.mark.parametrize("name", baselines.BASELINES)
@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_prediction_files_are_accepted_by_the_scorer(
    release: Path, tmp_path: Path, name: str, suffix: str
) -> None:
    preds = baselines.run_baseline(name, release, embed=hash_embed)
    path = baselines.write_predictions(tmp_path / f"{name}{suffix}", preds)
    answers = scorer.load_answers(release)
    loaded = scorer.load_predictions(path, answers)
    assert {p.id: (p.action, p.text) for p in loaded.values()} == {
        p["id"]: (_action(p), p["text"]) for p in preds
    }
    result = scorer.score(answers, loaded, hash_embed)
    assert result["n_items"] == len(VALIDATION)


def test_retrieval_beats_majority_on_accuracy(release: Path) -> None:
    answers = scorer.load_answers(release)
    acc = {}
    for name in ("majority", "retrieval"):
        preds = baselines.as_predictions(baselines.run_baseline(name, release, embed=hash_embed))
        acc[name] = scorer.score(answers, preds, hash_embed)["population"]["actions"]["accuracy"]
    assert acc["majority"] == pytest.approx(1 / 6)
    assert acc["retrieval"] >= 4 / 6


def test_lookup_and_lightgbm_predict_every_target(release: Path) -> None:
    for name in ("lookup", "lightgbm"):
        preds = {p["id"]: p for p in baselines.run_baseline(name, release)}
        assert list(preds) == [t["id"] for t in VALIDATION]
        assert _action(preds["v1"]) == "like"  # cluster 0's pattern / prior
        assert _action(preds["v6"]) == "like"  # unseen cluster -> global prior


def test_blueprint_baseline_and_leaderboard(
    release: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    blueprint = blueprint_with_embed(monkeypatch, hash_embed)
    outside = baselines.write_predictions(
        tmp_path / "mine.jsonl", baselines.run_baseline("majority", release, embed=hash_embed)
    )
    out = tmp_path / "board" / "leaderboard.md"
    argv = [
        "baseline",
        "leaderboard",
        "--release",
        str(release),
        "--out",
        str(out),
        "--predictions",
        f"mine={outside}",
    ]
    assert blueprint(argv) == 0
    table = out.read_text()
    assert "no test answers" in capsys.readouterr().err  # the fixture has validation answers only
    header = "| baseline | macro-F1 | F1 common | F1 rare | accuracy | legacy | item cos | avg-emb cos | max cos | JS | Jaccard |"
    assert header in table
    rows = [
        line.split("|")[1].strip()
        for line in table.split("## validation")[1].split("###")[0].splitlines()[4:]
        if line
    ]
    assert rows == [*baselines.BASELINES, "mine"]
    # like F1 = 2/(2+5) over 13; 1 of 6 right; the outside file is the majority baseline, same numbers.
    assert table.count("| 0.0220 | 0.1429 | 0.0000 | 0.1667 | 0.1667 |") == 2
    assert "### Diagonality (validation)" in table and "### Per-cluster macro-F1 (validation)" in table
    png = out.with_name("leaderboard_per_cluster_f1.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![per-cluster macro-F1 by baseline](leaderboard_per_cluster_f1.png)" in table

    target = tmp_path / "r.jsonl"
    assert blueprint(["baseline", "retrieval", "--release", str(release), "--out", str(target)]) == 0
    assert len(target.read_text().splitlines()) == len(VALIDATION)
    assert blueprint(["baseline", "majority", "--release", str(tmp_path / "none"), "--out", str(target)]) == 2
    assert "has no data/train.parquet" in capsys.readouterr().err


def test_retrieval_with_the_real_encoder(release: Path) -> None:
    encoder = pytest.importorskip("blueprint_assets.lib.personas.encoder")
    try:
        embed = encoder.load_encoder().encode
    except Exception as exc:  # the encoder module is still being built
        pytest.skip(f"encoder unavailable: {exc}")
    preds = {p["id"]: p for p in baselines.run_baseline("retrieval", release, embed=embed)}
    assert _action(preds["v1"]) == "like"  # same context as a1
    assert (_action(preds["v2"]), preds["v2"]["text"]) == ("reply", "switch to dry food")
    assert (_action(preds["v4"]), preds["v4"]["text"]) == ("reply", "call your senator")
    assert _action(preds["v5"]) == "repost"


def test_lightgbm_fitted_side_by_side_predicts_as_one_at_a_time() -> None:
    """Three clusters big enough for a model each: threads that fit them together give the same predictions."""
    rng = np.random.default_rng(3)
    actions = ("like", "reply", "repost", "follow")

    def thread(i: int, cluster: int, hidden: bool) -> baselines.Thread:
        context = "|".join(rng.choice(actions, size=int(rng.integers(1, 4))))
        action = None if hidden else str(rng.choice(actions[: 2 + cluster]))
        messages = tuple((f"u{j}", j, "hi" if j % 2 else None) for j in range(int(rng.integers(1, 5))))
        return baselines.Thread(f"t{i}", cluster, context, action, None, messages)

    train = [thread(i, i % 3, hidden=False) for i in range(300)]
    targets = [thread(1000 + i, i % 4, hidden=True) for i in range(60)]  # cluster 3 has no model
    alone = baselines.fit_baseline("lightgbm", train, workers=1)(targets)
    together = baselines.fit_baseline("lightgbm", train, workers=3)(targets)
    assert together == alone
    assert len({_action(p) for p in alone}) > 1  # the models learnt something beyond one prior
