"""`asset_check`, Dagster's decorator plus one evaluation per partition for runs over a partition range.

Why: a check with a `partitions_def` that runs once over a range of partitions (BluePrint's single-run
backfills) returns one result, which Dagster records without a partition. The UI then finds every planned
partition without an evaluation and shows the check as "Skipped" ("0 / N Passed") although it passed.
This decorator logs the result once per partition of the range, each pointing at that partition's latest
materialization, so the UI shows what the check found. Use it instead of `dagster.asset_check` for every
partitioned check (tests/defs/test_ui_metadata.py enforces it).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from dagster import AssetCheckEvaluation, AssetCheckResult, AssetRecordsFilter, DagsterEventType
from dagster import asset_check as dagster_asset_check
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)

MARKER = "__blueprint_records_partitions__"


def asset_check(**kwargs) -> Callable:
    """`dagster.asset_check(**kwargs)` whose result is also recorded for each partition of a range run."""

    def decorate(fn: Callable) -> object:
        @functools.wraps(fn)
        def wrapper(context, *args, **kw):
            result = fn(context, *args, **kw)
            if isinstance(result, AssetCheckResult):
                record_per_partition(context, result)
            return result

        setattr(wrapper, MARKER, True)
        return dagster_asset_check(**kwargs)(wrapper)

    return decorate


def records_partitions(check_def) -> bool:
    """True when `check_def` was made by this module's `asset_check`."""
    compute = getattr(check_def.node_def.compute_fn, "decorated_fn", None)
    return bool(getattr(compute, MARKER, False))


def _range_keys(context) -> list[str]:
    """The partition keys of a run over several partitions ([] for one partition or none).

    A run over one partition should carry the `dagster/partition` tag (the CLI does): Dagster then records
    the partition itself. A one-partition *range* run is left alone too, so it records one evaluation.
    """
    op_context = context.op_execution_context
    if not op_context.has_partition_key_range or op_context.has_partition_key:
        return []
    keys = list(op_context.partition_keys)
    return keys if len(keys) > 1 else []


def record_per_partition(context, result: AssetCheckResult) -> None:
    """Log `result` as an evaluation of each partition of the run's range (Dagster records it once, unpartitioned)."""
    keys = _range_keys(context)
    if not keys:
        return
    (spec,) = context.check_specs
    instance = context.instance
    latest = instance.event_log_storage.get_latest_storage_id_by_partition(
        spec.asset_key, DagsterEventType.ASSET_MATERIALIZATION, set(keys)
    )
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=spec.asset_key, storage_ids=list(latest.values())),
        limit=len(latest) or 1,
    ).records
    targets = {
        record.storage_id: AssetCheckEvaluationTargetMaterializationData(
            storage_id=record.storage_id, run_id=record.run_id, timestamp=record.timestamp
        )
        for record in records
    }
    for key in keys:
        context.op_execution_context.log_event(
            AssetCheckEvaluation(
                asset_key=spec.asset_key,
                check_name=spec.name,
                passed=result.passed,
                metadata=result.metadata,
                target_materialization_data=targets.get(latest.get(key, -1)),
                severity=result.severity,
                description=result.description,
                blocking=spec.blocking,
                partition=key,
            )
        )
