"""Release provenance and the dataset card's required fields: synthetic-sample marking, citation, contact.

How a release knows it was built from the synthetic sample: `blueprint sample` writes every record with
`"blueprintSynthetic": true` (lib/sample/vocabulary.py, SYNTHETIC_MARKER). Raw lines are kept verbatim in
`raw_events`, so the release scans the window's raw lines for the marker; one marked line is enough (a mix
of real and synthetic data is not a real dataset). The card then says so in its first lines and in its YAML
header (`blueprint.synthetic_sample: true`), and `blueprint publish` refuses to upload it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import yaml

from blueprint_assets.lib.sample import SYNTHETIC_MARKER

PAPER_BIBTEX = """@article{buckkaeffer2025blueprint,
  title   = {{BluePrint}: A Social Media User Dataset for {LLM} Persona Evaluation and Training},
  author  = {B{\\"u}ck-Kaeffer, Aur{\\'e}lien and Chooi, Je Qin and Zhao, Dan and Puelma Touzel, Maximilian
             and Pelrine, Kellin and Godbout, Jean-Fran{\\c{c}}ois and Rabbany, Reihaneh and Yang, Zachary},
  journal = {arXiv preprint arXiv:2510.02343},
  year    = {2025},
  url     = {https://arxiv.org/abs/2510.02343}
}"""
SYNTHETIC_NOTICE = (
    "> **Synthetic sample — not real data.** This release was built from BluePrint's generated sample "
    "archive (`blueprint sample`): every account, post and interaction is fabricated. Use it to try the "
    "tools, never as a dataset; `blueprint publish` refuses to upload it."
)
LICENSE_NOTE = (
    "The `{license}` licence covers this compilation: the selection, the structure, the thread "
    "construction, the persona cards and the annotations. The text of each post remains the work of its "
    "author, who keeps their rights in it; it is redistributed here, anonymized, under Bluesky's public "
    "data terms for research use. If you reuse it, do not try to re-identify authors, do not republish "
    "posts outside a research context, and honour removal requests (see Removal requests)."
)
REQUIRED_FIELDS = ("license", "citation", "contact")


def raw_lines_synthetic(tables: Iterable[pa.Table | None]) -> bool:
    """True when any raw line of `raw_events` tables (column `raw`) carries the synthetic-sample marker."""
    needle = f'"{SYNTHETIC_MARKER}"'
    for table in tables:
        if table is None or not table.num_rows:
            continue
        column = table.column("raw")
        if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
            column = pc.cast(column, pa.large_binary())
        if pc.any(pc.match_substring(column, needle)).as_py():
            return True
    return False


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def release_bibtex(window: str, pretty_name: str, url: str | None, license_id: str) -> str:
    """BibTeX for the release itself (window and licence; url when the card knows where it is published)."""
    year = window[:4] if window[:4].isdigit() else "2025"
    lines = [
        f"@misc{{blueprint_release_{_slug(window)},",
        f"  title        = {{{pretty_name} ({window})}},",
        "  author       = {{BluePrint maintainers}},",
        f"  year         = {{{year}}},",
        f"  note         = {{Release {window}, licence {license_id}; built with the SIMPACT method of arXiv:2510.02343}},",
    ]
    if url:
        lines.append(f"  howpublished = {{\\url{{{url}}}}},")
    return "\n".join(lines) + "\n}"


def citation_section(context: Mapping[str, Any], license_id: str) -> str:
    pretty = context.get("pretty_name", "BluePrint persona action threads")
    release = release_bibtex(context.get("window", "unspecified"), pretty, context.get("url"), license_id)
    return (
        "## Citation\nIf you use this dataset, cite the BluePrint paper and this release:\n\n"
        f"```bibtex\n{PAPER_BIBTEX}\n\n{release}\n```"
    )


def card_header(text: str) -> dict[str, Any]:
    """The YAML header of a dataset card ({} when there is none or it does not parse)."""
    if not text.startswith("---\n"):
        return {}
    try:
        header = yaml.safe_load(text.split("---\n", 2)[1])
    except yaml.YAMLError:
        return {}
    return header if isinstance(header, dict) else {}


def card_problems(text: str) -> list[str]:
    """Required card fields that are missing: licence, citation block, contact."""
    header = card_header(text)
    meta = header.get("blueprint") or {}
    problems = []
    if not header.get("license"):
        problems.append("license: the card's YAML header has no `license`")
    if "## Citation" not in text or "@article{" not in text or "@misc{" not in text:
        problems.append("citation: the card has no BibTeX citation block (paper and release)")
    if not str(meta.get("contact") or "").strip():
        problems.append("contact: no contact configured (set BLUEPRINT_CONTACT and rebuild the release)")
    return problems
