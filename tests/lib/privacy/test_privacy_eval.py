"""`blueprint anonymize` and `blueprint privacy-eval` on real presidio recognizers and the shipped set."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from blueprint_assets.cli import main
from blueprint_assets.lib.privacy.evaluate import SHIPPED_SET, load_labelled_set, parse_labelled


def test_privacy_eval_on_the_shipped_set_meets_the_goals(capsys) -> None:
    assert main(["privacy-eval", "--set", str(SHIPPED_SET), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["cases"] >= 500 and report["negatives"] >= 200
    rows = {row["type"]: row for row in report["types"]}
    expected = {"EMAIL_ADDRESS", "PHONE_NUMBER", "URL", "IP_ADDRESS", "CREDIT_CARD", "CRYPTO", "IBAN_CODE",
                "USERNAME", "DID", "AT_URI"}  # fmt: skip
    assert expected <= set(rows)
    for kind in expected:
        assert rows[kind]["recall"] >= 0.99, (kind, rows[kind])
        assert rows[kind]["precision"] >= 0.95, (kind, rows[kind])
    assert report["over_redaction"] <= 0.01


def test_shipped_set_covers_every_subtype_of_issue_17() -> None:
    subtypes = {case.subtype for case in load_labelled_set()}
    for wanted in ("crypto/eth", "did/key", "email/obfuscated-words", "email/obfuscated-brackets",
                   "username/twitter", "username/bluesky-case", "username/bluesky-punct", "phone/intl",
                   "url/idn", "ip/v6", "filename", "version", "isbn", "dotcom"):  # fmt: skip
        assert wanted in subtypes, wanted


def test_privacy_eval_text_table(capsys, tmp_path: Path) -> None:
    labelled = tmp_path / "set.jsonl"
    labelled.write_text(
        json.dumps({"text": "mail bob@example.com now", "pii": ["bob@example.com"], "type": "EMAIL_ADDRESS"})
        + "\n"
        + json.dumps({"text": "edit main.py then run", "pii": [], "type": "NONE"})
        + "\n"
    )
    assert main(["privacy-eval", "--set", str(labelled)]) == 0
    out = capsys.readouterr().out
    assert "EMAIL_ADDRESS" in out and "1.000" in out and "over-redaction: 0.00%" in out


def test_anonymize_reads_stdin_keeps_fields_and_reports_offsets(capsys, monkeypatch) -> None:
    text = "RT @jack: mail john dot doe at gmail dot com, wallet 0x52908400098527886E0F7030069857D2E4169EE7"
    lines = [json.dumps({"id": 7, "text": text, "lang": "en"}), json.dumps({"id": 8, "text": "edit main.py"})]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    assert main(["anonymize", "--in", "-"]) == 0
    first, second = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert first["id"] == 7 and first["lang"] == "en"
    assert first["text"] == "RT <USERNAME>: mail <EMAIL_ADDRESS>, wallet <CRYPTO>"
    found = {(e["type"], text[e["start"] : e["end"]]) for e in first["entities"]}
    assert found == {
        ("USERNAME", "@jack"),
        ("EMAIL_ADDRESS", "john dot doe at gmail dot com"),
        ("CRYPTO", "0x52908400098527886E0F7030069857D2E4169EE7"),
    }
    assert second == {"id": 8, "text": "edit main.py", "entities": []}


def test_anonymize_file_to_file_and_bad_line(tmp_path: Path, capsys) -> None:
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text(json.dumps({"text": "call +44 20 7946 0958"}) + "\n")
    assert main(["anonymize", "--in", str(source), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["text"] == "call <PHONE_NUMBER>"
    source.write_text("{not json\n")
    assert main(["anonymize", "--in", str(source), "--out", str(out)]) == 2
    assert "line 1: not valid JSON" in capsys.readouterr().err


def test_labelled_line_with_a_missing_substring_is_an_error() -> None:
    with pytest.raises(ValueError, match="not in 'text'"):
        parse_labelled({"text": "hello", "pii": ["bob@example.com"], "type": "EMAIL_ADDRESS"}, "case 1")
