"""The `blueprint` command line: pass-through subcommands and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from blueprint_assets.cli import main


def test_score_options_reach_the_scorer(tmp_path: Path, capsys) -> None:
    answers = tmp_path / "answers.jsonl"
    answers.write_text('{"id": "t1", "cluster_id": 0, "action": "like", "actions": {}, "text": null}\n')
    code = main(["score", "--answers", str(answers), "--predictions", str(tmp_path / "missing.jsonl")])
    assert code == 2
    assert "missing.jsonl" in capsys.readouterr().err


def test_run_rejects_a_reversed_range(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="before"):
        main(["run", "--from", "2025-03-03", "--to", "2025-03-01", "--data-dir", str(tmp_path)])


def test_forget_needs_a_did(tmp_path: Path, capsys) -> None:
    assert main(["forget", "--data-dir", str(tmp_path)]) == 2
    assert "--did" in capsys.readouterr().err
