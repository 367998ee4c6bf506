"""`blueprint`: the command line for maintainers, researchers and modellers."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date, timedelta
from pathlib import Path

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def _data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data_dir or os.environ.get("BLUEPRINT_DATA_DIR", "data")).resolve()


def dagster_instance(data_dir: Path):
    """The persistent Dagster instance under the data directory (the one `make ui` serves)."""
    from dagster import DagsterInstance

    home = data_dir / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(home)
    return DagsterInstance.get()


def run_job(
    job_name: str, first: str, last: str, args: argparse.Namespace, selection: list[str] | None
) -> bool:
    """Materialize a partition range through Dagster as one run; True when it succeeded."""
    from blueprint_assets.definitions import build_definitions, selection_job

    data_dir = _data_dir(args)
    os.environ["BLUEPRINT_DATA_DIR"] = str(data_dir)
    options: dict = {"data_dir": str(data_dir)}
    if getattr(args, "source", None):
        options["source_kind"] = args.source
    if getattr(args, "url", None):
        options["source_url"] = args.url
    if getattr(args, "source_dir", None) or getattr(args, "path", None):
        options["source_path"] = str(Path(args.source_dir or args.path).resolve())
    extra = [selection_job(job_name, selection)] if selection else []
    defs = build_definitions(**options, extra_jobs=extra)
    job = defs.resolve_job_def(extra[0].name if extra else job_name)
    from blueprint_assets.automation import WRITER_TAG

    # The same writer tag as scheduled runs, so the production queue never runs two writers of one range.
    window = first if first == last else f"{first}..{last}"
    tags = {RANGE_START_TAG: first, RANGE_END_TAG: last, WRITER_TAG: f"{job_name}/{window}"}
    result = job.execute_in_process(instance=dagster_instance(data_dir), tags=tags, raise_on_error=False)
    return result.success


def cmd_run(args: argparse.Namespace) -> int:
    first, last = args.date_from, args.date_to or args.date_from
    for value in (first, last):
        date.fromisoformat(value)
    if last < first:
        raise SystemExit(f"--to {last} is before --from {first}")
    if args.source_dir and not Path(args.source_dir).is_dir():
        raise FileNotFoundError(f"--source-dir is not a folder: {args.source_dir}")
    selection = [s.strip() for s in args.select.split(",")] if args.select else None
    ok = run_job("daily_ingestion", first, last, args, selection)
    print_summary(_data_dir(args), first, last)
    return 0 if ok else 1


def cmd_release(args: argparse.Namespace) -> int:
    import shutil

    from blueprint_assets.partitions import month_range

    first, last = month_range(args.months)
    ok = run_job("monthly_release", first, last, args, None)
    name = args.months
    built = _data_dir(args) / "releases" / name
    if ok and args.out:
        target = Path(args.out)
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(built, target)
        print(f"release copied to {target}")
    print(f"release {name}: {'built' if ok else 'FAILED (see the check messages above)'} at {built}")
    return 0 if ok else 1


def embed_with_progress(chunk: int = 512):
    """The default encoder, encoding in chunks and reporting progress on stderr (text can take minutes)."""
    import numpy as np

    state: dict = {}

    def embed(texts: list[str]):
        if "encoder" not in state:
            from blueprint_assets.core.encoder import load_encoder

            state["encoder"] = load_encoder()
        encoder = state["encoder"]
        parts = []
        for start in range(0, len(texts), chunk):
            parts.append(encoder.encode(texts[start : start + chunk]))
            if len(texts) > chunk:
                done = min(start + chunk, len(texts))
                print(f"  encoded {done}/{len(texts)} texts", file=sys.stderr, flush=True)
        return np.concatenate(parts) if parts else np.zeros((0, encoder.dim), dtype=np.float32)

    return embed


def cmd_score(args: argparse.Namespace) -> int:
    from blueprint_assets.core.scorer import main_score

    return main_score(args.rest, embed=embed_with_progress())


def cmd_baseline(args: argparse.Namespace) -> int:
    from blueprint_assets.core.baselines import main_baseline

    return main_baseline(args.rest, embed=embed_with_progress())


def print_summary(data_dir: Path, first: str, last: str) -> None:
    """Events read, rows per action type, quarantined lines and where the files are."""
    import duckdb

    from blueprint_assets.core.lake import Lake

    lake = Lake(str(data_dir))
    days = [(date.fromisoformat(first) + timedelta(days=i)).isoformat()
            for i in range((date.fromisoformat(last) - date.fromisoformat(first)).days + 1)]  # fmt: skip
    con = duckdb.connect()

    def query(table: str, sql: str) -> list:
        files = lake.day_files(table, days)
        return (
            con.execute(
                sql.replace("FROM T", "FROM read_parquet(?, hive_partitioning = false)", 1), [files]
            ).fetchall()
            if files
            else []
        )

    events = query("raw_events", "SELECT count(*) FROM T")
    quarantined = query("raw_events_quarantine", "SELECT count(*) FROM T")
    by_type = query("actions", "SELECT action, count(*) FROM T GROUP BY 1 ORDER BY 2 DESC")
    print(f"\nBluePrint summary for {first}..{last}")
    print(f"  events kept:       {events[0][0] if events else 0}")
    print(f"  quarantined lines: {quarantined[0][0] if quarantined else 0}")
    print("  actions by type:")
    for action, count in by_type:
        print(f"    {action:<12} {count:>8}")
    print(f"  lake:              {lake.root}")
    releases = data_dir / "releases"
    if releases.is_dir():
        for folder in sorted(p for p in releases.iterdir() if p.is_dir()):
            print(f"  release:           {folder}")
            audit = folder / "privacy_audit" / "privacy_audit.md"
            if audit.is_file():
                print(f"  privacy audit:     {audit}")
    leaderboard = data_dir / "leaderboard.md"
    if leaderboard.is_file():
        print(f"  leaderboard:       {leaderboard}")
    print(f"  dagster instance:  {data_dir / 'dagster_home'} (see it with `make ui`)")


def cmd_summary(args: argparse.Namespace) -> int:
    print_summary(_data_dir(args), args.date_from, args.date_to or args.date_from)
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from blueprint_assets.core.sample import generate_sample

    summary = generate_sample(
        Path(args.out), days=args.days, users=args.users, seed=args.seed, start=date.fromisoformat(args.start),
        gzip=args.gzip,
    )  # fmt: skip
    print(
        f"wrote sample to {args.out}: {summary.events} events in {len(summary.files)} files, "
        f"{summary.duplicates} duplicate and {summary.malformed} malformed lines, {summary.active_users} active users"
    )
    print("  planned actions: " + ", ".join(f"{k} {v}" for k, v in summary.by_action.items()))
    return 0


def cmd_import_examples(args: argparse.Namespace) -> int:
    from blueprint_assets.core.archive import flatten_examples

    count = flatten_examples(Path(args.json), Path(args.out))
    print(f"wrote {count} events to {args.out} in the hourly archive layout")
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    from blueprint_assets.core.optout import forget_account
    from blueprint_assets.core.pseudonyms import Pseudonymizer

    data_dir = _data_dir(args)
    dids = [args.did] if args.did else []
    if args.list:
        from blueprint_assets.core.optout import listed_dids

        dids += listed_dids(args.list)
    if not dids:
        raise ValueError("give --did DID or --list FILE")
    pseudonym = Pseudonymizer.from_data_dir(data_dir)
    for number, did in enumerate(dids, start=1):
        if not did.startswith("did:"):
            raise ValueError(f"entry {number} is not a DID (expected did:plc:... or did:web:...)")
        report = forget_account(data_dir, did, pseudonym)
        # Print counts and the pseudonym only: the DID is what we are removing.
        print(f"account {pseudonym(did)[:12]}…: removed rows {report.removed_rows}")
        if report.dropped_releases:
            print(
                f"  dropped release tables/folders {report.dropped_releases}: rebuild them with `blueprint release`"
            )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="blueprint", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="materialize days through Dagster (ingestion, privacy, embeddings)")
    run.add_argument("--from", dest="date_from", required=True, help="first day, YYYY-MM-DD")
    run.add_argument("--to", dest="date_to", help="last day, YYYY-MM-DD (default: --from)")
    run.add_argument("--source-dir", help="Jetstream archive folder")
    run.add_argument(
        "--source", help="jetstream-archive (default), jetstream-live, car, author-feed or sample"
    )
    run.add_argument("--path", help="source path (archive folder or CAR file)")
    run.add_argument(
        "--url", help="Jetstream websocket URL (jetstream-live) or server base URL (car, author-feed)"
    )
    run.add_argument("--data-dir", help="data directory (default $BLUEPRINT_DATA_DIR or ./data)")
    run.add_argument("--select", help="comma-separated asset names (default: the whole daily job)")
    run.set_defaults(func=cmd_run)

    summary = sub.add_parser("summary", help="print what the lake holds for a range of days")
    summary.add_argument("--from", dest="date_from", required=True)
    summary.add_argument("--to", dest="date_to")
    summary.add_argument("--data-dir")
    summary.set_defaults(func=cmd_summary)

    sample = sub.add_parser("sample", help="generate the deterministic sample archive")
    sample.add_argument("--out", required=True)
    sample.add_argument("--days", type=int, default=3)
    sample.add_argument("--users", type=int, default=2000)
    sample.add_argument("--seed", type=int, default=7)
    sample.add_argument("--start", default="2025-03-01")
    sample.add_argument("--gzip", action="store_true")
    sample.set_defaults(func=cmd_sample)

    examples = sub.add_parser(
        "import-examples", help="flatten a grouped Jetstream examples JSON into an archive"
    )
    examples.add_argument("--json", required=True)
    examples.add_argument("--out", required=True)
    examples.set_defaults(func=cmd_import_examples)
    release = sub.add_parser("release", help="build a release folder through Dagster (all gates must pass)")
    release.add_argument(
        "--months", required=True, help="2025-03, or a range 2025-03..2025-05 (extended release)"
    )
    release.add_argument("--data-dir")
    release.add_argument("--out", help="also copy the finished release folder here")
    release.set_defaults(func=cmd_release)

    score = sub.add_parser(
        "score", help="score predictions against answer keys (see `blueprint score --help`)"
    )
    score.add_argument("rest", nargs=argparse.REMAINDER)
    score.set_defaults(func=cmd_score)

    baseline = sub.add_parser(
        "baseline", help="run a baseline (majority, cluster-prior, retrieval, leaderboard)"
    )
    baseline.add_argument("rest", nargs=argparse.REMAINDER)
    baseline.set_defaults(func=cmd_baseline)

    forget = sub.add_parser(
        "forget", help="opt-out: remove every row derived from an account, keep excluding it"
    )
    forget.add_argument("--did", help="the account's DID")
    forget.add_argument("--list", help="a file of DIDs, one per line")
    forget.add_argument("--data-dir")
    forget.set_defaults(func=cmd_forget)
    return parser


PASS_THROUGH = {"score": cmd_score, "baseline": cmd_baseline}  # they parse their own options


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in PASS_THROUGH:
        return PASS_THROUGH[argv[0]](argparse.Namespace(rest=argv[1:]))
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError) as error:
        print(f"blueprint: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
