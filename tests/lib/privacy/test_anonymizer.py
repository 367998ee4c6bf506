"""Tests for the PII anonymizer: adversarial recall/precision, facet byte spans, overlaps, residual scan."""

from __future__ import annotations

import json

import pytest
from support.adversarial_cases import ALL_CASES, ALL_POSITIVE, NEGATIVE_CASES, parse_case
from support.pipeline import samples_dir

from blueprint_assets.lib.privacy.anonymizer import (
    AnonymizedText,
    TextAnonymizer,
    byte_spans_to_str,
    presidio_baseline,
    resolve_overlaps,
)
from blueprint_assets.lib.privacy.recognizers import DEFAULT_ENTITIES, installed_ner_model


@pytest.fixture(scope="module")
def anonymizer() -> TextAnonymizer:
    return TextAnonymizer()


def _metrics(anonymizer: TextAnonymizer) -> dict[str, dict[str, float]]:
    """Per-type recall (expected span fully covered by a hit of its type) and precision (hit overlaps some
    expected span of its type) over every adversarial case."""
    stats = {t: {"expected": 0, "found": 0, "predicted": 0, "correct": 0} for t in DEFAULT_ENTITIES}
    for marked in ALL_CASES:
        text, expected = parse_case(marked)
        predicted = resolve_overlaps(text, anonymizer.find(text))
        for start, end, kind in expected:
            stats[kind]["expected"] += 1
            if any(t == kind and s <= start and end <= e for s, e, t in predicted):
                stats[kind]["found"] += 1
        for start, end, kind in predicted:
            stats[kind]["predicted"] += 1
            if any(t == kind and s < end and start < e for s, e, t in expected):
                stats[kind]["correct"] += 1
    table = {}
    for kind, st in stats.items():
        table[kind] = {
            **st,
            "recall": st["found"] / st["expected"] if st["expected"] else 1.0,
            "precision": st["correct"] / st["predicted"] if st["predicted"] else 1.0,
        }
    return table


def test_adversarial_recall_and_precision(anonymizer: TextAnonymizer) -> None:
    assert len(ALL_CASES) >= 500 and len(NEGATIVE_CASES) >= 200
    table = _metrics(anonymizer)
    print(f"\nadversarial set: {len(ALL_POSITIVE)} PII cases + {len(NEGATIVE_CASES)} look-alikes")
    print(f"{'type':<14}{'expected':>9}{'found':>7}{'predicted':>10}{'recall':>8}{'precision':>10}")
    for kind, row in table.items():
        print(
            f"{kind:<14}{row['expected']:>9}{row['found']:>7}{row['predicted']:>10}"
            f"{row['recall']:>8.3f}{row['precision']:>10.3f}"
        )
    total_expected = sum(r["expected"] for r in table.values())
    total_found = sum(r["found"] for r in table.values())
    total_pred = sum(r["predicted"] for r in table.values())
    total_correct = sum(r["correct"] for r in table.values())
    print(
        f"{'ALL':<14}{total_expected:>9}{total_found:>7}{total_pred:>10}"
        f"{total_found / total_expected:>8.3f}{total_correct / total_pred:>10.3f}"
    )
    for kind, row in table.items():
        assert row["expected"] > 0, kind
        assert row["recall"] >= 0.99, (kind, row)
        assert row["precision"] >= 0.95, (kind, row)


@pytest.mark.parametrize("case", NEGATIVE_CASES, ids=lambda case: case.subtype)
def test_lookalikes_untouched(anonymizer: TextAnonymizer, case) -> None:
    assert anonymizer.anonymize(case.text).text == case.text


def test_placeholders_and_counts(anonymizer: TextAnonymizer) -> None:
    out = anonymizer.anonymize("hi @alice.bsky.social, mail bob@example.com or see example.org/x and @bob")
    assert out == AnonymizedText(
        "hi <USERNAME>, mail <EMAIL_ADDRESS> or see <URL> and <USERNAME>",
        {"USERNAME": 2, "EMAIL_ADDRESS": 1, "URL": 1},
    )


def test_overlap_rule(anonymizer: TextAnonymizer) -> None:
    did = "did:plc:abcdefghijklmnopqrstuvwx"
    assert anonymizer.anonymize(f"see https://bsky.app/profile/{did}/post/3k now").text == "see <URL> now"
    assert anonymizer.anonymize(f"at://{did}/app.bsky.feed.post/3k.").text == "<AT_URI>."
    assert anonymizer.anonymize("did:web:example.com").text == "<DID>"
    assert anonymizer.anonymize("ask bob@alice.example.com").text == "ask <EMAIL_ADDRESS>"
    # same type separated only by spaces merges (presidio's rule)
    assert anonymizer.anonymize("links: bit.ly/a t.co/b, done").text == "links: <URL>, done"
    # partial overlap of different types: both replaced, nothing of either survives
    assert resolve_overlaps("abcdefghij", [(0, 6, "DID"), (4, 10, "URL")]) == [(0, 6, "DID"), (4, 10, "URL")]
    from blueprint_assets.lib.privacy.anonymizer import apply_placeholders

    assert apply_placeholders("abcdefghijX", [(0, 6, "DID"), (4, 10, "URL")]).text == "<DID><URL>X"


def test_facet_byte_spans_with_emoji(anonymizer: TextAnonymizer) -> None:
    text = "🎉🎉 thanks @friend and café link → read more 😀"
    data = text.encode("utf-8")
    m_start = data.index(b"@friend")
    l_start = data.index(b"read more")
    spans = [(m_start, m_start + len(b"@friend"), "mention"), (l_start, l_start + len(b"read more"), "link")]
    out = anonymizer.anonymize(text, spans)
    assert out.text == "🎉🎉 thanks <USERNAME> and café link → <URL> 😀"
    assert out.counts == {"USERNAME": 1, "URL": 1}


def test_invalid_facet_spans_ignored(anonymizer: TextAnonymizer) -> None:
    text = "é hello world"  # 'é' is 2 bytes
    bad = [(1, 3, "mention"), (5, 100, "link"), (4, 4, "link"), (-1, 2, "link"), (2, 7, "tag")]
    assert byte_spans_to_str(text, bad) == []
    assert anonymizer.anonymize(text, bad).text == text
    assert byte_spans_to_str(text, [(3, 8, "mention")]) == [(2, 7, "USERNAME")]


def test_anonymize_many_matches_single(anonymizer: TextAnonymizer) -> None:
    texts = [parse_case(c)[0] for c in ALL_CASES] * 3
    single = [anonymizer.anonymize(t) for t in texts]
    assert anonymizer.anonymize_many(texts) == single
    assert anonymizer.anonymize_many(texts, workers=2) == single
    assert anonymizer.anonymize_many([None, ""]) == [AnonymizedText("", {}), AnonymizedText("", {})]
    with pytest.raises(ValueError):
        anonymizer.anonymize_many(["a"], [None, None])


def test_residual_scan(anonymizer: TextAnonymizer) -> None:
    raw = [parse_case(c)[0] for c in ALL_CASES]
    assert sum(anonymizer.residual_scan(raw).values()) >= len(ALL_POSITIVE)
    cleaned = [a.text for a in anonymizer.anonymize_many(raw)]
    assert anonymizer.residual_scan(cleaned) == {}
    assert anonymizer.residual_scan(["<URL> <EMAIL_ADDRESS><DID> <USERNAME>"]) == {}


def test_residual_scan_in_forked_workers_counts_the_same(anonymizer: TextAnonymizer) -> None:
    # Enough distinct texts that two workers really fork; repeats are counted as often as they occur.
    raw = [f"{parse_case(c)[0]} #{i}" for i, c in enumerate(ALL_CASES * (300 // len(ALL_CASES) + 1))] * 2
    assert len(set(raw)) >= 300
    alone = anonymizer.residual_scan(raw)
    assert sum(alone.values()) >= 2 * len(ALL_POSITIVE)
    assert anonymizer.residual_scan(raw, workers=2) == alone


def test_matches_presidio_baseline(anonymizer: TextAnonymizer) -> None:
    texts = [parse_case(c)[0] for c in ALL_CASES]
    assert [anonymizer.anonymize(t).text for t in texts] == presidio_baseline(texts)


def test_ner_without_model_is_a_clear_error() -> None:
    if installed_ner_model() is not None:
        pytest.skip("an NER model is installed")
    with pytest.raises(RuntimeError, match="spaCy model with NER"):
        TextAnonymizer(ner=True)


def _sample_posts() -> list[tuple[str, list[tuple[int, int, str]], list[str]]]:
    path = samples_dir() / "jetstream_examples.json"
    if not path.exists():
        pytest.skip("real samples absent")
    posts = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("$type") == "app.bsky.feed.post" and node.get("text"):
                spans, secrets = [], []
                for facet in node.get("facets") or []:
                    for feature in facet.get("features", []):
                        kind = feature.get("$type", "").rsplit("#", 1)[-1]
                        if kind in ("mention", "link"):
                            idx = facet["index"]
                            spans.append((idx["byteStart"], idx["byteEnd"], kind))
                            secrets.append(feature.get("did") or feature.get("uri"))
                posts.append((node["text"], spans, secrets))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(path.read_text()))
    return posts


def test_real_posts_lose_faceted_identifiers(anonymizer: TextAnonymizer) -> None:
    posts = _sample_posts()
    assert posts
    results = anonymizer.anonymize_many([p[0] for p in posts], [p[1] for p in posts])
    for (text, spans, _), result in zip(posts, results, strict=True):
        data = text.encode("utf-8")
        for start, end, _kind in spans:
            fragment = data[start:end].decode("utf-8", errors="ignore").strip()
            if len(fragment) > 4:
                assert fragment not in result.text
    assert anonymizer.residual_scan([r.text for r in results]) == {}


def test_gates_say_what_their_patterns_say() -> None:
    """Each cheap gate answers as its plain pattern search would: the URL gate's dot branch tried only at
    each `.`, and the number-shaped gates skipped without a digit (Unicode digits count, as `\\d` does)."""
    import random

    import regex

    from blueprint_assets.lib.privacy import anonymizer as a

    def phone(text: str) -> bool:  # the phone gate as it was, digit check included
        return a._DIGIT.search(text) is not None and any(
            len(a._DIGIT.findall(m.group())) >= a._PHONE_MIN_DIGITS for m in a._PHONE_CANDIDATE.finditer(text)
        )

    reference = {
        "URL": lambda t: regex.search("://|" + a._URL_DOT, t, a._FLAGS) is not None,
        "IP_ADDRESS": lambda t: a._IP_GATE.search(t) is not None,
        "CREDIT_CARD": lambda t: a._CARD_GATE.search(t) is not None,
        "CRYPTO": lambda t: a._CRYPTO_GATE.search(t) is not None,
        "IBAN_CODE": lambda t: a._IBAN_GATE.search(t) is not None,
        "PHONE_NUMBER": phone,
    }
    pieces = [".", ".", ":", "://", "/", "a", "E", "x", "0x", "de", "Ab", "1", "3", "12", "4111", "-", " ",
              "+", "\u0663", "\uff11", "\u00e9", "\u017f", "\u212a", "\u4e00", "\u00bd", "\n", "("]  # fmt: skip
    rng = random.Random(13)
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 14))) for _ in range(40_000)]
    texts += [".com", "a.co", "x.\u017fk", "\u4e00.de", "\u00bd.ab", "see https://x", "1.2", "fe80::1",
              "+1 (415) 555-0100", "DE89370400440532013000", "4111 1111 1111 1111", "0x" + "a" * 40,
              "de\u0663\u0663", "\uff11\uff11\uff11\uff11 \uff11\uff11\uff11"]  # fmt: skip
    for text in texts:
        clues = a._clues(text)
        for entity, expected in reference.items():
            assert a._gate(entity, text, *clues) == expected(text), (entity, text)
