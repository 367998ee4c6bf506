"""End-to-end ingestion throughput and peak memory: raw_events + actions for one large sample day.

Run: `python benchmarks/bench_ingestion.py [--users 20000] [--events-per-user-day 50] [--quick]`.

1. Generates (once; cached under benchmarks/work/ingest/) a one-day sample archive with
   `lib.sample.generate_sample` (20,000 users x 50 events ~ 1M lines), and a day `--small-factor` times
   smaller (same seed, fewer users).
2. Ingests it in a fresh subprocess through the assets' code path: `line_sources_for("jetstream-archive")`
   (ArchiveIndex + file lines) -> `stage_lines` -> `write_raw_days` -> `build_actions_day`, on an in-memory
   DuckDB connection set up by `lib.storage.duck.configure` with its working tables in a throwaway on-disk
   database (`lib.storage.duck.work_database`), as the `QueryEngine` resource does. The child reports wall
   time per phase and its own peak RSS (`common.peak_rss_mb`: VmHWM, this process's own high-water mark).
3. Baseline, also in a fresh subprocess: a plain Python loop `json.loads` of every line of the same files
   into a list of dicts (and its peak RSS).

Figures (merged into benchmarks/results.json): ingestion_throughput (events/s; events = non-blank input
lines), ingestion_peak_rss_mb (vs the json.loads baseline), ingestion_peak_rss_scaling (large day vs the
smaller day; ~1.0 means memory does not grow with the day) and the same scaling for the baseline; with
`--low-memory-limit`, both days again under that limit (ingestion_peak_rss_scaling_low_memory_limit).
4. Ceiling, also in a fresh subprocess: DuckDB's `read_ndjson_objects` + `json_extract` of the key fields
   over the same files (parse only, nothing written).

Goal (issue 12.2): >= 250,000 events/s on 2 cores, >= 4x the json.loads loop, >= 0.6 of the ceiling.
Goals are reported, never asserted.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    ROOT,
    WORK_DIR,
    child_json,
    duckdb_ceiling,
    generated_archive,
    merge_results,
    parse_child_json,
    peak_rss_mb,
    raw_storage_floor,
    record,
    report,
    warm_page_cache,
)

GOAL_EVENTS_PER_S = 250_000
GOAL_VS_JSON_LOADS = 4.0
GOAL_VS_CEILING = 0.6
DAY = "2025-03-01"
CHILD_TAG = "BENCH_INGESTION_JSON "
INGEST_DIR = WORK_DIR / "ingest"

# Which phase a DuckDB statement belongs to, by the first pattern its SQL matches.
SQL_PHASES: tuple[tuple[str, str], ...] = (
    (r"AS part FROM", "stage+parse: decode, parse JSON once, check, key, write a Parquet part (per chunk)"),
    (r"VIEW ingest_", "stage: define/drop the staged lines' views"),
    (r"ingest_duplicate_rows AS", "raw_events: find repeated deliveries (keys only)"),
    (r"COPY \(.*FROM ingest_lines.*reason IS NULL", "raw_events: COPY to Parquet (arrival order, no sort)"),
    (r"COPY \(.*FROM ingest_lines", "quarantine: COPY to Parquet"),
    (r"TABLE actions_mapped AS", "actions: map commits SQL (parse once)"),
    (r"COPY \(.*FROM actions_mapped", "actions: join + sort + COPY to Parquet"),
    (r"actions_creates", "actions: create index for undos"),
    (r"read_parquet|FROM ingest_lines|ingest_duplicate_rows", "counts and summaries"),
    (r"ATTACH|DETACH|^USE |current_database", "work database: attach/detach"),
    (r"^\s*SET ", "configure"),
)


# ----------------------------------------------------------------------------------------------------------
# Child: the ingestion run (a fresh process: its VmHWM is its own peak)
# ----------------------------------------------------------------------------------------------------------


class TimedConnection:
    """A DuckDB connection that adds each statement's wall time to a phase (see SQL_PHASES)."""

    def __init__(self, con: Any, seconds: dict[str, float], cpu: dict[str, float] | None = None) -> None:
        self._con = con
        self._seconds = seconds
        self._cpu = cpu if cpu is not None else defaultdict(float)

    def execute(self, sql: str, params: Any = None) -> Any:
        phase = next(
            (name for pattern, name in SQL_PHASES if re.search(pattern, sql, re.DOTALL)), "other SQL"
        )
        start, cpu = time.perf_counter(), time.process_time()
        try:
            return self._con.execute(sql, params) if params is not None else self._con.execute(sql)
        finally:
            self._seconds[phase] += time.perf_counter() - start
            self._cpu[phase] += time.process_time() - cpu  # the whole process's CPU, DuckDB threads included

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def _timed_first(sources: Iterable[Any], seconds: dict[str, float], phase: str) -> Iterator[Any]:
    """Yield from `sources`, charging the time to produce the first item (the archive index scan) to `phase`."""
    iterator = iter(sources)
    start = time.perf_counter()
    first = next(iterator, None)
    seconds[phase] += time.perf_counter() - start
    if first is None:
        return
    yield first
    yield from iterator


def child_ingest(args: argparse.Namespace) -> None:
    """Ingest DAY of `args.sample` into a fresh lake under `args.data_dir`; print timings and peak RSS."""
    import duckdb

    from blueprint_assets.lib.ingest import staging
    from blueprint_assets.lib.ingest.actions import build_actions_day
    from blueprint_assets.lib.ingest.raw_events import IngestStats, stage_lines, write_raw_days
    from blueprint_assets.lib.sources.source_lines import line_sources_for
    from blueprint_assets.lib.storage.duck import configure, work_database
    from blueprint_assets.lib.storage.lake import Lake

    if args.chunk_lines:
        staging.CHUNK_LINES = args.chunk_lines  # diagnostic knob only; the default is the module's value
    data_dir = Path(args.data_dir)
    shutil.rmtree(data_dir, ignore_errors=True)
    lake = Lake(str(data_dir))
    state_dir = data_dir / "state"
    seconds: dict[str, float] = defaultdict(float)
    cpu_by_phase: dict[str, float] = defaultdict(float)
    stats = IngestStats()
    profiler = cProfile.Profile() if args.cprofile else None
    rss_before = peak_rss_mb()

    cpu = cpu_seconds()
    start = time.perf_counter()
    if profiler:
        profiler.enable()
    spill = state_dir / "duckdb_spill"
    con = TimedConnection(duckdb.connect(":memory:"), seconds, cpu_by_phase)
    configure(con, spill, args.memory_limit)
    if args.threads:
        con.execute(f"SET threads = {int(args.threads)}")
    sources = line_sources_for("jetstream-archive", days=[DAY], state_dir=state_dir, path=args.sample)
    t0 = time.perf_counter()
    # As `QueryEngine.configured_connection` does: working tables in a throwaway on-disk database.
    with work_database(con, spill):
        sql_before = sum(seconds.values())
        stage_lines(con, _timed_first(sources, seconds, "index: scan archive time ranges"), stats)
        stage_wall = time.perf_counter() - t0
        # Native files are read on worker cursors (not timed statement by statement) and other lines on a
        # background thread while DuckDB parses: this is the part of staging not spent on `con` itself.
        seconds["stage: native reads on worker cursors, waiting for Python line reading"] += stage_wall - (
            sum(seconds.values()) - sql_before
        )
        t_raw = time.perf_counter()
        write_raw_days(con, lake, [DAY], stats)
    con.close()
    t_actions = time.perf_counter()
    # `actions` is its own asset with its own connection: the staging tables are gone by then.
    con = TimedConnection(duckdb.connect(":memory:"), seconds, cpu_by_phase)
    configure(con, spill, args.memory_limit)
    if args.threads:
        con.execute(f"SET threads = {int(args.threads)}")
    with work_database(con, spill):
        summary = build_actions_day(con, lake, DAY)
    con.close()
    end = time.perf_counter()
    if profiler:
        profiler.disable()

    profile_text = ""
    if profiler:
        buffer = io.StringIO()
        pstats.Stats(profiler, stream=buffer).sort_stats("tottime").print_stats(15)
        profile_text = buffer.getvalue()
    child_json(
        CHILD_TAG,
        {
            "seconds": end - start,
            "cpu_s": cpu_seconds() - cpu,
            "stage_lines_s": t_raw - t0,
            "write_raw_days_s": t_actions - t_raw,
            "build_actions_day_s": end - t_actions,
            "phases": dict(seconds),
            "cpu_phases": dict(cpu_by_phase),
            "lines_read": stats.lines_read,
            "files_read": stats.files_read,
            "native_files": stats.native_files,
            "events_kept": sum(stats.events_by_day.values()),
            "duplicates": sum(stats.duplicates_by_day.values()),
            "quarantined": sum(sum(r.values()) for r in stats.quarantined_by_day.values()),
            "actions": sum(summary["by_type"].values()),
            "peak_rss_mb": peak_rss_mb(),
            "rss_at_start_mb": rss_before,
            "profile": profile_text,
        },
    )
    if not args.keep:
        shutil.rmtree(data_dir, ignore_errors=True)


def cpu_seconds() -> float:
    """User + system CPU time of this process so far, all threads (DuckDB's included)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def archive_jsonl_files(sample: str) -> list[Path]:
    return sorted(p for p in Path(sample).rglob("*") if p.is_file() and p.name.endswith(".jsonl"))


def child_ceiling(args: argparse.Namespace) -> None:
    """Ceiling: DuckDB's own `read_ndjson_objects` + `json_extract` of the key fields over the same files
    (`common.duckdb_ceiling`), nothing written."""
    child_json(CHILD_TAG, duckdb_ceiling([str(p) for p in archive_jsonl_files(args.sample)]))


def child_floor(args: argparse.Namespace) -> None:
    """Raw-storage floor: the same lines only read, sorted and written to zstd Parquet
    (`common.raw_storage_floor`): what keeping every raw line costs before any parse."""
    files = [str(p) for p in archive_jsonl_files(args.sample)]
    child_json(CHILD_TAG, raw_storage_floor(files, Path(args.data_dir)))


def child_json_loads(args: argparse.Namespace) -> None:
    """Baseline: json.loads every non-blank line of the archive's files into one list of dicts."""
    files = archive_jsonl_files(args.sample)
    rss_before = peak_rss_mb()
    cpu = cpu_seconds()
    start = time.perf_counter()
    events: list[dict] = []
    bad = 0
    for path in files:
        with open(path, "rb") as handle:
            for line in handle:
                if not line.strip():
                    continue
                try:
                    events.append(json.loads(line))
                except ValueError:  # invalid JSON or UTF-8: counted, like ingestion's quarantine
                    bad += 1
    seconds = time.perf_counter() - start
    child_json(
        CHILD_TAG,
        {
            "seconds": seconds,
            "lines_read": len(events) + bad,
            "cpu_s": cpu_seconds() - cpu,
            "parsed": len(events),
            "bad": bad,
            "files_read": len(files),
            "peak_rss_mb": peak_rss_mb(),
            "rss_at_start_mb": rss_before,
        },
    )


# ----------------------------------------------------------------------------------------------------------
# Parent
# ----------------------------------------------------------------------------------------------------------


def ensure_sample(users: int, events_per_user_day: float, seed: int) -> tuple[Path, dict[str, Any]]:
    """A one-day sample archive, generated once and reused (a marker file records its summary)."""
    folder = INGEST_DIR / f"sample_u{users}_e{events_per_user_day:g}_s{seed}"
    return folder, generated_archive(folder, 1, users, events_per_user_day, seed, date.fromisoformat(DAY))


def rss_scaling(name: str, large: dict, small: dict, baseline: str, goal: str) -> dict[str, Any]:
    """The peak RSS of a run on the large day against the same run on the small day, reported."""
    return report(
        record(name, large["peak_rss_mb"], "MiB", baseline, small["peak_rss_mb"], digits=1), goal=goal
    )


def run_child(mode: str, sample: Path, args: argparse.Namespace, label: str) -> dict[str, Any]:
    """Run this script as a fresh child process in `mode` and return its JSON result."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--sample", str(sample)]
    cmd += ["--data-dir", str(INGEST_DIR / f"run_{label}"), "--memory-limit", args.memory_limit]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    if args.chunk_lines:
        cmd += ["--chunk-lines", str(args.chunk_lines)]
    if args.cprofile and mode == "ingest":
        cmd.append("--cprofile")
    if args.keep:
        cmd.append("--keep")
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        shutil.rmtree(INGEST_DIR / f"run_{label}", ignore_errors=True)  # a crashed child leaves its lake
        raise RuntimeError(f"{mode} child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return parse_child_json(CHILD_TAG, proc.stdout)


def print_phases(result: dict[str, Any]) -> None:
    """Where the ingestion wall time went, largest first."""
    total = result["seconds"]
    print(
        f"  phases of {total:.1f}s (stage_lines {result['stage_lines_s']:.1f}s, write_raw_days "
        f"{result['write_raw_days_s']:.1f}s, build_actions_day {result['build_actions_day_s']:.1f}s):"
    )
    cpu = result.get("cpu_phases", {})
    print(f"  (CPU seconds beside each: {result['cpu_s']:.1f} CPU-s in all)")
    for phase, seconds in sorted(result["phases"].items(), key=lambda kv: -kv[1]):
        if seconds >= 0.05:
            print(
                f"    {seconds:7.2f}s {100 * seconds / total:5.1f}%  {cpu.get(phase, 0):6.2f} CPU-s  {phase}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=20_000, help="users of the large day (~50 lines each)")
    parser.add_argument("--events-per-user-day", type=float, default=50.0)
    parser.add_argument("--small-factor", type=int, default=4, help="the small day has users / this")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="a 4x smaller large day (~250k lines)")
    parser.add_argument("--memory-limit", default="1GB", help="DuckDB memory_limit (configure's default)")
    parser.add_argument(
        "--low-memory-limit",
        default="512MB",
        help="also ingest the large day with this DuckDB memory_limit, to show peak RSS follows the limit"
        " rather than the day's size ('' to skip)",
    )
    parser.add_argument("--threads", type=int, default=0, help="DuckDB threads (0: DuckDB's default)")
    parser.add_argument("--chunk-lines", type=int, default=0, help="diagnostic: override staging.CHUNK_LINES")
    parser.add_argument("--cprofile", action="store_true", help="print a cProfile of the large ingestion")
    parser.add_argument("--keep", action="store_true", help="keep the ingested lakes under benchmarks/work")
    parser.add_argument("--no-results", action="store_true", help="do not write benchmarks/results.json")
    parser.add_argument(
        "--child", choices=("ingest", "json_loads", "ceiling", "floor"), help=argparse.SUPPRESS
    )
    parser.add_argument("--sample", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child == "ingest":
        return child_ingest(args)
    if args.child == "json_loads":
        return child_json_loads(args)
    if args.child == "ceiling":
        return child_ceiling(args)
    if args.child == "floor":
        return child_floor(args)

    users = args.users // 4 if args.quick else args.users
    small_users = max(2, users // args.small_factor)
    large_dir, large_info = ensure_sample(users, args.events_per_user_day, args.seed)
    small_dir, small_info = ensure_sample(small_users, args.events_per_user_day, args.seed)

    print(
        f"large day: {large_info['lines']:,} lines ({large_info['bytes'] / 1e6:.0f} MB); ingesting ...",
        flush=True,
    )
    warm_page_cache(large_dir)
    warm_page_cache(small_dir)
    ours = run_child("ingest", large_dir, args, "large")
    base = run_child("json_loads", large_dir, args, "large_base")
    ceiling = run_child("ceiling", large_dir, args, "large_ceiling")
    floor = run_child("floor", large_dir, args, "large_floor")
    if ours["lines_read"] != base["lines_read"]:
        raise RuntimeError(
            f"line counts differ: ingestion {ours['lines_read']} vs baseline {base['lines_read']}"
        )
    print(f"small day: {small_info['lines']:,} lines; ingesting ...", flush=True)
    ours_small = run_child("ingest", small_dir, args, "small")
    base_small = run_child("json_loads", small_dir, args, "small_base")

    low = low_small = None
    if args.low_memory_limit:
        print(f"large day again with memory_limit {args.low_memory_limit} ...", flush=True)
        low_args = argparse.Namespace(**{**vars(args), "memory_limit": args.low_memory_limit})
        try:
            low = run_child("ingest", large_dir, low_args, "large_low_memory")
            low_small = run_child("ingest", small_dir, low_args, "small_low_memory")
        except RuntimeError as exc:  # a finding to report, not a reason to lose the other figures
            reason = next((ln for ln in str(exc).splitlines() if "Error" in ln), str(exc).splitlines()[0])
            print(f"  FAILED under memory_limit {args.low_memory_limit}: {reason.strip()}")

    n = ours["lines_read"]
    print(
        f"ingested {n:,} lines from {ours['files_read']} files ({ours.get('native_files', 0)} read by DuckDB "
        f"itself): {ours['events_kept']:,} raw_events, "
        f"{ours['duplicates']:,} duplicates, {ours['quarantined']:,} quarantined, {ours['actions']:,} actions"
    )
    print_phases(ours)
    if ours.get("profile"):
        print(ours["profile"])
    ours_rate = n / ours["seconds"]
    base_rate = base["lines_read"] / base["seconds"]
    records = [
        report(
            record("ingestion_throughput", ours_rate, "events/s", "json_loads_list", base_rate, digits=1),
            goal=f">= {GOAL_EVENTS_PER_S:,} events/s on 2 cores and >= {GOAL_VS_JSON_LOADS:g}x json.loads",
        ),
        report(
            record(
                "ingestion_vs_ceiling",
                ours_rate,
                "events/s",
                "duckdb_read_ndjson_objects_json_extract",
                ceiling["lines_read"] / ceiling["seconds"],
                digits=1,
            ),
            goal=f"ratio >= {GOAL_VS_CEILING:g}",
        ),
        report(
            record(
                "ingestion_vs_raw_storage_floor",
                ours_rate,
                "events/s",
                "duckdb_sort_and_write_raw_lines",
                floor["lines_read"] / floor["seconds"],
                digits=1,
            ),
            goal="none (read, sort and zstd-write every raw line, nothing parsed: the least raw_events costs)",
        ),
        report(
            record(
                "ingestion_events_per_cpu_s",
                n / ours["cpu_s"],
                "events/cpu-s",
                "json_loads_list",
                base["lines_read"] / base["cpu_s"],
                digits=1,
            ),
            goal="none (CPU time, less sensitive to a loaded machine than wall time)",
        ),
        report(
            record(
                "ingestion_peak_rss_mb",
                ours["peak_rss_mb"],
                "MiB",
                "json_loads_list",
                base["peak_rss_mb"],
                digits=1,
            ),
            goal="below the baseline",
        ),
        rss_scaling(
            "ingestion_peak_rss_scaling",
            ours,
            ours_small,
            f"ingestion_day_{args.small_factor}x_smaller",
            f"~1.0 (memory does not grow with the day; lines {n:,} vs {ours_small['lines_read']:,})",
        ),
        rss_scaling(
            "json_loads_peak_rss_scaling",
            base,
            base_small,
            f"json_loads_day_{args.small_factor}x_smaller",
            "none (shows how a naive loader grows)",
        ),
        report(
            record(
                "ingestion_throughput_small_day",
                ours_small["lines_read"] / ours_small["seconds"],
                "events/s",
                "json_loads_list",
                base_small["lines_read"] / base_small["seconds"],
                digits=1,
            ),
        ),
    ]
    if low is not None:
        records.append(
            report(
                record(
                    "ingestion_peak_rss_mb_low_memory_limit",
                    low["peak_rss_mb"],
                    "MiB",
                    f"ingestion_memory_limit_{args.memory_limit}",
                    ours["peak_rss_mb"],
                    digits=1,
                ),
                goal=f"follows memory_limit {args.low_memory_limit} (DuckDB spills; same output)",
            )
        )
        records.append(
            report(
                record(
                    "ingestion_throughput_low_memory_limit",
                    low["lines_read"] / low["seconds"],
                    "events/s",
                    f"ingestion_memory_limit_{args.memory_limit}",
                    ours_rate,
                    digits=1,
                )
            )
        )
        if low_small is not None:
            # Under a limit both days reach, peak memory should be the limit's, not the day's.
            records.append(
                rss_scaling(
                    "ingestion_peak_rss_scaling_low_memory_limit",
                    low,
                    low_small,
                    f"ingestion_day_{args.small_factor}x_smaller_memory_limit_{args.low_memory_limit}",
                    f"~1.0 (both days under memory_limit {args.low_memory_limit})",
                )
            )
        if (low["events_kept"], low["actions"]) != (ours["events_kept"], ours["actions"]):
            raise RuntimeError("the low-memory run wrote different row counts")
    ceiling_rate = ceiling["lines_read"] / ceiling["seconds"]
    goals = [
        (f">= {GOAL_EVENTS_PER_S:,} events/s", ours_rate >= GOAL_EVENTS_PER_S, f"{ours_rate:,.0f} events/s"),
        (f">= {GOAL_VS_JSON_LOADS:g}x json.loads", ours_rate >= GOAL_VS_JSON_LOADS * base_rate,
         f"{ours_rate / base_rate:.2f}x"),
        (f">= {GOAL_VS_CEILING:g} of the ceiling", ours_rate >= GOAL_VS_CEILING * ceiling_rate,
         f"{ours_rate / ceiling_rate:.2f}x"),
    ]  # fmt: skip
    for goal, met, figure in goals:
        print(f"goal {goal}: {'MET' if met else 'MISSED'} ({figure})")
    print(
        f"CPU: {n / ours['cpu_s']:,.0f} events per CPU-s vs the ceiling's "
        f"{ceiling['lines_read'] / ceiling['cpu_s']:,.0f} ({n / ours['cpu_s'] / (ceiling['lines_read'] / ceiling['cpu_s']):.2f}x); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    if not args.no_results:
        merge_results(records)


if __name__ == "__main__":
    main()
