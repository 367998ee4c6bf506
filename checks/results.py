"""Check results every gate builds the same way: a suite's outcome, or a scan's findings (no values)."""

from __future__ import annotations

from dagster import AssetCheckResult, AssetCheckSeverity

from checks.gx_suite import SuiteOutcome


def outcome_result(outcome: SuiteOutcome, table: str, rows: int) -> AssetCheckResult:
    """A great-expectations suite's outcome as a blocking check result."""
    return AssetCheckResult(
        passed=outcome.success,
        severity=AssetCheckSeverity.ERROR,
        description=outcome.describe(table),
        metadata={"rows": rows, "expectations": outcome.evaluated, "failures": len(outcome.failures)},
    )


def scan_result(table: str, findings: list, scanned_rows: int, what: str) -> AssetCheckResult:
    """A privacy scan's findings (each names a table, column and identifier type, never a value)."""
    return AssetCheckResult(
        passed=not findings,
        severity=AssetCheckSeverity.ERROR,
        description=(f"{table}: {what} found nothing" if not findings else "; ".join(map(str, findings))),
        metadata={"rows_scanned": scanned_rows, "findings": len(findings)},
    )
