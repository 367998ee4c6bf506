"""The privacy audit's figures: from validated `stats` to the report's sections (a list of `Block`s).

Pure module (no Dagster). `build` computes every figure the report prints (totals, verdict, scan coverage,
cluster minimums, the opt-out digest, the before side of each example) and lays them out as blocks; the
evidence sections come from `evidence`, the charts from `charts`. Rendering to Markdown and HTML is elsewhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from blueprint_assets.lib.privacy.identifiers import PLACEHOLDER
from blueprint_assets.lib.release.audit.charts import cluster_chart, pii_chart
from blueprint_assets.lib.release.audit.evidence import evidence_sections
from blueprint_assets.lib.release.audit.model import (
    CLUSTER_CHART_NAME,
    DEFAULT_RESIDUAL_RISKS,
    LEAK_CHECK,
    PII_CHART_NAME,
    PSEUDONYM_MODES,
    REQUIRED_CHECKS,
    RESIDUAL_CHECK,
    Block,
    count,
    require,
    validate_examples,
    validate_pii,
    validate_scans,
)


def _cluster_sort_key(item: tuple[str, int]) -> tuple[int, int, str]:
    cid = item[0]
    return (0, int(cid), "") if cid.isdigit() else (1, 0, cid)


def _scan_coverage(scans: list[Mapping[str, Any]]) -> dict[str, set[str]]:
    checks: dict[str, set[str]] = {}
    for scan in scans:
        checks.setdefault(scan["table"], set()).add(scan["check"])
    return checks


def _before_text(after: str) -> str:
    return PLACEHOLDER.sub(lambda m: f"[{m.group(1)}]", after)


def _opt_out_digest(pseudonyms: Sequence[str]) -> str:
    joined = "\n".join(sorted(set(pseudonyms))).encode("utf-8")
    return hashlib.sha256(joined).hexdigest()


def _granularity_blocks(granularities: Sequence[Mapping[str, Any]], minimum: int) -> list[Block]:
    """One section per requested K: its cluster sizes, or why it was skipped."""
    blocks: list[Block] = []
    for g in granularities:
        k = count(g.get("k"), "granularities.k")
        blocks.append(Block("h2", f"Granularity K={k}"))
        if g.get("status") != "built":
            blocks.append(Block("p", f"Skipped: {g.get('reason', 'infeasible')}."))
            continue
        sizes = sorted(((str(c), count(n, "granularities.sizes")) for c, n in (g.get("sizes") or {}).items()),
                       key=_cluster_sort_key)  # fmt: skip
        small = sum(n < minimum for _, n in sizes)
        blocks.append(Block("p", f"{len(sizes)} clusters, smallest {min((n for _, n in sizes), default=0)} users; "
                                  f"below the minimum: {small}."))  # fmt: skip
        blocks.append(
            Block("table", header=("cluster id", "users"), rows=tuple((c, str(n)) for c, n in sizes))
        )
    return blocks


def build(stats: Mapping[str, Any]) -> tuple[list[Block], dict[str, bytes], str]:
    """Validate `stats` field by field, compute the report's figures and return (blocks, chart PNGs, title)."""
    pii = validate_pii(require(stats, "pii_by_type_and_day"))
    scans = validate_scans(require(stats, "scans"))
    ner_policy = str(require(stats, "ner_policy"))
    minimum = count(require(stats, "min_cluster_size"), "min_cluster_size")
    raw_sizes = require(stats, "cluster_sizes")
    if not isinstance(raw_sizes, Mapping):
        raise ValueError("stats field cluster_sizes must be a dict")
    sizes = sorted(
        ((str(cid), count(n, f"cluster_sizes[#{i}]")) for i, (cid, n) in enumerate(raw_sizes.items())),
        key=_cluster_sort_key,
    )
    mode = require(stats, "pseudonym_mode")
    if mode not in PSEUDONYM_MODES:
        raise ValueError(f"stats field pseudonym_mode must be one of {sorted(PSEUDONYM_MODES)}")
    time_coarsening = str(require(stats, "time_coarsening"))
    opt_outs = stats.get("opt_outs") or {"count": 0, "pseudonyms": []}
    if not isinstance(opt_outs, Mapping):
        raise ValueError("stats field opt_outs must be a dict")
    opt_count = count(opt_outs.get("count", 0), "opt_outs.count")
    opt_pseudonyms = opt_outs.get("pseudonyms", [])
    if not isinstance(opt_pseudonyms, list) or not all(isinstance(p, str) for p in opt_pseudonyms):
        raise ValueError("stats field opt_outs.pseudonyms must be a list of strings")
    damage = stats.get("input_damage") or {}
    if not isinstance(damage, Mapping):
        raise ValueError("stats field input_damage must be a dict")
    quarantined = count(damage.get("quarantined_lines", 0), "input_damage.quarantined_lines")
    corrupt = count(damage.get("corrupt_files", 0), "input_damage.corrupt_files")
    risks = list(stats.get("residual_risks") or DEFAULT_RESIDUAL_RISKS)
    examples = validate_examples(stats.get("examples", []))

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

    blocks += [Block(**section) for section in evidence_sections(stats)]
    blocks += [Block("h2", "Residual risks"), Block("ul", items=tuple(risks))]

    images = {PII_CHART_NAME: pii_chart(pii), CLUSTER_CHART_NAME: cluster_chart(sizes, minimum)}
    return blocks, images, title
