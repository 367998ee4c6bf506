"""Release stage: action threads, splits, the published release folder and the privacy-audit report."""

import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from blueprint_assets.assets.personas import (
    RELEASE,
    persona_cards_for,
    persona_clusters,
    release_file,
    release_rows,
)
from blueprint_assets.assets.privacy import anonymized_posts
from blueprint_assets.assets.ui_metadata import escape_placeholders, markdown_with_images, table_metadata
from blueprint_assets.core.lake import read_files, write_table_atomic
from blueprint_assets.core.release_layout import audit_dir, public_dir
from blueprint_assets.partitions import days_in_window, release_name
from blueprint_assets.resources import LakeResource, PrivacyResource, ReleaseSettings

RELEASE_GROUP = {**RELEASE, "group_name": "release"}


def cluster_map(lake: LakeResource, context: AssetExecutionContext) -> dict[str, int]:
    table = read_files([release_file(lake, "persona_clusters", context)])
    return dict(zip(table.column("user").to_pylist(), table.column("cluster_id").to_pylist(), strict=True))


def pseudonym_mode(settings: ReleaseSettings) -> str:
    return "stable" if settings.stable_ids else "per-thread"


@asset(deps=[anonymized_posts, persona_clusters], **RELEASE_GROUP)
def action_threads(
    context: AssetExecutionContext, lake: LakeResource, privacy: PrivacyResource, settings: ReleaseSettings
) -> MaterializeResult:
    """Prediction units: [context..., action] threads of in-scope users, times ranked, ids re-keyed."""
    from blueprint_assets.core.threads import action_threads_table, build_threads

    rows = release_rows(lake, "anonymized_posts", days_in_window(context))
    result = build_threads(
        rows, cluster_map(lake, context), max_depth=settings.max_depth, secret=privacy.secret_for_scans(),
        stable_ids=settings.stable_ids,
    )  # fmt: skip
    write_table_atomic(action_threads_table(result.threads), release_file(lake, "action_threads", context))
    by_action = Counter(t["action"] for t in result.threads)
    return MaterializeResult(
        metadata={
            "threads": len(result.threads),
            "threads_by_action": MetadataValue.json(dict(sorted(by_action.items()))),
            "dropped_by_reason": MetadataValue.json(dict(sorted(result.dropped.items()))),
            "relabeled": MetadataValue.json(dict(sorted(result.relabeled.items()))),
            "pseudonym_mode": pseudonym_mode(settings),
            **table_metadata([release_file(lake, "action_threads", context)]),
        }
    )


@asset(deps=[action_threads], **RELEASE_GROUP)
def action_splits(
    context: AssetExecutionContext, lake: LakeResource, settings: ReleaseSettings
) -> MaterializeResult:
    """train / validation / test, disjoint; temporal by default (latest threads are the test set)."""
    from blueprint_assets.core.splits import split_threads
    from blueprint_assets.core.threads import action_threads_table, threads_from_table

    threads = threads_from_table(read_files([release_file(lake, "action_threads", context)]))
    splits = split_threads(threads, settings.split_strategy, settings.fractions, settings.seed)
    parts = []
    for name, members in splits.items():
        table = action_threads_table(members)
        parts.append(table.append_column("split", pa.array([name] * table.num_rows, pa.string())))
    write_table_atomic(pa.concat_tables(parts), release_file(lake, "action_splits", context))
    counts = {
        name: dict(sorted(Counter(t["action"] for t in members).items())) for name, members in splits.items()
    }
    return MaterializeResult(
        metadata={
            "strategy": settings.split_strategy,
            "fractions": MetadataValue.json(list(settings.fractions)),
            "threads_by_split": MetadataValue.json({name: len(m) for name, m in splits.items()}),
            "threads_by_split_and_action": MetadataValue.json(counts),
            **table_metadata([release_file(lake, "action_splits", context)]),
        }
    )


def load_splits(lake: LakeResource, context: AssetExecutionContext) -> dict[str, list[dict]]:
    from blueprint_assets.core.splits import SPLITS
    from blueprint_assets.core.threads import threads_from_table

    table = read_files([release_file(lake, "action_splits", context)])
    threads = threads_from_table(table.drop_columns(["split"]))
    names = table.column("split").to_pylist()
    return {name: [t for t, n in zip(threads, names, strict=True) if n == name] for name in SPLITS}


def release_dir(lake: LakeResource, context: AssetExecutionContext) -> Path:
    """The local folder of the release (on an object store: a staging copy, see `LakeResource`)."""
    return lake.release_folder(release_name(context))


@asset(deps=[action_splits, persona_clusters], **RELEASE_GROUP)
def dataset_release(
    context: AssetExecutionContext, lake: LakeResource, privacy: PrivacyResource, settings: ReleaseSettings
) -> MaterializeResult:
    """public/ (Parquet and Kaggle JSONL per split, persona cards, dataset card, manifest) and private/ answers."""
    from blueprint_assets.core.answer_leaks import AnswerIndex
    from blueprint_assets.core.release_files import write_release
    from blueprint_assets.core.splits import HIDDEN_SPLITS, hide_answers

    splits = load_splits(lake, context)
    hidden = AnswerIndex(hide_answers(t)[1] for name in HIDDEN_SPLITS for t in splits[name])
    persona_cards = persona_cards_for(lake, context, cluster_map(lake, context), hidden.hits)
    pii = pii_totals(release_rows(lake, "anonymized_posts", days_in_window(context), ["day", "pii_counts"]))
    card_context = {
        "window": release_name(context),
        "license": settings.license,
        "pseudonym_mode": pseudonym_mode(settings),
        "split_strategy": settings.split_strategy,
        "fractions": list(settings.fractions),
        "seed": settings.seed,
        "max_depth": settings.max_depth,
        "filters": {
            "min_english_posts": settings.min_english_posts,
            "require_keywords": settings.require_keywords,
        },
        "pii_counts": {
            kind: sum(d.get(kind, 0) for d in pii.values())
            for kind in sorted({k for d in pii.values() for k in d})
        },
        "opt_outs": len(privacy.opted_out(privacy.pseudonymizer())),
    }
    folder = release_dir(lake, context)
    summary = write_release(folder, splits, persona_cards, card_context)
    lake.publish_release(release_name(context))
    readme = (public_dir(folder) / "README.md").read_text()
    return MaterializeResult(
        metadata={
            "path": MetadataValue.path(str(folder)),
            "public": MetadataValue.path(str(public_dir(folder))),
            "files": summary["files"],
            "manifest_sha256": summary["manifest_sha256"],
            "counts_by_split_and_action": MetadataValue.json(summary["counts"]),
            "dropped_reveals_hidden_answer": summary["reveals_hidden_answer"],
            # The YAML header is for the Hugging Face hub; the UI shows the prose.
            "dataset_card": MetadataValue.md(
                escape_placeholders(readme.split("\n---\n", 1)[-1] if readme.startswith("---") else readme)
            ),
            "persona_cards": MetadataValue.md(
                escape_placeholders("\n\n---\n\n".join(persona_cards[c] for c in sorted(persona_cards)))
            ),
            # The public training table: what a dataset user loads first.
            **table_metadata(str(p) for p in sorted((public_dir(folder) / "data").glob("*.parquet"))),
        }
    )


def pii_totals(rows: pa.Table) -> dict[str, dict[str, int]]:
    """PII removed, by day and entity type, from anonymized_posts' per-row counts."""
    totals: dict[str, Counter] = {}
    for day, counts in zip(
        rows.column("day").to_pylist(), rows.column("pii_counts").to_pylist(), strict=True
    ):
        totals.setdefault(day, Counter()).update(json.loads(counts or "{}"))
    return {day: dict(sorted(c.items())) for day, c in sorted(totals.items())}


def audit_scans(lake: LakeResource, context: AssetExecutionContext, privacy: PrivacyResource) -> list[dict]:
    """Residual-PII and identifier-leak scans of every public table of the release (counts only)."""
    from blueprint_assets.assets.privacy import text_anonymizer
    from blueprint_assets.core.privacy_scan import (
        folder_as_table,
        lake_raw_identifiers,
        leak_scan,
        thread_texts,
    )

    days = days_in_window(context)
    known = lake_raw_identifiers(read_files(lake.lake.day_files("raw_events", days), columns=["kind", "raw"]))
    anonymizer = text_anonymizer(privacy.ner)
    posts = release_rows(lake, "anonymized_posts", days)
    threads = read_files([release_file(lake, "action_threads", context)])
    tables = {
        "anonymized_posts": (posts, [t for t in posts.column("text").to_pylist() if t]),
        "action_threads": (threads, thread_texts(threads)),
        "dataset_release": (folder_as_table(release_dir(lake, context)), thread_texts(threads)),
    }
    scans = []
    for name, (table, texts) in tables.items():
        residual = {k: n for k, n in anonymizer.residual_scan(texts).items() if n}
        leaks = leak_scan(name, table, known)
        scans.append({"table": name, "check": "residual_scan", "passed": not residual,
                      "details": f"{len(texts)} texts; residual by type: {residual or 'none'}"})  # fmt: skip
        scans.append({"table": name, "check": "leak_scan", "passed": not leaks,
                      "details": "; ".join(map(str, leaks)) or f"{table.num_rows} rows, no raw identifier"})  # fmt: skip
    return scans


def redacted_examples(posts: pa.Table, limit: int = 5) -> list[dict]:
    """A few anonymized texts with placeholders; the 'before' side is only the list of removed types."""
    examples = []
    for text, counts in zip(
        posts.column("text").to_pylist(), posts.column("pii_counts").to_pylist(), strict=True
    ):
        kinds = sorted(json.loads(counts or "{}"))
        if text and kinds and len(text) < 300:
            examples.append({"before_placeholders": kinds, "after": text})
    examples.sort(key=lambda e: (len(e["before_placeholders"]) * -1, e["after"]))
    return examples[:limit]


def audit_evidence(
    lake: LakeResource, context: AssetExecutionContext, privacy: PrivacyResource, settings: ReleaseSettings
) -> dict:
    """The audit's evidence sections: quality on the labelled set, second opinion, sample, re-id risk."""
    from blueprint_assets.assets.privacy import text_anonymizer
    from blueprint_assets.core.actions import facet_spans
    from blueprint_assets.core.audit_evidence import (
        FINDABLE_MIN_TOKENS,
        anonymizer_quality,
        reid_risk,
        replacement_sample,
        second_opinion_scan,
    )
    from blueprint_assets.core.cards import CardOptions

    days = days_in_window(context)
    anonymizer = text_anonymizer(privacy.ner)
    threads = read_files([release_file(lake, "action_threads", context)]).to_pylist()
    released: dict[str, list[str]] = {}
    for thread in threads:
        released.setdefault(str(thread["cluster_id"]), []).extend(
            m["text"] for m in thread["thread"] if m["text"]
        )
    posts = release_rows(lake, "anonymized_posts", days, ["text"]).column("text").to_pylist()
    raw = release_rows(lake, "actions", days, ["text", "facets_json"])
    raw_rows = [(t, facet_spans(f)) for t, f in zip(*raw.to_pydict().values(), strict=True) if t]
    return {
        "anonymizer_quality": anonymizer_quality(anonymizer),
        "second_opinion": second_opinion_scan(t for texts in released.values() for t in texts),
        "second_opinion_texts": sum(len(texts) for texts in released.values()),
        "replacement_sample": replacement_sample(raw_rows, anonymizer, seed=settings.seed),
        "sample_seed": settings.seed,
        "reid_risk": reid_risk(released, posts),
        "findable_min_tokens": FINDABLE_MIN_TOKENS,
        "quote_min_cluster_size": CardOptions().quote_min_cluster_size,
    }


@asset(deps=[dataset_release], **RELEASE_GROUP)
def privacy_audit_report(
    context: AssetExecutionContext, lake: LakeResource, privacy: PrivacyResource, settings: ReleaseSettings
) -> MaterializeResult:
    """What was found and removed, scan results for every table, clusters, opt-outs: read before publishing."""
    from blueprint_assets.core.audit_report import render_audit_report

    days = days_in_window(context)
    posts = release_rows(lake, "anonymized_posts", days, ["day", "text", "pii_counts"])
    clusters = read_files([release_file(lake, "persona_clusters", context)])
    sizes = Counter(clusters.column("cluster_id").to_pylist())
    opted_out = sorted(privacy.opted_out(privacy.pseudonymizer()))
    stats = {
        "release": release_name(context),
        "pii_by_type_and_day": pii_totals(posts),
        "scans": audit_scans(lake, context, privacy),
        "ner_policy": privacy.ner_policy,
        "cluster_sizes": {str(c): n for c, n in sorted(sizes.items())},
        "min_cluster_size": settings.min_cluster_size,
        "opt_outs": {"count": len(opted_out), "pseudonyms": opted_out},
        "pseudonym_mode": pseudonym_mode(settings),
        "time_coarsening": "relative integer rank of message times within the release; clock time removed",
        "examples": redacted_examples(posts),
        **audit_evidence(lake, context, privacy, settings),
    }
    folder = release_dir(lake, context)
    report = render_audit_report(stats, audit_dir(folder))  # beside public/ and private/, never uploaded
    lake.publish_release(release_name(context))
    return MaterializeResult(
        metadata={
            # Charts as data URIs: the UI cannot reach the PNG files beside the report.
            "report": MetadataValue.md(
                markdown_with_images(escape_placeholders(report.markdown), audit_dir(folder))
            ),
            "path": MetadataValue.path(str(audit_dir(folder))),
            "scans_failed": sum(not s["passed"] for s in stats["scans"]),
        }
    )
