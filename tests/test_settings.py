"""Settings: the one reader of BLUEPRINT_*; the README's configuration table names exactly what it reads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.pipeline import REPO

from blueprint_assets.defs.resources import build_resources
from blueprint_assets.settings import ENV, DataLayout, Settings

ROOT = REPO
NAME = re.compile(r"BLUEPRINT_[A-Z0-9_]+")


def _readme_table_names() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("Everything else is set through environment variables")
    table = []
    for line in text[start:].splitlines()[1:]:
        if table and not line.startswith("|"):
            break
        if line.startswith("|"):
            table.append(line.split("|")[1])  # the first column names the variables
    return set(NAME.findall("\n".join(table)))


def _names_read_by_settings() -> set[str]:
    source = (ROOT / "blueprint_assets" / "settings.py").read_text(encoding="utf-8")
    return set(NAME.findall(source))


def test_the_readme_table_lists_exactly_the_variables_settings_reads() -> None:
    readme, read = _readme_table_names(), _names_read_by_settings()
    assert readme, "no BLUEPRINT_* variable found in the README's configuration table"
    assert readme - read == set(), "in the README table but not read by Settings"
    assert read - readme == set(), "read by Settings but missing from the README table"
    assert read == {variable for variable, _ in ENV.values()}


def test_defaults_environment_and_flags() -> None:
    assert Settings.from_env({}) == Settings()
    environ = {
        "BLUEPRINT_DATA_DIR": "/srv/bp",
        "BLUEPRINT_K": "100,2,25",
        "BLUEPRINT_NER": "1",
        "BLUEPRINT_SOURCE_EXCLUDE": " a*, ,b ",
        "BLUEPRINT_SOURCE_MAX_RETRIES": "3",
        "BLUEPRINT_SECRET": "hunter2",
    }
    settings = Settings.from_env(environ, data_dir="/flag", max_retries=None, backoff=0.5)
    assert settings.data_dir == "/flag"  # a flag wins; an unset flag (None) keeps the environment's value
    assert (settings.ks, settings.ner, settings.source_exclude) == ((2, 25, 100), True, ("a*", "b"))
    assert (settings.max_retries, settings.backoff) == (3, 0.5)
    assert "hunter2" not in repr(settings)
    with pytest.raises(ValueError, match="BLUEPRINT_SOURCE_BACKOFF='soon' is not a float"):
        Settings.from_env({"BLUEPRINT_SOURCE_BACKOFF": "soon"})
    with pytest.raises(TypeError, match="unknown settings"):
        Settings.from_env({}, datadir="x")


def test_the_layout_names_every_folder(tmp_path: Path) -> None:
    layout = DataLayout(str(tmp_path))
    assert layout.lake == f"{tmp_path}/lake"
    assert (layout.state, layout.releases) == (f"{tmp_path}/state", f"{tmp_path}/releases")
    assert layout.secret_file == tmp_path / "secret.key"
    assert layout.spill == tmp_path / "state" / "duckdb_spill"
    assert Settings(data_dir=str(tmp_path)).archive_dir == str(tmp_path / "sample")
    assert Settings(data_dir=str(tmp_path), source="jetstream-live").archive_dir is None


def test_an_object_stores_scratch_comes_from_the_settings(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"BLUEPRINT_DATA_DIR": "s3://bucket/bp", "BLUEPRINT_SCRATCH_DIR": str(tmp_path / "scratch")}
    )
    scratch = tmp_path / "scratch" / "bucket"
    layout = settings.layout
    assert (layout.scratch, layout.releases_local) == (scratch / "bp__state", scratch / "bp__releases")
    assert (layout.models, layout.dagster_home) == (str(scratch / "bp__models"), scratch / "bp__dagster_home")
    assert settings.model_cache_dir == str(scratch / "bp__models")
    resources = build_resources(settings)
    assert resources["lake"].layout == layout and resources["source"].scratch_dir == str(tmp_path / "scratch")
    unset = Settings.from_env({"BLUEPRINT_DATA_DIR": "s3://bucket/bp"}).layout.scratch
    assert unset.parent.parent.name == "blueprint-scratch"  # the system temp folder


def test_the_secret_is_loaded_once_and_never_in_the_config(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("BLUEPRINT_SECRET", "from-the-environment")
    privacy = build_resources(Settings.from_env(data_dir=str(tmp_path)))["privacy"]
    assert "from-the-environment" not in repr(privacy)
    assert privacy.secret_bytes() == b"from-the-environment"
    monkeypatch.delenv("BLUEPRINT_SECRET")
    local = build_resources(Settings.from_env(data_dir=str(tmp_path)))["privacy"]
    first = local.secret_bytes()
    (tmp_path / "secret.key").unlink()  # loaded once: the resource keeps what it read
    assert local.secret_for_scans() == first and local.pseudonymizer()("did:plc:x")
