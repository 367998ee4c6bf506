"""The `blueprint` command line: exit codes, one-line errors, validation, pass-through subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from blueprint_assets.cli import main


@pytest.fixture
def isolated_env(monkeypatch, tmp_path: Path) -> Path:
    """The CLI sets DAGSTER_HOME and BLUEPRINT_DATA_DIR; restore them after the test."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "unused_home"))
    monkeypatch.setenv("BLUEPRINT_DATA_DIR", str(tmp_path / "unused_data"))
    return tmp_path


def error_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_score_options_reach_the_scorer(tmp_path: Path, capsys) -> None:
    answers = tmp_path / "answers.jsonl"
    answers.write_text('{"id": "t1", "cluster_id": 0, "action": "like", "actions": {}, "text": null}\n')
    code = main(["score", "--answers", str(answers), "--predictions", str(tmp_path / "missing.jsonl")])
    assert code == 2
    assert "missing.jsonl" in capsys.readouterr().err


def test_unknown_source_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    code = main(["run", "--source", "bogus", "--from", "2025-03-01", "--data-dir", str(tmp_path / "d")])
    lines = error_lines(capsys)
    assert code == 2
    assert len(lines) == 1
    assert "bogus" in lines[0] and "jetstream-archive" in lines[0]
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", "--from", "2025-02-30"], "2025-02-30"),
        (["run", "--from", "2025-03-03", "--to", "2025-03-01"], "before"),
        (["run", "--from", "2025-03-01", "--select", "raw_events,nope"], "nope"),
        (["release", "--months", "2025-13"], "2025-13"),
        (["release", "--months", "2025-05..2025-03"], "2025-05..2025-03"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(tmp_path: Path, capsys, argv: list[str], needle: str) -> None:
    code = main([*argv, "--data-dir", str(tmp_path / "d")] if argv[0] != "frobnicate" else argv)
    lines = error_lines(capsys)
    assert code == 2
    assert len(lines) == 1 and needle in lines[0]
    assert "Traceback" not in lines[0]
    assert not (tmp_path / "d").exists()


def test_summary_on_a_missing_folder_exits_1_and_creates_nothing(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "nowhere"
    assert main(["summary", "--from", "2025-03-01", "--data-dir", str(missing)]) == 1
    lines = error_lines(capsys)
    assert len(lines) == 1 and "no data folder" in lines[0]
    assert not missing.exists()


def test_version_and_help(capsys) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("blueprint ")
    assert main(["run", "--help"]) == 0
    text = capsys.readouterr().out
    for option in (
        "--from",
        "--source",
        "--select",
        "--idle-timeout",
        "--max-retries",
        "--backoff",
        "--verbose",
    ):
        assert option in text


def test_every_subcommand_and_option_has_help() -> None:
    from blueprint_assets.cli import build_parser

    def check(parser, prefix: str) -> None:
        for action in parser._actions:
            if not isinstance(action, argparse._SubParsersAction):
                assert action.help, f"{prefix} {action.option_strings or action.dest}"
                continue
            for name, command in action.choices.items():  # subcommands, e.g. `baseline leaderboard`
                assert command.description, f"{prefix} {name}"
                check(command, f"{prefix} {name}")

    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    assert {"score", "baseline"} <= set(commands.choices)
    check(parser, "blueprint")


def test_forget_needs_a_did(tmp_path: Path, capsys) -> None:
    assert main(["forget", "--data-dir", str(tmp_path)]) == 2
    assert "--did" in capsys.readouterr().err


@pytest.mark.pipeline
def test_release_on_too_few_users_exits_1_with_the_cause(isolated_env: Path, capsys) -> None:
    data = isolated_env / "data"
    assert main(["sample", "--out", str(data / "sample"), "--days", "1", "--users", "12"]) == 0
    assert (
        main(["run", "--source-dir", str(data / "sample"), "--from", "2025-03-01", "--data-dir", str(data)])
        == 0
    )
    capsys.readouterr()
    # `2025-03..2025-03` is the same release as `2025-03`: one folder name in every message.
    code = main(["release", "--months", "2025-03..2025-03", "--data-dir", str(data)])
    captured = capsys.readouterr()
    last = captured.err.strip().splitlines()[-1]
    assert code == 1
    assert last.startswith("blueprint: error: release 2025-03 not built: persona_clusters failed: ")
    assert "in-scope users, need 10 per cluster: lower BLUEPRINT_MIN_CLUSTER_SIZE or widen the window" in last
    assert "Traceback" not in captured.err and "DEBUG" not in captured.err
    assert "2025-03..2025-03" not in captured.err + captured.out
    # One line per step: the failed step, and no Dagster engine chatter.
    assert "  FAILED   persona_clusters" in captured.err
    assert "STEP_" not in captured.err


def test_summary_counts_what_the_lake_holds_for_the_days(tmp_path: Path, capsys) -> None:
    import pyarrow as pa

    from blueprint_assets.lib.storage.lake import Lake, write_table_atomic

    lake = Lake(str(tmp_path))
    for day, events, actions in (
        ("2025-03-01", 3, ["like", "post", "like"]),
        ("2025-03-02", 2, ["follow", "post"]),
        ("2025-03-05", 7, ["block"]),  # outside the range asked for
    ):
        write_table_atomic(pa.table({"time_us": list(range(events))}), lake.day_file("raw_events", day))
        write_table_atomic(pa.table({"action": actions}), lake.day_file("actions", day))
    quarantine = pa.table(
        {
            "source_file": ["a.gz", "a.gz", "b.gz", "c.gz"],
            "reason": ["bad json", "truncated gzip after line 9", "corrupt gzip after line 0", "bad json"],
        }
    )
    write_table_atomic(quarantine, lake.day_file("raw_events_quarantine", "2025-03-02"))
    audit = tmp_path / "releases" / "2025-03" / "privacy_audit" / "privacy_audit.md"
    audit.parent.mkdir(parents=True)
    audit.write_text("# audit\n")

    assert main(["summary", "--from", "2025-03-01", "--to", "2025-03-03", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert (
        "events kept:       5\n" in out
        and "quarantined lines: 4\n" in out
        and "corrupt files:     2\n" in out
    )
    assert "like" in out and "block" not in out and "WARNING" not in out
    rows = [line.split() for line in out.splitlines() if line.startswith("    ")]
    assert rows == [["like", "2"], ["post", "2"], ["follow", "1"]]  # most rows first, ties by name
    assert f"privacy audit:     {audit}" in out and "leaderboard:" not in out

    assert main(["summary", "--from", "2025-04-01", "--data-dir", str(tmp_path)]) == 0
    assert (
        "events kept:       0\n" in (quiet := capsys.readouterr().out)
        and "WARNING: no line was read" in quiet
    )


def test_prepare_encoder_builds_only_the_static_model(monkeypatch, tmp_path: Path, capsys) -> None:
    import os

    from blueprint_assets.lib.personas.static_encoder import model_folder

    cache = os.environ["BLUEPRINT_MODEL_CACHE"]  # conftest: the session's built model
    assert main(["prepare-encoder", "--data-dir", str(tmp_path / "data")]) == 0
    assert capsys.readouterr().out == f"static encoder: {model_folder(cache)}\n"
    assert (model_folder(cache) / "model.safetensors").is_file() and not (tmp_path / "data").exists()
    monkeypatch.setenv("BLUEPRINT_ENCODER", "minilm")
    assert main(["prepare-encoder"]) == 0
    assert "encoder minilm: not the static model, nothing to build" in capsys.readouterr().out


def test_the_module_runs_as_the_command(tmp_path: Path) -> None:
    """`python -m blueprint_assets.cli` is the `blueprint` command (a bench runs it so), not a silent no-op."""
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "blueprint_assets.cli", "--help"], capture_output=True, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )  # fmt: skip
    assert done.returncode == 0
    assert "usage: blueprint" in done.stdout


def test_release_out_refuses_a_folder_it_would_wipe_before_building(tmp_path: Path, capsys) -> None:
    keep = tmp_path / "home"
    (keep / "public").mkdir(parents=True)
    (keep / "notes.txt").write_text("mine")
    data = str(tmp_path / "data")
    assert main(["release", "--months", "2025-03", "--data-dir", data, "--out", str(keep)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "'notes.txt', which no release has" in err and "give an empty or new folder" in err
    assert (keep / "notes.txt").read_text() == "mine"
    assert not (tmp_path / "data" / "dagster_home").exists()  # refused before any run was started
    assert main(["release", "--months", "2025-03", "--data-dir", data, "--out", str(keep / "notes.txt")]) == 2
    assert "is a file" in capsys.readouterr().err


def test_release_out_replaces_an_earlier_copy(tmp_path: Path, monkeypatch, capsys) -> None:
    from blueprint_assets import cli_runs
    from blueprint_assets.defs.resources import LakeResource

    built = tmp_path / "built"
    for folder, name in (("public", "README.md"), ("private", "MANIFEST.json"), ("privacy_audit", "a.md")):
        (built / folder).mkdir(parents=True)
        (built / folder / name).write_text(folder)
    monkeypatch.setattr(
        cli_runs, "run_job", lambda *args, **kwargs: None
    )  # the build itself is not tested here
    monkeypatch.setattr(LakeResource, "release_folder", lambda self, name: built)
    out = tmp_path / "copy"
    (out / "public").mkdir(parents=True)
    (out / "public" / "stale.parquet").write_text("old")
    argv = ["release", "--months", "2025-03", "--data-dir", str(tmp_path / "data")]
    assert main([*argv, "--out", str(out)]) == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "privacy_audit/a.md",
        "private/MANIFEST.json",
        "public/README.md",
    ]
    assert main([*argv, "--out", str(built)]) == 2
    assert "is the release folder itself" in capsys.readouterr().err
    assert main([*argv, "--out", str(built / "public" / "copy")]) == 2
    assert "is inside the release folder" in capsys.readouterr().err
    assert not (built / "public" / "copy").exists()
    assert (built / "public" / "README.md").read_text() == "public"
