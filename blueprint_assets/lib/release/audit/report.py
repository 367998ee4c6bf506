"""Privacy-audit report: Markdown, self-contained HTML and PNG charts (drawn by `audit_render`) from a plain `stats` dict.

Pure module (no Dagster). The renderer is the last gate before a maintainer reads (and possibly publishes) the
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

import hashlib
import os
import re
import struct
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blueprint_assets.lib.release.audit.render import Block, cluster_chart, pii_chart, to_html, to_markdown

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

# Patterns for raw identifiers. Each returns a *kind*; callers never see the matched value, so a hit can be
# reported (in logs, exceptions, checks) without leaking the identifier itself.
_IDENTIFIER_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("did", re.compile(r"did:(?:plc|web):", re.IGNORECASE)),
    ("at_uri", re.compile(r"at://", re.IGNORECASE)),
    ("url", re.compile(r"\bhttps?://|\bwww\.[a-z0-9-]", re.IGNORECASE)),
    ("email", re.compile(r"[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}", re.IGNORECASE)),
    # `@x.y` not preceded by an email local part; also bare `*.bsky.social` handles.
    (
        "handle",
        re.compile(r"(?<![\w.@%+-])@[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)+|\b[a-z0-9-]+\.bsky\.social\b", re.I),
    ),
)
_ENTITY_TYPE = re.compile(r"^[A-Z][A-Z0-9_]*$")
# Cannot contain "@", ":", "." or "/", so it can never be one of the identifiers above.
_SAFE_LABEL = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_PLACEHOLDER = re.compile(r"<([A-Z][A-Z0-9_]*)>")


@dataclass(frozen=True)
class AuditReport:
    """The rendered Markdown and every file written (Markdown, HTML, charts), in a fixed order."""

    markdown: str
    files: list[Path]


def scan_for_identifiers(text: str) -> list[str]:
    """Return the sorted kinds of raw identifiers found in `text` (did, at_uri, url, email, handle), never values."""
    return sorted({kind for kind, pattern in _IDENTIFIER_PATTERNS if pattern.search(text)})


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
    return key if isinstance(key, str) and _SAFE_LABEL.match(key) else f"#{index}"


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


def _refuse_identifiers(stats: Mapping[str, Any]) -> None:
    """Raise ValueError naming the first field whose string looks like a raw identifier (never the value)."""
    for field, text in _walk_strings(stats, "stats"):
        if scan_for_identifiers(text):
            raise ValueError(f"{field} looks like a raw identifier; refusing to render")


def _require(stats: Mapping[str, Any], key: str) -> Any:
    if key not in stats:
        raise ValueError(f"stats field {key} is required")
    return stats[key]


def _count(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"stats field {field} must be a non-negative int")
    return value


def _validate_examples(examples: Any) -> list[tuple[list[str], str]]:
    if not isinstance(examples, list):
        raise ValueError("stats field examples must be a list")
    out = []
    for i, example in enumerate(examples):
        types = example.get("before_placeholders") if isinstance(example, Mapping) else None
        after = example.get("after") if isinstance(example, Mapping) else None
        # The before side must be entity type names, never text: anything else is refused.
        if not isinstance(types, list) or not all(
            isinstance(t, str) and _ENTITY_TYPE.match(t) for t in types
        ):
            raise ValueError(
                f"stats field examples[{i}].before_placeholders must be a list of ENTITY_TYPE names"
            )
        if not isinstance(after, str):
            raise ValueError(f"stats field examples[{i}].after must be a string")
        out.append((list(types), after))
    return out


# ------------------------------------------------------------------------------------ document model
# A tiny block model rendered to both Markdown and HTML, so the two outputs always hold the same content.


# ------------------------------------------------------------------------------------------ sections


def _cluster_sort_key(item: tuple[str, int]) -> tuple[int, int, str]:
    cid = item[0]
    return (0, int(cid), "") if cid.isdigit() else (1, 0, cid)


def _scan_coverage(scans: list[Mapping[str, Any]]) -> dict[str, set[str]]:
    checks: dict[str, set[str]] = {}
    for scan in scans:
        checks.setdefault(scan["table"], set()).add(scan["check"])
    return checks


def _validate_scans(raw: Any) -> list[Mapping[str, Any]]:
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


def _validate_pii(raw: Any) -> dict[str, dict[str, int]]:
    if not isinstance(raw, Mapping):
        raise ValueError("stats field pii_by_type_and_day must be a dict")
    out: dict[str, dict[str, int]] = {}
    for i, (day, per_type) in enumerate(raw.items()):
        if not isinstance(per_type, Mapping):
            raise ValueError(f"stats field pii_by_type_and_day[#{i}] must be a dict")
        out[str(day)] = {}
        for entity, n in per_type.items():
            if not isinstance(entity, str) or not _ENTITY_TYPE.match(entity):
                raise ValueError(
                    f"stats field pii_by_type_and_day[#{i}] has a key that is not an ENTITY_TYPE"
                )
            out[str(day)][entity] = _count(n, f"pii_by_type_and_day[#{i}][{entity}]")
    return out


def _before_text(after: str) -> str:
    return _PLACEHOLDER.sub(lambda m: f"[{m.group(1)}]", after)


def _opt_out_digest(pseudonyms: Sequence[str]) -> str:
    joined = "\n".join(sorted(set(pseudonyms))).encode("utf-8")
    return hashlib.sha256(joined).hexdigest()


def _granularity_blocks(granularities: Sequence[Mapping[str, Any]], minimum: int) -> list[Block]:
    """One section per requested K: its cluster sizes, or why it was skipped."""
    blocks: list[Block] = []
    for g in granularities:
        k = _count(g.get("k"), "granularities.k")
        blocks.append(Block("h2", f"Granularity K={k}"))
        if g.get("status") != "built":
            blocks.append(Block("p", f"Skipped: {g.get('reason', 'infeasible')}."))
            continue
        sizes = sorted(((str(c), _count(n, "granularities.sizes")) for c, n in (g.get("sizes") or {}).items()),
                       key=_cluster_sort_key)  # fmt: skip
        small = sum(n < minimum for _, n in sizes)
        blocks.append(Block("p", f"{len(sizes)} clusters, smallest {min((n for _, n in sizes), default=0)} users; "
                                  f"below the minimum: {small}."))  # fmt: skip
        blocks.append(
            Block("table", header=("cluster id", "users"), rows=tuple((c, str(n)) for c, n in sizes))
        )
    return blocks


def _build(stats: Mapping[str, Any]) -> tuple[list[Block], dict[str, bytes], str]:
    pii = _validate_pii(_require(stats, "pii_by_type_and_day"))
    scans = _validate_scans(_require(stats, "scans"))
    ner_policy = str(_require(stats, "ner_policy"))
    minimum = _count(_require(stats, "min_cluster_size"), "min_cluster_size")
    raw_sizes = _require(stats, "cluster_sizes")
    if not isinstance(raw_sizes, Mapping):
        raise ValueError("stats field cluster_sizes must be a dict")
    sizes = sorted(
        ((str(cid), _count(n, f"cluster_sizes[#{i}]")) for i, (cid, n) in enumerate(raw_sizes.items())),
        key=_cluster_sort_key,
    )
    mode = _require(stats, "pseudonym_mode")
    if mode not in PSEUDONYM_MODES:
        raise ValueError(f"stats field pseudonym_mode must be one of {sorted(PSEUDONYM_MODES)}")
    time_coarsening = str(_require(stats, "time_coarsening"))
    opt_outs = stats.get("opt_outs") or {"count": 0, "pseudonyms": []}
    if not isinstance(opt_outs, Mapping):
        raise ValueError("stats field opt_outs must be a dict")
    opt_count = _count(opt_outs.get("count", 0), "opt_outs.count")
    opt_pseudonyms = opt_outs.get("pseudonyms", [])
    if not isinstance(opt_pseudonyms, list) or not all(isinstance(p, str) for p in opt_pseudonyms):
        raise ValueError("stats field opt_outs.pseudonyms must be a list of strings")
    damage = stats.get("input_damage") or {}
    if not isinstance(damage, Mapping):
        raise ValueError("stats field input_damage must be a dict")
    quarantined = _count(damage.get("quarantined_lines", 0), "input_damage.quarantined_lines")
    corrupt = _count(damage.get("corrupt_files", 0), "input_damage.corrupt_files")
    risks = list(stats.get("residual_risks") or DEFAULT_RESIDUAL_RISKS)
    examples = _validate_examples(stats.get("examples", []))

    totals: dict[str, int] = {}
    for per_type in pii.values():
        for entity, n in per_type.items():
            totals[entity] = totals.get(entity, 0) + n
    coverage = _scan_coverage(scans)
    missing = sorted(
        (table, check) for table, have in coverage.items() for check in REQUIRED_CHECKS if check not in have
    )
    failed_scans = [s for s in scans if not s["passed"]]
    small = [(cid, n) for cid, n in sizes if n < minimum]
    passed = not failed_scans and not missing and not small and bool(scans)

    title = "Privacy audit report"
    release = stats.get("release")
    blocks: list[Block] = [Block("h1", title + (f": release {release}" if release else ""))]
    if stats.get("generated_at"):
        blocks.append(Block("p", f"Generated at {stats['generated_at']}."))

    blocks += [
        Block("h2", "Summary"),
        Block("p", f"Verdict: {'PASS' if passed else 'FAIL'}."),
        Block(
            "ul",
            items=(
                f"PII spans removed: {sum(totals.values())} over {len(pii)} day(s) and {len(totals)} entity type(s).",
                f"Scans: {len(scans) - len(failed_scans)} of {len(scans)} passed over {len(coverage)} table(s); "
                f"{len(missing)} required scan(s) missing.",
                f"Persona clusters: {len(sizes)}; smallest has {min((n for _, n in sizes), default=0)} users; "
                f"minimum required {minimum}; {len(small)} cluster(s) below it.",
                f"Opt-outs honoured: {opt_count}.",
                f"Input lines quarantined: {quarantined}; damaged input files (corrupt or truncated gzip, "
                f"unreadable): {corrupt}, their readable lines kept.",
                f"Pseudonym mode: {mode}.",
            ),
        ),
    ]

    blocks += [Block("h2", "PII removed")]
    by_total = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    blocks.append(
        Block("table", header=("entity type", "spans removed"), rows=tuple((t, str(n)) for t, n in by_total))
    )
    types = sorted(totals)
    day_rows = tuple(
        (day, *(str(pii[day].get(t, 0)) for t in types), str(sum(pii[day].values()))) for day in sorted(pii)
    )
    blocks.append(Block("table", header=("day", *types, "total"), rows=day_rows))
    blocks.append(Block("img", "PII removed by entity type and day (stacked bars)", image=PII_CHART_NAME))

    blocks += [
        Block("h2", "Residual and leak scans"),
        Block(
            "p",
            f"Every table must pass a residual-PII scan ({RESIDUAL_CHECK}) for the removed types and an "
            f"identifier-leak scan ({LEAK_CHECK}) for raw account ids, handles, emails, links and record URIs.",
        ),
        Block(
            "table",
            header=("table", "check", "result", "details"),
            rows=tuple(
                (s["table"], s["check"], "pass" if s["passed"] else "FAIL", s["details"])
                for s in sorted(scans, key=lambda s: (s["table"], s["check"]))
            ),
        ),
    ]
    if missing:
        blocks.append(
            Block("p", "Missing required scans (fail): " + "; ".join(f"{t} {c}" for t, c in missing) + ".")
        )

    blocks += [Block("h2", "NER policy"), Block("p", ner_policy)]
    blocks += [Block("h2", "Pseudonyms"), Block("p", f"Mode: {mode}. {PSEUDONYM_MODES[mode]}")]
    blocks += [Block("h2", "Time coarsening"), Block("p", time_coarsening)]

    blocks += [
        Block("h2", "Cluster sizes"),
        Block("p", f"Minimum cluster size: {minimum} users. Clusters below it: {len(small)}."),
        Block("img", "Users per persona cluster against the minimum", image=CLUSTER_CHART_NAME),
        Block(
            "table",
            header=("cluster id", "users", "meets minimum"),
            rows=tuple((cid, str(n), "yes" if n >= minimum else "NO") for cid, n in sizes),
        ),
    ]

    blocks += _granularity_blocks(stats.get("granularities") or [], minimum)
    blocks += [
        Block("h2", "Opt-outs"),
        Block(
            "p",
            f"Requests honoured: {opt_count}. Pseudonyms removed from every table: {len(set(opt_pseudonyms))}. "
            f"SHA-256 of the sorted pseudonym set: {_opt_out_digest(opt_pseudonyms)} (the pseudonyms themselves "
            "are not listed, so the report does not single out who opted out).",
        ),
    ]

    blocks.append(Block("h2", "Examples"))
    if examples:
        blocks.append(
            Block(
                "p",
                "The original text is never shown: the before side marks where each removed value stood.",
            )
        )
        blocks.append(
            Block(
                "table",
                header=("before (types only)", "after", "removed types"),
                rows=tuple(
                    (_before_text(after), after, ", ".join(types) or "none") for types, after in examples
                ),
            )
        )
    else:
        blocks.append(Block("p", "No examples supplied."))

    from blueprint_assets.lib.release.audit.evidence import evidence_sections

    blocks += [Block(**section) for section in evidence_sections(stats)]
    blocks += [Block("h2", "Residual risks"), Block("ul", items=tuple(risks))]

    images = {PII_CHART_NAME: pii_chart(pii), CLUSTER_CHART_NAME: cluster_chart(sizes, minimum)}
    return blocks, images, title


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def render_audit_report(stats: Mapping[str, Any], out_dir: Path) -> AuditReport:
    """Validate `stats` (see module docstring), then write the Markdown, HTML and chart PNGs to `out_dir`.

    Raises ValueError naming only the offending field if any string looks like a raw identifier or a field is
    malformed. Nothing is written unless validation passes. Output is deterministic for equal `stats`.
    """
    _refuse_identifiers(stats)
    blocks, images, title = _build(stats)
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
