"""Blocking privacy checks: residual PII, raw identifier leaks, and the secret, for every public table.

Messages name the table, column and identifier type, never the value.
"""

from datetime import date, timedelta

from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity

from blueprint_assets.lib.privacy.scans import lake_raw_identifiers, leak_scan, secret_scan
from blueprint_assets.lib.storage.lake import read_files
from blueprint_assets.partitions import daily_partitions, days_in_window
from blueprint_assets.resources import LakeResource, PrivacyResource
from checks.ingestion_checks import load_day_table
from checks.partitioned import asset_check


def raw_identifiers_for_days(lake: LakeResource, days: list[str]) -> set[str]:
    """Every DID, handle, email and URL in the raw events of `days`."""
    return lake_raw_identifiers(read_files(lake.lake.day_files("raw_events", days), columns=["kind", "raw"]))


def scan_result(table: str, findings: list, scanned_rows: int, what: str) -> AssetCheckResult:
    return AssetCheckResult(
        passed=not findings,
        severity=AssetCheckSeverity.ERROR,
        description=(f"{table}: {what} found nothing" if not findings else "; ".join(map(str, findings))),
        metadata={"rows_scanned": scanned_rows, "findings": len(findings)},
    )


def _days_with_neighbours(days: list[str]) -> list[str]:
    """The run's days plus one on each side: a post can quote or reply to yesterday's identifiers."""
    first, last = date.fromisoformat(days[0]), date.fromisoformat(days[-1])
    span = (last - first).days + 3
    return [(first - timedelta(days=1) + timedelta(days=i)).isoformat() for i in range(span)]


@asset_check(asset="anonymized_posts", blocking=True, partitions_def=daily_partitions)
def anonymized_posts_residual_scan(
    context: AssetCheckExecutionContext, lake: LakeResource, privacy: PrivacyResource
) -> AssetCheckResult:
    """Re-running the recognizers over the anonymized text finds nothing of the removed types."""
    from blueprint_assets.assets.privacy import text_anonymizer

    table = load_day_table(lake, "anonymized_posts", days_in_window(context))
    residual = text_anonymizer(privacy.ner).residual_scan(table.column("text").to_pylist())
    findings = [f"anonymized_posts.text: {n} residual {kind}" for kind, n in sorted(residual.items()) if n]
    return scan_result("anonymized_posts", findings, table.num_rows, "residual scan")


@asset_check(asset="anonymized_posts", blocking=True, partitions_def=daily_partitions)
def anonymized_posts_leak_scan(context: AssetCheckExecutionContext, lake: LakeResource) -> AssetCheckResult:
    """No raw DID, handle, email or URL from the raw events appears in any column."""
    days = days_in_window(context)
    table = load_day_table(lake, "anonymized_posts", days)
    known = raw_identifiers_for_days(lake, _days_with_neighbours(days))
    return scan_result(
        "anonymized_posts", leak_scan("anonymized_posts", table, known), table.num_rows, "leak scan"
    )


@asset_check(asset="anonymized_posts", blocking=True, partitions_def=daily_partitions)
def anonymized_posts_secret_scan(
    context: AssetCheckExecutionContext, lake: LakeResource, privacy: PrivacyResource
) -> AssetCheckResult:
    """The pseudonymization secret appears in no column."""
    table = load_day_table(lake, "anonymized_posts", days_in_window(context))
    findings = secret_scan("anonymized_posts", table, privacy.secret_for_scans())
    return scan_result("anonymized_posts", findings, table.num_rows, "secret scan")


@asset_check(asset="post_embeddings", blocking=True, partitions_def=daily_partitions)
def post_embeddings_privacy_scan(
    context: AssetCheckExecutionContext, lake: LakeResource, privacy: PrivacyResource
) -> AssetCheckResult:
    """No raw identifier, and not the secret, in any column of the post vectors table."""
    days = days_in_window(context)
    table = load_day_table(lake, "post_embeddings", days).drop_columns(["vector"])
    known = raw_identifiers_for_days(lake, _days_with_neighbours(days))
    findings = leak_scan("post_embeddings", table, known) + secret_scan(
        "post_embeddings", table, privacy.secret_for_scans()
    )
    return scan_result("post_embeddings", findings, table.num_rows, "leak and secret scans")
