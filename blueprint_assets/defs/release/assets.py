"""Release stage: action threads, splits, the published release folder and the privacy-audit report."""

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from blueprint_assets.defs.lake_io import (
    read_thread_table,
    release_dir,
    release_file,
    release_name,
    release_rows,
    user_matrix,
    write_thread_table,
)
from blueprint_assets.defs.partitions import release_asset
from blueprint_assets.defs.resources import LakeResource, PrivacyResource, ReleaseSettings
from blueprint_assets.defs.ui_metadata import escape_placeholders, markdown_with_images, table_metadata
from blueprint_assets.lib.ingest.quarantine import input_damage
from blueprint_assets.lib.release.layout import audit_dir, data_root, public_dir
from blueprint_assets.lib.storage.lake import read_files
from blueprint_assets.lib.window import run_days

RELEASE_GROUP = release_asset("release")


def cluster_maps(lake: LakeResource, context: AssetExecutionContext) -> dict[int, dict[str, int]]:
    """Per K, user pseudonym -> cluster id (persona_clusters holds every K of the release)."""
    table = read_files([release_file(lake, "persona_clusters", context)])
    maps: dict[int, dict[str, int]] = {}
    for user, cluster, k in zip(
        *(table.column(c).to_pylist() for c in ("user", "cluster_id", "k")), strict=True
    ):
        maps.setdefault(int(k), {})[user] = int(cluster)
    return dict(sorted(maps.items()))


def with_k(table: pa.Table, k: int) -> pa.Table:
    return table.append_column("k", pa.array([k] * table.num_rows, pa.int32()))


def by_k(table: pa.Table) -> dict[int, pa.Table]:
    """Split a lake table with a `k` column into one table per K (without the column). The tables are
    written K after K, so each K is a zero-copy slice; rows in any other order are filtered."""
    import pyarrow.compute as pc

    ks = table.column("k").to_numpy()
    if len(ks) and np.all(ks[1:] >= ks[:-1]):
        values, starts = np.unique(ks, return_index=True)
        ends = [*starts[1:].tolist(), len(ks)]
        return {
            int(k): table.slice(start, end - start).drop_columns(["k"])
            for k, start, end in zip(values.tolist(), starts.tolist(), ends, strict=True)
        }
    distinct = sorted(set(ks.tolist()))
    return {int(k): table.filter(pc.equal(table.column("k"), k)).drop_columns(["k"]) for k in distinct}


def pseudonym_mode(settings: ReleaseSettings) -> str:
    return "stable" if settings.stable_ids else "per-thread"


@asset(deps=[AssetKey("anonymized_posts"), AssetKey("persona_clusters")], **RELEASE_GROUP)
def action_threads(
    context: AssetExecutionContext, lake: LakeResource, privacy: PrivacyResource, settings: ReleaseSettings
) -> MaterializeResult:
    """Prediction units per K: [context..., action] threads of in-scope users, times ranked, ids re-keyed."""
    from blueprint_assets.lib.release.threads import INPUT_COLUMNS, build_threads_by_k

    # Only the columns the builder reads; one an older partition lacks is null (the builder's default).
    rows = release_rows(lake, "anonymized_posts", run_days(context), list(INPUT_COLUMNS), present_only=True)
    # The Ks share one pass over the rows and one hashing of user ids (same users, other cluster ids).
    results = build_threads_by_k(
        rows, cluster_maps(lake, context), max_depth=settings.max_depth, secret=privacy.secret_for_scans(),
        stable_ids=settings.stable_ids, workers=privacy.worker_count(),
    )  # fmt: skip
    for k, built in results.items():
        context.log.info(f"action_threads: K={k}, {built.table.num_rows} threads")
    parts = [with_k(built.table, k) for k, built in results.items()]
    result = results[max(results)]  # every K has the same threads and counts
    write_thread_table(lake, "action_threads", context, pa.concat_tables(parts))
    by_action = Counter(result.table.column("action").to_pylist())
    return MaterializeResult(
        metadata={
            "threads": result.table.num_rows,
            "granularities": len(parts),
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
    """train / validation / test, disjoint; temporal by default; the same threads in the same split for every K."""
    from blueprint_assets.lib.release.granularities import aligner
    from blueprint_assets.lib.release.splits import split_table
    from blueprint_assets.lib.release.threads import ACTION_THREADS_SCHEMA

    per_k = by_k(read_thread_table(lake, "action_threads", context))
    first = min(per_k)
    reference = split_table(per_k[first], settings.split_strategy, settings.fractions, settings.seed)
    align = aligner(reference)  # the reference's twin keys, computed once for every other K
    parts = []
    for k, threads in per_k.items():
        splits = reference if k == first else align(threads)
        for name, members in splits.items():
            table = with_k(members.select(ACTION_THREADS_SCHEMA.names).cast(ACTION_THREADS_SCHEMA), k)
            parts.append(table.append_column("split", pa.array([name] * table.num_rows, pa.string())))
    write_thread_table(lake, "action_splits", context, pa.concat_tables(parts))
    counts = {
        name: dict(sorted(Counter(members.column("action").to_pylist()).items()))
        for name, members in reference.items()
    }
    return MaterializeResult(
        metadata={
            "strategy": settings.split_strategy,
            "fractions": MetadataValue.json(list(settings.fractions)),
            "granularities": MetadataValue.json(sorted(per_k)),
            "threads_by_split": MetadataValue.json({name: m.num_rows for name, m in reference.items()}),
            "threads_by_split_and_action": MetadataValue.json(counts),
            **table_metadata([release_file(lake, "action_splits", context)]),
        }
    )


def load_splits(lake: LakeResource, context: AssetExecutionContext) -> dict[int, dict[str, pa.Table]]:
    """Per K, split name -> internal threads (an `action_threads` table, in stored order)."""
    import pyarrow.compute as pc

    from blueprint_assets.lib.release.splits import SPLITS

    out = {}
    for k, table in by_k(read_thread_table(lake, "action_splits", context)).items():
        names = table.column("split")
        out[k] = {name: table.filter(pc.equal(names, name)).drop_columns(["split"]) for name in SPLITS}
    return out


def skipped_granularities(
    lake: LakeResource, context: AssetExecutionContext, settings: ReleaseSettings
) -> dict[int, str]:
    """Requested K values that persona_clusters could not build, with the reason."""
    from blueprint_assets.lib.personas.clustering import skip_reason

    maps = cluster_maps(lake, context)
    users = len(next(iter(maps.values()))) if maps else 0
    return {
        k: skip_reason(k, users, settings.min_cluster_size) or "not clustered"
        for k in settings.granularities
        if k not in maps
    }


def synthetic_window(lake: LakeResource, context: AssetExecutionContext) -> bool:
    """True when a raw line of the window comes from the synthetic sample (lib/release/provenance.py)."""
    from blueprint_assets.lib.release.provenance import raw_lines_synthetic

    files = lake.lake.day_files("raw_events", run_days(context))
    return raw_lines_synthetic(read_files([f], columns=["raw"]) for f in files)


def card_context_for(
    lake: LakeResource, context: AssetExecutionContext, privacy: PrivacyResource, settings: ReleaseSettings
) -> dict:
    pii = pii_totals(release_rows(lake, "anonymized_posts", run_days(context), ["day", "pii_counts"]))
    return {
        "window": release_name(context),
        "license": settings.license,
        "contact": settings.contact,
        "gated": settings.gated,
        "synthetic_sample": synthetic_window(lake, context),
        "skipped_ks": skipped_granularities(lake, context, settings),
        "pseudonym_mode": pseudonym_mode(settings),
        "split_strategy": settings.split_strategy,
        "fractions": list(settings.fractions),
        "seed": settings.seed,
        "max_depth": settings.max_depth,
        "filters": {
            "k": ",".join(str(k) for k in settings.granularities),
            "min_cluster_size": settings.min_cluster_size,
            "min_english_posts": settings.min_english_posts,
            "require_keywords": settings.require_keywords,
            "keywords_file": Path(settings.keywords_file).name
            if settings.keywords_file
            else "bundled political keywords",
        },
        "pii_counts": {
            kind: sum(d.get(kind, 0) for d in pii.values())
            for kind in sorted({k for d in pii.values() for k in d})
        },
        "opt_outs": len(privacy.opted_out(privacy.pseudonymizer())),
    }


@asset(deps=[action_splits, AssetKey("persona_clusters")], **RELEASE_GROUP)
def dataset_release(
    context: AssetExecutionContext, lake: LakeResource, privacy: PrivacyResource, settings: ReleaseSettings
) -> MaterializeResult:
    """public/ ({K}_clusters configs: Parquet, Kaggle JSONL, persona cards; card, starter kit, manifest) and private/ answers."""
    from blueprint_assets.lib.release.answer_leaks import AnswerIndex
    from blueprint_assets.lib.release.files import Granularity, write_release
    from blueprint_assets.lib.release.published import last_texts
    from blueprint_assets.lib.release.splits import HIDDEN_SPLITS
    from blueprint_assets.lib.release.starter_kit import starter_files

    per_k = load_splits(lake, context)
    hidden = AnswerIndex(  # the answer keys: each hidden thread's id and last text
        (
            {"id": i, "text": t}
            for splits in per_k.values()
            for n in HIDDEN_SPLITS
            for i, t in zip(splits[n].column("id").to_pylist(), last_texts(splits[n]), strict=True)
        ),
        workers=privacy.worker_count(),
    )
    cards = persona_cards_for(
        lake, context, cluster_maps(lake, context), hidden.flags_many, settings.quote_min_cluster_size,
        privacy.worker_count(),
    )  # fmt: skip
    card_context = card_context_for(lake, context, privacy, settings)
    folder = release_dir(lake, context)
    granularities = {k: Granularity(splits, cards[k]) for k, splits in per_k.items()}
    summary = write_release(
        folder, granularities, card_context=card_context, extra_files=starter_files, answer_index=hidden
    )
    lake.publish_release(release_name(context))
    readme = (public_dir(folder) / "README.md").read_text()
    first = cards[min(cards)]
    if card_context["synthetic_sample"]:
        context.log.warning(
            "dataset_release: built from the synthetic sample; the card says so, publish refuses it"
        )
    return MaterializeResult(
        metadata={
            "path": MetadataValue.path(str(folder)),
            "public": MetadataValue.path(str(public_dir(folder))),
            "files": summary["files"],
            "manifest_sha256": summary["manifest_sha256"],
            "synthetic_sample": card_context["synthetic_sample"],
            "configs": MetadataValue.json(sorted(summary["clusters_by_k"])),
            "skipped_granularities": MetadataValue.json(
                {str(k): r for k, r in card_context["skipped_ks"].items()}
            ),
            "counts_by_split_and_action": MetadataValue.json(summary["counts"]),
            "dropped_reveals_hidden_answer": summary["reveals_hidden_answer"],
            # The YAML header is for the Hugging Face hub; the UI shows the prose.
            "dataset_card": MetadataValue.md(
                escape_placeholders(readme.split("\n---\n", 1)[-1] if readme.startswith("---") else readme)
            ),
            "persona_cards": MetadataValue.md(
                escape_placeholders("\n\n---\n\n".join(first[c] for c in sorted(first)))
            ),
            # The public training table of the first config: what a dataset user loads first.
            **table_metadata(str(p) for p in sorted((data_root(folder) / "data").glob("*.parquet"))),
        }
    )


def pii_totals(rows: pa.Table) -> dict[str, dict[str, int]]:
    """PII removed, by day and entity type, from anonymized_posts' per-row counts."""
    totals: dict[str, Counter] = {}
    # Most rows share a handful of count strings ("{}" above all): each distinct (day, string) is parsed once.
    pairs = Counter(zip(rows.column("day").to_pylist(), rows.column("pii_counts").to_pylist(), strict=True))
    for (day, counts), repeats in pairs.items():
        total = totals.setdefault(day, Counter())
        for kind, n in json.loads(counts or "{}").items():
            total[kind] += n * repeats
    return {day: dict(sorted(c.items())) for day, c in sorted(totals.items())}


def audit_scans(lake: LakeResource, context: AssetExecutionContext, privacy: PrivacyResource) -> list[dict]:
    """Residual-PII and identifier-leak scans of every public table of the release (counts only)."""
    from blueprint_assets.lib.privacy.anonymizer import text_anonymizer
    from blueprint_assets.lib.privacy.scans import folder_as_table, leak_scan, thread_texts
    from checks.privacy_scans import raw_identifiers_for_days

    days = run_days(context)
    workers = privacy.worker_count()
    known = raw_identifiers_for_days(
        lake.lake, days, privacy.secret_for_scans(), required=True, workers=workers
    )
    anonymizer = text_anonymizer(privacy.ner)
    posts = release_rows(lake, "anonymized_posts", days)
    threads = read_thread_table(lake, "action_threads", context)
    texts = thread_texts(next(iter(by_k(threads).values())))  # every K holds the same messages
    post_texts = [t for t in posts.column("text").to_pylist() if t]
    post_residual, thread_residual = (
        {k: n for k, n in anonymizer.residual_scan(t, workers).items() if n} for t in (post_texts, texts)
    )
    # The release folder holds the threads' texts: their residual scan stands for it.
    tables = {
        "anonymized_posts": (posts, post_texts, post_residual),
        "action_threads": (threads, texts, thread_residual),
        "dataset_release": (folder_as_table(release_dir(lake, context)), texts, thread_residual),
    }
    scans = []
    for name, (table, texts, residual) in tables.items():
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
    from blueprint_assets.lib.ingest.actions import facet_spans
    from blueprint_assets.lib.privacy.anonymizer import text_anonymizer
    from blueprint_assets.lib.release.audit.evidence import (
        FINDABLE_MIN_TOKENS,
        anonymizer_quality,
        reid_risk,
        replacement_sample,
        second_opinion_scan,
    )

    days = run_days(context)
    anonymizer = text_anonymizer(privacy.ner)
    # The smallest K's threads: every K holds the same messages, only the cluster grouping differs.
    per_k = by_k(read_thread_table(lake, "action_threads", context))
    threads = per_k[min(per_k)].to_pylist()
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
        "quote_min_cluster_size": settings.quote_min_cluster_size,
    }


@asset(deps=[dataset_release], **RELEASE_GROUP)
def privacy_audit_report(
    context: AssetExecutionContext, lake: LakeResource, privacy: PrivacyResource, settings: ReleaseSettings
) -> MaterializeResult:
    """What was found and removed, scan results for every table, clusters, opt-outs: read before publishing."""
    from blueprint_assets.lib.release.audit.report import render_audit_report

    days = run_days(context)
    posts = release_rows(lake, "anonymized_posts", days, ["day", "text", "pii_counts"])
    per_k = by_k(read_files([release_file(lake, "persona_clusters", context)]))
    sizes = Counter(per_k[min(per_k)].column("cluster_id").to_pylist())
    granularities = [
        {
            "k": k,
            "status": "built",
            "sizes": dict(sorted(Counter(t.column("cluster_id").to_pylist()).items())),
        }
        for k, t in per_k.items()
    ] + [
        {"k": k, "status": "skipped", "reason": reason}
        for k, reason in skipped_granularities(lake, context, settings).items()
    ]
    opted_out = sorted(privacy.opted_out(privacy.pseudonymizer()))
    stats = {
        "release": release_name(context),
        "pii_by_type_and_day": pii_totals(posts),
        "scans": audit_scans(lake, context, privacy),
        "ner_policy": privacy.ner_policy,
        "cluster_sizes": {str(c): n for c, n in sorted(sizes.items())},
        "min_cluster_size": settings.min_cluster_size,
        "granularities": sorted(granularities, key=lambda g: g["k"]),
        "opt_outs": {"count": len(opted_out), "pseudonyms": opted_out},
        "pseudonym_mode": pseudonym_mode(settings),
        "time_coarsening": "relative integer rank of message times within the release; clock time removed",
        "examples": redacted_examples(posts),
        "input_damage": input_damage(lake.data_dir, lake.lake.day_files("raw_events_quarantine", days)),
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


def persona_cards_for(
    lake: LakeResource,
    context: AssetExecutionContext,
    maps: dict[int, dict[str, int]],
    hidden_texts,
    quote_min_cluster_size: int,
    workers: int = 1,
) -> dict[int, dict[int, str]]:
    """Per K, a Markdown card per cluster; posts that `hidden_texts(texts)` flags True (they hold a hidden
    answer) are left out. `workers` processes share the tokenizing."""
    from blueprint_assets.lib.personas.cards import CardInputs, CardOptions, cards_of

    options = CardOptions(quote_min_cluster_size=quote_min_cluster_size)

    users, matrix = user_matrix(lake, context)
    days = run_days(context)
    rows = release_rows(lake, "anonymized_posts", days, ["actor", "action", "text", "record_id"])
    texts = rows.column("text").to_pylist()
    flagged = hidden_texts([t or "" for t in texts])  # one bulk scan (an empty text flags nothing)
    posts = rows.filter(pa.array([not hit for hit in flagged], pa.bool_()))
    post_vectors = release_rows(lake, "post_embeddings", days, ["record_id", "vector"])
    dim = len(post_vectors.column("vector")[0]) if post_vectors.num_rows else matrix.shape[1]
    inputs = CardInputs.read(rows, posts, post_vectors, workers)  # read and tokenized once for every K
    cards = {}
    for k, clusters in sorted(maps.items()):
        assignments = np.asarray([clusters[u] for u in users])
        centroids = {c: matrix[assignments == c, :dim].mean(axis=0) for c in sorted(set(clusters.values()))}
        cards[k] = cards_of(inputs, clusters, centroids, options)
        context.log.info(f"persona cards: K={k}, {len(cards[k])} cards")
    return cards
