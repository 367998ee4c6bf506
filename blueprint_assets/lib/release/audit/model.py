"""The privacy audit's data model: the plain `stats` dict, its validation, and the document blocks.

Pure module (no Dagster). Here live the output file names, the `Block` model that `markdown` and `html` both
render (so the two outputs always hold the same content), and the validation of `stats`. The renderer is the last gate before a maintainer reads (and possibly publishes) the
report, so it refuses any input string that looks like a raw identifier instead of trying to redact it: the
producer of `stats` must already have pseudonymized everything.

The `stats` dict (all keys optional unless marked required; JSON-compatible):

- `pii_by_type_and_day` (required): `{day "YYYY-MM-DD": {ENTITY_TYPE: n}}`, PII spans removed per day and type.
- `scans` (required): list of `{"table": str, "check": str, "passed": bool, "details": str}`. Every published
  table should have a residual-PII scan (`check == "residual_scan"`) and an identifier-leak scan
  (`check == "leak_scan"`); tables missing either are flagged and fail the verdict.
- `ner_policy` (required): str, e.g. "spaCy en_core_web_lg PERSON/LOCATION replaced" or "NER off".
- `cluster_sizes` (required): `{cluster_id: n_users}`; ids may be ints or digit strings.
- `min_cluster_size` (required): int, the guaranteed minimum (BluePrint: 10).
- `granularities`: list of `{"k": int, "status": "built"|"skipped", "clusters": int, "min_size": int,
  "sizes": {cluster_id: n}, "reason": str}`, one per requested K (a section each; `cluster_sizes` is the first).
- `opt_outs`: `{"count": int, "pseudonyms": [hex str, ...]}`: requests honoured and the pseudonyms removed.
  Only a digest of the pseudonym set is printed, so the report does not single out opted-out users.
- `input_damage`: `{"quarantined_lines": int, "corrupt_files": int}`: what ingestion quarantined in the window,
  and how many input files were damaged (corrupt or truncated gzip, unreadable; their readable lines were kept).
- `pseudonym_mode` (required): "per-thread" (user ids re-keyed in every thread) or "stable".
- `time_coarsening` (required): str, e.g. "relative integer rank; clock time removed".
- `residual_risks`: list[str]; defaults to `DEFAULT_RESIDUAL_RISKS` when absent or empty.
- `examples`: list of `{"before_placeholders": [ENTITY_TYPE, ...], "after": str}`. The "before" side is never
  raw text: it is rebuilt from the anonymized `after` text, showing each placeholder as `[TYPE]`, plus the list
  of entity types that were removed.
- `anonymizer_quality`, `second_opinion`, `replacement_sample` (+ `sample_seed`), `reid_risk` (+
  `findable_min_tokens`, `quote_min_cluster_size`): evidence sections, see `audit_evidence` (shapes, never values).
- `release`, `generated_at`: optional str, printed in the header (the renderer adds no clock time itself, so
  rendering the same stats twice gives byte-identical files).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blueprint_assets.lib.privacy.identifiers import AUDIT_REFUSAL_PATTERNS, ENTITY_TYPE, SAFE_LABEL

MARKDOWN_NAME = "privacy_audit.md"
HTML_NAME = "privacy_audit.html"
PII_CHART_NAME = "pii_by_day.png"
CLUSTER_CHART_NAME = "cluster_sizes.png"

RESIDUAL_CHECK = "residual_scan"
LEAK_CHECK = "leak_scan"
REQUIRED_CHECKS = (RESIDUAL_CHECK, LEAK_CHECK)
PSEUDONYM_MODES = {
    "per-thread": "User ids are re-keyed inside every thread, so one person cannot be followed across threads.",
    "stable": "A user keeps one pseudonym across the whole release (keyed HMAC; the key is never published).",
}
DEFAULT_RESIDUAL_RISKS: tuple[str, ...] = (
    "Public text is searchable: a verbatim post can be found on the live network and linked back to its author.",
    "Writing style, topics and posting rhythm can re-identify prolific users even without any identifier.",
    "Personal names and places stay in the text when NER-based replacement is off.",
    "Rare events (an unusual action sequence, a very small topic community) can single a person out.",
)


@dataclass(frozen=True)
class Block:
    """One piece of the report (h1 | h2 | p | ul | table | img), rendered alike to Markdown and HTML."""

    kind: str  # h1 | h2 | p | ul | table | img
    text: str = ""
    items: tuple[str, ...] = ()
    header: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    image: str = ""


@dataclass(frozen=True)
class AuditReport:
    """The rendered Markdown and every file written (Markdown, HTML, charts), in a fixed order."""

    markdown: str
    files: list[Path]


def scan_for_identifiers(text: str) -> list[str]:
    """Return the sorted kinds of raw identifiers found in `text` (did, at_uri, url, email, handle), never values."""
    return sorted({kind for kind, pattern in AUDIT_REFUSAL_PATTERNS if pattern.search(text)})


def png_text(data: bytes) -> str:
    """Concatenate the textual chunks (tEXt, zTXt, iTXt) of a PNG; the only place text can hide in a PNG.

    Scanning compressed pixel data for patterns would give random false positives, so leak scans of charts
    look at these chunks only (chart labels come from `stats`, which is validated before drawing).
    """
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    out: list[str] = []
    pos = 8
    while pos + 8 <= len(data):
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if ctype == b"tEXt":
            out.append(body.decode("latin-1"))
        elif ctype == b"zTXt":
            key, _, rest = body.partition(b"\x00")
            out.append(key.decode("latin-1") + "\x00" + zlib.decompress(rest[1:]).decode("latin-1"))
        elif ctype == b"iTXt":
            out.append(body.decode("utf-8", errors="replace"))
        pos += 12 + length
    return "\n".join(out)


def scan_file_for_identifiers(path: Path) -> list[str]:
    """`scan_for_identifiers` over a written file: text files whole, PNGs through their text chunks."""
    data = Path(path).read_bytes()
    text = png_text(data) if data[:4] == b"\x89PNG" else data.decode("utf-8", errors="replace")
    return scan_for_identifiers(text)


# --------------------------------------------------------------------------------------------- validation


def _label(key: Any, index: int) -> str:
    """A printable name for a dict key: the key itself only if it cannot hold an identifier, else its position."""
    return key if isinstance(key, str) and SAFE_LABEL.match(key) else f"#{index}"


def _walk_strings(value: Any, field: str) -> Iterator[tuple[str, str]]:
    """Yield (field path, string) for every string in `value`, dict keys included.

    Keys that could hold an identifier are named by position, never by content.
    """
    if isinstance(value, str):
        yield field, value
    elif isinstance(value, Mapping):
        for i, (key, item) in enumerate(value.items()):
            label = f"{field}[{_label(key, i)}]"
            if isinstance(key, str):
                yield f"{label} (key)", key
            yield from _walk_strings(item, label)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _walk_strings(item, f"{field}[{i}]")


def refuse_identifiers(stats: Mapping[str, Any]) -> None:
    """Raise ValueError naming the first field whose string looks like a raw identifier (never the value)."""
    for field, text in _walk_strings(stats, "stats"):
        if scan_for_identifiers(text):
            raise ValueError(f"{field} looks like a raw identifier; refusing to render")


def require(stats: Mapping[str, Any], key: str) -> Any:
    if key not in stats:
        raise ValueError(f"stats field {key} is required")
    return stats[key]


def count(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"stats field {field} must be a non-negative int")
    return value


def validate_examples(examples: Any) -> list[tuple[list[str], str]]:
    if not isinstance(examples, list):
        raise ValueError("stats field examples must be a list")
    out = []
    for i, example in enumerate(examples):
        types = example.get("before_placeholders") if isinstance(example, Mapping) else None
        after = example.get("after") if isinstance(example, Mapping) else None
        # The before side must be entity type names, never text: anything else is refused.
        if not isinstance(types, list) or not all(isinstance(t, str) and ENTITY_TYPE.match(t) for t in types):
            raise ValueError(
                f"stats field examples[{i}].before_placeholders must be a list of ENTITY_TYPE names"
            )
        if not isinstance(after, str):
            raise ValueError(f"stats field examples[{i}].after must be a string")
        out.append((list(types), after))
    return out


def validate_scans(raw: Any) -> list[Mapping[str, Any]]:
    if not isinstance(raw, list):
        raise ValueError("stats field scans must be a list")
    for i, scan in enumerate(raw):
        if not isinstance(scan, Mapping):
            raise ValueError(f"stats field scans[{i}] must be a dict")
        for key in ("table", "check", "details"):
            if not isinstance(scan.get(key), str):
                raise ValueError(f"stats field scans[{i}].{key} must be a string")
        if not isinstance(scan.get("passed"), bool):
            raise ValueError(f"stats field scans[{i}].passed must be a bool")
    return raw


def validate_pii(raw: Any) -> dict[str, dict[str, int]]:
    if not isinstance(raw, Mapping):
        raise ValueError("stats field pii_by_type_and_day must be a dict")
    out: dict[str, dict[str, int]] = {}
    for i, (day, per_type) in enumerate(raw.items()):
        if not isinstance(per_type, Mapping):
            raise ValueError(f"stats field pii_by_type_and_day[#{i}] must be a dict")
        out[str(day)] = {}
        for entity, n in per_type.items():
            if not isinstance(entity, str) or not ENTITY_TYPE.match(entity):
                raise ValueError(
                    f"stats field pii_by_type_and_day[#{i}] has a key that is not an ENTITY_TYPE"
                )
            out[str(day)][entity] = count(n, f"pii_by_type_and_day[#{i}][{entity}]")
    return out
