"""The privacy audit report (pure, no Dagster), one module per job.

- `model`: the plain `stats` dict (its shape is documented there), its validation and the `Block` model.
- `stats`: the report's figures and sections, computed from validated `stats`.
- `evidence`: measured anonymizer quality, a second-opinion scan, replacement samples, re-identification risk.
- `markdown`, `html`, `charts`: the Markdown, the self-contained HTML page and the PNG charts.
- `report`: `render_audit_report`, which validates, builds, renders and writes the files.
"""

from blueprint_assets.lib.release.audit.evidence import findable_keys, text_key
from blueprint_assets.lib.release.audit.report import AuditReport, render_audit_report, scan_for_identifiers

__all__ = ["AuditReport", "findable_keys", "render_audit_report", "scan_for_identifiers", "text_key"]
