"""Reusable privacy-scan gates: raw identifiers of a window, leak-and-secret scans, and the check factory
for release-level tables. Messages name the table, column and identifier type, never the value.

Like every module of `checks/`, this reaches the outside world only through the run's resources
(`lake`, `privacy`) and imports pure logic (`blueprint_assets.lib`) only.
"""

from datetime import date, timedelta

import pyarrow as pa
from dagster import AssetCheckExecutionContext, AssetCheckResult, PartitionsDefinition

from blueprint_assets.lib.privacy.identifier_digests import KnownIdentifiers, digest_key, key_id
from blueprint_assets.lib.privacy.identifier_store import window_identifiers
from blueprint_assets.lib.privacy.scans import leak_scan, secret_scan
from blueprint_assets.lib.storage.lake import PART_FILE, Lake, read_files
from blueprint_assets.lib.storage.layout import DataLayout
from blueprint_assets.lib.window import ReleaseWindow, run_days
from checks.partitioned import asset_check
from checks.results import scan_result

# The last window's identifiers, by its raw_events files and key: a release run's six privacy scans (and the
# audit) ask for the same window in one process. Committed parts have unique names, so the file list names
# the content; one entry keeps memory bounded. Other processes read the stored digests (identifier_store).
_LAST_WINDOW: dict[tuple[str, ...], KnownIdentifiers] = {}


def raw_identifiers_for_days(
    lake: Lake, days: list[str], secret: bytes, *, required: bool = False, workers: int = 1
) -> KnownIdentifiers:
    """Every DID, handle, email and URL in the raw events of `days`, as digests keyed from `secret` (each raw
    part harvested once by `workers` processes, then read from the state folder); `required`: a window
    without any raw_events partition raises, as `Lake.read_days` does (a scan with nothing to compare must
    not pass)."""
    files = tuple(lake.window_files("raw_events", days) if required else lake.day_files("raw_events", days))
    memo = (*files, key_id(digest_key(secret)))
    if memo in _LAST_WINDOW:
        return _LAST_WINDOW[memo]
    found = window_identifiers(DataLayout(lake.data_dir).state, list(files), secret, workers)
    if not any(f.endswith("/" + PART_FILE) for f in files):  # a legacy part.parquet is rewritten in place
        _LAST_WINDOW.clear()
        _LAST_WINDOW[memo] = found
    return found


def days_with_neighbours(days: list[str]) -> list[str]:
    """The run's days plus one on each side: a post can quote or reply to yesterday's identifiers."""
    first, last = date.fromisoformat(days[0]), date.fromisoformat(days[-1])
    span = (last - first).days + 3
    return [(first - timedelta(days=1) + timedelta(days=i)).isoformat() for i in range(span)]


def leak_and_secret_scan(
    name: str, table: pa.Table, lake: Lake, secret: bytes, days: list[str], workers: int = 1
) -> AssetCheckResult:
    """No raw identifier of the window's raw events, and not the secret, in any column of `table`."""
    known = raw_identifiers_for_days(lake, days, secret, workers=workers)
    findings = leak_scan(name, table, known) + secret_scan(name, table, secret)
    return scan_result(name, findings, table.num_rows, "leak and secret scans")


def release_table_privacy_scan(
    asset_name: str, tables: tuple[str, ...], partitions_def: PartitionsDefinition
):
    """A blocking leak-and-secret scan over the release-level lake tables an asset writes."""

    @asset_check(
        asset=asset_name,
        name=f"{asset_name}_privacy_scan",
        blocking=True,
        partitions_def=partitions_def,
        required_resource_keys={"lake", "privacy"},
    )
    def _scan(context: AssetCheckExecutionContext) -> AssetCheckResult:
        lake, privacy = context.resources.lake.lake, context.resources.privacy
        secret, workers = privacy.secret_for_scans(), privacy.worker_count()
        release, days = ReleaseWindow.of_run(context).name, run_days(context)
        results = [
            leak_and_secret_scan(
                t, read_files([lake.partition_file(t, "release", release)]), lake, secret, days, workers
            )
            for t in tables
        ]
        failed = [r for r in results if not r.passed]
        return failed[0] if failed else results[0]

    _scan.__doc__ = (
        f"No raw identifier from the window's raw events, and not the secret, in {', '.join(tables)}."
    )
    return _scan
