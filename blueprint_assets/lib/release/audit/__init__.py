"""The privacy audit report (pure, no Dagster), one module per job.

- `model`: the plain `stats` dict (its shape is documented there), its validation and the `Block` model.
- `stats`: the report's figures and sections, computed from validated `stats`.
- `evidence`: measured anonymizer quality, a second-opinion scan, replacement samples, re-identification risk.
- `markdown`, `html`, `charts`: the Markdown, the self-contained HTML page and the PNG charts.
- `report`: `render_audit_report`, which validates, builds, renders and writes the files.

Nothing is re-exported here: importing a submodule (cards.py needs only `evidence`) must not pull in
`report`, whose identifier patterns import presidio (seconds of imports in every fresh step process).
"""
