"""The privacy audit report (pure, no Dagster), one module per job.

- `model`: the plain `stats` dict (its shape is documented there), its validation and the `Block` model.
- `stats`: the report's figures and sections, computed from validated `stats`.
- `evidence`: measured anonymizer quality, a second-opinion scan, replacement samples, re-identification risk.
- `markdown`, `html`, `charts`: the Markdown, the self-contained HTML page and the PNG charts.
- `report`: `render_audit_report`, which validates, builds, renders and writes the files.
"""

from blueprint_assets.lib.release.audit.report import (
    CLUSTER_CHART_NAME,
    DEFAULT_RESIDUAL_RISKS,
    HTML_NAME,
    MARKDOWN_NAME,
    PII_CHART_NAME,
    AuditReport,
    png_text,
    render_audit_report,
    scan_file_for_identifiers,
    scan_for_identifiers,
)

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
