"""Score next-action predictions against a release's hidden answers (pure Python, no Dagster).

Inputs (docs/CONTRACTS.md): answers `answers/{split}.jsonl` rows `{"id", "cluster_id", "action", "actions", "text"}`;
predictions JSONL or CSV keyed by `id` with the 13 action names as booleans and `text`.

Text metrics are computed over the items whose true last message has non-empty text (posts, replies, quotes,
updates). Real set = those answer texts; generated set = the non-empty predicted texts of the same items. The
per-item cosine counts an empty predicted text as 0 rather than embedding an empty string. Common actions (the
2 most frequent in the answers) are fixed on the whole population so per-cluster figures compare.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from blueprint_assets.core import metrics
from blueprint_assets.core.actions_space import ACTION_ORDER, ACTION_SET

Embed = Callable[[list[str]], np.ndarray]

N_EXAMPLES = 5
KNOWN_COLUMNS = frozenset({"id", "text", "cluster_id", *ACTION_ORDER})  # cluster_id is tolerated, ignored
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})
TEXT_METRICS = ("mean_item_cosine", "avg_embedding_cosine", "max_cosine", "js_divergence", "tfidf_jaccard")
MATRIX_METRICS = ("macro_f1", "accuracy", *TEXT_METRICS)
LOWER_IS_BETTER = frozenset({"js_divergence"})


class ScoringError(ValueError):
    """An answers or predictions file that cannot be scored; the message names the offending items."""


@dataclass(frozen=True)
class Answer:
    id: str
    cluster_id: int
    action: str
    text: str | None


@dataclass(frozen=True)
class Prediction:
    id: str
    action: str
    text: str


def _examples(items: Sequence[Any], k: int = N_EXAMPLES) -> str:
    """'a, b, c, ... (12 in total)': enough to find the rows without flooding the terminal."""
    shown = ", ".join(str(x) for x in items[:k])
    return f"{shown}, ... ({len(items)} in total)" if len(items) > k else f"{shown} ({len(items)} in total)"


def _problems(*checks: tuple[str, Sequence[Any]]) -> list[str]:
    """'<what is wrong>: <examples>' for each (label, offending items) check that found any."""
    return [f"{label}: {_examples(items)}" for label, items in checks if items]


def _json_lines(fh: Iterable[str]) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) of each non-blank line; None where the line is not JSON (a literal
    `null` reads the same, and every caller rejects it too)."""
    for line_no, line in enumerate(fh, start=1):
        if not line.strip():
            continue
        try:
            yield line_no, json.loads(line)
        except json.JSONDecodeError:
            yield line_no, None


def _raise_if(problems: list[str], what: str) -> None:
    if problems:
        lines = "\n".join(f"- {p}" for p in problems)
        raise ScoringError(f"{what}: {len(problems)} problem(s):\n{lines}")


# ---------------------------------------------------------------- answers


def resolve_answers_path(path: str | Path, split: str = "validation", k: int | None = None) -> Path:
    """A file as is; a release dir -> its private answers (core/release_layout.py); an answers dir -> {split}.jsonl."""
    from blueprint_assets.core.release_layout import LayoutError, answers_dir

    p = Path(path)
    if p.is_file():
        return p
    try:
        resolved = answers_dir(p, k)
    except LayoutError as exc:
        raise ScoringError(str(exc)) from exc
    for candidate in (resolved / f"{split}.jsonl", p / f"{split}.jsonl"):
        if candidate.is_file():
            return candidate
    raise ScoringError(
        f"no answers found at {p}: expected a file, a release folder with private/answers/{split}.jsonl, "
        f"or an answers folder with {split}.jsonl"
    )


def load_answers(path: str | Path, split: str = "validation", k: int | None = None) -> dict[str, Answer]:
    """Answers keyed by id, in file order. `path`: a release dir (+ split, K), an answers dir, or a file."""
    file = resolve_answers_path(path, split, k)
    answers: dict[str, Answer] = {}
    bad_lines: list[int] = []
    bad_action: list[str] = []
    duplicates: list[str] = []
    with file.open(encoding="utf-8") as fh:
        for line_no, row in _json_lines(fh):
            try:
                aid, cluster, action = str(row["id"]), int(row["cluster_id"]), row["action"]
            except (KeyError, TypeError, ValueError):
                bad_lines.append(line_no)
                continue
            if action not in ACTION_SET:
                bad_action.append(aid)
                continue
            if aid in answers:
                duplicates.append(aid)
                continue
            text = row.get("text")
            answers[aid] = Answer(aid, cluster, action, text if isinstance(text, str) else None)
    problems = _problems(
        ("lines without a valid id/cluster_id/action", bad_lines),
        ("unknown action on ids", bad_action),
        ("duplicate ids", duplicates),
    )
    _raise_if(problems, f"answers file {file.name}")
    if not answers:
        raise ScoringError(f"answers file {file.name} holds no answers")
    return answers


# ---------------------------------------------------------------- predictions


def _read_rows(path: Path) -> tuple[list[tuple[int, dict[str, Any]]], list[str]]:
    """(line number, row) pairs of a JSONL or CSV file, plus parse problems."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:  # -sig: tolerate a spreadsheet's BOM
            reader = csv.DictReader(fh)
            # Header is line 1; DictReader puts surplus cells under the None key.
            rows = [(i, dict(r)) for i, r in enumerate(reader, start=2)]
        ragged = [i for i, r in rows if None in r or any(v is None for v in r.values())]
        return rows, _problems(("rows with the wrong number of cells on lines", ragged))
    if suffix not in {".jsonl", ".json", ".ndjson"}:
        raise ScoringError(
            f"predictions file {path.name}: unsupported extension {suffix!r}; use .jsonl or .csv"
        )
    rows, bad = [], []
    with path.open(encoding="utf-8") as fh:
        for i, row in _json_lines(fh):
            if not isinstance(row, dict):
                bad.append(i)
                continue
            if isinstance(row.get("actions"), dict):  # the answers' nested layout is accepted too
                row = {**{k: v for k, v in row.items() if k not in ("actions", "action")}, **row["actions"]}
            rows.append((i, row))
    return rows, _problems(("lines that are not JSON objects", bad))


def _to_bool(value: Any) -> bool | None:
    """True/False, 1/0 and their strings (any case); None for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        v = value.strip().lower()
        if v in _TRUE:
            return True
        if v in _FALSE:
            return False
    return None


def load_predictions(path: str | Path, answers: Mapping[str, Answer] | None = None) -> dict[str, Prediction]:
    """Validated predictions keyed by id. With `answers`, also checks missing and unknown ids.

    Every problem found is reported at once, each naming a few offending ids (or lines) and a count.
    A row must set exactly one action: several true actions is an error, not an argmax.
    """
    file = Path(path)
    if not file.is_file():
        raise ScoringError(f"predictions file {file} does not exist")
    rows, problems = _read_rows(file)
    columns = {c for _, r in rows for c in r if c is not None}
    unknown_cols = sorted(columns - KNOWN_COLUMNS)
    if unknown_cols:
        problems.append(f"unknown columns: {', '.join(unknown_cols)}")
    missing_cols: dict[str, list[str]] = {}
    no_id, duplicates, non_bool, bad_text, none_true, many_true = [], [], [], [], [], []
    preds: dict[str, Prediction] = {}
    for line_no, row in rows:
        rid = row.get("id")
        if rid is None or (isinstance(rid, str) and not rid.strip()) or isinstance(rid, (dict, list, bool)):
            no_id.append(line_no)
            continue
        rid = str(rid).strip()
        flags: dict[str, bool] = {}
        for col in (*ACTION_ORDER, "text"):
            if col not in row:
                missing_cols.setdefault(col, []).append(rid)
        for name in ACTION_ORDER:
            if name in row:
                flag = _to_bool(row[name])
                if flag is None:
                    non_bool.append(f"{rid}[{name}]")
                else:
                    flags[name] = flag
        text = row.get("text")
        if text is not None and not isinstance(text, str):
            bad_text.append(rid)
            text = None
        if len(flags) == len(ACTION_ORDER):
            chosen = [a for a in ACTION_ORDER if flags[a]]
            if not chosen:
                none_true.append(rid)
            elif len(chosen) > 1:
                many_true.append(rid)
        else:
            chosen = []
        if rid in preds:
            duplicates.append(rid)
        elif len(chosen) == 1:
            preds[rid] = Prediction(rid, chosen[0], text or "")
    problems += _problems(
        *((f"missing column {col!r} on ids", ids) for col, ids in missing_cols.items()),
        ("rows without an id on lines", no_id),
        ("duplicate ids", duplicates),
        ("non-boolean action values (use true/false or 1/0) at", non_bool),
        ("text is not a string on ids", bad_text),
        ("no action set to true (exactly one is required) on ids", none_true),
        ("more than one action set to true (exactly one is required) on ids", many_true),
    )
    _raise_if(problems, f"predictions file {file.name}")
    if answers is not None:
        check_coverage(answers, preds, file.name)
    return preds


def check_coverage(
    answers: Mapping[str, Answer], preds: Mapping[str, Prediction], name: str = "predictions"
) -> None:
    """Every answer id predicted, no prediction for an id the answers do not know."""
    missing = [i for i in answers if i not in preds]
    unknown = [i for i in preds if i not in answers]
    problems = _problems(
        ("missing ids (in the answers, not predicted)", missing),
        ("unknown ids (not in the answers)", unknown),
    )
    _raise_if(problems, name)


# ---------------------------------------------------------------- scoring


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

    return wrapped


def _nan_to_none(obj: Any) -> Any:
    """JSON has no NaN: undefined metrics (e.g. no text items) become null."""
    if isinstance(obj, float):
        return None if math.isnan(obj) else obj
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_nan_to_none(v) for v in obj]
    return obj


def _text_block(
    items: list[Answer], preds: Mapping[str, Prediction], vectors: Mapping[str, np.ndarray], jaccard: float
) -> dict[str, Any]:
    """Text metrics over the items of one group that have a true text."""
    dim = next(iter(vectors.values())).shape[0] if vectors else 0
    texted = [a for a in items if a.text]
    paired = [a for a in texted if preds[a.id].text]
    real_m = np.stack([vectors[a.text] for a in texted]) if texted else np.zeros((0, dim))
    gen_m = np.stack([vectors[preds[a.id].text] for a in paired]) if paired else np.zeros((0, dim))
    # An empty predicted text scores 0 for its item (it is not embedded).
    pair_real = np.stack([vectors[a.text] for a in paired]) if paired else gen_m
    cos_sum = float(metrics.item_cosines(pair_real, gen_m).sum()) if paired else 0.0
    return {
        "n_text_items": len(texted),
        "n_generated": len(paired),
        "mean_item_cosine": cos_sum / len(texted) if texted else float("nan"),
        **metrics.text_set_metrics(real_m, gen_m),
        "tfidf_jaccard": jaccard,
    }


def score(
    answers: Mapping[str, Answer], predictions: Mapping[str, Prediction], embed: Embed
) -> dict[str, Any]:
    """Population and per-cluster metrics, JSON-ready (undefined values are None)."""
    check_coverage(answers, predictions)
    items = list(answers.values())
    y_true = [a.action for a in items]
    common = metrics.common_actions(y_true)
    clusters = sorted({a.cluster_id for a in items})
    by_cluster = {c: [a for a in items if a.cluster_id == c] for c in clusters}

    # One embed call for every distinct text involved.
    texts = [a.text for a in items if a.text] + [predictions[a.id].text for a in items if a.text]
    unique = list(dict.fromkeys(t for t in texts if t))
    vectors = dict(zip(unique, np.asarray(embed(unique)), strict=True)) if unique else {}

    # TF-IDF fitted on one document per (cluster, real|generated), as BluePrint fits one per (cluster, model).
    docs: dict[tuple[int, str], str] = {}
    for c, group in by_cluster.items():
        if any(a.text for a in group):
            docs[(c, "real")] = " ".join(a.text for a in group if a.text)
            docs[(c, "generated")] = " ".join(predictions[a.id].text for a in group if a.text)
    terms = metrics.top_tfidf_terms(docs) if docs else {}
    jac = {
        c: metrics.jaccard(terms[(c, "real")], terms[(c, "generated")])
        for c in clusters
        if (c, "real") in terms
    }

    def group_result(group: list[Answer], jaccard: float) -> dict[str, Any]:
        return {
            "actions": metrics.action_metrics(
                [a.action for a in group], [predictions[a.id].action for a in group], common
            ),
            "text": _text_block(group, predictions, vectors, jaccard),
        }

    per_cluster = {c: group_result(g, jac.get(c, float("nan"))) for c, g in by_cluster.items()}
    population = group_result(items, float(np.mean(list(jac.values()))) if jac else float("nan"))
    population["cluster_mean"] = {
        name: _nanmean([r["text"][name] for r in per_cluster.values()]) for name in TEXT_METRICS
    } | {
        name: _nanmean([r["actions"][name] for r in per_cluster.values()])
        for name in ("macro_f1", "accuracy")
    }
    return _nan_to_none(
        {
            "n_items": len(items),
            "n_clusters": len(clusters),
            "common_actions": common,
            "action_counts": {a: n for a, n in Counter(y_true).most_common()},
            "population": population,
            "clusters": {str(c): r for c, r in per_cluster.items()},
        }
    )


def _nanmean(values: Iterable[float]) -> float:
    vals = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(vals)) if vals else float("nan")


def score_files(
    answers_path: str | Path, predictions_path: str | Path, embed: Embed, split: str = "validation"
) -> dict[str, Any]:
    """Load, validate and score in one call."""
    answers = load_answers(answers_path, split)
    return score(answers, load_predictions(predictions_path, answers), embed)


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
    models: Mapping[int, str | Path | Mapping[str, Prediction]], answers: Mapping[str, Answer], embed: Embed
) -> dict[str, Any]:
    """Score each cluster's model against every cluster's answers; diagonality of each metric.

    `models[m]` are the predictions of the model fitted to cluster m, over the whole split. Entry [c][m] of each
    matrix is model m's metric on cluster c's items (rows = answers' cluster, columns = model), BluePrint's
    orientation; JS divergence is inverted (1 / (1 + x)) before the diagonality.
    """
    clusters = sorted({a.cluster_id for a in answers.values()})
    missing = [c for c in clusters if c not in models]
    extra = sorted(m for m in models if m not in clusters)
    problems = _problems(
        ("no model predictions for clusters", missing),
        ("model predictions for clusters absent from the answers", extra),
    )
    _raise_if(problems, "matrix scoring")
    embed = cached_embed(embed)
    results: dict[int, dict[str, Any]] = {}
    for m in clusters:
        source = models[m]
        preds = source if isinstance(source, Mapping) else load_predictions(source, answers)
        results[m] = score(answers, preds, embed)

    def cell(m: int, c: int, name: str) -> float:
        r = results[m]["clusters"][str(c)]
        value = r["actions"].get(name, r["text"].get(name))
        return float("nan") if value is None else float(value)

    out: dict[str, Any] = {"clusters": clusters, "metrics": {}}
    for name in MATRIX_METRICS:
        matrix = [[cell(m, c, name) for m in clusters] for c in clusters]
        out["metrics"][name] = {
            "matrix": matrix,
            "lower_is_better": name in LOWER_IS_BETTER,
            "diagonality": metrics.diagonality(matrix, lower_is_better=name in LOWER_IS_BETTER),
        }
    out["models"] = {
        str(m): {
            "macro_f1": r["population"]["actions"]["macro_f1"],
            "accuracy": r["population"]["actions"]["accuracy"],
        }
        for m, r in results.items()
    }
    return _nan_to_none(out)


# ---------------------------------------------------------------- reports


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return lines


def render_report(result: Mapping[str, Any]) -> str:
    """Markdown report of a `score` result."""
    pop = result["population"]
    act, txt = pop["actions"], pop["text"]
    common = result["common_actions"]
    out = [
        "# Scoring report",
        "",
        f"{result['n_items']} items in {result['n_clusters']} clusters; {txt['n_text_items']} with a true text. "
        f"Common actions (2 most frequent in the answers): {', '.join(common) or 'none'}.",
        "",
        "## Headline",
        "",
    ]
    out += _table(
        ["metric", "value"],
        [
            ("macro-F1 (13 actions)", act["macro_f1"]),
            ("accuracy (= micro-F1)", act["accuracy"]),
            (f"macro-F1 common ({', '.join(common)})", act["macro_f1_common"]),
            ("macro-F1 rare (other 11)", act["macro_f1_rare"]),
            ("mean per-item text cosine", txt["mean_item_cosine"]),
            ("average-embedding cosine", txt["avg_embedding_cosine"]),
            ("max cosine", txt["max_cosine"]),
            ("JS divergence (lower is better)", txt["js_divergence"]),
            ("TF-IDF top-100 Jaccard (mean over clusters)", txt["tfidf_jaccard"]),
        ],
    )
    out += ["", "## Per cluster", ""]
    out += _table(
        [
            "cluster",
            "n",
            "macro-F1",
            "accuracy",
            "F1 common",
            "F1 rare",
            "n text",
            "item cos",
            "avg-emb cos",
            "max cos",
            "JS",
            "Jaccard",
        ],
        [
            (
                c,
                r["actions"]["n"],
                r["actions"]["macro_f1"],
                r["actions"]["accuracy"],
                r["actions"]["macro_f1_common"],
                r["actions"]["macro_f1_rare"],
                r["text"]["n_text_items"],
                r["text"]["mean_item_cosine"],
                r["text"]["avg_embedding_cosine"],
                r["text"]["max_cosine"],
                r["text"]["js_divergence"],
                r["text"]["tfidf_jaccard"],
            )
            for c, r in result["clusters"].items()
        ],
    )
    out += ["", "## Per action (population)", ""]
    out += _table(
        ["action", "precision", "recall", "F1", "support"],
        [(a, v["precision"], v["recall"], v["f1"], v["support"]) for a, v in act["per_class"].items()],
    )
    out += ["", "## Confusion matrix (rows = true, columns = predicted)", ""]
    out += _table(
        ["true \\ pred", *ACTION_ORDER],
        [(a, *row) for a, row in zip(ACTION_ORDER, act["confusion"], strict=True)],
    )
    return "\n".join(out) + "\n"


def render_matrix_report(result: Mapping[str, Any]) -> str:
    """Markdown report of a `score_matrix` result: diagonality per metric, then each matrix."""
    clusters = result["clusters"]
    out = [
        "# Cluster x model scoring",
        "",
        "Rows: the cluster whose answers are scored; columns: the model of that "
        "cluster. Diagonality = 1 - off-diagonal / total (JS first mapped to 1/(1+x)); 1 is best.",
        "",
    ]
    out += _table(["metric", "diagonality"], [(n, m["diagonality"]) for n, m in result["metrics"].items()])
    for name, m in result["metrics"].items():
        out += ["", f"## {name}{' (lower is better)' if m['lower_is_better'] else ''}", ""]
        out += _table(
            ["cluster \\ model", *map(str, clusters)],
            [(c, *row) for c, row in zip(clusters, m["matrix"], strict=True)],
        )
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- CLI helper


def default_embed() -> Embed:
    """The project encoder's `encode` (all-MiniLM-L6-v2, offline), imported lazily."""
    from blueprint_assets.core.encoder import load_encoder  # owned by the encoder module

    return load_encoder().encode


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="blueprint score", description="Score next-action predictions.")
    parser.add_argument("--answers", required=True, help="release folder, answers folder or answers JSONL")
    parser.add_argument("--predictions", help="predictions JSONL or CSV (id, 13 action booleans, text)")
    parser.add_argument("--matrix", help="folder of cluster_<i>.jsonl|csv predictions, one model per cluster")
    parser.add_argument("--split", default="validation", choices=("validation", "test"))
    parser.add_argument("--out", help="write the Markdown report here; the JSON goes next to it (.json)")
    return parser


def main_score(argv: Sequence[str] | None = None, embed: Embed | None = None) -> int:
    """`blueprint score` entry point: prints the Markdown report; returns a process exit code."""
    args = build_parser().parse_args(argv)
    if not args.predictions and not args.matrix:
        print("error: give --predictions FILE or --matrix DIR", file=sys.stderr)
        return 2
    try:
        answers = load_answers(args.answers, args.split)
        embed = embed or default_embed()
        if args.matrix:
            result = score_matrix(load_matrix_dir(args.matrix), answers, embed)
            report = render_matrix_report(result)
        else:
            result = score(answers, load_predictions(args.predictions, answers), embed)
            report = render_report(result)
    except ScoringError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report, encoding="utf-8")
        out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(report, end="")
    return 0
