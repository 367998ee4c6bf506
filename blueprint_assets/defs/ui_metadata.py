"""What a Dagster user expects to see on asset pages: kinds, owners, table schema and row count, safe text.

- `with_catalog_attributes`: `kinds` and owners on every asset (set once, where definitions are assembled),
  and descriptions whose `<TYPE>` placeholders survive the UI's Markdown (it drops unknown HTML tags).
- `table_metadata`: `dagster/column_schema` and `dagster/row_count` from the written Parquet footers; every
  table asset adds it to its materialization metadata.
- `markdown_with_images`: Markdown whose local PNG charts are embedded as data URIs (the UI cannot reach
  files on disk, and renders base64 images).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from dagster import AssetSpec, TableColumn, TableSchema, map_asset_specs

from blueprint_assets.lib.storage.lake import read_footer

OWNERS = ["team:blueprint"]
TABLE_KINDS = {"duckdb", "parquet"}
# Assets that are not one lake table: the release folder and the audit report.
KINDS = {"dataset_release": {"parquet", "json"}, "privacy_audit_report": {"markdown", "html"}}
_PLACEHOLDER = re.compile(r"(?<!`)<([A-Z][A-Z0-9_]*)>(?!`)")
_LOCAL_IMAGE = re.compile(r"!\[([^\]]*)\]\(([\w.-]+\.png)\)")


def escape_placeholders(text: str | None) -> str | None:
    """`<TYPE>` -> `` `<TYPE>` ``: Markdown shows it as code instead of swallowing it as an HTML tag."""
    return _PLACEHOLDER.sub(r"`<\1>`", text) if text else text


def _catalog_spec(spec: AssetSpec) -> AssetSpec:
    name = spec.key.to_user_string()
    return spec.replace_attributes(
        description=escape_placeholders(spec.description),
        owners=sorted({*spec.owners, *OWNERS}),
        kinds={*spec.kinds, *KINDS.get(name, TABLE_KINDS)},
    )


def with_catalog_attributes(assets: Sequence) -> list:
    """The assets with kinds, owners and escaped descriptions (see the module docstring)."""
    return list(map_asset_specs(_catalog_spec, assets))


def table_metadata(paths: Iterable[str]) -> dict:
    """`dagster/column_schema` and `dagster/row_count` of the Parquet files an asset wrote (footers only)."""
    schema, rows = None, 0
    for path in paths:
        meta = read_footer(path)
        rows += meta.num_rows
        schema = schema or meta.schema.to_arrow_schema()
    columns = [TableColumn(name=field.name, type=str(field.type)) for field in schema or []]
    return {"dagster/column_schema": TableSchema(columns=columns), "dagster/row_count": rows}


def markdown_with_images(markdown: str, folder: Path) -> str:
    """Replace `![alt](chart.png)` links to files in `folder` with data URIs (for the UI's Markdown view)."""

    def embed(match: re.Match) -> str:
        image = folder / match.group(2)
        if not image.is_file():
            return match.group(0)
        data = base64.b64encode(image.read_bytes()).decode("ascii")
        return f"![{match.group(1)}](data:image/png;base64,{data})"

    return _LOCAL_IMAGE.sub(embed, markdown)
