"""Loading and validating a release's answer keys and a modeller's predictions (pure Python, no Dagster).

Inputs (docs/tables.md): answers `{split}.jsonl` rows `{"id", "cluster_id", "action", "actions", "text"}`,
found through `resolve_answers_path` (the one place that knows where a release keeps its answers);
predictions JSONL or CSV keyed by `id` with the 13 action names as booleans and `text`. Every problem is
reported at once, each naming a few offending ids or lines and a count.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blueprint_assets.lib.actions_space import ACTION_ORDER, ACTION_SET

N_EXAMPLES = 5
# cluster_id is tolerated and ignored; `split` lets one file (sample_submission.jsonl) cover validation and test:
# rows naming another split than the one scored are skipped.
KNOWN_COLUMNS = frozenset({"id", "text", "cluster_id", "split", *ACTION_ORDER})
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})


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
    """A file as is; a release dir -> its private answers of granularity K (lib/release/layout.py, the one
    place that knows the layout); an answers dir -> {split}.jsonl."""
    from blueprint_assets.lib.release.layout import LayoutError, answers_dir

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


def load_predictions(
    path: str | Path, answers: Mapping[str, Answer] | None = None, split: str | None = None
) -> dict[str, Prediction]:
    """Validated predictions keyed by id. With `answers`, also checks missing and unknown ids.
    With `split`, rows whose `split` column names another split are skipped.

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
    if split is not None:
        rows = [(n, r) for n, r in rows if r.get("split") in (None, "", split)]
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
