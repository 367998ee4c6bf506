"""Scale benchmark: a BluePrint-shaped window through the real stages, each beside a same-run baseline.

Run: `python benchmarks/bench_scale.py [--quick] [--events 2000000 --users 100000 --days 3]`.

1. Input: `lib.sample.generate_sample` writes a window of `--days` hourly archives (likes, reposts, posts,
   replies, quotes, follows, undos, bad lines) with about `--events` events from `--users` users; it is
   generated once and reused from benchmarks/work/scale/.
2. The real stages run as Dagster materializations of the real assets with the real resources, in order:
   raw_events + actions (ingestion), anonymized_posts, post_embeddings (the default encoder),
   user_embeddings + persona_clusters, action_threads, action_splits, dataset_release. Each stage's time is
   its Dagster step duration, so whatever the stage functions do (and however they get faster) is measured.
   The assets' own blocking checks run too, each its own step; their time is reported as two stages,
   `daily_checks` and `release_checks`, since every real run pays them.
3. Baselines, same run, same data: a plain `json.loads` loop over the archive lines (ingestion); presidio
   post by post (`presidio_baseline`) on a sample of the window's post texts (anonymization); the
   all-MiniLM-L6-v2 torch path on a sample of the window's English post texts (encoding); scikit-learn
   KMeans on the same user vectors (clustering); `to_pylist` + sort of the window's actions (threads,
   splits, release files, as in bench_release.py).
4. Quality of the fast encoder: persona clusters of the same users from static vectors and from MiniLM
   vectors, compared by NMI and ARI; the baseline is MiniLM against MiniLM with another k-means seed.
5. A projection (labelled as one) for BluePrint's month: 52M messages, 236k users, 6.8M threads, each
   stage's measured rate times that volume, stage by stage and in total, beside the same projection at
   the baselines' rates.

The ingestion stage is also compared with its ceiling (`scale_ingestion_vs_ceiling`): DuckDB's own
`read_ndjson_objects` + `json_extract` of the key fields over the same files (`common.duckdb_ceiling`).

`--ks 2,25,100,1000` builds the release at BluePrint's four granularities; its records carry the suffix
`__ks2-25-100-1000`, beside the default (K = 25) figures. Records merged into benchmarks/results.json: scale_<stage> (throughput vs baseline), scale_encode_*,
scale_quality_nmi / scale_quality_ari, scale_projection_<stage>_hours and scale_projection_total_hours.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    RESULTS_PATH,
    ROOT,
    WORK_DIR,
    best_of,
    duckdb_ceiling,
    generated_archive,
    load_results,
    merge_results,
    raw_storage_floor,
    record,
    report,
    warm_page_cache,
)
from scale_pipeline import DAILY_STEPS, RELEASE_STEPS, START, run_pipeline  # noqa: E402

SCALE_DIR = WORK_DIR / "scale"
SEED = 12
# BluePrint's month (arXiv 2510.02343): the volumes the projection multiplies the measured rates by.
BLUEPRINT = {"messages": 52_000_000, "users": 236_000, "threads": 6_800_000}


def ensure_window(events: int, users: int, days: int) -> tuple[Path, dict[str, Any]]:
    """The generated archive for this size (reused when present), and its summary."""
    folder = SCALE_DIR / f"window_e{events}_u{users}_d{days}_s{SEED}"
    return folder, generated_archive(folder, days, users, events / (users * days), SEED, START)


def json_loads_rate(window: Path) -> tuple[int, float]:
    """(non-blank lines, lines/s) of a plain json.loads loop over every archive file."""
    import gzip

    lines = 0
    start = time.perf_counter()
    for path in sorted(window.rglob("*.jsonl*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.strip():
                    lines += 1
                    with contextlib.suppress(ValueError):  # bad lines cost a parse too
                        json.loads(line)
    return lines, lines / (time.perf_counter() - start)


def window_tables(data_dir: Path) -> dict[str, Any]:
    """The window's anonymized actions, embedded posts and user vectors, read back from the lake."""
    import pyarrow.parquet as pq

    from blueprint_assets.lib.personas.embeddings import posts_to_embed
    from blueprint_assets.lib.storage.lake import Lake, read_files

    lake = Lake(str(data_dir))
    posts = read_files(lake.all_files("anonymized_posts"))
    users = read_files([lake.partition_file("user_embeddings", "release", "2025-03")])
    threads_file = lake.partition_file("action_threads", "release", "2025-03")
    # Every K of the release holds the same threads: the window's threads are one K's.
    ks_built = len(set(pq.read_table(threads_file, columns=["k"]).column("k").to_pylist())) or 1
    return {
        "posts": posts,
        "embedded": posts_to_embed(posts),
        "user_matrix": np.asarray(users.column("vector").to_pylist(), dtype=np.float32),
        "users": users.column("user").to_pylist(),
        "threads": pq.ParquetFile(threads_file).metadata.num_rows // ks_built,
    }


def identifier_seconds(data_dir: Path) -> dict[str, float]:
    """Seconds to get the window's raw identifiers the way a scan step in its own process does (the digests
    the pipeline's scans stored: `lib.privacy.identifier_store`), and the way every step did before: the
    window's raw lines read into memory and harvested."""
    from blueprint_assets.lib.parallel import workers
    from blueprint_assets.lib.privacy.identifier_store import window_identifiers
    from blueprint_assets.lib.privacy.pseudonyms import load_or_create_secret
    from blueprint_assets.lib.privacy.scans import lake_raw_identifiers
    from blueprint_assets.lib.storage.lake import Lake, read_files

    lake, count = Lake(str(data_dir)), workers()
    files = lake.all_files("raw_events")
    secret = load_or_create_secret(str(data_dir), os.environ.get("BLUEPRINT_SECRET"))
    start = time.perf_counter()
    stored = len(window_identifiers(str(data_dir / "state"), files, secret, count))
    stored_s = time.perf_counter() - start
    start = time.perf_counter()
    harvested = len(lake_raw_identifiers(read_files(files, columns=["kind", "raw"]), count))
    harvest_s = time.perf_counter() - start
    if stored != harvested:
        raise SystemExit(f"stored digests hold {stored:,} identifiers, the harvest {harvested:,}")
    return {"stored_s": stored_s, "harvest_s": harvest_s, "identifiers": stored}


def sample_texts(embedded: Any, n: int) -> list[str]:
    rng = random.Random(SEED)
    texts = embedded.column("text").to_pylist()
    return rng.sample(texts, min(n, len(texts)))


def encode_rates(texts: list[str], window_texts: list[str], cache_dir: Path) -> dict[str, float]:
    """texts/s of the static encoder and of the MiniLM torch path on the same texts (the fast one best of
    5, as its run is short enough to be disturbed), and of the static encoder on all the window's texts."""
    from blueprint_assets.lib.personas.encoder import encoder_for

    rates = {}
    for name, repeat in (("default", 5), ("minilm", 1)):
        encoder = encoder_for(name, cache_dir)
        encoder.encode(texts[:8])  # warm-up: first-call allocations are not throughput
        _, seconds = best_of(lambda enc=encoder: enc.encode(texts), repeat)
        rates[name] = len(texts) / seconds
    _, seconds = best_of(lambda: encoder_for("default", cache_dir).encode(window_texts), 1)
    rates["default_window"] = len(window_texts) / seconds
    return rates


def sklearn_kmeans_rate(matrix: np.ndarray, k: int, seed: int = 42) -> float:
    """users/s of scikit-learn KMeans (random init, one run, 25 iterations) on the same user vectors."""
    from sklearn.cluster import KMeans

    start = time.perf_counter()
    KMeans(n_clusters=k, init="random", n_init=1, max_iter=25, random_state=seed).fit(matrix)
    return len(matrix) / (time.perf_counter() - start)


def cluster_agreement(tables: dict[str, Any], n_users: int, k: int, cache_dir: Path) -> dict[str, float]:
    """NMI/ARI between persona clusters of the same users from static vs MiniLM post vectors."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    from blueprint_assets.lib.personas.clustering import cluster_users
    from blueprint_assets.lib.personas.encoder import encoder_for
    from blueprint_assets.lib.personas.user_vectors import mean_vectors

    rng = random.Random(SEED)
    chosen = set(rng.sample(tables["users"], min(n_users, len(tables["users"]))))
    embedded = tables["embedded"]
    mine = embedded.filter(pc.is_in(embedded.column("actor"), value_set=pa.array(sorted(chosen))))
    texts = mine.column("text").to_pylist()
    labels: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}
    for name in ("default", "minilm"):
        start = time.perf_counter()
        vectors = encoder_for(name, cache_dir).encode(texts)
        seconds[name] = time.perf_counter() - start
        post_table = pa.table(
            {
                "record_id": mine.column("record_id"),
                "actor": mine.column("actor"),
                "vector": [v.tolist() for v in vectors],
            }
        )
        users, _, matrix = mean_vectors(post_table, chosen, set(mine.column("record_id").to_pylist()))
        labels[name] = cluster_users(matrix, k=k, min_cluster_size=10).assignments
        if name == "minilm":
            labels["minilm_seed43"] = cluster_users(matrix, k=k, min_cluster_size=10, seed=43).assignments
    return {
        "users": len(chosen),
        "texts": len(texts),
        "k": k,
        "nmi": normalized_mutual_info_score(labels["minilm"], labels["default"]),
        "ari": adjusted_rand_score(labels["minilm"], labels["default"]),
        "nmi_minilm_seeds": normalized_mutual_info_score(labels["minilm"], labels["minilm_seed43"]),
        "ari_minilm_seeds": adjusted_rand_score(labels["minilm"], labels["minilm_seed43"]),
        "static_texts_per_s": len(texts) / seconds["default"],
        "minilm_texts_per_s": len(texts) / seconds["minilm"],
    }


def stage_rows(
    seconds: dict[str, float], check_seconds: dict[str, float], counts: dict[str, int], base: dict[str, float]
) -> list[dict]:
    """(stage, unit, amount, seconds, rate, baseline name, baseline rate, BluePrint volume) per stage; the
    asset checks (the blocking gates every run also pays) are two stages of their own, daily and release."""
    s = seconds
    daily_checks = sum(check_seconds.get(a, 0.0) for a in DAILY_STEPS)
    release_checks = sum(check_seconds.get(a, 0.0) for a in RELEASE_STEPS)
    text_share = counts["texts"] / counts["lines"]
    return [
        _stage("ingestion", "events/s", counts["lines"], s["raw_events"] + s["actions"], "json_loads_loop",
               base["json_loads"], BLUEPRINT["messages"]),
        _stage("anonymization", "texts/s", counts["post_texts"], s["anonymized_posts"], "presidio_per_post",
               base["presidio"], BLUEPRINT["messages"] * counts["post_texts"] / counts["lines"]),
        _stage("encoding", "texts/s", counts["texts"], s["post_embeddings"], "minilm_torch",
               base["minilm"], BLUEPRINT["messages"] * text_share),
        _stage("users_and_clustering", "users/s", counts["users"], s["user_embeddings"] + s["persona_clusters"],
               "sklearn_kmeans", base["kmeans"], BLUEPRINT["users"]),
        _stage("threads", "actions/s", counts["actions"], s["action_threads"], "to_pylist_sort",
               base["pylist"], BLUEPRINT["messages"]),
        _stage("splits", "actions/s", counts["actions"], s["action_splits"], "to_pylist_sort",
               base["pylist"], BLUEPRINT["messages"]),
        _stage("release_files", "actions/s", counts["actions"], s["dataset_release"], "to_pylist_sort",
               base["pylist"], BLUEPRINT["messages"]),
        _stage("daily_checks", "actions/s", counts["actions"], daily_checks, "to_pylist_sort",
               base["pylist"], BLUEPRINT["messages"]),
        _stage("release_checks", "actions/s", counts["actions"], release_checks, "to_pylist_sort",
               base["pylist"], BLUEPRINT["messages"]),
    ]  # fmt: skip


def _stage(name, unit, amount, seconds, base_name, base_rate, volume) -> dict[str, Any]:
    rate = amount / seconds if seconds else float("inf")
    return {"stage": name, "unit": unit, "amount": amount, "seconds": seconds, "rate": rate,
            "baseline": base_name, "baseline_rate": base_rate, "volume": volume}  # fmt: skip


def projection_records(rows: list[dict]) -> list[dict]:
    """PROJECTION for BluePrint's month: volume / measured rate per stage and in total, in hours."""
    print("\nPROJECTION (measured rate x BluePrint month volume; an extrapolation, not a measurement):")
    records = []
    total = base_total = 0.0
    for row in rows:
        hours = row["volume"] / row["rate"] / 3600
        base_hours = row["volume"] / row["baseline_rate"] / 3600
        total += hours
        base_total += base_hours
        print(f"  {row['stage']:22s} {row['volume']:>12,.0f} x at {row['rate']:>10,.0f} {row['unit']:9s} = "
              f"{hours:8.2f} h   (baseline {base_hours:8.2f} h)")  # fmt: skip
        records.append(
            _projection(f"scale_projection_{row['stage']}_hours", hours, row["baseline"], base_hours)
        )
    print(f"  {'total':22s} {total:8.2f} h on 2 cores (baselines: {base_total:.2f} h)")
    records.append(_projection("scale_projection_total_hours", total, "baseline_rates", base_total))
    return records


def _projection(name: str, hours: float, baseline: str, base_hours: float) -> dict[str, Any]:
    # ratio > 1 means faster than the baseline: the projection's speed-up, as for the *_seconds records.
    return record(name, hours, "hours (projection)", baseline, base_hours, ratio=base_hours / hours, digits=3)


README_START = "<!-- scale-benchmark:start (written by `benchmarks/bench_scale.py --readme`) -->"
README_END = "<!-- scale-benchmark:end -->"
GOALS = {
    "scale_ingestion": (
        "ratio >= 4 and >= 250,000 events/s",
        lambda r: r["value"] >= 250_000 and r["ratio"] >= 4,
    ),
    "scale_ingestion_vs_ceiling": ("ratio >= 0.6", lambda r: r["ratio"] >= 0.6),
    "scale_encoding": (">= 5,000 texts/s", lambda r: r["value"] >= 5_000),
    "scale_encode_static_same_texts": (
        ">= 5,000 texts/s and ratio >= 50",
        lambda r: r["value"] >= 5_000 and r["ratio"] >= 50,
    ),
    "scale_encode_static_window": (">= 5,000 texts/s", lambda r: r["value"] >= 5_000),
    "scale_threads": ("ratio >= 1", lambda r: r["ratio"] >= 1),
    "scale_splits": ("ratio >= 1", lambda r: r["ratio"] >= 1),
    "scale_release_files": ("ratio >= 1", lambda r: r["ratio"] >= 1),
}


def markdown(records: list[dict[str, Any]]) -> str:
    """The README block: the stage table with goals, then the projection, from stored records."""
    by_name = {r["name"]: r for r in records}
    size = [by_name.get(f"scale_window_{k}") for k in ("events", "users", "threads")]
    load = by_name.get("scale_load_average")
    busy = (
        f" Load average during the run: {load['value']:.1f} on {load['baseline_value']:.0f} cores."
        if load
        else ""
    )
    head = (
        [f"Window measured: {size[0]['value']:,.0f} events, {size[1]['value']:,.0f} in-scope users, "
         f"{size[2]['value']:,.0f} threads.{busy}", ""]
        if all(size) else []
    )  # fmt: skip
    out = [
        README_START,
        "",
        *head,
        "| figure | value | baseline (same run) | ratio | goal | status |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in by_name.items():
        if (
            not name.startswith("scale_")
            or "__ks" in name
            or name.startswith(("scale_projection_", "scale_window_", "scale_load_"))
        ):
            continue
        goal, test = GOALS.get(name, ("-", None))
        status = "-" if test is None else ("met" if test(r) else "not met")
        out.append(
            f"| `{name}` | {_cell(r['value'])} {r['unit']} | {r['baseline']}: {_cell(r['baseline_value'])} {r['unit']} "
            f"| {r['ratio']:.2f}x | {goal} | {status} |"
        )
    out += ["", "**Projection** for BluePrint's month (52M messages, 236k users, 6.8M threads) on 2 cores: each "
            "stage's measured rate times that volume. An extrapolation from the run above, not a measurement.", "",
            "| stage | projected hours | at the baselines' rates | speed-up |", "|---|---|---|---|"]  # fmt: skip
    for name, r in by_name.items():
        if name.startswith("scale_projection_") and "__ks" not in name:
            stage = name.removeprefix("scale_projection_").removesuffix("_hours")
            out.append(f"| {stage} | {r['value']:.2f} | {r['baseline_value']:.2f} | {r['ratio']:.2f}x |")
    return "\n".join([*out, "", README_END])


def _cell(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def write_readme(records: list[dict[str, Any]], readme: Path) -> None:
    """Replace the marked block of the README with the table of `records`."""
    text = readme.read_text(encoding="utf-8")
    if README_START not in text or README_END not in text:
        raise SystemExit(f"{readme} has no scale-benchmark markers")
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    readme.write_text(head + markdown(records) + tail, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="200,000 events, 10,000 users, 2 days")
    parser.add_argument("--quality-users", type=int, default=2_000, help="users compared static vs MiniLM")
    parser.add_argument("--baseline-texts", type=int, default=1_000, help="texts for the slow baselines")
    parser.add_argument("--k", type=int, default=25, help="K of the clustering baseline and quality check")
    parser.add_argument(
        "--ks",
        default="25",
        help="the release's Ks (BLUEPRINT_K; BluePrint publishes 2,25,100,1000); records of any other "
        "value than 25 are named with the suffix __ks<Ks>, e.g. scale_threads__ks2-25-100-1000",
    )
    parser.add_argument("--generate-only", action="store_true", help="only generate (and cache) the window")
    parser.add_argument("--keep", action="store_true", help="keep the scratch lake")
    parser.add_argument("--no-results", action="store_true", help="do not write benchmarks/results.json")
    parser.add_argument(
        "--readme", action="store_true", help="only rewrite README.md's table from results.json"
    )
    args = parser.parse_args()
    if args.readme:
        write_readme(load_results(RESULTS_PATH), ROOT / "README.md")
        return
    if args.quick:
        args.events, args.users, args.days = 200_000, 10_000, 2
        args.quality_users, args.baseline_texts = min(args.quality_users, 500), min(args.baseline_texts, 300)
    if not 1 <= args.days <= 28:
        raise SystemExit("--days must be 1..28 (the window stays inside one release month)")

    window, info = ensure_window(args.events, args.users, args.days)
    if args.generate_only:
        return
    data_dir = SCALE_DIR / f"data_{window.name}"  # one scratch lake per size: runs may overlap
    shutil.rmtree(data_dir, ignore_errors=True)
    cache_dir = SCALE_DIR / "models"  # the static encoder is built once, outside the timed stages
    os.environ["BLUEPRINT_MODEL_CACHE"] = str(cache_dir)
    from blueprint_assets.lib.personas.static_encoder import ensure_static_model

    ensure_static_model(cache_dir)

    os.environ["BLUEPRINT_K"] = args.ks
    ks = sorted({int(k) for k in args.ks.split(",")})
    warm_page_cache(window)  # the pipeline reads the window first: not from disk while the baselines do not
    seconds, check_seconds = run_pipeline(window, data_dir, args.days)
    load = os.getloadavg()[1]  # 5-minute load average over the timed stages: how shared the cores were
    tables = window_tables(data_dir)
    lines, json_rate = json_loads_rate(window)
    ceiling = duckdb_ceiling([str(p) for p in sorted(window.rglob("*.jsonl*"))])
    floor = raw_storage_floor([str(p) for p in sorted(window.rglob("*.jsonl*"))], data_dir / "floor")
    from blueprint_assets.lib.privacy.anonymizer import presidio_baseline

    post_texts = [t for t in tables["posts"].column("text").to_pylist() if t]
    sample = random.Random(SEED).sample(post_texts, min(args.baseline_texts, len(post_texts)))
    start = time.perf_counter()
    presidio_baseline(sample)
    presidio_rate = len(sample) / (time.perf_counter() - start)
    window_texts = tables["embedded"].column("text").to_pylist()
    enc = encode_rates(sample_texts(tables["embedded"], args.baseline_texts), window_texts, cache_dir)
    kmeans_rate = sklearn_kmeans_rate(tables["user_matrix"], args.k)
    start = time.perf_counter()
    sorted(tables["posts"].to_pylist(), key=lambda r: (r["time_us"], r["event_id"]))
    pylist_rate = tables["posts"].num_rows / (time.perf_counter() - start)
    quality = cluster_agreement(tables, args.quality_users, args.k, cache_dir)
    identifiers = identifier_seconds(data_dir)

    counts = {"lines": lines, "post_texts": len(post_texts), "texts": tables["embedded"].num_rows,
              "users": len(tables["users"]), "actions": tables["posts"].num_rows, "threads": tables["threads"]}  # fmt: skip
    print(f"\nwindow: {json.dumps(counts)}; generator: {json.dumps(info)}")
    base = {"json_loads": json_rate, "presidio": presidio_rate, "minilm": enc["minilm"],
            "kmeans": kmeans_rate, "pylist": pylist_rate}  # fmt: skip
    rows = stage_rows(seconds, check_seconds, counts, base)
    records = [
        report(
            record(f"scale_{r['stage']}", r["rate"], r["unit"], r["baseline"], r["baseline_rate"], digits=1)
        )
        for r in rows
    ]
    ingestion = rows[0]
    for name, baseline, measured, goal in (
        ("vs_ceiling", "duckdb_read_ndjson_objects_json_extract", ceiling, "ratio >= 0.6"),
        ("vs_raw_storage_floor", "duckdb_sort_and_write_raw_lines", floor,
         "none (read, sort and zstd-write every raw line, nothing parsed)"),
    ):  # fmt: skip
        rate = measured["lines_read"] / measured["seconds"]
        records.append(
            report(
                record(f"scale_ingestion_{name}", ingestion["rate"], "events/s", baseline, rate, digits=1),
                goal,
            )
        )
    records += [
        report(record("scale_encode_static_same_texts", enc["default"], "texts/s", "minilm_torch_same_texts",
                      enc["minilm"], digits=1), ">= 5,000 texts/s and >= 50x"),
        report(record("scale_encode_static_window", enc["default_window"], "texts/s", "minilm_torch_sample",
                      enc["minilm"], digits=1), ">= 5,000 texts/s"),
        report(record("scale_quality_nmi", quality["nmi"], "NMI",
                      "minilm_vs_minilm_other_seed", quality["nmi_minilm_seeds"])),
        report(record("scale_quality_ari", quality["ari"], "ARI",
                      "minilm_vs_minilm_other_seed", quality["ari_minilm_seeds"])),
    ]  # fmt: skip
    print(f"quality sample: {quality['users']:,} users, {quality['texts']:,} texts, K={quality['k']}")
    # A scan step in its own process (a scheduled run) reads the stored digests; it used to harvest.
    records.append(
        report(
            record("scale_raw_identifiers_stored", identifiers["stored_s"], "s", "harvest_raw_lines",
                   identifiers["harvest_s"], ratio=identifiers["harvest_s"] / identifiers["stored_s"], digits=2),
            f"none ({identifiers['identifiers']:,} identifiers; ratio = harvest seconds / read seconds)",
        )
    )  # fmt: skip
    # The size this run measured, beside BluePrint's month: the projection's scale factor.
    records += [
        report(record("scale_window_events", lines, "events", "blueprint_month_messages", BLUEPRINT["messages"])),
        report(record("scale_window_users", counts["users"], "in-scope users", "blueprint_month_users",
                      BLUEPRINT["users"])),
        report(record("scale_window_threads", counts["threads"], "threads", "blueprint_month_threads",
                      BLUEPRINT["threads"])),
    ]  # fmt: skip
    records.append(
        report(record("scale_load_average", load, "runnable (5-min load)", "cpu_cores", os.cpu_count() or 1))
    )
    records += projection_records(rows)
    if ks != [25]:  # another release shape: stored beside the default run's figures, not over them
        for r in records:
            r["name"] += "__ks" + "-".join(map(str, ks))
    if not args.no_results:
        merge_results(records)
    if not args.keep:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
