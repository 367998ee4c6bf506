"""Scorer: file loading with clear errors, scoring, reports, matrix scoring, CLI helper."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support.scoring_inputs import blueprint_with_embed

from blueprint_assets.lib.actions_space import ACTION_ORDER, one_hot
from blueprint_assets.lib.evaluation import scorer

DIM = 1024


def hash_embed(texts: list[str]) -> np.ndarray:
    """Deterministic bag-of-words embedding: shared words -> similar vectors, same text -> same vector."""
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    for i, text in enumerate(texts):
        for word in re.findall(r"\w+", text.lower()) or [""]:
            out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM] += 1.0
    return out / np.linalg.norm(out, axis=1, keepdims=True)


ANSWERS = [
    # id, cluster, action, text
    ("t01", 0, "like", None),
    ("t02", 0, "like", None),
    ("t03", 0, "reply", "cats are wonderful pets"),
    ("t04", 0, "repost", None),
    ("t05", 1, "post", "election results tonight"),
    ("t06", 1, "reply", "vote early and often"),
    ("t07", 1, "like", None),
    ("t08", 1, "follow", None),
]


def write_answers(path: Path, rows: list[tuple[str, int, str, str | None]] = ANSWERS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for rid, cluster, action, text in rows:
            fh.write(
                json.dumps(
                    {
                        "id": rid,
                        "cluster_id": cluster,
                        "action": action,
                        "actions": one_hot(action),
                        "text": text,
                    }
                )
                + "\n"
            )
    return path


def pred_row(rid: str, action: str, text: str = "") -> dict[str, Any]:
    return {"id": rid, **one_hot(action), "text": text}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def perfect_rows() -> list[dict[str, Any]]:
    return [pred_row(rid, action, text or "") for rid, _, action, text in ANSWERS]


@pytest.fixture
def answers(tmp_path: Path) -> dict[str, scorer.Answer]:
    return scorer.load_answers(write_answers(tmp_path / "release" / "answers" / "validation.jsonl"))


# ---------------------------------------------------------------- loading answers


def test_load_answers_from_release_dir_answers_dir_and_file(tmp_path: Path) -> None:
    file = write_answers(tmp_path / "rel" / "answers" / "validation.jsonl")
    write_answers(tmp_path / "rel" / "answers" / "test.jsonl", ANSWERS[:2])
    for source, split in (
        (tmp_path / "rel", "validation"),
        (tmp_path / "rel" / "answers", "validation"),
        (file, "x"),
    ):
        loaded = scorer.load_answers(source, split)
        assert list(loaded) == [r[0] for r in ANSWERS]
        assert loaded["t03"] == scorer.Answer("t03", 0, "reply", "cats are wonderful pets")
    assert list(scorer.load_answers(tmp_path / "rel", "test")) == ["t01", "t02"]
    split_layout = write_answers(tmp_path / "split" / "private" / "answers" / "validation.jsonl", ANSWERS[:1])
    (tmp_path / "split" / "public").mkdir()
    assert scorer.resolve_answers_path(tmp_path / "split") == split_layout
    assert scorer.resolve_answers_path(tmp_path / "split" / "public") == split_layout
    with pytest.raises(scorer.ScoringError, match=r"answers/validation.jsonl"):
        scorer.load_answers(tmp_path / "nowhere")


def test_load_answers_rejects_duplicates(tmp_path: Path) -> None:
    file = write_answers(tmp_path / "a.jsonl", [*ANSWERS, ANSWERS[0]])
    with pytest.raises(scorer.ScoringError, match=r"duplicate ids: t01 \(1 in total\)"):
        scorer.load_answers(file)


# ---------------------------------------------------------------- malformed predictions


def _error(path: Path, answers: dict[str, scorer.Answer] | None = None) -> str:
    with pytest.raises(scorer.ScoringError) as info:
        scorer.load_predictions(path, answers)
    return str(info.value)


def test_missing_ids_are_named_with_count(tmp_path: Path, answers: dict) -> None:
    msg = _error(write_jsonl(tmp_path / "p.jsonl", perfect_rows()[:1]), answers)
    assert "missing ids (in the answers, not predicted): t02, t03, t04, t05, t06, ... (7 in total)" in msg


def test_unknown_ids(tmp_path: Path, answers: dict) -> None:
    msg = _error(write_jsonl(tmp_path / "p.jsonl", [*perfect_rows(), pred_row("zz9", "like")]), answers)
    assert "unknown ids (not in the answers): zz9 (1 in total)" in msg


def test_duplicate_ids(tmp_path: Path, answers: dict) -> None:
    msg = _error(write_jsonl(tmp_path / "p.jsonl", [*perfect_rows(), pred_row("t05", "like")]), answers)
    assert "duplicate ids: t05 (1 in total)" in msg


def test_missing_and_unknown_columns(tmp_path: Path) -> None:
    rows = perfect_rows()
    for r in rows:
        del r["block"]
        r["score"] = 0.3
    msg = _error(write_jsonl(tmp_path / "p.jsonl", rows))
    assert "unknown columns: score" in msg
    assert "missing column 'block' on ids: t01, t02, t03, t04, t05, ... (8 in total)" in msg


def test_missing_text_column(tmp_path: Path) -> None:
    rows = [{k: v for k, v in r.items() if k != "text"} for r in perfect_rows()]
    assert "missing column 'text' on ids" in _error(write_jsonl(tmp_path / "p.jsonl", rows))


def test_non_boolean_values(tmp_path: Path) -> None:
    rows = perfect_rows()
    rows[2]["like"] = "maybe"
    rows[3]["post"] = 0.5
    msg = _error(write_jsonl(tmp_path / "p.jsonl", rows))
    assert "non-boolean action values (use true/false or 1/0) at: t03[like], t04[post] (2 in total)" in msg


def test_not_exactly_one_true_action(tmp_path: Path) -> None:
    rows = perfect_rows()
    rows[0]["like"] = False
    rows[1]["repost"] = True
    msg = _error(write_jsonl(tmp_path / "p.jsonl", rows))
    assert "no action set to true (exactly one is required) on ids: t01 (1 in total)" in msg
    assert "more than one action set to true (exactly one is required) on ids: t02 (1 in total)" in msg


def test_bad_json_line_and_missing_id(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(
        json.dumps(pred_row("t01", "like")) + "\n{not json\n" + json.dumps(pred_row("", "like")) + "\n"
    )
    msg = _error(path)
    assert "lines that are not JSON objects: 2 (1 in total)" in msg
    assert "rows without an id on lines: 3 (1 in total)" in msg


def test_several_problems_reported_together(tmp_path: Path) -> None:
    rows = perfect_rows()
    rows[0]["extra"] = 1
    rows[1]["like"] = "yes"
    msg = _error(write_jsonl(tmp_path / "p.jsonl", rows))
    assert msg.startswith("predictions file p.jsonl: 2 problem(s):")


def test_unsupported_extension_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("x")
    assert "unsupported extension '.txt'" in _error(tmp_path / "p.txt")
    assert "does not exist" in _error(tmp_path / "absent.jsonl")


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_csv_accepts_true_false_1_0_strings(tmp_path: Path, answers: dict) -> None:
    header = ["id", *ACTION_ORDER, "text"]
    spellings = [("TRUE", "false"), ("1", "0"), ("true", "False"), (" True ", "0")]
    rows = []
    for k, (rid, _, action, text) in enumerate(ANSWERS):
        yes, no = spellings[k % len(spellings)]
        rows.append([rid, *(yes if a == action else no for a in ACTION_ORDER), text or ""])
    preds = scorer.load_predictions(_write_csv(tmp_path / "p.csv", header, rows), answers)
    assert {p.id: p.action for p in preds.values()} == {a.id: a.action for a in answers.values()}
    assert preds["t03"].text == "cats are wonderful pets"
    assert preds["t01"].text == ""


def test_csv_errors(tmp_path: Path) -> None:
    header = ["id", *ACTION_ORDER[:-1], "txt"]
    rows = [["t01", *("yes" if a == "like" else "0" for a in ACTION_ORDER[:-1]), ""]]
    msg = _error(_write_csv(tmp_path / "p.csv", header, rows))
    assert "unknown columns: txt" in msg
    assert "missing column 'reply' on ids: t01 (1 in total)" in msg
    assert "missing column 'text' on ids: t01 (1 in total)" in msg
    assert "non-boolean action values (use true/false or 1/0) at: t01[like] (1 in total)" in msg


def test_nested_actions_layout_is_accepted(tmp_path: Path, answers: dict) -> None:
    # The answers file itself is a valid predictions file (nested `actions`, cluster_id tolerated).
    preds = scorer.load_predictions(tmp_path / "release" / "answers" / "validation.jsonl", answers)
    assert preds["t05"] == scorer.Prediction("t05", "post", "election results tonight")


# ---------------------------------------------------------------- scoring


def test_perfect_predictions(tmp_path: Path, answers: dict) -> None:
    preds = scorer.load_predictions(write_jsonl(tmp_path / "p.jsonl", perfect_rows()), answers)
    result = scorer.score(answers, preds, hash_embed)
    act, txt = result["population"]["actions"], result["population"]["text"]
    assert result["common_actions"] == ["like", "reply"]  # like 3, reply 2
    assert act["accuracy"] == 1.0
    assert act["macro_f1"] == pytest.approx(5 / 13)  # 5 actions present, each F1 = 1
    assert act["macro_f1_common"] == 1.0
    assert act["macro_f1_rare"] == pytest.approx(3 / 11)
    assert txt["n_text_items"] == 3
    assert txt["mean_item_cosine"] == pytest.approx(1.0)
    assert txt["avg_embedding_cosine"] == pytest.approx(1.0)
    assert txt["max_cosine"] == pytest.approx(1.0)
    assert txt["js_divergence"] == 0.0
    assert txt["tfidf_jaccard"] == 1.0
    assert result["clusters"]["0"]["actions"]["n"] == 4
    json.dumps(result, allow_nan=False)


def test_scores_hand_case(answers: dict) -> None:
    preds = {a.id: scorer.Prediction(a.id, "like", "") for a in answers.values()}
    preds["t03"] = scorer.Prediction("t03", "reply", "dogs are wonderful pets")
    preds["t06"] = scorer.Prediction("t06", "post", "vote early")
    result = scorer.score(answers, preds, hash_embed)
    act = result["population"]["actions"]
    # like: tp 3, fp 3 (t04, t05, t08) -> F1 = 6/9; reply: tp 1, fn 1 -> 2/3; post: fp 1, fn 1 -> 0.
    assert act["per_class"]["like"]["f1"] == pytest.approx(6 / 9)
    assert act["per_class"]["reply"]["f1"] == pytest.approx(2 / 3)
    assert act["macro_f1"] == pytest.approx((6 / 9 + 2 / 3) / 13)
    assert act["accuracy"] == pytest.approx(4 / 8)
    c1 = result["clusters"]["1"]["text"]
    # t05 has no predicted text -> cosine 0; t06 shares 2 of 4 words: cos = 2 / (sqrt(4) sqrt(2)).
    assert c1["n_text_items"] == 2 and c1["n_generated"] == 1
    expected_t06 = float(hash_embed(["vote early and often"])[0] @ hash_embed(["vote early"])[0])
    assert c1["mean_item_cosine"] == pytest.approx((0 + expected_t06) / 2, abs=1e-6)
    c0 = result["clusters"]["0"]["text"]
    assert c0["mean_item_cosine"] == pytest.approx(0.75, abs=1e-6)  # 3 of 4 words shared
    assert result["population"]["cluster_mean"]["mean_item_cosine"] == pytest.approx(
        (c0["mean_item_cosine"] + c1["mean_item_cosine"]) / 2
    )
    report = scorer.render_report(result)
    assert "| macro-F1 (13 actions) | 0.1026 |" in report
    assert "| accuracy (= micro-F1) | 0.5000 |" in report
    assert "Common actions (2 most frequent in the answers): like, reply." in report
    assert report.count("\n| ") >= 2 + 2 + 13 + 13


def test_no_text_items_gives_nulls(tmp_path: Path) -> None:
    rows = [(r, c, a, None) for r, c, a, _ in ANSWERS if a in ("like", "repost", "follow")]
    answers = scorer.load_answers(write_answers(tmp_path / "a.jsonl", rows))
    preds = {a.id: scorer.Prediction(a.id, a.action, "") for a in answers.values()}
    result = scorer.score(answers, preds, hash_embed)
    assert result["population"]["text"]["mean_item_cosine"] is None
    assert result["population"]["text"]["js_divergence"] is None
    assert "n/a" in scorer.render_report(result)


def test_score_requires_full_coverage(answers: dict) -> None:
    preds = {a.id: scorer.Prediction(a.id, "like", "") for a in list(answers.values())[1:]}
    with pytest.raises(scorer.ScoringError, match=r"missing ids .*: t01 \(1 in total\)"):
        scorer.score(answers, preds, hash_embed)


def test_score_matrix_diagonality(tmp_path: Path, answers: dict) -> None:
    truth = {a.id: a for a in answers.values()}

    def model_for(cluster: int) -> dict[str, scorer.Prediction]:
        # Right (action and text) on its own cluster, wrong everywhere else.
        return {
            i: scorer.Prediction(i, a.action, a.text or "")
            if a.cluster_id == cluster
            else scorer.Prediction(i, "block", "unrelated words here")
            for i, a in truth.items()
        }

    folder = tmp_path / "models"
    folder.mkdir()
    for c in (0, 1):
        write_jsonl(
            folder / f"cluster_{c}.jsonl", [pred_row(p.id, p.action, p.text) for p in model_for(c).values()]
        )
    models = scorer.load_matrix_dir(folder)
    assert sorted(models) == [0, 1]
    result = scorer.score_matrix(models, answers, hash_embed)
    acc = result["metrics"]["accuracy"]
    assert acc["matrix"] == [[1.0, 0.0], [0.0, 1.0]]
    assert acc["diagonality"] == 1.0
    js = result["metrics"]["js_divergence"]
    assert js["lower_is_better"] is True
    assert js["matrix"][0][0] == 0.0 and js["matrix"][1][1] == 0.0
    assert 0.5 < js["diagonality"] <= 1.0
    assert result["metrics"]["mean_item_cosine"]["diagonality"] > 0.9
    report = scorer.render_matrix_report(result)
    assert "| accuracy | 1.0000 |" in report
    json.dumps(result, allow_nan=False)
    with pytest.raises(scorer.ScoringError, match=r"no model predictions for clusters: 1 \(1 in total\)"):
        scorer.score_matrix({0: models[0]}, answers, hash_embed)


def test_blueprint_score_writes_markdown_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    blueprint = blueprint_with_embed(monkeypatch, hash_embed)
    write_answers(tmp_path / "rel" / "answers" / "validation.jsonl")
    preds = write_jsonl(tmp_path / "p.jsonl", perfect_rows())
    out = tmp_path / "out" / "report.md"
    argv = ["score", "--answers", str(tmp_path / "rel"), "--predictions", str(preds), "--out", str(out)]
    assert blueprint(argv) == 0
    assert "# Scoring report" in out.read_text()
    assert json.loads(out.with_suffix(".json").read_text())["population"]["actions"]["accuracy"] == 1.0
    assert "# Scoring report" in capsys.readouterr().out

    bad = write_jsonl(tmp_path / "bad.jsonl", perfect_rows()[:-1])
    assert blueprint(["score", "--answers", str(tmp_path / "rel"), "--predictions", str(bad)]) == 2
    assert "missing ids (in the answers, not predicted): t08 (1 in total)" in capsys.readouterr().err


def test_real_encoder_scores_paraphrase_above_unrelated(answers: dict) -> None:
    encoder = pytest.importorskip("blueprint_assets.lib.personas.encoder")
    try:
        embed = scorer.cached_embed(encoder.load_encoder().encode)
    except Exception as exc:  # the encoder module is still being built
        pytest.skip(f"encoder unavailable: {exc}")
    base = {a.id: scorer.Prediction(a.id, a.action, "") for a in answers.values()}
    close = dict(base, t03=scorer.Prediction("t03", "reply", "cats make wonderful pets"))
    far = dict(base, t03=scorer.Prediction("t03", "reply", "quarterly tax filing deadline"))
    near = scorer.score(answers, close, embed)["clusters"]["0"]["text"]["mean_item_cosine"]
    away = scorer.score(answers, far, embed)["clusters"]["0"]["text"]["mean_item_cosine"]
    assert near > 0.8 > away
