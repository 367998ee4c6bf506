"""Shared fixtures: generated sample archives and the real-samples folder (helpers live in tests/support/)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
from support.pipeline import samples_dir

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

REPO = Path(__file__).resolve().parents[1]
# The static encoder is distilled once (~30 s) and shared by every test's data dir, across runs.
os.environ.setdefault("BLUEPRINT_MODEL_CACHE", str(REPO / ".pytest_cache" / "blueprint-models"))


@pytest.fixture(scope="session")
def real_samples() -> Path:
    folder = samples_dir()
    if not (folder / "jetstream_examples.json").is_file():
        pytest.skip("real samples not found (set BLUEPRINT_SAMPLES)")
    return folder


@pytest.fixture(scope="session")
def small_sample(tmp_path_factory) -> Path:
    """A small generated archive: 2 days, 300 users."""
    from blueprint_assets.lib.sample import generate_sample

    out = tmp_path_factory.mktemp("sample") / "archive"
    generate_sample(out, days=2, users=300, seed=11, start=date(2025, 3, 1))
    return out
