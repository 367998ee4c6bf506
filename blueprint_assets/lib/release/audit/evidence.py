"""Evidence for the privacy audit (pure, no Dagster): measured quality, a second opinion, samples, risk.

- `anonymizer_quality`: per-type recall/precision of the build's anonymizer on the shipped labelled set.
- `second_opinion_scan`: detectors that did NOT do the removal (broad generic e-mail/URL/phone/handle shapes
  and presidio recognizers outside the removal set) run over released texts; counts and value shapes only.
- `replacement_sample`: a seeded random sample of (before, after) pairs where something was replaced, with
  each replaced value shown as its type and shape, never its value.
- `reid_risk` / `findable_keys`: verbatim re-identification risk, the share of released texts long and
  distinctive enough (>= `FINDABLE_MIN_TOKENS` tokens, one post in the release) to be found by text search.
- `evidence_sections`: those stats as report sections (plain dicts the audit renderer turns into blocks).

A value's *shape* keeps its structure and hides its content: a run of letters becomes `▪`, each digit `#`,
other characters stay (`john.doe@gmail.com` -> `▪.▪@▪.▪`, `+1 415-555-0132` -> `+# ###-###-####`).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

FINDABLE_MIN_TOKENS = 8
SAMPLE_SIZE = 8
_PLACEHOLDER = re.compile(r"<[A-Z][A-Z_]*>")
_WORD = re.compile(r"\w+")
_LETTERS = re.compile(r"[^\W\d_]+")
_DIGIT = re.compile(r"\d")
# Broad shapes, deliberately looser than the removal recognizers: they over-report, which is their job.
GENERIC_PATTERNS: dict[str, re.Pattern[str]] = {
    "generic e-mail shape": re.compile(
        r"[^\s@<>()]+@[^\s@<>()]+\.[^\s@<>()]+|\b\w+\s*[\[({]?\s*at\s*[\])}]?\s*\w+\s*[\[({]\s*(?:dot|\.)\s*[\])}]",
        re.IGNORECASE,
    ),
    "generic URL shape": re.compile(
        r"\b[a-z][a-z0-9+.\-]*://\S+|\bwww\.\S+|\b[\w\-]+(?:\.[\w\-]+)+/\S*", re.I
    ),
    "generic domain shape": re.compile(
        r"\b[\w\-]+\.(?:com|org|net|io|co|me|app|dev|social|xyz|info|de|uk)\b", re.I
    ),
    "generic phone shape": re.compile(r"(?<![\w.])\+?\d(?:[\s().\-]?\d){6,14}(?![\w.])"),
    "generic handle shape": re.compile(r"(?<![\w@])@[\w.\-]+\w"),
    "long digit run": re.compile(r"(?<!\d)\d{9,}(?!\d)"),
}


def value_shape(value: str) -> str:
    """Structure without content: letter runs -> '▪', digits -> '#', everything else kept (max 40 chars)."""
    shape = _DIGIT.sub("#", _LETTERS.sub("▪", value))
    return shape if len(shape) <= 40 else shape[:39] + "…"


def text_key(text: str) -> str:
    return " ".join(text.split()).lower()


def token_count(text: str) -> int:
    """Word tokens, placeholders not counted (a search engine would not find `<URL>`)."""
    return len(_WORD.findall(_PLACEHOLDER.sub(" ", text)))


def findable_keys(texts: Iterable[str | None], min_tokens: int = FINDABLE_MIN_TOKENS) -> set[str]:
    """Keys of texts with >= `min_tokens` tokens that occur exactly once among `texts`."""
    counts = Counter(text_key(t) for t in texts if t)
    return {key for key, n in counts.items() if n == 1 and token_count(key) >= min_tokens}


def reid_risk(
    released: Mapping[Any, Iterable[str]],
    all_posts: Iterable[str | None],
    min_tokens: int = FINDABLE_MIN_TOKENS,
) -> list[dict]:
    """Per cluster: distinct released texts, how many are findable (unique among `all_posts`), and the share."""
    findable = findable_keys(all_posts, min_tokens)
    rows = []
    for cluster in sorted(released, key=lambda c: (len(str(c)), str(c))):
        keys = {text_key(t) for t in released[cluster] if t and t.strip()}
        hits = len(keys & findable)
        rows.append({"cluster": str(cluster), "texts": len(keys), "findable": hits,
                     "share": hits / len(keys) if keys else 0.0})  # fmt: skip
    return rows


def anonymizer_quality(anonymizer, labelled_set=None) -> dict:
    """`privacy_eval.evaluate` of `anonymizer` on the shipped labelled set (or `labelled_set`), as a dict."""
    from blueprint_assets.lib.privacy.evaluate import SHIPPED_SET, evaluate, load_labelled_set

    return evaluate(anonymizer, load_labelled_set(labelled_set or SHIPPED_SET)).to_dict()


def second_opinion_recognizers() -> list:
    """Presidio recognizers outside the removal set (stock e-mail/URL/phone and other national ids)."""
    from presidio_analyzer.predefined_recognizers import (
        EmailRecognizer,
        MedicalLicenseRecognizer,
        NhsRecognizer,
        PhoneRecognizer,
        UrlRecognizer,
        UsItinRecognizer,
        UsSsnRecognizer,
    )

    return [EmailRecognizer(), UrlRecognizer(), PhoneRecognizer(), UsSsnRecognizer(), UsItinRecognizer(),
            NhsRecognizer(), MedicalLicenseRecognizer()]  # fmt: skip


def second_opinion_scan(texts: Iterable[str | None], recognizers: Sequence | None = None) -> dict[str, dict]:
    """What other detectors still find in anonymized texts: {detector: {count, shapes: {shape: n}}}."""
    recognizers = second_opinion_recognizers() if recognizers is None else recognizers
    found: dict[str, Counter] = {}
    # Released texts repeat (a liked post is the context of every like of it): each distinct text is
    # scanned once and its findings counted as often as it occurs, in first-occurrence order.
    for text, repeats in Counter(t for t in texts if t).items():
        masked = _PLACEHOLDER.sub(lambda m: " " * len(m.group(0)), text)
        for name, pattern in GENERIC_PATTERNS.items():
            for match in pattern.finditer(masked):
                found.setdefault(name, Counter())[value_shape(match.group(0))] += repeats
        if not any(ch.isdigit() or ch in ".@" for ch in masked):
            continue  # every presidio recognizer below needs a digit, a dot or an '@'
        for recognizer in recognizers:
            for result in recognizer.analyze(masked, recognizer.supported_entities, None):
                name = f"presidio {type(recognizer).__name__} ({result.entity_type})"
                found.setdefault(name, Counter())[value_shape(masked[result.start : result.end])] += repeats
    return {
        name: {"count": sum(shapes.values()), "shapes": dict(shapes.most_common(5))}
        for name, shapes in sorted(found.items())
    }


def replacement_sample(
    rows: Sequence[tuple[str, list | None]], anonymizer, seed: int, n: int = SAMPLE_SIZE
) -> list[dict]:
    """A seeded random sample of texts where the anonymizer replaced something: before (values as
    `[TYPE ▪-shape]`) and after (the pipeline's output). `rows` are (raw text, facet spans)."""
    from blueprint_assets.lib.privacy.anonymizer import apply_placeholders

    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    sample = []
    for index in order:
        text, spans = rows[index]
        hits = anonymizer.resolve(text, spans) if text else []
        if not hits:
            continue
        parts, pos = [], 0
        for start, end, kind in hits:
            parts += [text[pos:start], f"[{kind} {value_shape(text[start:end])}]"]
            pos = end
        parts.append(text[pos:])
        sample.append({"before": "".join(parts), "after": apply_placeholders(text, hits).text})
        if len(sample) == n:
            break
    return sample


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _section(
    title: str, text: str, header: tuple[str, ...], rows: tuple, empty: str | None = None
) -> list[dict]:
    """One report section: a heading, a paragraph and a table (or the `empty` paragraph when no rows)."""
    table = {"kind": "table", "header": header, "rows": rows}
    last = table if rows or empty is None else {"kind": "p", "text": empty}
    return [{"kind": "h2", "text": title}, {"kind": "p", "text": text}, last]


def _quality_section(quality: Mapping[str, Any], stats: Mapping[str, Any]) -> list[dict]:
    if not quality:
        return []
    return _section(
        "Anonymizer quality on the labelled set",
        f"Measured by this release's build on {quality['cases']} labelled cases "
        f"({quality['negatives']} look-alikes without PII), token by token as presidio-research reports. "
        f"Over-redaction: {quality['over_redaction']:.2%} of non-PII tokens; "
        f"{quality['negatives_touched']} look-alike text(s) changed.",
        ("entity type", "recall", "precision", "span recall"),
        tuple(
            (r["type"], _rate(r["recall"]), _rate(r["precision"]), _rate(r["span_recall"]))
            for r in quality["types"]
        ),
    )


def _second_opinion_section(second: Mapping[str, Any], stats: Mapping[str, Any]) -> list[dict]:
    scanned = stats.get("second_opinion_texts", "all")
    rows = tuple(
        (name, str(entry["count"]), ", ".join(f"{shape} ×{n}" for shape, n in entry["shapes"].items()))
        for name, entry in second.items()
    )
    text = (
        f"Detectors that did not do the removal, run over {scanned} released texts after anonymization: "
        f"broad generic shapes ({', '.join(GENERIC_PATTERNS)}) and presidio recognizers outside the removal "
        "set (stock e-mail, URL and phone; US SSN and ITIN; NHS; medical licence). They over-report on "
        "purpose (file names, versions); read the shapes. Values are never shown."
    )
    header = ("detector", "hits", "top shapes")
    return _section("Second-opinion residual scan", text, header, rows, empty="No detector found anything.")


def _sample_section(sample: list[Mapping[str, str]], stats: Mapping[str, Any]) -> list[dict]:
    seed = stats.get("sample_seed", "n/a")
    intro = (
        f"{len(sample)} texts drawn at random (seed {seed}) among those where something was replaced; "
        "each replaced value is shown as its type and shape."
    )
    pairs = tuple((s["before"], s["after"]) for s in sample)
    return _section("Random before/after sample", intro, ("before (values masked to shape)", "after"), pairs)


def _risk_section(risk: list[Mapping[str, Any]], stats: Mapping[str, Any]) -> list[dict]:
    total = sum(r["texts"] for r in risk)
    findable = sum(r["findable"] for r in risk)
    min_tokens = stats.get("findable_min_tokens", FINDABLE_MIN_TOKENS)
    text = (
        f"A released text with at least {min_tokens} tokens that is one post in the release can be found by a "
        f"text search on Bluesky and linked to its author: {findable} of {total} distinct released texts "
        f"({findable / total if total else 0:.1%}). Persona cards quote no such text for clusters under "
        f"{stats.get('quote_min_cluster_size', 'n/a')} users."
    )
    by_cluster = tuple((r["cluster"], str(r["texts"]), str(r["findable"]), f"{r['share']:.1%}") for r in risk)
    return _section(
        "Verbatim re-identification risk",
        text,
        ("cluster", "distinct texts", "findable", "share"),
        by_cluster,
    )


# The evidence keys of the stats dict, in report order, with the builder of each one's section.
_SECTIONS = (
    ("anonymizer_quality", _quality_section),
    ("second_opinion", _second_opinion_section),
    ("replacement_sample", _sample_section),
    ("reid_risk", _risk_section),
)


def evidence_sections(stats: Mapping[str, Any]) -> list[dict]:
    """Report sections for the evidence keys present in `stats` (see the module docstring)."""
    sections: list[dict] = []
    for key, build in _SECTIONS:
        if stats.get(key) is not None:
            sections += build(stats[key], stats)
    return sections
