"""Write the privacy audit: validate `stats`, build its blocks, render Markdown, HTML and charts, write atomically.

Pure module (no Dagster). The shape of the `stats` dict is documented in `model`; the figures are computed in
`stats`, drawn by `markdown`, `html` and `charts`. The names re-exported here are the report's public API.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from blueprint_assets.lib.release.audit.html import to_html
from blueprint_assets.lib.release.audit.markdown import to_markdown
from blueprint_assets.lib.release.audit.model import (
    CLUSTER_CHART_NAME,
    DEFAULT_RESIDUAL_RISKS,
    HTML_NAME,
    MARKDOWN_NAME,
    PII_CHART_NAME,
    AuditReport,
    png_text,
    refuse_identifiers,
    scan_file_for_identifiers,
    scan_for_identifiers,
)
from blueprint_assets.lib.release.audit.stats import build

__all__ = [
    "CLUSTER_CHART_NAME",
    "DEFAULT_RESIDUAL_RISKS",
    "HTML_NAME",
    "MARKDOWN_NAME",
    "PII_CHART_NAME",
    "AuditReport",
    "png_text",
    "render_audit_report",
    "scan_file_for_identifiers",
    "scan_for_identifiers",
]


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def render_audit_report(stats: Mapping[str, Any], out_dir: Path) -> AuditReport:
    """Validate `stats` (see module docstring), then write the Markdown, HTML and chart PNGs to `out_dir`.

    Raises ValueError naming only the offending field if any string looks like a raw identifier or a field is
    malformed. Nothing is written unless validation passes. Output is deterministic for equal `stats`.
    """
    refuse_identifiers(stats)
    blocks, images, title = build(stats)
    markdown = to_markdown(blocks)
    page = to_html(blocks, images, title)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = [
        out_dir / MARKDOWN_NAME,
        out_dir / HTML_NAME,
        out_dir / PII_CHART_NAME,
        out_dir / CLUSTER_CHART_NAME,
    ]
    payloads = [
        markdown.encode("utf-8"),
        page.encode("utf-8"),
        images[PII_CHART_NAME],
        images[CLUSTER_CHART_NAME],
    ]
    for path, data in zip(files, payloads, strict=True):
        _write_atomic(path, data)
    return AuditReport(markdown=markdown, files=files)
