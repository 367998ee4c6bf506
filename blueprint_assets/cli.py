"""`blueprint`: the command line for maintainers, researchers and modellers.

Exit codes: 0 success, 1 a failed run or command, 2 bad usage. Errors are one line on stderr
(`--verbose` adds Dagster's full log and tracebacks). A new subcommand: write `cmd_x(args) -> int`, and
register it in `build_parser` with `add_command(sub, "x", cmd_x, "help ...")`; raise `UsageError` for bad
input and `CommandFailed` for a failure, each with a message that names the cause and the fix.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
PARTITION_TAG = "dagster/partition"


class UsageError(ValueError):
    """Bad usage: exit code 2, one line."""


class CommandFailed(RuntimeError):
    """A run or command that failed: exit code 1, one line naming the cause and the fix."""


def _data_dir(args: argparse.Namespace) -> str:
    """The data root: an absolute local path, or an object-store URL (`s3://bucket/prefix`) kept as is."""
    from blueprint_assets.core.storage import normalize_root

    return normalize_root(getattr(args, "data_dir", None) or os.environ.get("BLUEPRINT_DATA_DIR", "data"))


def existing_data_dir(args: argparse.Namespace) -> str:
    """The data directory of a read-only command; it must exist (read-only commands never create it)."""
    from blueprint_assets.core.storage import is_object_store

    data_dir = _data_dir(args)
    if not is_object_store(data_dir) and not Path(data_dir).is_dir():
        raise CommandFailed(f"no data folder at {data_dir}: pass --data-dir or run `blueprint run` first")
    return data_dir


def iso_day(value: str) -> str:
    """argparse type: a YYYY-MM-DD day."""
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a day (YYYY-MM-DD)") from None


def repo_id(value: str) -> str:
    """argparse type: a Hub repository id OWNER/NAME."""
    import re

    if not re.fullmatch(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a repository id OWNER/NAME")
    return value


def month_spec(value: str) -> str:
    """argparse type: `2025-03` or `2025-03..2025-05`, normalized (`2025-03..2025-03` is `2025-03`)."""
    from blueprint_assets.partitions import month_label, month_range

    try:
        return month_label(*month_range(value))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a month (YYYY-MM) or range YYYY-MM..YYYY-MM"
        ) from None


def day_range(args: argparse.Namespace) -> tuple[str, str]:
    """(--from, --to) with --to defaulting to --from; a reversed range is bad usage."""
    first, last = args.date_from, args.date_to or args.date_from
    if last < first:
        raise UsageError(f"--to {last} is before --from {first}")
    return first, last


def dagster_instance(data_dir: str):
    """The persistent Dagster instance under the data directory (the one `make ui` serves).

    With an object-store data dir the instance stays local (scratch), unless DAGSTER_HOME names one.
    """
    from dagster import DagsterInstance

    from blueprint_assets.core.storage import is_object_store, join, local_folder

    if is_object_store(data_dir) and os.environ.get("DAGSTER_HOME"):
        return DagsterInstance.get()
    home = local_folder(join(data_dir, "dagster_home"))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(home)
    return DagsterInstance.get()


def run_job(
    job_name: str,
    first: str,
    last: str,
    args: argparse.Namespace,
    selection: list[str] | None,
    label: str | None = None,
) -> str | None:
    """Materialize a partition range through Dagster as one run; None on success, else the failure line.

    `label` names the window on the terminal (default `first..last`)."""
    verbose = getattr(args, "verbose", False)
    from blueprint_assets.automation import WRITER_TAG
    from blueprint_assets.definitions import build_definitions, selection_job
    from blueprint_assets.run_console import PROGRESS_LOGGER, failure_line, progress_logger, quiet_run_config

    data_dir = _data_dir(args)
    os.environ["BLUEPRINT_DATA_DIR"] = str(data_dir)
    options: dict = {"data_dir": str(data_dir)}
    if getattr(args, "source", None):
        options["source_kind"] = args.source
    if getattr(args, "url", None):
        options["source_url"] = args.url
    if getattr(args, "source_dir", None) or getattr(args, "path", None):
        options["source_path"] = str(Path(args.source_dir or args.path).resolve())
    settings = {name: getattr(args, name, None) for name in ("idle_timeout", "max_retries", "backoff")}
    if any(value is not None for value in settings.values()):
        options["source_settings"] = settings
    if getattr(args, "exclude", None):
        options["source_exclude"] = list(args.exclude)
    extra = [selection_job(job_name, selection)] if selection else []
    defs = build_definitions(**options, extra_jobs=extra)
    job = defs.resolve_job_def(extra[0].name if extra else job_name)
    run_config: dict = {}
    if not verbose:
        job = job.with_logger_defs({PROGRESS_LOGGER: progress_logger})
        run_config = quiet_run_config()
    # The same writer tag as scheduled runs, so the production queue never runs two writers of one range.
    window = first if first == last else f"{first}..{last}"
    tags = {WRITER_TAG: f"{job_name}/{window}"}
    # One partition is tagged as such, so Dagster attributes check results to it (the UI shows them).
    tags.update({PARTITION_TAG: first} if first == last else {RANGE_START_TAG: first, RANGE_END_TAG: last})
    print(f"{job_name} {label or window}: running", file=sys.stderr, flush=True)
    result = job.execute_in_process(
        instance=dagster_instance(data_dir), tags=tags, run_config=run_config, raise_on_error=False
    )
    if not result.success:
        return failure_line(result.all_events) or f"run {result.run_id} failed: {GENERIC_FIX}"
    return None


GENERIC_FIX = "rerun with --verbose for Dagster's full log"


@contextmanager
def _quiet_warnings(verbose: bool) -> Iterator[None]:
    """Python warnings (Dagster's beta/preview notices) reach the terminal only with --verbose."""
    with warnings.catch_warnings():
        if not verbose:
            warnings.simplefilter("ignore")
            # Model-loading progress bars (transformers, huggingface_hub) are noise in the terse view.
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            os.environ.setdefault("TQDM_DISABLE", "1")
        yield


def daily_selection(text: str | None) -> list[str] | None:
    """`--select a,b` as asset names of the daily job; an unknown name is bad usage."""
    if not text:
        return None
    from blueprint_assets.definitions import DAILY_ASSETS

    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in DAILY_ASSETS]
    if unknown or not names:
        raise UsageError(f"--select {text!r}: choose from {', '.join(DAILY_ASSETS)} (comma-separated)")
    return names


def cmd_run(args: argparse.Namespace) -> int:
    first, last = day_range(args)
    if args.source_dir and not Path(args.source_dir).is_dir():
        raise UsageError(f"--source-dir is not a folder: {args.source_dir}")
    if args.source_dir:
        from blueprint_assets.core.archive import list_archive_files

        if not list_archive_files(Path(args.source_dir), args.exclude or ()):
            raise UsageError(
                f"--source-dir holds no readable file: {args.source_dir} (hidden files and --exclude matches"
                " are skipped)"
            )
    selection = daily_selection(args.select)
    segments = plan_run(args, first, last)
    for number, (seg_first, seg_last) in enumerate(segments, start=1):
        if len(segments) > 1:
            print(f"run {number}/{len(segments)}: {seg_first}..{seg_last}", file=sys.stderr, flush=True)
        failure = run_job("daily_ingestion", seg_first, seg_last, args, selection)
        if failure:
            print_summary(_data_dir(args), first, last)
            raise CommandFailed(failure)
    print_summary(_data_dir(args), first, last)
    return 0


def plan_run(args: argparse.Namespace, first: str, last: str) -> list[tuple[str, str]]:
    """The sub-ranges of first..last to run. For an archive source, only the days some file holds
    (found with the cached archive index, which the run then reuses); other sources: the whole range.
    Days outside the daily partitions are left out."""
    from blueprint_assets.core.storage import join
    from blueprint_assets.partitions import daily_partitions

    start, end = daily_partitions.get_first_partition_key(), daily_partitions.get_last_partition_key()
    clamped = (max(first, start), min(last, end or last))
    if clamped != (first, last):
        print(
            f"note: only {clamped[0]}..{clamped[1]} are daily partitions; the rest of the range is skipped",
            file=sys.stderr,
        )
    if clamped[0] > clamped[1]:
        return []
    kind = args.source or os.environ.get("BLUEPRINT_SOURCE", "jetstream-archive")
    path = (
        args.source_dir
        or args.path
        or os.environ.get("BLUEPRINT_SOURCE_PATH")
        or join(_data_dir(args), "sample")
    )
    if kind not in ("jetstream-archive", "sample") or not Path(path).is_dir():
        return [clamped]
    from blueprint_assets.core.archive import plan_segments
    from blueprint_assets.core.source_lines import archive_index

    def progress(message: str) -> None:
        print(f"planning: {message}", file=sys.stderr, flush=True)

    exclude = list(args.exclude or []) or [
        g.strip() for g in os.environ.get("BLUEPRINT_SOURCE_EXCLUDE", "").split(",") if g.strip()
    ]
    index = archive_index(Path(path), join(_data_dir(args), "state"), exclude, progress)
    segments = plan_segments(index.files(), *clamped)
    days = sum(date.fromisoformat(b).toordinal() - date.fromisoformat(a).toordinal() + 1 for a, b in segments)
    total = date.fromisoformat(clamped[1]).toordinal() - date.fromisoformat(clamped[0]).toordinal() + 1
    if not segments:
        print(
            f"WARNING: no archive file holds events of {clamped[0]}..{clamped[1]}: nothing to ingest",
            file=sys.stderr,
        )
    elif days < total:
        print(
            f"planning: {days} day(s) with archive data in {len(segments)} run(s); {total - days} empty day(s)"
            " skipped (no file holds an event of them)",
            file=sys.stderr,
            flush=True,
        )
    return segments


def cmd_release(args: argparse.Namespace) -> int:
    import shutil

    from blueprint_assets.partitions import month_range

    name = args.months  # normalized by month_spec: the folder name of the release
    first, last = month_range(name)
    failure = run_job("monthly_release", first, last, args, None, label=name)
    from blueprint_assets.resources import LakeResource

    built = LakeResource(data_dir=_data_dir(args)).release_folder(name)
    if failure:
        raise CommandFailed(f"release {name} not built: {failure}")
    if args.out:
        target = Path(args.out)
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(built, target)
        print(f"release copied to {target}")
    print(f"release {name}: built at {built}")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    """Upload releases/<window>/public/ to the Hub, refusing anything unsafe (core/publish.py)."""
    from blueprint_assets.core.publish import format_plan, refusals, upload, upload_plan
    from blueprint_assets.resources import LakeResource

    release = LakeResource(data_dir=_data_dir(args)).release_folder(args.window)  # fetched when on a store
    if not release.is_dir():
        raise CommandFailed(
            f"no release {args.window} at {release}: build it with `blueprint release --months {args.window}`"
        )
    problems = refusals(release)
    if problems:
        for problem in problems:
            print(f"  refused: {problem}", file=sys.stderr)
        raise CommandFailed(
            f"release {args.window} not published: {len(problems)} problem(s), the first: {problems[0]}"
        )
    plan = upload_plan(release)
    print(format_plan(plan, args.repo, args.private))
    if args.dry_run:
        print("dry run: nothing uploaded")
        return 0
    print(f"uploaded: {upload(release, args.repo, args.private)}")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from blueprint_assets.core.scorer import main_score

    return main_score(args.rest)  # encodes through the cached Embedder, with progress


def cmd_baseline(args: argparse.Namespace) -> int:
    from blueprint_assets.core.baselines import main_baseline

    return main_baseline(args.rest)


def print_summary(data_dir: str, first: str, last: str) -> None:
    """Events read, rows per action type, quarantined lines and where the files are."""
    import duckdb

    from blueprint_assets.core import storage
    from blueprint_assets.core.lake import Lake

    lake = Lake(data_dir)
    days = [(date.fromisoformat(first) + timedelta(days=i)).isoformat()
            for i in range((date.fromisoformat(last) - date.fromisoformat(first)).days + 1)]  # fmt: skip
    con = duckdb.connect()
    storage.register_with_duckdb(con, data_dir)

    def query(table: str, sql: str) -> list:
        files = lake.day_files(table, days)
        return (
            con.execute(
                sql.replace("FROM T", "FROM read_parquet(?, hive_partitioning = false)", 1), [files]
            ).fetchall()
            if files
            else []
        )

    from blueprint_assets.core.quarantine import count_damaged_files

    events = query("raw_events", "SELECT count(*) FROM T")
    quarantined = query("raw_events_quarantine", "SELECT count(*) FROM T")
    damaged = count_damaged_files(con, lake.day_files("raw_events_quarantine", days))
    by_type = query("actions", "SELECT action, count(*) FROM T GROUP BY 1 ORDER BY 2 DESC")
    print(f"\nBluePrint summary for {first}..{last}")
    print(f"  events kept:       {events[0][0] if events else 0}")
    print(f"  quarantined lines: {quarantined[0][0] if quarantined else 0}")
    print(f"  corrupt files:     {damaged}")
    if not (events and events[0][0]) and not (quarantined and quarantined[0][0]):
        print("  WARNING: no line was read for these days: check --source-dir, --exclude and the dates")
    print("  actions by type:")
    for action, count in by_type:
        print(f"    {action:<12} {count:>8}")
    print(f"  lake:              {lake.root}")
    releases = storage.join(data_dir, "releases")
    for name in storage.list_folders(releases):
        folder = storage.join(releases, name)
        print(f"  release:           {folder}")
        audit = storage.join(folder, "privacy_audit", "privacy_audit.md")
        if storage.is_file(audit):
            print(f"  privacy audit:     {audit}")
    leaderboard = storage.join(data_dir, "leaderboard.md")
    if storage.is_file(leaderboard):
        print(f"  leaderboard:       {leaderboard}")
    home = storage.local_folder(storage.join(data_dir, "dagster_home"))
    print(f"  dagster instance:  {home} (see it with `make ui`)")


def cmd_summary(args: argparse.Namespace) -> int:
    data_dir = existing_data_dir(args)
    print_summary(data_dir, *day_range(args))
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


class Parser(argparse.ArgumentParser):
    """argparse with a one-line usage error (exit 2) instead of the usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("blueprint")
    except PackageNotFoundError:
        return "unknown"


def common_options() -> argparse.ArgumentParser:
    """Options every subcommand accepts (also before the subcommand)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
        help="show Dagster's full log and tracebacks",
    )  # fmt: skip
    return common


def add_command(
    sub, name: str, func, help: str, *, data_dir: bool = True, **kwargs
) -> argparse.ArgumentParser:
    """Register subcommand `name` running `func(args) -> exit code`, with the common options."""
    command = sub.add_parser(name, help=help, description=help, parents=[common_options()], **kwargs)
    if data_dir:
        command.add_argument("--data-dir", help="data directory (default $BLUEPRINT_DATA_DIR or ./data)")
    command.set_defaults(func=func)
    return command


def add_day_range(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--from", dest="date_from", required=True, type=iso_day, metavar="DAY", help="first day, YYYY-MM-DD"
    )
    command.add_argument(
        "--to", dest="date_to", type=iso_day, metavar="DAY", help="last day, YYYY-MM-DD (default: --from)"
    )


def cmd_anonymize(args: argparse.Namespace) -> int:
    """JSON lines with `text` in, the same lines with `text` anonymized and `entities` out."""
    from blueprint_assets.core.anonymizer import TextAnonymizer
    from blueprint_assets.core.privacy_eval import anonymize_record, read_json_lines

    source = sys.stdin if args.input == "-" else open(args.input, encoding="utf-8")  # noqa: SIM115
    sink = sys.stdout if not args.out or args.out == "-" else open(args.out, "w", encoding="utf-8")  # noqa: SIM115
    anonymizer = TextAnonymizer(ner=args.ner)
    try:
        for record in read_json_lines(source, "stdin" if args.input == "-" else args.input):
            sink.write(json.dumps(anonymize_record(anonymizer, record), ensure_ascii=False) + "\n")
    finally:
        for stream in (source, sink):
            if stream not in (sys.stdin, sys.stdout):
                stream.close()
    return 0


def cmd_privacy_eval(args: argparse.Namespace) -> int:
    """Per-type recall, precision and over-redaction of the pipeline's anonymizer on a labelled set."""
    from blueprint_assets.core.anonymizer import TextAnonymizer
    from blueprint_assets.core.privacy_eval import SHIPPED_SET, evaluate, format_report, load_labelled_set

    report = evaluate(TextAnonymizer(ner=args.ner), load_labelled_set(args.set or SHIPPED_SET))
    print(json.dumps(report.to_dict(), indent=2) if args.json else format_report(report))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from blueprint_assets.core.source_lines import SOURCE_KINDS

    parser = Parser(prog="blueprint", description=__doc__.split("\n\n")[0], parents=[common_options()])
    parser.add_argument("--version", action="version", version=f"blueprint {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)

    run = add_command(
        sub, "run", cmd_run, "materialize days through Dagster (ingestion, privacy, embeddings)"
    )
    add_day_range(run)
    run.add_argument(
        "--source-dir", help="Jetstream archive folder (same as --source jetstream-archive --path)"
    )
    run.add_argument(
        "--source", choices=SOURCE_KINDS, metavar="KIND",
        help=f"where events come from: {', '.join(SOURCE_KINDS)} (default $BLUEPRINT_SOURCE or jetstream-archive)",
    )  # fmt: skip
    run.add_argument("--path", help="source path (archive folder or CAR file)")
    run.add_argument(
        "--url", help="Jetstream websocket URL (jetstream-live) or server base URL (car, author-feed)"
    )
    run.add_argument(
        "--exclude",
        action="append",
        metavar="GLOB",
        help="skip archive files matching GLOB (on the relative path or the name; repeatable;"
        " also $BLUEPRINT_SOURCE_EXCLUDE, comma-separated). Hidden files are always skipped",
    )
    run.add_argument("--select", help="comma-separated asset names (default: the whole daily job)")
    run.add_argument(
        "--idle-timeout", type=float, metavar="SECONDS",
        help="network sources: reconnect after this long without data (default $BLUEPRINT_SOURCE_IDLE_TIMEOUT or 60)",
    )  # fmt: skip
    run.add_argument(
        "--max-retries", type=int, metavar="N",
        help="network sources: reconnects/retries before giving up (default $BLUEPRINT_SOURCE_MAX_RETRIES or 8)",
    )  # fmt: skip
    run.add_argument(
        "--backoff", type=float, metavar="SECONDS",
        help="network sources: first retry delay, doubling (default $BLUEPRINT_SOURCE_BACKOFF or 1)",
    )  # fmt: skip

    summary = add_command(sub, "summary", cmd_summary, "print what the lake holds for a range of days")
    add_day_range(summary)

    sample = add_command(
        sub, "sample", cmd_sample, "generate the deterministic sample archive", data_dir=False
    )
    sample.add_argument("--out", required=True, help="folder to write the archive to")
    sample.add_argument("--days", type=int, default=3, help="number of days (default 3)")
    sample.add_argument("--users", type=int, default=2000, help="number of accounts (default 2000)")
    sample.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    sample.add_argument("--start", default="2025-03-01", type=iso_day, help="first day (default 2025-03-01)")
    sample.add_argument("--gzip", action="store_true", help="gzip the archive files")

    examples = add_command(
        sub, "import-examples", cmd_import_examples,
        "flatten a grouped Jetstream examples JSON into an archive", data_dir=False,
    )  # fmt: skip
    examples.add_argument("--json", required=True, help="the grouped examples JSON file")
    examples.add_argument("--out", required=True, help="archive folder to write")

    release = add_command(
        sub, "release", cmd_release, "build a release folder through Dagster (all gates must pass)"
    )
    release.add_argument(
        "--months", required=True, type=month_spec,
        help="2025-03, or a range 2025-03..2025-05 (extended release)",
    )  # fmt: skip
    release.add_argument("--out", help="also copy the finished release folder here")

    # score and baseline parse their own options (see PASS_THROUGH); these entries give them help lines.
    for name, func, text in (
        ("score", cmd_score, "score predictions against answer keys (see `blueprint score --help`)"),
        (
            "baseline",
            cmd_baseline,
            "run a baseline: majority, cluster-prior, retrieval, lookup, lightgbm, leaderboard",
        ),
    ):
        command = add_command(sub, name, func, text, data_dir=False)
        command.add_argument("rest", nargs=argparse.REMAINDER, help="options of the subcommand")

    publish = add_command(
        sub, "publish", cmd_publish,
        "upload a release's public/ folder to the Hugging Face Hub (refuses unsafe or synthetic releases)",
    )  # fmt: skip
    publish.add_argument("--window", required=True, type=month_spec, help="the release, e.g. 2025-03")
    publish.add_argument("--repo", required=True, type=repo_id, help="Hub dataset repository, OWNER/NAME")
    publish.add_argument("--private", action="store_true", help="create the Hub repository as private")
    publish.add_argument(
        "--dry-run",
        action="store_true",
        help="list what would be uploaded (paths, sizes, SHA-256); upload nothing",
    )

    forget = add_command(
        sub, "forget", cmd_forget, "opt-out: remove every row derived from an account, keep excluding it"
    )
    forget.add_argument("--did", help="the account's DID")
    forget.add_argument("--list", help="a file of DIDs, one per line")

    anonymize = add_command(
        sub, "anonymize", cmd_anonymize,
        "anonymize JSON lines' `text` as the pipeline does, adding `entities` (type, start, end)", data_dir=False,
    )  # fmt: skip
    anonymize.add_argument(
        "--in", dest="input", required=True, metavar="FILE", help="JSON lines, or - for stdin"
    )
    anonymize.add_argument("--out", metavar="FILE", help="output file (default: stdout)")
    anonymize.add_argument(
        "--ner", action="store_true", help="also remove PERSON/LOCATION (needs a spaCy model)"
    )

    evaluation = add_command(
        sub, "privacy-eval", cmd_privacy_eval,
        "per-type recall, precision and over-redaction on a labelled set", data_dir=False,
    )  # fmt: skip
    evaluation.add_argument(
        "--set", metavar="FILE", help="JSON lines {text, pii: [substrings], type} (default: the shipped set)"
    )
    evaluation.add_argument("--json", action="store_true", help="print the figures as JSON")
    evaluation.add_argument("--ner", action="store_true", help="evaluate with NER on")
    return parser


PASS_THROUGH = {"score": cmd_score, "baseline": cmd_baseline}  # they parse their own options


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in PASS_THROUGH:
        return PASS_THROUGH[argv[0]](argparse.Namespace(rest=argv[1:]))
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help, --version or a usage error (already printed)
        return done.code if isinstance(done.code, int) else 2
    verbose = getattr(args, "verbose", False)
    try:
        with _quiet_warnings(verbose):
            return args.func(args)
    except CommandFailed as error:
        print(f"blueprint: error: {error}", file=sys.stderr)
        return 1
    except (UsageError, FileNotFoundError, ValueError) as error:
        if verbose:
            raise
        print(f"blueprint: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("blueprint: interrupted", file=sys.stderr)
        return 1
    except Exception as error:
        if verbose:
            raise
        print(f"blueprint: error: {type(error).__name__}: {error} ({GENERIC_FIX})", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
