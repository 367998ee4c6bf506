"""Long ranges cost what their data costs (issue 12.5): a six-year `blueprint run` over a few days of data.

Run: `python benchmarks/bench_long_range.py [--users 300] [--days 3]`.

1. Generates (once; cached under benchmarks/work/long_range/) a small sample archive: `--days` days from
   2025-03-01 with `--users` users.
2. Runs the real CLI in a fresh subprocess, `blueprint run --from 2020-01-01 --to 2025-12-31 --source-dir
   ARCHIVE --select raw_events,actions` (ingestion: the stages this issue is about), and records when its
   first step finished and when it ended.
3. Baseline, same run: the same command over the data days only (`--from 2025-03-01 --to <last day>`).

Figures (merged into benchmarks/results.json): long_range_seconds (total wall time, vs the data-days-only
run; goal: a few minutes, ratio ~1) and long_range_first_step_seconds (time to the first finished step,
vs the same for the data-days-only run; goal <= 60 s). Goals are reported, never asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, WORK_DIR, merge_results, record, report  # noqa: E402

WORK = WORK_DIR / "long_range"
FIRST_DAY = "2025-03-01"
LONG_RANGE = ("2020-01-01", "2025-12-31")
GOAL_FIRST_STEP_S = 60.0


def ensure_archive(users: int, days: int) -> Path:
    from blueprint_assets.lib.sample import generate_sample

    folder = WORK / f"archive_u{users}_d{days}"
    if not folder.is_dir():
        generate_sample(folder, days=days, users=users, seed=7, start=date.fromisoformat(FIRST_DAY))
    return folder


def timed_run(archive: Path, first: str, last: str, label: str) -> dict[str, float]:
    """Wall time to the first finished step and to the end of one `blueprint run` (fresh data dir)."""
    data = WORK / f"data_{label}"
    shutil.rmtree(data, ignore_errors=True)
    cmd = [sys.executable, "-m", "blueprint_assets.cli", "run", "--from", first, "--to", last,
           "--source-dir", str(archive), "--data-dir", str(data), "--select", "raw_events,actions"]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    first_step = None
    with subprocess.Popen(
        cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as proc:
        for line in proc.stderr:
            if first_step is None and line.strip().startswith("done"):
                first_step = time.perf_counter() - start
            print(f"    {line.rstrip()}", flush=True)
        proc.wait()
        if proc.returncode != 0:
            raise RuntimeError(f"blueprint run {first}..{last} failed ({proc.returncode})")
        if first_step is None:  # a run that finished no step measured nothing
            raise RuntimeError(f"blueprint run {first}..{last} finished no step")
    total = time.perf_counter() - start
    shutil.rmtree(data, ignore_errors=True)
    return {"total": total, "first_step": first_step}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--no-results", action="store_true", help="do not write benchmarks/results.json")
    args = parser.parse_args()
    archive = ensure_archive(args.users, args.days)
    last_data_day = (date.fromisoformat(FIRST_DAY) + timedelta(days=args.days - 1)).isoformat()
    print(f"long range {LONG_RANGE[0]}..{LONG_RANGE[1]} over {args.days} day(s) of data ...", flush=True)
    long = timed_run(archive, *LONG_RANGE, "long")
    print(f"data days only {FIRST_DAY}..{last_data_day} ...", flush=True)
    short = timed_run(archive, FIRST_DAY, last_data_day, "short")
    records = [
        report(
            record("long_range_seconds", long["total"], "s", "data_days_only_run", short["total"], digits=2),
            goal="finishes within a few minutes; ratio ~1 (empty days cost next to nothing)",
        ),
        report(
            record(
                "long_range_first_step_seconds",
                long["first_step"],
                "s",
                "data_days_only_run",
                short["first_step"],
                digits=2,
            ),  # fmt: skip
            goal=f"<= {GOAL_FIRST_STEP_S:g} s",
        ),
    ]
    if not args.no_results:
        merge_results(records)


if __name__ == "__main__":
    main()
