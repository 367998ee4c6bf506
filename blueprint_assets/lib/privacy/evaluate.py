"""Evaluate and apply the pipeline's text anonymizer on JSON lines (pure, no Dagster).

- `anonymize_record`: one `{"text": ..., ...}` record -> the same record with `text` anonymized exactly as
  `anonymized_posts` does and an `entities` list of `{type, start, end}` (offsets in the input text).
- `load_labelled_set` / `evaluate`: a labelled set of `{text, pii: [substrings], type}` lines (`type` is one
  entity type for all substrings, a list parallel to `pii`, or "NONE" for a look-alike with no PII) scored
  the way presidio-research's token evaluator does: every spaCy token gets a gold and a predicted label
  (an entity type or "O"); per type, recall = TP/(TP+FN) and precision = TP/(TP+FP) over tokens; the PII
  row treats every type as one; over-redaction = share of "O" tokens that were redacted.
  A span-level recall (the whole value removed, by a hit of its type) is reported beside it.

The labelled set the project ships is `SHIPPED_SET` (package data, so a release build can measure itself).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

SHIPPED_SET = Path(__file__).resolve().parents[2] / "config" / "pii_labelled_set.jsonl"
OUTSIDE = "O"
NO_PII = "NONE"


@dataclass(frozen=True)
class LabelledCase:
    """One labelled text: gold `(start, end, TYPE)` spans and a free-form sub-type (for coverage)."""

    text: str
    spans: tuple[tuple[int, int, str], ...]
    subtype: str = ""


def anonymize_record(anonymizer, record: dict) -> dict:
    """`record` with `text` anonymized and `entities` added; every other field is kept as it is."""
    text = record.get("text")
    if text is not None and not isinstance(text, str):
        raise ValueError("'text' must be a string")
    from blueprint_assets.lib.privacy.anonymizer import apply_placeholders

    hits = anonymizer.resolve(text or "")
    out = dict(record)
    out["text"] = apply_placeholders(text, hits).text if text else text
    out["entities"] = [{"type": kind, "start": start, "end": end} for start, end, kind in hits]
    return out


def read_json_lines(lines: Iterable[str], source: str) -> Iterator[dict]:
    """JSON objects of non-blank lines; a bad line raises ValueError naming its number (never its text)."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise ValueError(f"{source} line {number}: not valid JSON") from None
        if not isinstance(record, dict):
            raise ValueError(f"{source} line {number}: expected a JSON object")
        yield record


def parse_labelled(record: dict, where: str) -> LabelledCase:
    """Locate each `pii` substring (in order, left to right) and pair it with its type."""
    text, pii, kind = record.get("text"), record.get("pii", []), record.get("type", NO_PII)
    if not isinstance(text, str) or not isinstance(pii, list):
        raise ValueError(f"{where}: needs 'text' (string) and 'pii' (list of substrings)")
    kinds = kind if isinstance(kind, list) else [kind] * len(pii)
    if len(kinds) != len(pii) or (pii and NO_PII in kinds):
        raise ValueError(f"{where}: 'type' must name the type of every 'pii' substring")
    spans, pos = [], 0
    for value, value_kind in zip(pii, kinds, strict=True):
        start = text.find(value, pos)
        if not value or start < 0:
            raise ValueError(f"{where}: a 'pii' substring is not in 'text' (after the previous one)")
        spans.append((start, start + len(value), value_kind))
        pos = start + len(value)
    return LabelledCase(text, tuple(spans), str(record.get("subtype", "")))


def load_labelled_set(path: str | Path = SHIPPED_SET) -> list[LabelledCase]:
    """Every case of a labelled JSON-lines file."""
    with open(path, encoding="utf-8") as handle:
        records = list(read_json_lines(handle, str(path)))
    return [parse_labelled(r, f"{path} case {i}") for i, r in enumerate(records, start=1)]


@dataclass
class EvalReport:
    """Token counts per (gold, predicted) label pair, span-level counts, and case counts."""

    tokens: Counter = field(default_factory=Counter)
    spans_expected: Counter = field(default_factory=Counter)
    spans_removed: Counter = field(default_factory=Counter)
    cases: int = 0
    negatives: int = 0
    negatives_touched: int = 0

    def types(self) -> list[str]:
        return sorted({label for pair in self.tokens for label in pair if label != OUTSIDE})

    def recall(self, kind: str) -> float | None:
        gold = sum(n for (g, _), n in self.tokens.items() if g == kind)
        return self.tokens[(kind, kind)] / gold if gold else None

    def precision(self, kind: str) -> float | None:
        predicted = sum(n for (_, p), n in self.tokens.items() if p == kind)
        return self.tokens[(kind, kind)] / predicted if predicted else None

    def span_recall(self, kind: str) -> float | None:
        expected = self.spans_expected[kind]
        return self.spans_removed[kind] / expected if expected else None

    def pii_recall(self) -> float | None:
        gold = sum(n for (g, _), n in self.tokens.items() if g != OUTSIDE)
        hit = sum(n for (g, p), n in self.tokens.items() if g != OUTSIDE and p != OUTSIDE)
        return hit / gold if gold else None

    def pii_precision(self) -> float | None:
        predicted = sum(n for (_, p), n in self.tokens.items() if p != OUTSIDE)
        hit = sum(n for (g, p), n in self.tokens.items() if g != OUTSIDE and p != OUTSIDE)
        return hit / predicted if predicted else None

    def over_redaction(self) -> float:
        clean = sum(n for (g, _), n in self.tokens.items() if g == OUTSIDE)
        redacted = sum(n for (g, p), n in self.tokens.items() if g == OUTSIDE and p != OUTSIDE)
        return redacted / clean if clean else 0.0

    def rows(self) -> list[dict]:
        """One row per type, then the all-PII row: counts and rates (None when undefined)."""
        out = []
        for kind in self.types():
            out.append({
                "type": kind,
                "gold_tokens": sum(n for (g, _), n in self.tokens.items() if g == kind),
                "predicted_tokens": sum(n for (_, p), n in self.tokens.items() if p == kind),
                "recall": self.recall(kind),
                "precision": self.precision(kind),
                "span_recall": self.span_recall(kind),
            })  # fmt: skip
        out.append({"type": "PII (all types)", "gold_tokens": None, "predicted_tokens": None,
                    "recall": self.pii_recall(), "precision": self.pii_precision(), "span_recall": None})  # fmt: skip
        return out

    def to_dict(self) -> dict:
        return {
            "cases": self.cases,
            "negatives": self.negatives,
            "negatives_touched": self.negatives_touched,
            "over_redaction": self.over_redaction(),
            "types": self.rows(),
        }


def _tokenizer():
    import spacy

    return spacy.blank("en").tokenizer


def _label(start: int, end: int, spans: Iterable[tuple[int, int, str]]) -> str:
    for s, e, kind in spans:
        if s < end and start < e:
            return kind
    return OUTSIDE


def evaluate(anonymizer, cases: Iterable[LabelledCase]) -> EvalReport:
    """Score `anonymizer.resolve` (what the pipeline replaces) on labelled cases."""
    tokenize = _tokenizer()
    report = EvalReport()
    for case in cases:
        predicted = anonymizer.resolve(case.text)
        report.cases += 1
        if not case.spans:
            report.negatives += 1
            report.negatives_touched += bool(predicted)
        for token in tokenize(case.text):
            if token.is_space:
                continue
            start, end = token.idx, token.idx + len(token.text)
            report.tokens[(_label(start, end, case.spans), _label(start, end, predicted))] += 1
        for start, end, kind in case.spans:
            report.spans_expected[kind] += 1
            covered = [(s, e) for s, e, t in predicted if t == kind and s < end and start < e]
            if covered and min(s for s, _ in covered) <= start and max(e for _, e in covered) >= end:
                report.spans_removed[kind] += 1
    return report


def _rate(value: float | None) -> str:
    return "   n/a" if value is None else f"{value:6.3f}"


def format_report(report: EvalReport) -> str:
    """The per-type table as text (what `blueprint privacy-eval` prints)."""
    lines = [
        f"{report.cases} cases ({report.negatives} without PII); token-level, as presidio-research reports",
        f"{'type':<16}{'gold':>6}{'pred':>6}{'recall':>8}{'precision':>10}{'span recall':>12}",
    ]
    for row in report.rows():
        gold = "" if row["gold_tokens"] is None else row["gold_tokens"]
        pred = "" if row["predicted_tokens"] is None else row["predicted_tokens"]
        lines.append(
            f"{row['type']:<16}{gold:>6}{pred:>6}  {_rate(row['recall'])}    {_rate(row['precision'])}"
            f"      {_rate(row['span_recall'])}"
        )
    lines.append(
        f"over-redaction: {report.over_redaction():.2%} of non-PII tokens redacted; "
        f"{report.negatives_touched} of {report.negatives} look-alike texts changed"
    )
    return "\n".join(lines)
