"""What the lake holds for a range of days, and where the releases are: the figures of `blueprint summary`.

Every daily table is read through `Lake.read_days` (a day with no partition contributes no rows), only the
narrow columns each figure needs. Damaged input files are counted with ingestion's rule
(`lib/ingest/quarantine.DAMAGE_SQL`). The CLI prints a `LakeSummary`; nothing here prints.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from blueprint_assets.lib.storage import storage
from blueprint_assets.lib.storage.lake import Lake
from blueprint_assets.lib.storage.layout import DataLayout
from blueprint_assets.lib.window import days_between

AUDIT_FILE = ("privacy_audit", "privacy_audit.md")
LEADERBOARD_FILE = "leaderboard.md"  # where `make demo` writes `blueprint baseline leaderboard --out`


@dataclass(frozen=True)
class LakeSummary:
    """Lines read and kept for `first..last`, rows per action type, and where the data's folders are."""

    first: str
    last: str
    events: int
    quarantined: int
    corrupt_files: int
    by_action: tuple[tuple[str, int], ...]  # most rows first, ties by name
    lake: str
    releases: tuple[tuple[str, str | None], ...]  # (release folder, its privacy audit or None)
    leaderboard: str | None
    dagster_home: Path

    @property
    def read_nothing(self) -> bool:
        """No line of these days was kept or quarantined (a wrong source, filter or date range)."""
        return not self.events and not self.quarantined


def _rows(lake: Lake, table: str, days: list[str], columns: list[str]) -> pa.Table | None:
    """`columns` of `table` over `days`, or None when no day of them is stored."""
    try:
        return lake.read_days(table, days, columns)
    except FileNotFoundError:
        return None


def _damaged_files(quarantine: pa.Table) -> int:
    from blueprint_assets.lib.ingest.quarantine import DAMAGE_SQL

    con = duckdb.connect()
    con.register("quarantine", quarantine)
    return con.execute(f"SELECT count(DISTINCT source_file) FROM quarantine WHERE {DAMAGE_SQL}").fetchone()[0]


def lake_summary(layout: DataLayout, first: str, last: str) -> LakeSummary:
    """The summary of days `first..last` (YYYY-MM-DD, both included) under the data root of `layout`."""
    lake = Lake(layout.root)
    days = days_between(date.fromisoformat(first), date.fromisoformat(last) + timedelta(days=1))
    events = _rows(lake, "raw_events", days, ["time_us"])
    quarantine = _rows(lake, "raw_events_quarantine", days, ["source_file", "reason"])
    actions = _rows(lake, "actions", days, ["action"])
    counts = Counter(actions.column("action").to_pylist()) if actions is not None else Counter()
    releases = []
    for name in storage.list_folders(layout.releases):
        folder = storage.join(layout.releases, name)
        audit = storage.join(folder, *AUDIT_FILE)
        releases.append((folder, audit if storage.is_file(audit) else None))
    leaderboard = storage.join(layout.root, LEADERBOARD_FILE)
    return LakeSummary(
        first=first,
        last=last,
        events=events.num_rows if events is not None else 0,
        quarantined=quarantine.num_rows if quarantine is not None else 0,
        corrupt_files=_damaged_files(quarantine) if quarantine is not None else 0,
        by_action=tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0]))),
        lake=lake.root,
        releases=tuple(releases),
        leaderboard=leaderboard if storage.is_file(leaderboard) else None,
        dagster_home=layout.dagster_home,
    )
