"""Blocking privacy checks on `anonymized_posts`: residual PII, raw identifier leaks, and the secret.

Messages name the table, column and identifier type, never the value.
"""

from dagster import AssetCheckExecutionContext, AssetCheckResult

from blueprint_assets.defs.partitions import daily_partitions
from blueprint_assets.defs.resources import LakeResource, PrivacyResource
from blueprint_assets.lib.privacy.scans import leak_scan, secret_scan
from blueprint_assets.lib.window import run_days
from checks.partitioned import asset_check
from checks.privacy_scans import days_with_neighbours, raw_identifiers_for_days
from checks.results import scan_result


@asset_check(asset="anonymized_posts", blocking=True, partitions_def=daily_partitions)
def anonymized_posts_residual_scan(
    context: AssetCheckExecutionContext, lake: LakeResource, privacy: PrivacyResource
) -> AssetCheckResult:
    """Re-running the recognizers over the anonymized text finds nothing of the removed types."""
    from blueprint_assets.lib.privacy.anonymizer import text_anonymizer

    table = lake.lake.read_days("anonymized_posts", run_days(context), every_day=True)
    texts = table.column("text").to_pylist()
    residual = text_anonymizer(privacy.ner).residual_scan(texts, privacy.worker_count())
    findings = [f"anonymized_posts.text: {n} residual {kind}" for kind, n in sorted(residual.items()) if n]
    return scan_result("anonymized_posts", findings, table.num_rows, "residual scan")


@asset_check(asset="anonymized_posts", blocking=True, partitions_def=daily_partitions)
def anonymized_posts_leak_scan(
    context: AssetCheckExecutionContext, lake: LakeResource, privacy: PrivacyResource
) -> AssetCheckResult:
    """No raw DID, handle, email or URL from the raw events appears in any column."""
    days = run_days(context)
    table = lake.lake.read_days("anonymized_posts", days, every_day=True)
    known = raw_identifiers_for_days(
        lake.lake, days_with_neighbours(days), privacy.secret_for_scans(), workers=privacy.worker_count()
    )
    return scan_result(
        "anonymized_posts", leak_scan("anonymized_posts", table, known), table.num_rows, "leak scan"
    )


@asset_check(asset="anonymized_posts", blocking=True, partitions_def=daily_partitions)
def anonymized_posts_secret_scan(
    context: AssetCheckExecutionContext, lake: LakeResource, privacy: PrivacyResource
) -> AssetCheckResult:
    """The pseudonymization secret appears in no column."""
    table = lake.lake.read_days("anonymized_posts", run_days(context), every_day=True)
    findings = secret_scan("anonymized_posts", table, privacy.secret_for_scans())
    return scan_result("anonymized_posts", findings, table.num_rows, "secret scan")
