"""Run the benchmark suite (`make bench`): every bench as its own subprocess, then one table of figures.

Usage: `python benchmarks/run_all.py [--only ingestion,release] [--skip personas] [--quick]`.
Benches: ingestion, long_range, anonymizer, optout, personas, release, scale, clusters, scorer, startup (see benchmarks/README.md for what each figure means).

Each bench prints "figure vs baseline = ratio" as it goes and writes its records to a per-run file; this
script collects them, merges them into benchmarks/results.json (keyed by name) and prints the table with
the goals. It reports, it does not gate: a missed goal still exits 0; only a bench that crashes exits 1.
`--quick` runs smaller inputs (a few minutes in total) and writes to benchmarks/work/results.quick.json so
quick figures never replace full ones.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scale import GOALS as SCALE_GOALS  # noqa: E402
from common import BENCH_DIR, ROOT, WORK_DIR, load_results, merge_results  # noqa: E402


@dataclass(frozen=True)
class Bench:
    script: str
    full_args: tuple[str, ...]
    quick_args: tuple[str, ...]


BENCHES: dict[str, Bench] = {
    "ingestion": Bench("bench_ingestion.py", (), ("--quick",)),
    "long_range": Bench("bench_long_range.py", (), ("--users", "100")),
    "anonymizer": Bench("bench_anonymizer.py", (), ("--posts", "1000")),
    "optout": Bench("bench_optout.py", (), ("--quick",)),
    "personas": Bench(
        "bench_personas.py",
        (),
        ("--texts", "100", "--points", "50000", "--iters", "10", "--iters-k1000", "10"),
    ),
    "release": Bench("bench_release.py", (), ("--quick",)),
    "scale": Bench("bench_scale.py", (), ("--quick",)),
    "clusters": Bench("bench_clusters.py", (), ("--quick",)),
    "scorer": Bench("bench_scorer.py", (), ("--quick",)),
    "startup": Bench("bench_startup.py", (), ("--quick",)),
}

# Goals to read the figures against: (description, test on the record). Only reported, never enforced.
GOALS: dict[str, tuple[str, Callable[[dict[str, Any]], bool]]] = {
    "scorer_seconds": ("< 30 s for ~3,000 predictions", lambda r: r["value"] < 30),
    "ingestion_throughput": (
        ">= 250,000 events/s and ratio >= 4",
        lambda r: r["value"] >= 250_000 and r["ratio"] is not None and r["ratio"] >= 4,
    ),
    "ingestion_vs_ceiling": ("ratio >= 0.6", lambda r: r["ratio"] is not None and r["ratio"] >= 0.6),
    "long_range_seconds": ("<= 300 s (a few minutes)", lambda r: r["value"] <= 300),
    "long_range_first_step_seconds": ("<= 60 s", lambda r: r["value"] <= 60),
    "ingestion_peak_rss_scaling": (
        "ratio <= 1.25 (flat)",
        lambda r: r["ratio"] is not None and r["ratio"] <= 1.25,
    ),
    "ingestion_peak_rss_scaling_low_memory_limit": (
        "ratio <= 1.25 (flat)",
        lambda r: r["ratio"] is not None and r["ratio"] <= 1.25,
    ),
    "ingestion_peak_rss_mb": ("ratio < 1", lambda r: r["ratio"] is not None and r["ratio"] < 1),
    "anonymizer_throughput": ("ratio > 1", lambda r: r["ratio"] is not None and r["ratio"] > 1),
    "personas_kmeans_k25_inertia": ("ratio <= 1.01", lambda r: r["ratio"] is not None and r["ratio"] <= 1.01),
    "personas_kmeans_k1000_inertia": (
        "ratio <= 1.01",
        lambda r: r["ratio"] is not None and r["ratio"] <= 1.01,
    ),
}
GOALS.update(SCALE_GOALS)
for _k in (25, 100):
    for _m in (10, 10_000 // _k):  # the default minimum and points / (2K) at 20,000 points
        GOALS[f"clusters_k{_k}_min{_m}_seconds"] = (
            ">= 20x faster than KMeansConstrained",
            lambda r: r["ratio"] is not None and r["ratio"] >= 20,
        )
        GOALS[f"clusters_k{_k}_min{_m}_inertia"] = (
            "ratio <= 1.01",
            lambda r: r["ratio"] is not None and r["ratio"] <= 1.01,
        )
for _m in (10, 100):  # --quick: 5,000 points, K=25
    GOALS.setdefault(f"clusters_k25_min{_m}_seconds", GOALS["clusters_k25_min10_seconds"])
    GOALS.setdefault(f"clusters_k25_min{_m}_inertia", GOALS["clusters_k25_min10_inertia"])
for _step in ("build_threads", "split_threads", "write_release"):
    GOALS[f"release_{_step}"] = ("ratio >= 1", lambda r: r["ratio"] is not None and r["ratio"] >= 1)


def parse_names(text: str | None) -> list[str]:
    names = [n.strip() for n in (text or "").split(",") if n.strip()]
    unknown = sorted(set(names) - set(BENCHES))
    if unknown:
        raise SystemExit(f"unknown bench(es) {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    return names


def run_bench(name: str, quick: bool, run_file: Path) -> tuple[int, float]:
    """Run one bench with its output streamed; return (exit code, seconds)."""
    bench = BENCHES[name]
    cmd = [sys.executable, str(BENCH_DIR / bench.script), *(bench.quick_args if quick else bench.full_args)]
    env = dict(os.environ, BLUEPRINT_BENCH_RESULTS=str(run_file))
    print(f"\n=== {name}: {' '.join(cmd[1:])}", flush=True)
    start = time.perf_counter()
    code = subprocess.run(cmd, cwd=ROOT, env=env).returncode
    return code, time.perf_counter() - start


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float | int):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return str(value)


def print_table(records: list[dict[str, Any]], failures: dict[str, int], durations: dict[str, float]) -> None:
    """The final table: one row per record, with its goal and whether it is met."""
    rows = [("figure", "value", "unit", "baseline", "baseline value", "ratio", "goal", "status")]
    for r in records:
        goal, met = GOALS.get(r["name"], ("-", None))
        status = "-" if met is None else ("met" if met(r) else "MISSED")
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        rows.append(
            (
                r["name"],
                _fmt(r["value"]),
                r["unit"],
                r["baseline"],
                _fmt(r["baseline_value"]),
                ratio,
                goal,
                status,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print()
    for i, row in enumerate(rows):
        print(
            "  ".join(
                cell.ljust(w) if j in (0, 2, 3, 6, 7) else cell.rjust(w)
                for j, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print("\nbench durations: " + ", ".join(f"{n} {s:.0f}s" for n, s in durations.items()))
    for name, code in failures.items():
        print(f"FAILED: {name} exited with code {code}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("benches", nargs="*", help=f"benches to run (default: all of {', '.join(BENCHES)})")
    parser.add_argument("--only", help="comma-separated benches to run")
    parser.add_argument("--skip", help="comma-separated benches to leave out")
    parser.add_argument("--quick", action="store_true", help="smaller inputs; results go to a separate file")
    parser.add_argument(
        "--results", type=Path, help="results file (default: results.json, or the quick file)"
    )
    parser.add_argument("--list", action="store_true", help="list the benches and exit")
    args = parser.parse_args()
    if args.list:
        for name, bench in BENCHES.items():
            print(f"{name:12s} benchmarks/{bench.script}")
        return

    chosen = parse_names(",".join(args.benches)) + parse_names(args.only) or list(BENCHES)
    skipped = set(parse_names(args.skip))
    chosen = [n for n in BENCHES if n in chosen and n not in skipped]
    results = args.results or (WORK_DIR / "results.quick.json" if args.quick else BENCH_DIR / "results.json")
    WORK_DIR.mkdir(parents=True, exist_ok=True)

    collected: list[dict[str, Any]] = []
    failures: dict[str, int] = {}
    durations: dict[str, float] = {}
    for name in chosen:
        run_file = WORK_DIR / f".run_{name}_{os.getpid()}.json"
        run_file.unlink(missing_ok=True)
        code, seconds = run_bench(name, args.quick, run_file)
        durations[name] = seconds
        records = load_results(run_file)
        run_file.unlink(missing_ok=True)
        if code != 0:
            failures[name] = code
        if records:
            merge_results(records, results)
            collected += records
    print_table(collected, failures, durations)
    print(f"results merged into {results}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
