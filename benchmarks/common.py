"""Shared helpers of the bench scripts: result records, results.json merging, printing, peak memory.

Every figure is measured next to a baseline in the same run; `record` builds the stored dict
`{name, value, unit, baseline, baseline_value, ratio}` and `report` prints it as
"figure vs baseline = ratio". `merge_results` read-modify-writes `benchmarks/results.json` keyed by name,
so each bench replaces only its own records.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "benchmarks"
# run_all.py points the benches at its own file through this variable (see its --results).
RESULTS_PATH = Path(os.environ.get("BLUEPRINT_BENCH_RESULTS") or BENCH_DIR / "results.json")
WORK_DIR = BENCH_DIR / "work"  # gitignored scratch space for generated inputs and outputs

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def record(
    name: str,
    value: float,
    unit: str,
    baseline: str,
    baseline_value: float,
    ratio: float | None = None,
    digits: int = 4,
) -> dict[str, Any]:
    """One result record; `ratio` defaults to value / baseline_value (None when the baseline is 0)."""
    if ratio is None:
        ratio = value / baseline_value if baseline_value else None
    return {
        "name": name,
        "value": round(float(value), digits),
        "unit": unit,
        "baseline": baseline,
        "baseline_value": round(float(baseline_value), digits),
        "ratio": None if ratio is None else round(float(ratio), 3),
    }


def format_record(rec: dict[str, Any]) -> str:
    """`name: value unit vs baseline baseline_value unit = ratio x`."""
    ratio = "n/a" if rec["ratio"] is None else f"{rec['ratio']:.2f}x"
    return (
        f"{rec['name']}: {_num(rec['value'])} {rec['unit']} vs {rec['baseline']} "
        f"{_num(rec['baseline_value'])} {rec['unit']} = {ratio}"
    )


def _num(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def report(rec: dict[str, Any], goal: str | None = None) -> dict[str, Any]:
    """Print a record as "figure vs baseline = ratio" (and the goal it is read against); return it."""
    line = format_record(rec)
    print(line + (f"   [goal: {goal}]" if goal else ""), flush=True)
    return rec


def load_results(path: Path = RESULTS_PATH) -> list[dict[str, Any]]:
    """The stored records (an empty list when the file is missing or unreadable)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return data if isinstance(data, list) else []


def merge_results(records: Iterable[dict[str, Any]], path: Path = RESULTS_PATH) -> None:
    """Replace the records of the same names in `path` (keeping the others and their order), atomically."""
    records = list(records)
    names = {r["name"] for r in records}
    merged = [r for r in load_results(path) if r.get("name") not in names] + records
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(merged, indent=2) + "\n")
    os.replace(tmp, path)


def report_and_merge(records: list[dict[str, Any]], path: Path = RESULTS_PATH) -> None:
    """Print every record, then merge them into `path`."""
    for rec in records:
        report(rec)
    merge_results(records, path)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB.

    On Linux this is VmHWM, the high-water mark of the process's own memory: `ru_maxrss` survives fork and
    exec, so a bench child started by a parent that once held 800 MiB reports at least 800 MiB however little
    it uses. Elsewhere `ru_maxrss` (KiB on Linux, bytes on macOS).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024 if sys.platform != "darwin" else kib / (1024 * 1024)


@contextmanager
def timer() -> Iterator[Callable[[], float]]:
    """`with timer() as elapsed: ...`; `elapsed()` gives seconds so far, frozen at exit."""
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


def cpu_timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """(result, CPU seconds of this process): for single-process steps CPU time is their cost, and unlike
    wall time it does not swing with the load of a shared machine."""
    start = time.process_time()
    out = fn()
    return out, time.process_time() - start


def best_of(fn: Callable[[], Any], repeat: int = 2) -> tuple[Any, float]:
    """Run `fn` `repeat` times; (last result, shortest seconds). The minimum is the least disturbed figure
    on a shared machine."""
    best = float("inf")
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best


def child_json(line_prefix: str, payload: dict[str, Any]) -> None:
    """Print a child process's result as one tagged JSON line for `parse_child_json`."""
    print(line_prefix + json.dumps(payload, sort_keys=True), flush=True)


def parse_child_json(line_prefix: str, stdout: str) -> dict[str, Any]:
    """The last tagged JSON line a child printed."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(line_prefix):
            return json.loads(line[len(line_prefix) :])
    raise RuntimeError(f"child printed no {line_prefix!r} line; output tail:\n{stdout[-2000:]}")


def warm_page_cache(folder: Path) -> None:
    """Read every file under `folder` once, so that whichever run comes first is not the only one to read
    from disk (the product ran first and paid for it; the baselines after it read from the page cache)."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        with path.open("rb") as handle:
            while handle.read(1 << 24):
                pass


def generated_archive(
    folder: Path, days: int, users: int, events_per_user_day: float, seed: int, start: Any
) -> dict[str, Any]:
    """Summary of a `lib.sample` archive in `folder`, generated once and reused afterwards.

    The summary lives in a marker file beside the archive, not inside it: a .json file inside would be read
    as an archive file.
    """
    from blueprint_assets.lib.sample import generate_sample

    marker = folder.with_name(f"{folder.name}.summary.json")
    if marker.is_file() and folder.is_dir():
        return json.loads(marker.read_text())
    shutil.rmtree(folder, ignore_errors=True)
    print(
        f"generating sample: {days} day(s), {users:,} users x {events_per_user_day:g} events ...", flush=True
    )
    began = time.perf_counter()
    summary = generate_sample(
        folder, days=days, users=users, seed=seed, start=start, events_per_user_day=events_per_user_day
    ).to_dict()
    info = {k: summary[k] for k in ("lines", "events", "duplicates", "malformed", "misfiled")}
    info["bytes"] = sum(p.stat().st_size for p in folder.rglob("*.jsonl"))
    info["generate_s"] = round(time.perf_counter() - began, 1)
    print(f"  generated {info['lines']:,} lines, {info['bytes'] / 1e6:.0f} MB in {info['generate_s']:.0f}s")
    marker.write_text(json.dumps(info))
    return info


# The ingestion ceiling: DuckDB's own NDJSON reader with `json_extract` of the key fields (what
# `lib.ingest.raw_events` extracts), nothing written. Malformed lines are skipped (`ignore_errors`).
CEILING_KEY_FIELDS = (
    "['$.did', '$.time_us', '$.kind', '$.commit.collection', '$.commit.operation', '$.commit.rkey',"
    " '$.commit.rev']"
)


def duckdb_ceiling(files: list[str]) -> dict[str, float]:
    """Lines, wall seconds and CPU seconds of the ingestion ceiling query over `files` (every extracted
    value is hashed, so none is skipped)."""
    import duckdb

    con = duckdb.connect()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu, start = usage.ru_utime + usage.ru_stime, time.perf_counter()
    lines, _ = con.execute(
        f"""SELECT count(*), max(hash(f[1], f[2], f[3], f[4], f[5], f[6], f[7]))
            FROM (SELECT json_extract(json, {CEILING_KEY_FIELDS}) AS f
                  FROM read_ndjson_objects(?, ignore_errors = true))""",
        [files],
    ).fetchone()
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    con.close()
    return {"lines_read": lines, "seconds": seconds, "cpu_s": usage.ru_utime + usage.ru_stime - cpu}


def raw_storage_floor(files: list[str], out_dir: Path) -> dict[str, float]:
    """Lines, wall seconds and CPU seconds of the least any ingestion that keeps every raw line does: read
    the lines, sort them (by a hash of the line: no parse), and write them to zstd-1 Parquet in row groups
    of RAW_ROW_GROUP_ROWS, as raw_events is written. Nothing is parsed, checked, deduplicated or mapped."""
    import duckdb

    from blueprint_assets.lib.ingest.raw_events import RAW_ROW_GROUP_ROWS

    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "raw_storage_floor.parquet"
    con = duckdb.connect()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu, start = usage.ru_utime + usage.ru_stime, time.perf_counter()
    con.execute(
        f"""COPY (SELECT line FROM read_csv(?, columns = {{'line': 'VARCHAR'}}, delim = chr(1), quote = '',
                  escape = '', header = false, auto_detect = false, compression = 'auto')
                  ORDER BY hash(line))
            TO '{target}' (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1,
                           ROW_GROUP_SIZE {RAW_ROW_GROUP_ROWS})""",
        [files],
    )
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    lines = con.execute(f"SELECT count(*) FROM '{target}'").fetchone()[0]
    con.close()
    target.unlink()
    out_dir.rmdir()
    return {"lines_read": lines, "seconds": seconds, "cpu_s": usage.ru_utime + usage.ru_stime - cpu}
