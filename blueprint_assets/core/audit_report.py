"""Privacy-audit report: Markdown, self-contained HTML and PNG charts from a plain `stats` dict.

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

import base64
import hashlib
import html
import io
import os
import re
import struct
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

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


@dataclass(frozen=True)
class _Block:
    kind: str  # h1 | h2 | p | ul | table | img
    text: str = ""
    items: tuple[str, ...] = ()
    header: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    image: str = ""


_MD_SPECIAL = re.compile(r"([\\`*<>|\[\]#])")


def _md(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text).replace("\n", " ")


def _to_markdown(blocks: Sequence[_Block]) -> str:
    lines: list[str] = []
    for block in blocks:
        if block.kind == "h1":
            lines += [f"# {_md(block.text)}", ""]
        elif block.kind == "h2":
            lines += [f"## {_md(block.text)}", ""]
        elif block.kind == "p":
            lines += [_md(block.text), ""]
        elif block.kind == "ul":
            lines += [f"- {_md(item)}" for item in block.items] + [""]
        elif block.kind == "table":
            lines.append("| " + " | ".join(_md(h) for h in block.header) + " |")
            lines.append("|" + "|".join("---" for _ in block.header) + "|")
            lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in block.rows]
            lines.append("")
        elif block.kind == "img":
            lines += [f"![{_md(block.text)}]({block.image})", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


_CSS = (
    "body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:0.5em 0 1em}td,th{border:1px solid #bbb;padding:0.2em 0.6em;"
    "text-align:left}th{background:#eee}img{max-width:100%}"
)


def _to_html(blocks: Sequence[_Block], images: Mapping[str, bytes], title: str) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        f'<head><meta charset="utf-8"><title>{esc(title)}</title><style>{_CSS}</style></head>',
        "<body>",
    ]
    for block in blocks:
        if block.kind in ("h1", "h2", "p"):
            parts.append(f"<{block.kind}>{esc(block.text)}</{block.kind}>")
        elif block.kind == "ul":
            parts.append("<ul>" + "".join(f"<li>{esc(i)}</li>" for i in block.items) + "</ul>")
        elif block.kind == "table":
            head = "".join(f"<th>{esc(h)}</th>" for h in block.header)
            body = "".join(
                "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in block.rows
            )
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif block.kind == "img":
            # Embedded, so the HTML file stands alone (no external references of any kind).
            data = base64.b64encode(images[block.image]).decode("ascii")
            parts.append(f'<p><img alt="{esc(block.text)}" src="data:image/png;base64,{data}"></p>')
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


# ------------------------------------------------------------------------------------------- charts


def _figure() -> Figure:
    fig = Figure(figsize=(8, 4), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _png_bytes(fig: Figure) -> bytes:
    buf = io.BytesIO()
    # No Software/date chunks: the same stats must give the same bytes.
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def _pii_chart(pii: Mapping[str, Mapping[str, int]]) -> bytes:
    fig = _figure()
    ax = fig.add_subplot()
    days = sorted(pii)
    types = sorted({t for per_day in pii.values() for t in per_day})
    if not types:
        ax.text(0.5, 0.5, "no PII removed", ha="center", va="center", transform=ax.transAxes)
    colors = [f"C{i % 10}" for i in range(len(types))]
    bottoms = [0] * len(days)
    for entity, color in zip(types, colors, strict=True):
        heights = [pii[day].get(entity, 0) for day in days]
        ax.bar(days, heights, bottom=bottoms, label=entity, color=color)
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    ax.set_title("PII removed by entity type and day")
    ax.set_ylabel("spans removed")
    if types:
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.tick_params(axis="x", labelrotation=45, labelsize="small")
    fig.tight_layout()
    return _png_bytes(fig)


def _cluster_chart(sizes: Sequence[tuple[str, int]], minimum: int) -> bytes:
    fig = _figure()
    ax = fig.add_subplot()
    labels = [cid for cid, _ in sizes]
    values = [n for _, n in sizes]
    # Clusters under the minimum are drawn in red so a failing release is obvious at a glance.
    colors = ["C3" if n < minimum else "C0" for n in values]
    if len(values) <= 60:
        ax.bar(range(len(values)), values, color=colors)
    else:
        # One LineCollection instead of a thousand Rectangle patches (K = 1000 draws in well under a second).
        ax.vlines(range(len(values)), 0, values, colors=colors, linewidth=max(0.5, 400 / len(values)))
    ax.axhline(minimum, color="black", linestyle="--", label=f"minimum ({minimum})")
    if len(values) <= 60:
        ax.set_xticks(range(len(values)), labels, fontsize="small", rotation=90 if len(values) > 30 else 0)
        ax.set_xlabel("cluster id")
    else:
        # K = 100 or 1000: individual labels would be unreadable; the table below the chart lists them.
        ax.set_xticks([])
        ax.set_xlabel(f"{len(values)} clusters, in id order")
    ax.set_title("Users per persona cluster")
    ax.set_ylabel("users")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return _png_bytes(fig)


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


def _granularity_blocks(granularities: Sequence[Mapping[str, Any]], minimum: int) -> list[_Block]:
    """One section per requested K: its cluster sizes, or why it was skipped."""
    blocks: list[_Block] = []
    for g in granularities:
        k = _count(g.get("k"), "granularities.k")
        blocks.append(_Block("h2", f"Granularity K={k}"))
        if g.get("status") != "built":
            blocks.append(_Block("p", f"Skipped: {g.get('reason', 'infeasible')}."))
            continue
        sizes = sorted(((str(c), _count(n, "granularities.sizes")) for c, n in (g.get("sizes") or {}).items()),
                       key=_cluster_sort_key)  # fmt: skip
        small = sum(n < minimum for _, n in sizes)
        blocks.append(_Block("p", f"{len(sizes)} clusters, smallest {min((n for _, n in sizes), default=0)} users; "
                                  f"below the minimum: {small}."))  # fmt: skip
        blocks.append(
            _Block("table", header=("cluster id", "users"), rows=tuple((c, str(n)) for c, n in sizes))
        )
    return blocks


def _build(stats: Mapping[str, Any]) -> tuple[list[_Block], dict[str, bytes], str]:
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
    blocks: list[_Block] = [_Block("h1", title + (f": release {release}" if release else ""))]
    if stats.get("generated_at"):
        blocks.append(_Block("p", f"Generated at {stats['generated_at']}."))

    blocks += [
        _Block("h2", "Summary"),
        _Block("p", f"Verdict: {'PASS' if passed else 'FAIL'}."),
        _Block(
            "ul",
            items=(
                f"PII spans removed: {sum(totals.values())} over {len(pii)} day(s) and {len(totals)} entity type(s).",
                f"Scans: {len(scans) - len(failed_scans)} of {len(scans)} passed over {len(coverage)} table(s); "
                f"{len(missing)} required scan(s) missing.",
                f"Persona clusters: {len(sizes)}; smallest has {min((n for _, n in sizes), default=0)} users; "
                f"minimum required {minimum}; {len(small)} cluster(s) below it.",
                f"Opt-outs honoured: {opt_count}.",
                f"Pseudonym mode: {mode}.",
            ),
        ),
    ]

    blocks += [_Block("h2", "PII removed")]
    by_total = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    blocks.append(
        _Block("table", header=("entity type", "spans removed"), rows=tuple((t, str(n)) for t, n in by_total))
    )
    types = sorted(totals)
    day_rows = tuple(
        (day, *(str(pii[day].get(t, 0)) for t in types), str(sum(pii[day].values()))) for day in sorted(pii)
    )
    blocks.append(_Block("table", header=("day", *types, "total"), rows=day_rows))
    blocks.append(_Block("img", "PII removed by entity type and day (stacked bars)", image=PII_CHART_NAME))

    blocks += [
        _Block("h2", "Residual and leak scans"),
        _Block(
            "p",
            f"Every table must pass a residual-PII scan ({RESIDUAL_CHECK}) for the removed types and an "
            f"identifier-leak scan ({LEAK_CHECK}) for raw account ids, handles, emails, links and record URIs.",
        ),
        _Block(
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
            _Block("p", "Missing required scans (fail): " + "; ".join(f"{t} {c}" for t, c in missing) + ".")
        )

    blocks += [_Block("h2", "NER policy"), _Block("p", ner_policy)]
    blocks += [_Block("h2", "Pseudonyms"), _Block("p", f"Mode: {mode}. {PSEUDONYM_MODES[mode]}")]
    blocks += [_Block("h2", "Time coarsening"), _Block("p", time_coarsening)]

    blocks += [
        _Block("h2", "Cluster sizes"),
        _Block("p", f"Minimum cluster size: {minimum} users. Clusters below it: {len(small)}."),
        _Block("img", "Users per persona cluster against the minimum", image=CLUSTER_CHART_NAME),
        _Block(
            "table",
            header=("cluster id", "users", "meets minimum"),
            rows=tuple((cid, str(n), "yes" if n >= minimum else "NO") for cid, n in sizes),
        ),
    ]

    blocks += _granularity_blocks(stats.get("granularities") or [], minimum)
    blocks += [
        _Block("h2", "Opt-outs"),
        _Block(
            "p",
            f"Requests honoured: {opt_count}. Pseudonyms removed from every table: {len(set(opt_pseudonyms))}. "
            f"SHA-256 of the sorted pseudonym set: {_opt_out_digest(opt_pseudonyms)} (the pseudonyms themselves "
            "are not listed, so the report does not single out who opted out).",
        ),
    ]

    blocks.append(_Block("h2", "Examples"))
    if examples:
        blocks.append(
            _Block(
                "p",
                "The original text is never shown: the before side marks where each removed value stood.",
            )
        )
        blocks.append(
            _Block(
                "table",
                header=("before (types only)", "after", "removed types"),
                rows=tuple(
                    (_before_text(after), after, ", ".join(types) or "none") for types, after in examples
                ),
            )
        )
    else:
        blocks.append(_Block("p", "No examples supplied."))

    from blueprint_assets.core.audit_evidence import evidence_sections

    blocks += [_Block(**section) for section in evidence_sections(stats)]
    blocks += [_Block("h2", "Residual risks"), _Block("ul", items=tuple(risks))]

    images = {PII_CHART_NAME: _pii_chart(pii), CLUSTER_CHART_NAME: _cluster_chart(sizes, minimum)}
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
    markdown = _to_markdown(blocks)
    page = _to_html(blocks, images, title)
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
