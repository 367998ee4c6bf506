"""Windows of days: `ReleaseWindow` (one month or a range of months) and the days a run covers.

Every place that turns a month spec, a partition range or a run into days or a release name uses this
module, so `2025-03..2025-05` means the same thing to the CLI, the assets and the checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


def days_between(first: date, end: date) -> list[str]:
    """Every day from `first` up to, not including, `end`, as YYYY-MM-DD."""
    return [(first + timedelta(days=i)).isoformat() for i in range((end - first).days)]


def day_count(first: str, last: str) -> int:
    """How many days `first..last` (YYYY-MM-DD, both included) holds; 0 when `last` comes first."""
    return max(0, (date.fromisoformat(last) - date.fromisoformat(first)).days + 1)


def clamp_days(first: str, last: str, start: str, end: str | None) -> tuple[str, str] | None:
    """`first..last` cut to `start..end` (no `end`: open-ended); None when nothing is left."""
    clamped = (max(first, start), min(last, end or last))
    return clamped if clamped[0] <= clamped[1] else None


def run_days(context) -> list[str]:
    """Every UTC day covered by a run's partition (or partition range), daily or monthly."""
    window = context.partition_time_window
    return days_between(window.start.date(), window.end.date())


@dataclass(frozen=True)
class ReleaseWindow:
    """The months of a release: `first` and `last` as YYYY-MM, `first <= last`."""

    first: str
    last: str

    @classmethod
    def parse(cls, spec: str) -> ReleaseWindow:
        """`2025-03` or `2025-03..2025-05` (or days: only their months count); ValueError when malformed."""
        first, _, last = spec.partition("..")
        first, last = first[:7], (last or first)[:7]
        for month in (first, last):
            date.fromisoformat(month + "-01")  # raises ValueError on a malformed month
        if last < first:
            raise ValueError(f"month range ends before it starts: {spec}")
        return cls(first, last)

    @classmethod
    def of_run(cls, context) -> ReleaseWindow:
        """The window of a monthly run (one partition, or a partition range for an extended release)."""
        keys = context.partition_key_range
        return cls.parse(f"{keys.start}..{keys.end}")

    @property
    def name(self) -> str:
        """The release's folder name: `2025-03`, or `2025-03..2025-05` for an extended release."""
        return self.first if self.first == self.last else f"{self.first}..{self.last}"

    @property
    def partition_keys(self) -> tuple[str, str]:
        """First and last monthly partition keys (`2025-03-01`, `2025-05-01`)."""
        return f"{self.first}-01", f"{self.last}-01"

    @property
    def days(self) -> list[str]:
        """Every day of the window's months."""
        year, month = (int(part) for part in self.last.split("-"))
        end = date(year + month // 12, month % 12 + 1, 1)
        return days_between(date.fromisoformat(self.first + "-01"), end)
