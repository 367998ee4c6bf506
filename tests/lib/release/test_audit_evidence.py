"""Audit evidence: shapes hide values, second opinion, seeded samples, verbatim re-identification risk."""

from __future__ import annotations

from pathlib import Path

import pytest

from blueprint_assets.lib.privacy.anonymizer import TextAnonymizer
from blueprint_assets.lib.release.audit.evidence import (
    evidence_sections,
    findable_keys,
    reid_risk,
    replacement_sample,
    second_opinion_scan,
    value_shape,
)
from blueprint_assets.lib.release.audit.report import scan_for_identifiers

LONG = "the quick brown fox jumps over the lazy dog near the river bank"


@pytest.fixture(scope="module")
def anonymizer() -> TextAnonymizer:
    return TextAnonymizer()


def test_shapes_keep_structure_and_never_look_like_identifiers() -> None:
    assert value_shape("john.doe@gmail.com") == "▪.▪@▪.▪"
    assert value_shape("+1 415-555-0132") == "+# ###-###-####"
    for value in (
        "https://example.com/a",
        "@alice.bsky.social",
        "did:plc:abcdefghijklmnopqrstuvwx",
        "a@b.co",
    ):
        assert scan_for_identifiers(value) and not scan_for_identifiers(value_shape(value))


def test_second_opinion_reports_shapes_not_values() -> None:
    found = second_opinion_scan(["see <URL> and main.py, ring 415 555 0132", "hi @bob", "nothing"])
    assert found["generic phone shape"]["count"] == 1
    assert found["generic handle shape"]["shapes"] == {"@▪": 1}
    text = repr(found)
    assert "415" not in text and "bob" not in text and "main" not in text


def test_replacement_sample_is_seeded_and_masks_values(anonymizer: TextAnonymizer) -> None:
    rows = [(f"post {i} mail user{i}@example.com", None) for i in range(30)] + [("no pii here", None)]
    first = replacement_sample(rows, anonymizer, seed=3, n=5)
    assert first == replacement_sample(rows, anonymizer, seed=3, n=5)
    assert first != replacement_sample(rows, anonymizer, seed=4, n=5)
    assert len(first) == 5
    for pair in first:
        assert "@example.com" not in pair["before"] and "[EMAIL_ADDRESS ▪#" in pair["before"]
        assert pair["after"].endswith("<EMAIL_ADDRESS>")


def test_findable_texts_are_long_and_unique() -> None:
    posts = [LONG, "short one", "gm gm", "gm gm", LONG + " again", LONG + " again"]
    assert findable_keys(posts) == {LONG}
    risk = reid_risk({"0": [LONG, "short one"], "1": ["gm gm"]}, posts)
    assert risk == [
        {"cluster": "0", "texts": 2, "findable": 1, "share": 0.5},
        {"cluster": "1", "texts": 1, "findable": 0, "share": 0.0},
    ]


def test_evidence_sections_render(tmp_path: Path, anonymizer: TextAnonymizer) -> None:
    from blueprint_assets.lib.release.audit.evidence import anonymizer_quality

    stats = {
        "anonymizer_quality": anonymizer_quality(anonymizer),
        "second_opinion": second_opinion_scan(["ring 415 555 0132"]),
        "replacement_sample": replacement_sample([("mail a@example.com", None)], anonymizer, seed=1),
        "sample_seed": 1,
        "reid_risk": reid_risk({"0": [LONG]}, [LONG]),
        "quote_min_cluster_size": 50,
    }
    titles = [s["text"] for s in evidence_sections(stats) if s["kind"] == "h2"]
    assert titles == [
        "Anonymizer quality on the labelled set",
        "Second-opinion residual scan",
        "Random before/after sample",
        "Verbatim re-identification risk",
    ]
    quality = next(s for s in evidence_sections(stats) if s.get("header", ("",))[0] == "entity type")
    assert all(float(row[1]) >= 0.99 for row in quality["rows"] if row[1] != "n/a")
