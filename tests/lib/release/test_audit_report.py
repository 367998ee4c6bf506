"""Privacy-audit report renderer: content, refusal of raw identifiers, leak-free output, determinism."""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.pipeline import samples_dir

from blueprint_assets.lib.release.answer_leaks import nested_strings
from blueprint_assets.lib.release.audit.report import (
    CLUSTER_CHART_NAME,
    DEFAULT_RESIDUAL_RISKS,
    HTML_NAME,
    MARKDOWN_NAME,
    PII_CHART_NAME,
    png_text,
    render_audit_report,
    scan_file_for_identifiers,
    scan_for_identifiers,
)

SECTIONS = (
    "Summary",
    "PII removed",
    "Residual and leak scans",
    "NER policy",
    "Pseudonyms",
    "Time coarsening",
    "Cluster sizes",
    "Opt-outs",
    "Examples",
    "Residual risks",
)
SAMPLES = samples_dir()


def make_stats() -> dict[str, Any]:
    tables = ("anonymized_posts", "action_threads", "release_train")
    return {
        "release": "2025-03",
        "pii_by_type_and_day": {
            "2025-03-01": {"URL": 40, "USERNAME": 25, "EMAIL_ADDRESS": 3},
            "2025-03-02": {"URL": 31, "DID": 2, "PHONE_NUMBER": 1},
            "2025-03-03": {},
        },
        "scans": [
            {"table": t, "check": c, "passed": True, "details": f"0 hits in {t}"}
            for t in tables
            for c in ("residual_scan", "leak_scan")
        ],
        "ner_policy": "spaCy PERSON and LOCATION replaced with placeholders",
        "cluster_sizes": {"0": 14, "1": 22, "2": 12, "10": 31},
        "min_cluster_size": 10,
        "opt_outs": {"count": 2, "pseudonyms": ["ab" * 32, "cd" * 32]},
        "pseudonym_mode": "per-thread",
        "time_coarsening": "relative integer rank; clock time removed",
        "examples": [
            {
                "before_placeholders": ["EMAIL_ADDRESS"],
                "after": "contact me at <EMAIL_ADDRESS> for the slides",
            },
            {"before_placeholders": ["USERNAME", "URL"], "after": "thanks <USERNAME>, notes at <URL>"},
        ],
    }


def test_markdown_and_html_contain_every_section(tmp_path: Path) -> None:
    report = render_audit_report(make_stats(), tmp_path)
    md = (tmp_path / MARKDOWN_NAME).read_text(encoding="utf-8")
    page = (tmp_path / HTML_NAME).read_text(encoding="utf-8")
    assert report.markdown == md
    assert report.files == [
        tmp_path / n for n in (MARKDOWN_NAME, HTML_NAME, PII_CHART_NAME, CLUSTER_CHART_NAME)
    ]
    for section in SECTIONS:
        assert f"\n## {section}\n" in md, section
        assert f"<h2>{section}</h2>" in page, section
    assert md.startswith("# Privacy audit report: release 2025-03\n")
    assert "Verdict: PASS." in md and "Verdict: PASS." in page
    # Figures: totals by type (sorted by count), per-day rows, cluster rows, opt-out count.
    assert "| URL | 71 |" in md and "| USERNAME | 25 |" in md
    assert "| 2025-03-02 | 2 | 0 | 1 | 31 | 0 | 34 |" in md
    assert "| 2025-03-03 | 0 | 0 | 0 | 0 | 0 | 0 |" in md
    assert "| 10 | 31 | yes |" in md
    assert "Requests honoured: 2." in md
    assert "spaCy PERSON and LOCATION replaced" in md and "relative integer rank; clock time removed" in md
    # Examples: placeholders escaped in Markdown (else renderers eat `<URL>` as a tag), before side as [TYPE].
    assert "contact me at \\[EMAIL_ADDRESS\\] for the slides | contact me at \\<EMAIL_ADDRESS\\>" in md
    assert "thanks &lt;USERNAME&gt;, notes at &lt;URL&gt;" in page
    assert f"![PII removed by entity type and day (stacked bars)]({PII_CHART_NAME})" in md
    for risk in DEFAULT_RESIDUAL_RISKS:  # defaults used when stats has none
        assert risk in md


def test_html_is_self_contained_with_the_written_charts(tmp_path: Path) -> None:
    render_audit_report(make_stats(), tmp_path)
    page = (tmp_path / HTML_NAME).read_text(encoding="utf-8")
    embedded = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert [base64.b64decode(e) for e in embedded] == [
        (tmp_path / PII_CHART_NAME).read_bytes(),
        (tmp_path / CLUSTER_CHART_NAME).read_bytes(),
    ]
    assert not re.search(r'(src|href)="(?!data:)', page)


def test_pngs_carry_no_metadata_text(tmp_path: Path) -> None:
    render_audit_report(make_stats(), tmp_path)
    for name in (PII_CHART_NAME, CLUSTER_CHART_NAME):
        data = (tmp_path / name).read_bytes()
        assert data.startswith(b"\x89PNG")
        assert "atplotlib" not in png_text(data)


def test_written_files_hold_no_identifier_patterns(tmp_path: Path) -> None:
    report = render_audit_report(make_stats(), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in report.files)  # no temp left
    for path in report.files:
        assert scan_file_for_identifiers(path) == [], path.name


def test_rendering_twice_gives_identical_files(tmp_path: Path) -> None:
    first = render_audit_report(make_stats(), tmp_path / "a")
    second = render_audit_report(make_stats(), tmp_path / "b")
    again = render_audit_report(make_stats(), tmp_path / "a")
    for p1, p2, p3 in zip(first.files, second.files, again.files, strict=True):
        assert p1.read_bytes() == p2.read_bytes() == p3.read_bytes(), p1.name


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("author did:plc:7g2w5jfhqbsk46upexfs7fgr", ["did"]),
        ("DID:WEB:example.org", ["did"]),
        ("at://did:plc:abc/app.bsky.feed.post/3l", ["at_uri", "did"]),
        ("see https://example.org/x", ["url"]),
        ("see www.example.org", ["url"]),
        ("mail jane.doe+x@mail.example.co.uk", ["email"]),
        ("ping @alice.bsky.social now", ["handle"]),
        ("ping @jane.example.com", ["handle"]),
        ("alice.bsky.social wrote", ["handle"]),
        ("contact me at <EMAIL_ADDRESS> or <URL>, e.g. <USERNAME>", []),
        ("2025-03-01 privacy_audit.md day=2025-03-01 " + "ab" * 32, []),
        ("great @ the meetup; a@b; email at example dot com", []),
    ],
)
def test_scan_for_identifiers_kinds(text: str, kinds: list[str]) -> None:
    assert scan_for_identifiers(text) == kinds


def _set_path(stats: dict[str, Any], where: str, value: str) -> None:
    if where == "ner_policy":
        stats["ner_policy"] = f"NER off; reviewed by {value}"
    elif where == "scan_details":
        stats["scans"][1]["details"] = f"hit: {value}"
    elif where == "scan_table":
        stats["scans"][0]["table"] = value
    elif where == "cluster_key":
        stats["cluster_sizes"][value] = 15
    elif where == "day_key":
        stats["pii_by_type_and_day"][value] = {"URL": 1}
    elif where == "example_after":
        stats["examples"][0]["after"] = f"contact me at {value}"
    elif where == "opt_out":
        stats["opt_outs"]["pseudonyms"].append(value)
    elif where == "risk":
        stats["residual_risks"] = ["writing style", value]
    elif where == "time":
        stats["time_coarsening"] = value
    elif where == "extra_key":
        stats["notes"] = {value: "x"}
    else:
        raise AssertionError(where)


PLACES = (
    "ner_policy",
    "scan_details",
    "scan_table",
    "cluster_key",
    "day_key",
    "example_after",
    "opt_out",
    "risk",
    "time",
    "extra_key",
)


@pytest.mark.parametrize("where", PLACES)
@pytest.mark.parametrize(
    "planted",
    [
        "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
        "did:web:jane.example.com",
        "jane.doe@example.com",
        "https://example.com/p/1",
        "www.example.com",
        "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3k",
        "@jane.example.com",
    ],
)
def test_planted_identifier_is_refused_without_echo(tmp_path: Path, where: str, planted: str) -> None:
    stats = make_stats()
    _set_path(stats, where, planted)
    out = tmp_path / "out"
    with pytest.raises(ValueError) as err:
        render_audit_report(stats, out)
    message = str(err.value)
    assert "raw identifier" in message
    assert planted not in message and scan_for_identifiers(message) == []
    assert not out.exists()  # refused before anything is written


def test_refusal_names_the_field(tmp_path: Path) -> None:
    stats = make_stats()
    _set_path(stats, "scan_details", "did:plc:ewvi7nxzyoun6zhxrhs64oiz")
    with pytest.raises(ValueError, match=r"^stats\[scans\]\[1\]\[details\] looks like a raw identifier"):
        render_audit_report(stats, tmp_path)
    stats = make_stats()
    _set_path(stats, "cluster_key", "did:plc:ewvi7nxzyoun6zhxrhs64oiz")
    with pytest.raises(ValueError, match=r"^stats\[cluster_sizes\]\[#4\] \(key\) looks like"):
        render_audit_report(stats, tmp_path)


def test_before_side_must_be_entity_types(tmp_path: Path) -> None:
    stats = make_stats()
    stats["examples"][0]["before_placeholders"] = "contact me at my work address"  # raw text, not types
    with pytest.raises(ValueError, match=r"examples\[0\]\.before_placeholders"):
        render_audit_report(stats, tmp_path)
    stats["examples"][0]["before_placeholders"] = ["EMAIL_ADDRESS", "my name is jane"]
    with pytest.raises(ValueError, match=r"examples\[0\]\.before_placeholders"):
        render_audit_report(stats, tmp_path)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda s: s["cluster_sizes"].update({"3": 9}), "| 3 | 9 | NO |"),
        (lambda s: s["scans"].pop(), "Missing required scans (fail): release_train leak_scan."),
        (lambda s: s["scans"][0].update(passed=False), "| anonymized_posts | residual_scan | FAIL |"),
    ],
)
def test_verdict_fails_with_the_reason_shown(tmp_path: Path, mutate: Any, reason: str) -> None:
    stats = make_stats()
    mutate(stats)
    report = render_audit_report(stats, tmp_path)
    assert "Verdict: FAIL." in report.markdown
    assert reason in report.markdown


def test_malformed_fields_are_rejected(tmp_path: Path) -> None:
    for field, value in (
        ("pseudonym_mode", "rotating"),
        ("min_cluster_size", -1),
        ("cluster_sizes", {"0": "many"}),
        ("pii_by_type_and_day", {"2025-03-01": {"url": 1}}),
    ):
        stats = make_stats()
        stats[field] = value
        with pytest.raises(ValueError, match=field):
            render_audit_report(stats, tmp_path)
    stats = make_stats()
    del stats["scans"]
    with pytest.raises(ValueError, match="scans is required"):
        render_audit_report(stats, tmp_path)


def test_empty_release_renders(tmp_path: Path) -> None:
    stats = make_stats() | {"pii_by_type_and_day": {}, "cluster_sizes": {}, "examples": [], "opt_outs": None}
    report = render_audit_report(stats, tmp_path)
    assert "PII spans removed: 0 over 0 day(s)" in report.markdown
    assert "No examples supplied." in report.markdown
    assert all(p.stat().st_size > 0 for p in report.files)


def test_many_clusters(tmp_path: Path) -> None:
    stats = make_stats() | {"cluster_sizes": {str(i): 10 + i % 7 for i in range(1000)}}
    report = render_audit_report(stats, tmp_path)
    assert "Persona clusters: 1000; smallest has 10 users" in report.markdown
    assert report.markdown.index("| 2 | 12 | yes |") < report.markdown.index("| 10 | 13 | yes |")


# ------------------------------------------------------------------------- real identifiers from samples


def _events(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if {"did", "time_us", "kind"} <= node.keys():
            yield node
        else:
            for value in node.values():
                yield from _events(value)
    elif isinstance(node, list):
        for value in node:
            yield from _events(value)


@pytest.fixture(scope="module")
def real_identifiers() -> dict[str, list[str]]:
    path = SAMPLES / "jetstream_examples.json"
    if not path.exists():
        pytest.skip("real samples not available (set BLUEPRINT_SAMPLES)")
    events = list(_events(json.loads(path.read_text(encoding="utf-8"))))
    strings = [s for e in events for s in nested_strings(e)]
    found = {
        "did": sorted({e["did"] for e in events}),
        "at_uri": sorted({s for s in strings if s.startswith("at://")}),
        "url": sorted({s for s in strings if s.startswith(("http://", "https://"))}),
        "handle": sorted(
            {"@" + e["identity"]["handle"] for e in events if e.get("identity", {}).get("handle")}
        ),
    }
    assert len(found["did"]) > 100 and found["at_uri"] and found["url"] and found["handle"]
    return found


def test_scanner_catches_every_real_identifier(real_identifiers: dict[str, list[str]]) -> None:
    for kind, values in real_identifiers.items():
        missed = [i for i, v in enumerate(values) if kind not in scan_for_identifiers(f"text {v} text")]
        assert missed == [], f"{kind}: {len(missed)} of {len(values)} missed"  # indexes only, no values


def test_real_identifiers_planted_anywhere_are_refused(
    tmp_path: Path, real_identifiers: dict[str, list[str]]
) -> None:
    base = make_stats()
    for kind, values in real_identifiers.items():
        for where, value in zip(PLACES, values, strict=False):
            stats = copy.deepcopy(base)
            _set_path(stats, where, value)
            with pytest.raises(ValueError) as err:
                render_audit_report(stats, tmp_path / "out")
            assert value not in str(err.value), kind
    assert not (tmp_path / "out").exists()


def test_damaged_inputs_are_counted_in_the_summary(tmp_path: Path) -> None:
    stats = make_stats()
    stats["input_damage"] = {"quarantined_lines": 17, "corrupt_files": 2}
    markdown = render_audit_report(stats, tmp_path).markdown
    assert "Input lines quarantined: 17; damaged input files" in markdown
    assert "unreadable): 2, their readable lines kept" in markdown
    stats["input_damage"] = {"quarantined_lines": 1, "corrupt_files": -1}
    with pytest.raises(ValueError, match="input_damage.corrupt_files"):
        render_audit_report(stats, tmp_path / "bad")
