"""Modules the release and ingestion steps import must not pull in presidio (and through it transformers and
torch): that costs seconds in every fresh step process. Each check runs in a clean interpreter."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("presidio_analyzer", "transformers", "torch")


@pytest.mark.parametrize(
    "module",
    [
        "blueprint_assets.lib.privacy.identifiers",
        "blueprint_assets.lib.privacy.scans",
        "blueprint_assets.lib.privacy.optout",
        "blueprint_assets.lib.personas.cards",
        "blueprint_assets.lib.release.files",
        "blueprint_assets.lib.release.audit.evidence",
    ],
)
def test_module_imports_without_presidio(module: str) -> None:
    code = f"import sys, {module}; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "", f"{module} imports {loaded.stdout.strip()}"


def test_the_tld_patterns_are_still_built_on_first_use() -> None:
    from blueprint_assets.lib.privacy import identifiers

    for pattern in (identifiers.HANDLE_REGEX, identifiers.URL_HOST_REGEX, identifiers.EMAIL_OBFUSCATED_REGEX):
        assert "|social|" in pattern and "|com|" in pattern  # presidio's TLD alternation is inside
    with pytest.raises(AttributeError):
        identifiers.NOT_A_PATTERN  # noqa: B018
