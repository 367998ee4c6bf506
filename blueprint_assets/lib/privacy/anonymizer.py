"""Fast PII removal for post text: presidio recognizers, cheap pre-filters, typed `<TYPE>` placeholders.

`TextAnonymizer` calls the same recognizer objects as presidio's `AnalyzerEngine` would, but
- skips the spaCy pipeline (no recognizer in the default set uses NLP artifacts; NER is opt-in),
- skips each recognizer whose pre-filter proves it cannot match (e.g. no '@' -> no email or handle), and
- resolves overlaps in one sort instead of presidio's object-heavy passes.

Overlap rule (the same as presidio's `AnonymizerEngine` with its default MERGE_SIMILAR_OR_CONTAINED):
1. overlapping hits of the same type merge into their union;
2. a hit contained in another hit (of any type) is dropped, so a URL containing a DID is one `<URL>`;
   for identical spans the type earlier in `TYPE_PRIORITY` wins (presidio picks the higher score);
3. hits of the same type separated only by spaces merge into one placeholder;
4. hits of different types that partly overlap are both replaced, the earlier one cut where the later one
   starts (`<DID><URL>`), so no character of either survives.
Facet spans (Bluesky `mention`/`link`, UTF-8 byte ranges) enter step 1 as `USERNAME`/`URL` hits.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import regex
from phonenumbers import SUPPORTED_REGIONS, PhoneMetadata
from phonenumbers.phonenumbermatcher import _PATTERN as _PHONE_CANDIDATE

from blueprint_assets.lib.parallel import forked_map
from blueprint_assets.lib.privacy.recognizers import (
    DEFAULT_ENTITIES,
    PHONE_REGIONS,
    build_analyzer,
    build_recognizers,
    entities_for,
)

FACET_TYPES: dict[str, str] = {"mention": "USERNAME", "link": "URL"}
# Tie-break for identical spans of different types: the more specific identifier first.
TYPE_PRIORITY: tuple[str, ...] = (
    "AT_URI",
    "DID",
    "EMAIL_ADDRESS",
    "USERNAME",
    "URL",
    "IBAN_CODE",
    "CREDIT_CARD",
    "CRYPTO",
    "IP_ADDRESS",
    "PHONE_NUMBER",
    "PERSON",
    "LOCATION",
)
_PRIORITY = {name: rank for rank, name in enumerate(TYPE_PRIORITY)}
_FLAGS = regex.IGNORECASE | regex.MULTILINE | regex.DOTALL  # presidio's global regex flags

# Pre-filters: each is a necessary condition for its recognizer to produce any hit. They are deliberately
# weaker than the recognizers' patterns (a false "maybe" only costs time, a false "no" would lose PII).
_DIGIT = regex.compile(r"\d")
# The URL gate: `://` or a domain-like dot (`_URL_DOT`), tried only at each `.` (`_url_gate`).
_URL_DOT = r"[\p{L}\p{N}]\.[a-z]{2}"
_URL_DOT_GATE = regex.compile(_URL_DOT, _FLAGS)
_IP_GATE = regex.compile(r"\d\.\d|[0-9a-f]:[0-9a-f:]|::", _FLAGS)
_CARD_GATE = regex.compile(r"\d{4}[- ]?\d{3}")
_CRYPTO_GATE = regex.compile(r"[13][a-z0-9]{25}|0x[0-9a-f]{40}", _FLAGS)
_IBAN_GATE = regex.compile(r"[a-z]{2}\d{2}", _FLAGS)
_OBF_EMAIL_GATE = regex.compile(r"\bat\b|[\[({<]\s*@", _FLAGS)  # ' at ', '[at]', '(@)'...


def _min_phone_digits(regions: Sequence[str]) -> int:
    """Fewest digits a VALID number can have: '+<cc>' + shortest national number of any region, or the
    shortest national number of a region we match without '+' (both from phonenumbers' own metadata)."""

    def shortest(region: str, with_cc: bool) -> int:
        meta = PhoneMetadata.metadata_for_region(region)
        lengths = [n for n in meta.general_desc.possible_length if n > 0] if meta else []
        if not lengths:
            return 99
        return min(lengths) + (len(str(meta.country_code)) if with_cc else 0)

    international = min(shortest(region, True) for region in SUPPORTED_REGIONS)
    national = min(shortest(region, False) for region in regions)
    return min(international, national)


_PHONE_MIN_DIGITS = _min_phone_digits(PHONE_REGIONS)


def _phone_gate(text: str) -> bool:
    """phonenumbers' matcher only ever parses substrings of its own candidate pattern's matches, and a valid
    number has at least `_PHONE_MIN_DIGITS` digits, so a text without such a candidate cannot match (the
    caller has seen a digit)."""
    for match in _PHONE_CANDIDATE.finditer(text):
        if len(_DIGIT.findall(match.group())) >= _PHONE_MIN_DIGITS:
            return True
    return False


_PLACEHOLDER = regex.compile(r"<(?:" + "|".join(TYPE_PRIORITY) + r")>")


def _url_gate(text: str) -> bool:
    """Whether `://` or `_URL_DOT` occurs in `text`, the dot pattern tried only where its dot is: at each
    `.` after the first character (searched at every character, it cost more than the URL recognizer)."""
    if "://" in text:
        return True
    at = text.find(".", 1)
    while at >= 0:
        if _URL_DOT_GATE.match(text, at - 1) is not None:
            return True
        at = text.find(".", at + 1)
    return False


def _clues(text: str) -> tuple[str, bool]:
    """What the gates read of a text, computed once for all: its lowercase, and whether it holds a digit."""
    return text.lower(), _DIGIT.search(text) is not None


def _gate(entity: str, text: str, lowered: str, digit: bool) -> bool:
    """True when the recognizer for `entity` might match `text` (False is a proof that it cannot); `digit`:
    whether `text` holds a `\\d`, which the number-shaped gates' patterns need (IP addresses: or a `:`)."""
    if entity == "EMAIL_ADDRESS":
        return "@" in text or ("at" in lowered and _OBF_EMAIL_GATE.search(text) is not None)
    if entity == "USERNAME":
        return "@" in text
    if entity == "DID":
        return "did:" in lowered
    if entity == "AT_URI":
        return "at://" in lowered
    if entity == "URL":
        return _url_gate(text)
    if entity == "PHONE_NUMBER":
        return digit and _phone_gate(text)
    if entity == "IP_ADDRESS":
        return (digit or ":" in text) and _IP_GATE.search(text) is not None
    if entity == "CREDIT_CARD":
        return digit and _CARD_GATE.search(text) is not None
    if entity == "CRYPTO":  # a `1`, a `3` or a `0x`
        return digit and _CRYPTO_GATE.search(text) is not None
    if entity == "IBAN_CODE":
        return digit and _IBAN_GATE.search(text) is not None
    return True  # unknown entity (e.g. NER): always run


@dataclass
class AnonymizedText:
    """Anonymized text and how many placeholders of each type it received."""

    text: str
    counts: dict[str, int] = field(default_factory=dict)


Hit = tuple[int, int, str]  # (start, end, entity type), str offsets


def byte_spans_to_str(text: str, spans: Iterable[tuple[int, int, str]] | None) -> list[Hit]:
    """Convert facet UTF-8 byte ranges to str ranges with their placeholder type.

    Ranges that are out of bounds, empty, split a multi-byte character, or have an unknown kind are ignored.
    """
    if not spans:
        return []
    hits: list[Hit] = []
    if text.isascii():
        size = len(text)
        for start, end, kind in spans:
            entity = FACET_TYPES.get(kind)
            if entity and 0 <= start < end <= size:
                hits.append((start, end, entity))
        return hits
    data = text.encode("utf-8")
    for start, end, kind in spans:
        entity = FACET_TYPES.get(kind)
        if not entity or not (0 <= start < end <= len(data)):
            continue
        try:
            str_start = len(data[:start].decode("utf-8"))
            str_end = str_start + len(data[start:end].decode("utf-8"))
        except UnicodeDecodeError:
            continue  # offset inside a multi-byte character: not a valid facet
        hits.append((str_start, str_end, entity))
    return hits


def resolve_overlaps(text: str, hits: list[Hit]) -> list[Hit]:
    """Apply the module's overlap rule; returns non-overlapping hits sorted by start."""
    if len(hits) <= 1:
        return list(hits)
    # 1. merge same-type overlaps (touching spans do not merge, as in presidio)
    merged: list[Hit] = []
    for entity in {hit[2] for hit in hits}:
        spans = sorted((s, e) for s, e, t in hits if t == entity)
        cur_s, cur_e = spans[0]
        for s, e in spans[1:]:
            if s < cur_e:
                cur_e = max(cur_e, e)
            else:
                merged.append((cur_s, cur_e, entity))
                cur_s, cur_e = s, e
        merged.append((cur_s, cur_e, entity))
    # 2. drop contained hits; identical spans: best priority first so it is the one kept
    merged.sort(key=lambda h: (h[0], -h[1], _PRIORITY.get(h[2], len(_PRIORITY))))
    kept: list[Hit] = []
    largest_end = -1
    for hit in merged:
        if hit[1] <= largest_end:
            continue
        kept.append(hit)
        largest_end = hit[1]
    # 3. same type separated only by spaces -> one hit
    out: list[Hit] = []
    for hit in kept:
        if out and out[-1][2] == hit[2] and hit[0] > out[-1][1] and not text[out[-1][1] : hit[0]].strip(" "):
            out[-1] = (out[-1][0], hit[1], hit[2])
        else:
            out.append(hit)
    return out


def apply_placeholders(text: str, hits: list[Hit]) -> AnonymizedText:
    """Replace resolved hits with `<TYPE>`; a partly overlapped hit is cut at the next hit's start."""
    if not hits:
        return AnonymizedText(text, {})
    parts: list[str] = []
    counts: dict[str, int] = {}
    pos = 0
    for index, (start, end, entity) in enumerate(hits):
        parts.append(text[pos:start])
        parts.append(f"<{entity}>")
        counts[entity] = counts.get(entity, 0) + 1
        next_start = hits[index + 1][0] if index + 1 < len(hits) else len(text)
        pos = max(start, min(end, next_start))
    parts.append(text[pos:])
    return AnonymizedText("".join(parts), counts)


class TextAnonymizer:
    """Replace PII in post text with `<TYPE>` placeholders (see the module docstring for overlap rules)."""

    def __init__(self, entities: Sequence[str] = DEFAULT_ENTITIES, ner: bool = False) -> None:
        self.entities = entities_for(ner, entities)
        self.ner = ner
        wanted = set(self.entities)
        self._recognizers = [
            (rec, [e for e in rec.supported_entities if e in wanted])
            for rec in build_recognizers()
            if any(e in wanted for e in rec.supported_entities)
        ]
        for recognizer, _ in self._recognizers:
            recognizer.load()
        self._analyzer = build_analyzer(ner=True) if ner else None

    def find(self, text: str) -> list[Hit]:
        """Raw recognizer hits (str offsets, unresolved)."""
        hits: list[Hit] = []
        if not text:
            return hits
        lowered, digit = _clues(text)
        for recognizer, entities in self._recognizers:
            if not _gate(entities[0], text, lowered, digit):
                continue
            for result in recognizer.analyze(text, entities, None):
                hits.append((result.start, result.end, result.entity_type))
        if self._analyzer is not None:
            # NER needs the spaCy pipeline; only the NER entities go through presidio's engine.
            for result in self._analyzer.analyze(text, language="en", entities=["PERSON", "LOCATION"]):
                hits.append((result.start, result.end, result.entity_type))
        return hits

    def resolve(self, text: str, spans: list[tuple[int, int, str]] | None = None) -> list[Hit]:
        """The hits `anonymize` replaces: recognizer and facet hits after the overlap rule, each cut where
        the next one starts (str offsets into `text`)."""
        if not text:
            return []
        hits = resolve_overlaps(text, self.find(text) + byte_spans_to_str(text, spans))
        return [
            (s, min(e, hits[i + 1][0]) if i + 1 < len(hits) else e, t) for i, (s, e, t) in enumerate(hits)
        ]

    def anonymize(self, text: str, spans: list[tuple[int, int, str]] | None = None) -> AnonymizedText:
        """Anonymize one text; `spans` are facet (byte_start, byte_end, kind) ranges to replace regardless."""
        if not text:
            return AnonymizedText(text or "", {})
        return apply_placeholders(text, self.resolve(text, spans))

    def anonymize_many(
        self,
        texts: Sequence[str | None],
        spans_list: Sequence[list[tuple[int, int, str]] | None] | None = None,
        workers: int = 1,
    ) -> list[AnonymizedText]:
        """Anonymize a batch; identical (text, spans) pairs are computed once (reposted boilerplate).

        `workers > 1` forks that many processes (lib/parallel.py) that inherit this instance, so there is
        no re-initialisation cost; the order of results is preserved.
        """
        if spans_list is None:
            spans_list = [None] * len(texts)
        if len(spans_list) != len(texts):
            raise ValueError("texts and spans_list must have the same length")
        items = [
            (text or "", list(spans) if spans else None)
            for text, spans in zip(texts, spans_list, strict=True)
        ]
        return [result for part in forked_map(self._anonymize_items, items, workers) for result in part]

    def _anonymize_items(self, items: list[tuple[str, list | None]]) -> list[AnonymizedText]:
        memo: dict[tuple, AnonymizedText] = {}
        out: list[AnonymizedText] = []
        for text, spans in items:
            key = (text, tuple(tuple(s) for s in spans) if spans else None)
            result = memo.get(key)
            if result is None:
                result = self.anonymize(text, spans)
                memo[key] = result
            out.append(AnonymizedText(result.text, dict(result.counts)))
        return out

    def residual_scan(self, anonymized_texts: Iterable[str | None], workers: int = 1) -> dict[str, int]:
        """Count recognizer hits left in already-anonymized texts, by type (placeholders are masked first);
        `workers` as for `anonymize_many`."""
        # Texts repeat (thread contexts): each distinct one is scanned once, counted as often as it occurs.
        distinct = list(Counter(t for t in anonymized_texts if t).items())
        counts: dict[str, int] = {}
        for part in forked_map(self._residual_counts, distinct, workers):
            for entity, n in part.items():
                counts[entity] = counts.get(entity, 0) + n
        return counts

    def _residual_counts(self, texts: list[tuple[str, int]]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for text, repeats in texts:
            masked = _PLACEHOLDER.sub(lambda m: " " * len(m.group(0)), text)
            for _, _, entity in resolve_overlaps(masked, self.find(masked)):
                counts[entity] = counts.get(entity, 0) + repeats
        return counts


def residual_scan(
    anonymized_texts: Iterable[str | None], anonymizer: TextAnonymizer | None = None
) -> dict[str, int]:
    """Module-level convenience for `TextAnonymizer().residual_scan(...)`."""
    return (anonymizer or TextAnonymizer()).residual_scan(anonymized_texts)


def presidio_baseline(texts: Iterable[str], entities: Sequence[str] = DEFAULT_ENTITIES) -> list[str]:
    """Plain presidio, post by post: `AnalyzerEngine.analyze` + `AnonymizerEngine.anonymize` (replace operator).

    Same recognizers, blank spaCy pipeline, presidio's own context scoring and conflict resolution. This is
    the benchmark baseline and the reference `TextAnonymizer` must agree with.
    """
    from presidio_anonymizer import AnonymizerEngine

    analyzer = build_analyzer()
    engine = AnonymizerEngine()
    wanted = list(entities)
    out: list[str] = []
    for text in texts:
        results = analyzer.analyze(text, language="en", entities=wanted)
        out.append(engine.anonymize(text=text, analyzer_results=results).text)
    return out


@functools.lru_cache(maxsize=2)
def text_anonymizer(ner: bool) -> TextAnonymizer:
    """One anonymizer per process and policy (building presidio recognizers takes a second)."""
    return TextAnonymizer(ner=ner)
