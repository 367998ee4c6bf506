"""Start-up costs: loading the definitions, and a daily run under Dagster's multiprocess executor.

Run: `python benchmarks/bench_startup.py [--quick]` (the daily-run figure needs `make demo` first, for its
sample and static encoder; `--quick` skips it).

- startup_definitions_import_seconds: a fresh `python -c "import blueprint_assets.definitions"`, the best of
  three, vs a fresh `import dagster` (the least any process of this code location pays). Every process
  that loads the code location pays it: the code server, each run worker and its forkserver (steps fork
  from that server, `defs/jobs.py` STEP_EXECUTOR), each `blueprint` command.
- startup_daily_run_multiprocess_seconds: `dagster job execute` of the daily job for the demo sample's first
  day (one process per step, with the executor the daemon's and the UI's runs use) vs the same day through `blueprint run` (one process,
  `execute_in_process`), each into a fresh data dir, same secret.

Records merged into benchmarks/results.json. Goals: none stated by the issue; reported as ratios.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, merge_results, record, report  # noqa: E402

BIN = Path(sys.executable).parent
DEMO_DATA = ROOT / "data"
DAY = "2025-03-01"
SECRET = "bench-startup-secret-0123456789abcdef"  # a throwaway key for throwaway lakes


def fresh_import_seconds(module: str, repeats: int = 3) -> float:
    """Best wall time of `import module` in a fresh interpreter (the interpreter's own start excluded)."""
    probe = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    times = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-W", "ignore", "-c", probe],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return min(times)


def timed_run(command: list[str], env: dict[str, str], log: Path) -> float:
    """Wall seconds of a command that must succeed; its output goes to `log`."""
    start = time.perf_counter()
    with open(log, "w") as out:
        code = subprocess.run(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT).returncode
    if code:
        raise RuntimeError(f"{command[0]} exited {code}; see {log}")
    return time.perf_counter() - start


def daily_run_records(work: Path) -> list[dict]:
    """The daily job for DAY, one process per step vs one process in all."""
    env_base = {
        **os.environ,
        "BLUEPRINT_SECRET": SECRET,
        "BLUEPRINT_MODEL_CACHE": str(DEMO_DATA / "models"),
        "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": "",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "GX_ANALYTICS_ENABLED": "False",
    }
    runs = {}
    for name in ("multiprocess", "in_process"):
        data = work / name
        env = {**env_base, "BLUEPRINT_DATA_DIR": str(data), "DAGSTER_HOME": str(data / "dagster_home")}
        (data / "dagster_home").mkdir(parents=True)
        if name == "multiprocess":
            env["BLUEPRINT_SOURCE_PATH"] = str(DEMO_DATA / "sample")
            command = [str(BIN / "dagster"), "job", "execute", "-m", "blueprint_assets.definitions",
                       "-j", "daily_ingestion", "--tags", f'{{"dagster/partition": "{DAY}"}}']  # fmt: skip
        else:
            command = [str(BIN / "blueprint"), "run", "--source-dir", str(DEMO_DATA / "sample"),
                       "--from", DAY, "--to", DAY, "--data-dir", str(data)]  # fmt: skip
        runs[name] = timed_run(command, env, work / f"{name}.log")
        print(f"  daily job {DAY}, {name}: {runs[name]:.1f} s", flush=True)
    return [
        record(
            "startup_daily_run_multiprocess_seconds",
            runs["multiprocess"],
            "s",
            "same_day_in_process",
            runs["in_process"],
            digits=2,
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="only the import figure")
    parser.add_argument("--no-results", action="store_true", help="do not write benchmarks/results.json")
    args = parser.parse_args()

    ours, base = fresh_import_seconds("blueprint_assets.definitions"), fresh_import_seconds("dagster")
    records = [record("startup_definitions_import_seconds", ours, "s", "import_dagster", base, digits=2)]
    if args.quick:
        print("daily run under the multiprocess executor: skipped (--quick)")
    elif not (DEMO_DATA / "sample").is_dir() or not (DEMO_DATA / "models").is_dir():
        print("daily run under the multiprocess executor: skipped (run `make demo` first for its sample)")
    else:
        with tempfile.TemporaryDirectory(prefix="bench_startup_") as tmp:
            records += daily_run_records(Path(tmp))
    for rec in records:
        report(rec)
    if not args.no_results:
        merge_results(records)


if __name__ == "__main__":
    main()
