"""Blocking gates on the release stage: data quality (great-expectations 1.x) and privacy scans."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity

from blueprint_assets.defs.lake_io import read_release_table, read_thread_table, release_dir
from blueprint_assets.defs.partitions import monthly_partitions
from blueprint_assets.defs.resources import LakeResource, PrivacyResource, ReleaseSettings
from blueprint_assets.lib.actions_space import ACTION_ORDER, TEXT_ACTIONS
from blueprint_assets.lib.privacy.scans import folder_as_table
from blueprint_assets.lib.window import run_days
from checks.gx_suite import expectations, run_suite
from checks.partitioned import asset_check
from checks.privacy_scans import leak_and_secret_scan, release_table_privacy_scan
from checks.results import outcome_result

RELEASE_CHECK = {"blocking": True, "partitions_def": monthly_partitions}


def thread_facts(table: pa.Table) -> pd.DataFrame:
    """One row per thread with the derived facts the gates test, computed column-wise from the messages,
    batch by batch (a whole column in one array could pass Arrow's 2 GiB offsets). No thread: no columns,
    so the gates fail instead of passing on nothing."""
    frames = [_batch_facts(pa.Table.from_batches([batch])) for batch in table.to_batches() if batch.num_rows]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _batch_facts(table: pa.Table) -> pd.DataFrame:
    thread = table.column("thread").combine_chunks()
    lengths = pc.fill_null(pc.list_value_length(thread), 0).to_numpy(zero_copy_only=False)
    if (lengths < 1).any():
        raise ValueError("a thread without messages cannot be checked")
    messages = thread.flatten()
    ends = np.cumsum(lengths)
    last, parent = ends - 1, np.repeat(np.arange(len(lengths)), lengths)
    context = np.ones(len(messages), dtype=bool)
    context[last] = False  # every message but each thread's last
    actions = pc.struct_field(messages, "actions")
    has_actions = actions.is_valid().to_numpy(zero_copy_only=False)
    has_text = pc.struct_field(messages, "text").is_valid().to_numpy(zero_copy_only=False)
    action = table.column("action").to_numpy(zero_copy_only=False)
    last_true = np.zeros(len(lengths), dtype=np.int64)
    last_action_matches = np.zeros(len(lengths), dtype=bool)
    for name in ACTION_ORDER:
        flag = pc.fill_null(pc.struct_field(actions, name), False).to_numpy(zero_copy_only=False)[last]
        last_true += flag
        last_action_matches |= flag & (action == name)
    times = pc.struct_field(messages, "relative_integer_time")
    if times.null_count:
        raise ValueError("a message without a time cannot be checked")
    times = times.to_numpy(zero_copy_only=False)
    # A pair of neighbours in one thread whose later message is earlier.
    backwards = np.flatnonzero((parent[1:] == parent[:-1]) & (times[1:] < times[:-1]))
    per_thread = lambda mask: np.bincount(parent[mask], minlength=len(lengths))  # noqa: E731
    ids = table.column("id").to_pylist()
    ks = table.column("k").to_numpy(zero_copy_only=False) if "k" in table.column_names else None
    return pd.DataFrame(
        {
            # Ids are unique within a granularity; the same thread of two K can share one.
            "id": ids if ks is None else [f"{k}:{i}" for k, i in zip(ks.tolist(), ids, strict=True)],
            "k": np.zeros(len(lengths), dtype=np.int64) if ks is None else ks.astype(np.int64),
            "cluster_id": table.column("cluster_id").to_numpy(zero_copy_only=False).astype(np.int64),
            "action": action,
            "last_true": last_true,
            "others_with_actions": per_thread(context & has_actions),
            "last_action_matches": last_action_matches,
            "text_where_needed": has_text[last] == np.isin(action, list(TEXT_ACTIONS)),
            "context_has_text": per_thread(context & ~has_text) == 0,
            "times_increasing": ~np.isin(np.arange(len(lengths)), parent[backwards]),
        }
    )


def thread_expectations() -> list:
    gx = expectations()
    return [
        gx.ExpectColumnValuesToBeUnique(column="id"),
        gx.ExpectColumnValuesToBeInSet(column="action", value_set=list(ACTION_ORDER)),
        gx.ExpectColumnValuesToBeInSet(column="last_true", value_set=[1]),
        gx.ExpectColumnValuesToBeInSet(column="others_with_actions", value_set=[0]),
        *(
            gx.ExpectColumnValuesToBeInSet(column=c, value_set=[True])
            for c in ("last_action_matches", "text_where_needed", "context_has_text", "times_increasing")
        ),
    ]


@asset_check(asset="action_threads", **RELEASE_CHECK)
def action_threads_quality(context: AssetCheckExecutionContext, lake: LakeResource) -> AssetCheckResult:
    """One true action on the last message only, text exactly where needed, unique ids, ordered times."""
    facts = thread_facts(read_thread_table(lake, "action_threads", context))
    return outcome_result(
        run_suite(facts, thread_expectations(), "action_threads"), "action_threads", len(facts)
    )


@asset_check(asset="action_splits", **RELEASE_CHECK)
def action_splits_quality(
    context: AssetCheckExecutionContext, lake: LakeResource, settings: ReleaseSettings
) -> AssetCheckResult:
    """Splits are disjoint, every cluster is at or above the minimum size, thread rules hold."""
    table = read_thread_table(lake, "action_splits", context)
    facts = thread_facts(table.drop_columns(["split"]))
    facts["split"] = table.column("split").to_pylist()
    clusters = read_release_table(lake, "persona_clusters", context).to_pandas()
    sizes = clusters.groupby(["k", "cluster_id"])["user"].count().to_dict()  # a dict: one lookup per thread
    keys = zip(facts["k"].tolist(), facts["cluster_id"].tolist(), strict=True)
    facts["cluster_size"] = [sizes.get(key, 0) for key in keys]
    gx = expectations()
    suite = [
        *thread_expectations(),  # a unique id across all splits means no thread is in two splits
        gx.ExpectColumnValuesToBeInSet(column="split", value_set=["train", "validation", "test"]),
        gx.ExpectColumnValuesToBeBetween(column="cluster_size", min_value=settings.min_cluster_size),
    ]
    return outcome_result(run_suite(facts, suite, "action_splits"), "action_splits", len(facts))


@asset_check(asset="dataset_release", **RELEASE_CHECK)
def dataset_release_manifest(context: AssetCheckExecutionContext, lake: LakeResource) -> AssetCheckResult:
    """public/ and private/ MANIFEST.json hashes match the files, and no file is missing or extra."""
    from blueprint_assets.lib.release.files import verify_manifest

    problems = verify_manifest(release_dir(lake, context))
    frame = pd.DataFrame({"problem": problems or [None]})
    gx = expectations()
    outcome = run_suite(frame, [gx.ExpectColumnValuesToBeNull(column="problem")], "dataset_release")
    description = outcome.describe("dataset_release") + (f" ({'; '.join(problems[:5])})" if problems else "")
    return AssetCheckResult(
        passed=outcome.success, severity=AssetCheckSeverity.ERROR, description=description,
        metadata={"problems": len(problems)},
    )  # fmt: skip


action_threads_privacy_scan = release_table_privacy_scan(
    "action_threads", ("action_threads",), monthly_partitions
)
action_splits_privacy_scan = release_table_privacy_scan(
    "action_splits", ("action_splits",), monthly_partitions
)


@asset_check(asset="dataset_release", **RELEASE_CHECK)
def dataset_release_privacy_scan(
    context: AssetCheckExecutionContext, lake: LakeResource, privacy: PrivacyResource
) -> AssetCheckResult:
    """No raw identifier, and not the secret, in any file of the release folder (public, private, audit)."""
    table = folder_as_table(release_dir(lake, context))
    return leak_and_secret_scan(
        "dataset_release",
        table,
        lake.lake,
        privacy.secret_for_scans(),
        run_days(context),
        privacy.worker_count(),
    )


@asset_check(asset="dataset_release", **RELEASE_CHECK)
def dataset_release_no_answers(
    context: AssetCheckExecutionContext, lake: LakeResource, privacy: PrivacyResource
) -> AssetCheckResult:
    """No validation/test answer (its action or its text) appears anywhere in public/."""
    from blueprint_assets.lib.release.answer_leaks import AnswerIndex, load_answer_rows
    from blueprint_assets.lib.release.layout import answer_files, public_dir
    from blueprint_assets.lib.release.public_scan import scan_public

    folder = release_dir(lake, context)
    index = AnswerIndex(load_answer_rows(answer_files(folder)), workers=privacy.worker_count())
    findings = scan_public(public_dir(folder), index)
    if not len(index):
        findings.append("private/ holds no answer keys: nothing to score against")
    description = (
        f"{len(findings)} leak(s): " + "; ".join(findings[:5])
        if findings
        else f"none of {len(index)} hidden answers appears in public/"
    )
    return AssetCheckResult(
        passed=not findings, severity=AssetCheckSeverity.ERROR, description=description,
        metadata={"answers": len(index), "findings": len(findings)},
    )  # fmt: skip
