"""Ingestion stage: raw Jetstream events, then the 13-type action table (daily partitions)."""

import json
from collections import Counter

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from blueprint_assets.defs.partitions import daily_asset
from blueprint_assets.defs.resources import EventSourceResource, LakeResource, PrivacyResource, QueryEngine
from blueprint_assets.defs.ui_metadata import table_metadata
from blueprint_assets.lib.ingest.actions import build_actions_day
from blueprint_assets.lib.ingest.raw_events import IngestStats, stage_lines, write_accounting, write_raw_days
from blueprint_assets.lib.sources.source_lines import SourceStats
from blueprint_assets.lib.window import run_days

DAILY = daily_asset("ingestion")


@asset(**DAILY)
def raw_events(
    context: AssetExecutionContext,
    lake: LakeResource,
    query_engine: QueryEngine,
    source: EventSourceResource,
    privacy: PrivacyResource,
) -> MaterializeResult:
    """Every Jetstream event of the day, verbatim, deduplicated; bad lines go to raw_events_quarantine."""
    days = run_days(context)
    stats = IngestStats()
    delivered = SourceStats()
    with query_engine.configured_connection(lake.layout.spill, lake.layout.root) as con:
        stage_lines(
            con, source.line_sources(days, lake.layout.state, delivered, progress=context.log.info), stats
        )
        context.log.info(
            f"read {stats.lines_read} lines from {stats.files_read} files for {len(days)} day(s)"
        )
        # What the source skipped (other collections, unavailable accounts, replays) reaches the run log.
        context.log.info(f"{delivered.one_line()}: {json.dumps(delivered.summary(), sort_keys=True)}")
        pseudonym = privacy.pseudonymizer()
        opted_out = privacy.opted_out(pseudonym) | privacy.opted_out_handles()
        # DIDs and @-mentioned handles: every distinct one seen is pseudonymized, in one batch.
        excluded = (
            (lambda ids: [i for i, p in zip(ids, pseudonym.many(ids), strict=True) if p in opted_out])
            if opted_out
            else None
        )
        write_raw_days(con, lake.lake, days, stats, excluded)
    replays = delivered.stream.get("replays_dropped", 0)
    accounting = write_accounting(lake.layout.state, days, stats)
    warnings = ingestion_warnings(stats, days)
    for warning in warnings:
        context.log.warning(warning)
    quarantined = Counter()
    for reasons in stats.quarantined_by_day.values():
        quarantined.update(reasons)
    return MaterializeResult(
        metadata={
            "days": len(days),
            "lines_read": stats.lines_read,
            "blank_lines": stats.blank_lines,
            "files_read": stats.files_read,
            "corrupt_files": stats.corrupt_files,
            "events": sum(stats.events_by_day.values()),
            # Copies the live source dropped by key never reach ingestion; both are deduplicated deliveries.
            "duplicates_dropped": sum(stats.duplicates_by_day.values()) + replays,
            "source_replays_dropped": replays,
            "outside_window": stats.outside_window,
            "opted_out_events_dropped": stats.opted_out_events,
            "line_accounting": MetadataValue.json(accounting),
            "warnings": MetadataValue.json(warnings),
            "quarantined": sum(quarantined.values()),
            "quarantined_by_reason": MetadataValue.json(dict(sorted(quarantined.items()))),
            "events_by_day": MetadataValue.json(stats.events_by_day),
            "path": MetadataValue.path(lake.lake.root + "/raw_events"),
            "source": MetadataValue.json(delivered.summary()),
            "summary": delivered.one_line(),
            **table_metadata(lake.lake.day_files("raw_events", days)),
        }
    )


def ingestion_warnings(stats: IngestStats, days: list[str]) -> list[str]:
    """What a user must not miss: nothing to read, nothing read, damaged files."""
    window = days[0] if len(days) == 1 else f"{days[0]}..{days[-1]}"
    warnings = []
    if stats.files_read == 0:
        warnings.append(f"WARNING: no source file holds events of {window}; nothing was ingested")
    elif stats.lines_read == 0:
        warnings.append(f"WARNING: {stats.files_read} file(s) read for {window} but 0 lines in them")
    if stats.corrupt_files:
        warnings.append(
            f"WARNING: {stats.corrupt_files} damaged file(s) (corrupt or truncated gzip, unreadable): their"
            " lines before the damage were kept, the rest is quarantined"
        )
    return warnings


@asset(deps=[raw_events], **DAILY)
def actions(
    context: AssetExecutionContext, lake: LakeResource, query_engine: QueryEngine
) -> MaterializeResult:
    """One row per Bluesky interaction, in the 13-type action space; deletes resolved to their subject."""
    days = run_days(context)
    by_type: Counter = Counter()
    ignored: Counter = Counter()
    unresolved = 0
    with query_engine.configured_connection(lake.layout.spill, lake.layout.root) as con:
        # Days in order, so a delete can find a create from an earlier day of the same run.
        for number, day in enumerate(days, start=1):
            summary = build_actions_day(con, lake.lake, day)
            by_type.update(summary["by_type"])
            ignored.update(summary["ignored_by_collection"])
            unresolved += summary["unresolved_deletes"]
            context.log.info(f"actions {day} ({number}/{len(days)}): {sum(summary['by_type'].values())} rows")
    return MaterializeResult(
        metadata={
            "rows": sum(by_type.values()),
            "rows_by_action": MetadataValue.json(dict(sorted(by_type.items()))),
            "unresolved_deletes": unresolved,
            "not_actions_by_collection": MetadataValue.json(dict(sorted(ignored.items()))),
            "path": MetadataValue.path(lake.lake.root + "/actions"),
            **table_metadata(lake.lake.day_files("actions", days)),
        }
    )
