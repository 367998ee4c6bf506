"""`blueprint publish`: the dry-run lists exactly public/, and every unsafe release is refused (no network)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from support.release_inputs import CONTEXT, two_granularities

from blueprint_assets.cli import main
from blueprint_assets.lib.release.audit.report import render_audit_report
from blueprint_assets.lib.release.files import refresh_manifest, write_release

REAL = {**CONTEXT, "contact": "privacy@example.org", "gated": True}


def build(data_dir: Path, context: dict | None = None, verdict_pass: bool = True) -> Path:
    release = data_dir / "releases" / "2025-03"
    write_release(release, two_granularities(), card_context=context or REAL)
    scans = [
        {"table": "dataset_release", "check": check, "passed": verdict_pass, "details": "test"}
        for check in ("residual_scan", "leak_scan")
    ]
    stats = {
        "pii_by_type_and_day": {"2025-03-01": {"URL": 1}}, "scans": scans, "ner_policy": "NER off",
        "cluster_sizes": {"0": 12, "1": 11}, "min_cluster_size": 10, "pseudonym_mode": "per-thread",
        "time_coarsening": "relative integer rank",
    }  # fmt: skip
    render_audit_report(stats, release / "privacy_audit")
    return release


@pytest.fixture(autouse=True)
def no_hub(monkeypatch):
    """Any attempt to reach the Hub fails the test."""
    import huggingface_hub

    def refuse(*_a, **_k):
        raise AssertionError("the Hub must not be contacted in tests")

    monkeypatch.setattr(huggingface_hub, "HfApi", refuse)


def publish(data_dir: Path, *extra: str) -> int:
    return main(
        [
            "publish",
            "--window",
            "2025-03",
            "--repo",
            "someone/blueprint-test",
            "--data-dir",
            str(data_dir),
            *extra,
        ]
    )


def test_dry_run_lists_exactly_the_public_files_with_sizes_and_hashes(tmp_path: Path, capsys) -> None:
    release = build(tmp_path)
    assert publish(tmp_path, "--dry-run") == 0
    out = capsys.readouterr().out
    listed = [line.split() for line in out.splitlines() if line.startswith("  ")]
    public = release / "public"
    expected = sorted(p.relative_to(public).as_posix() for p in public.rglob("*") if p.is_file())
    assert sorted(path for _, _, path in listed) == expected
    for sha, size, path in listed:
        data = (public / path).read_bytes()
        assert int(size) == len(data) and sha == hashlib.sha256(data).hexdigest()
    assert not [p for _, _, p in listed if "answers" in p or p.startswith("private")]
    assert "dry run: nothing uploaded" in out and "someone/blueprint-test (public repo)" in out


def refused(tmp_path: Path, capsys) -> str:
    assert publish(tmp_path, "--dry-run") == 1
    err = capsys.readouterr().err
    assert "not published" in err
    return err


def test_refuses_a_release_whose_manifest_check_fails(tmp_path: Path, capsys) -> None:
    release = build(tmp_path)
    target = release / "public" / "2_clusters" / "data" / "train.parquet"
    target.write_bytes(target.read_bytes() + b"x")
    assert "refused: manifest: changed: public/2_clusters/data/train.parquet" in refused(tmp_path, capsys)


def test_refuses_when_a_privacy_check_failed(tmp_path: Path, capsys) -> None:
    build(tmp_path, verdict_pass=False)
    assert "refused: checks: the privacy audit's verdict is not PASS" in refused(tmp_path, capsys)
    release = build(tmp_path)
    for path in (release / "privacy_audit").iterdir():
        path.unlink()  # what a failed blocking check leaves: the audit never ran
    assert "refused: checks: no privacy audit" in refused(tmp_path, capsys)


def test_refuses_an_answer_in_public(tmp_path: Path, capsys) -> None:
    release = build(tmp_path)
    answers = (release / "private" / "2_clusters" / "answers" / "test.jsonl").read_text().splitlines()
    text = next(json.loads(a)["text"] for a in answers if (json.loads(a)["text"] or "").__len__() >= 16)
    (release / "public" / "notes.md").write_text(f"spoiler: {text}\n")
    refresh_manifest(release / "public")  # even with a consistent manifest
    assert "refused: answers: notes.md: holds the text of" in refused(tmp_path, capsys)


def test_refuses_a_synthetic_sample_release(tmp_path: Path, capsys) -> None:
    build(tmp_path, {**REAL, "synthetic_sample": True})
    assert "refused: synthetic: this release was built from the synthetic sample" in refused(tmp_path, capsys)


def test_refuses_anything_from_private(tmp_path: Path, capsys) -> None:
    release = build(tmp_path)
    private_file = release / "private" / "2_clusters" / "answers" / "validation.parquet"
    os.symlink(private_file, release / "public" / "extra.parquet")
    (release / "public" / "copy.bin").write_bytes(private_file.read_bytes())
    refresh_manifest(release / "public")
    err = refused(tmp_path, capsys)
    assert "refused: private: extra.parquet resolves outside public/ (into private/)" in err
    assert "refused: private: copy.bin is a copy of a private file" in err


def test_refuses_a_card_without_contact_or_citation(tmp_path: Path, capsys) -> None:
    release = build(tmp_path, {**CONTEXT})
    assert "refused: card: contact: no contact configured" in refused(tmp_path, capsys)
    release = build(tmp_path)
    card = release / "public" / "README.md"
    card.write_text(card.read_text().split("## Citation")[0].replace("license: cc-by-4.0\n", ""))
    refresh_manifest(release / "public")
    err = refused(tmp_path, capsys)
    assert "refused: card: license: the card's YAML header has no `license`" in err
    assert "refused: card: citation: the card has no BibTeX citation block" in err


def test_publish_needs_a_built_release_and_a_valid_repo(tmp_path: Path, capsys) -> None:
    assert publish(tmp_path, "--dry-run") == 1
    assert "build it with `blueprint release --months 2025-03`" in capsys.readouterr().err
    assert main(["publish", "--window", "2025-03", "--repo", "no-slash", "--data-dir", str(tmp_path)]) == 2
