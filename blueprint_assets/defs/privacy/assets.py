"""Privacy stage: `anonymized_posts`, every action pseudonymized and its text scrubbed (daily)."""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from blueprint_assets.defs.partitions import daily_asset
from blueprint_assets.defs.resources import LakeResource, PrivacyResource
from blueprint_assets.defs.ui_metadata import table_metadata
from blueprint_assets.lib.privacy.anonymize_actions import anonymize_actions
from blueprint_assets.lib.privacy.involvement import dids_pseudonymized_in
from blueprint_assets.lib.storage.lake import write_table_atomic
from blueprint_assets.lib.window import run_days


@asset(deps=[AssetKey("actions")], **daily_asset("privacy"))
def anonymized_posts(
    context: AssetExecutionContext, lake: LakeResource, privacy: PrivacyResource
) -> MaterializeResult:
    """Every action with keyed pseudonyms for accounts and records, and PII in text replaced by `<TYPE>`."""
    # presidio and spaCy (which pull in transformers and torch) load here, not with the definitions: the code
    # server, every run worker and every CLI command load the definitions, and few steps need them.
    from blueprint_assets.lib.privacy.anonymizer import text_anonymizer

    days = run_days(context)
    pseudonym = privacy.pseudonymizer()
    opted_out = privacy.opted_out(pseudonym)
    anonymizer = text_anonymizer(privacy.ner)

    # Rows made by, about or mentioning an opted-out account (actor, subject, author of a target post).
    opted_out_accounts = dids_pseudonymized_in(opted_out, pseudonym.many) if opted_out else None
    workers = privacy.worker_count()

    def anonymize_texts(texts: list[str], spans: list[list]) -> list:
        return anonymizer.anonymize_many(texts, spans, workers=workers)

    totals = {"rows": 0, "opted_out_rows": 0}
    pii: dict[str, int] = {}
    for number, day in enumerate(days, start=1):
        source = lake.lake.read_days("actions", [day], every_day=True)
        table, stats = anonymize_actions(source, pseudonym.many, anonymize_texts, opted_out_accounts)
        write_table_atomic(table, lake.lake.day_file("anonymized_posts", day))
        for key in totals:
            totals[key] += stats[key]
        for kind, count in stats["pii_by_type"].items():
            pii[kind] = pii.get(kind, 0) + count
        context.log.info(f"anonymized_posts {day} ({number}/{len(days)}): {stats['rows']} rows")
    return MaterializeResult(
        metadata={
            **totals,
            "pii_removed_by_type": MetadataValue.json(dict(sorted(pii.items()))),
            "ner_policy": privacy.ner_policy,
            "path": MetadataValue.path(lake.lake.root + "/anonymized_posts"),
            **table_metadata(lake.lake.day_files("anonymized_posts", days)),
        }
    )
