"""Day arithmetic of lib/window.py: ranges counted and cut to the daily partitions."""

from __future__ import annotations

from blueprint_assets.lib.window import ReleaseWindow, clamp_days, day_count


def test_day_count_includes_both_ends_and_crosses_months() -> None:
    assert day_count("2025-03-01", "2025-03-01") == 1
    assert day_count("2025-02-27", "2025-03-02") == 4  # 2025 is not a leap year
    assert day_count("2024-02-28", "2024-03-01") == 3  # 2024 is
    assert day_count("2025-03-02", "2025-03-01") == 0


def test_clamp_days_cuts_to_the_partitions() -> None:
    assert clamp_days("2020-01-01", "2025-12-31", "2023-02-01", None) == ("2023-02-01", "2025-12-31")
    assert clamp_days("2024-01-01", "2030-01-01", "2023-02-01", "2026-12-01") == ("2024-01-01", "2026-12-01")
    assert clamp_days("2020-01-01", "2020-02-01", "2023-02-01", None) is None


def test_a_window_counts_its_days() -> None:
    days = ReleaseWindow.parse("2025-02..2025-03").days
    assert (days[0], days[-1]) == ("2025-02-01", "2025-03-31")
    assert len(days) == day_count(days[0], days[-1]) == 59
