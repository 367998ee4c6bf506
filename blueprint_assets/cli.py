"""`blueprint`: the command line for maintainers, researchers and modellers.

Exit codes: 0 success, 1 a failed run or command, 2 bad usage. Errors are one line on stderr
(`--verbose` adds Dagster's full log and tracebacks). A new subcommand: write `cmd_x(args) -> int`, and
register it in `build_parser` with `add_command(sub, "x", cmd_x, "help ...")`; raise `UsageError` for bad
input and `CommandFailed` for a failure, each with a message that names the cause and the fix.

The commands that run Dagster jobs (`run`, `release`, `summary`) live in `cli_runs.py`, the modellers'
`score` and `baseline` in `cli_score.py`; the error types, the data root, the argument types and the parser
helpers (`Parser`, `add_command`) they all share live in `cli_common.py`.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from blueprint_assets.cli_common import (
    GENERIC_FIX,
    CommandFailed,
    Parser,
    UsageError,
    add_command,
    cli_settings,
    common_options,
    iso_day,
    month_spec,
    repo_id,
)
from blueprint_assets.cli_runs import _quiet_warnings, cmd_release, cmd_run, cmd_summary
from blueprint_assets.cli_score import add_scoring_commands

__all__ = ["CommandFailed", "UsageError", "build_parser", "main"]


def cmd_publish(args: argparse.Namespace) -> int:
    """Upload releases/<window>/public/ to the Hub, refusing anything unsafe (lib/release/publish.py)."""
    from blueprint_assets.defs.resources import LakeResource
    from blueprint_assets.lib.release.publish import format_plan, refusals, upload, upload_plan

    settings = cli_settings(args)
    lake = LakeResource(data_dir=settings.data_dir, scratch_dir=settings.scratch_dir)
    release = lake.release_folder(args.window)  # fetched when on a store
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


def cmd_prepare_encoder(args: argparse.Namespace) -> int:
    """Build the static encoder's model ahead of a run (`make demo`, the image); a no-op when it is built or
    when BLUEPRINT_ENCODER names another encoder."""
    from blueprint_assets.lib.personas.encoder import is_static
    from blueprint_assets.lib.personas.static_encoder import ensure_static_model

    settings = cli_settings(args)
    if not is_static(settings.encoder):
        print(f"encoder {settings.encoder}: not the static model, nothing to build")
        return 0
    print(f"static encoder: {ensure_static_model(settings.model_cache_dir)}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from blueprint_assets.lib.sample import generate_sample

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
    from blueprint_assets.lib.sources.archive import flatten_examples

    count = flatten_examples(Path(args.json), Path(args.out))
    print(f"wrote {count} events to {args.out} in the hourly archive layout")
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    from blueprint_assets.lib.privacy.optout import forget_account
    from blueprint_assets.lib.privacy.pseudonyms import Pseudonymizer

    settings = cli_settings(args)
    data_dir = settings.data_dir
    dids = [args.did] if args.did else []
    if args.list:
        from blueprint_assets.lib.privacy.optout import listed_dids

        dids += listed_dids(args.list)
    if not dids:
        raise ValueError("give --did DID or --list FILE")
    pseudonym = Pseudonymizer.from_data_dir(data_dir, settings.secret)
    for number, did in enumerate(dids, start=1):
        if not did.startswith("did:"):
            raise ValueError(f"entry {number} is not a DID (expected did:plc:... or did:web:...)")
        report = forget_account(data_dir, did, pseudonym)
        # Print counts and the pseudonym only: the DID is what we are removing.
        print(
            f"account {pseudonym(did)[:12]}…: removed rows {report.removed_rows} "
            f"(texts naming it by any of {report.handles} handle(s) included)"
        )
        if report.dropped_releases:
            print(
                f"  dropped release tables/folders {report.dropped_releases}: rebuild them with `blueprint release`"
            )
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("blueprint")
    except PackageNotFoundError:
        return "unknown"


def add_day_range(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--from", dest="date_from", required=True, type=iso_day, metavar="DAY", help="first day, YYYY-MM-DD"
    )
    command.add_argument(
        "--to", dest="date_to", type=iso_day, metavar="DAY", help="last day, YYYY-MM-DD (default: --from)"
    )


def cmd_anonymize(args: argparse.Namespace) -> int:
    """JSON lines with `text` in, the same lines with `text` anonymized and `entities` out."""
    from blueprint_assets.lib.privacy.anonymizer import TextAnonymizer
    from blueprint_assets.lib.privacy.evaluate import anonymize_record, read_json_lines

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
    from blueprint_assets.lib.privacy.anonymizer import TextAnonymizer
    from blueprint_assets.lib.privacy.evaluate import SHIPPED_SET, evaluate, format_report, load_labelled_set

    report = evaluate(TextAnonymizer(ner=args.ner), load_labelled_set(args.set or SHIPPED_SET))
    print(json.dumps(report.to_dict(), indent=2) if args.json else format_report(report))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from blueprint_assets.lib.sources.kinds import SOURCE_KINDS

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

    add_command(
        sub, "prepare-encoder", cmd_prepare_encoder,
        "build the static encoder's model once, into BLUEPRINT_MODEL_CACHE or <data dir>/models",
    )  # fmt: skip

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
    release.add_argument(
        "--out",
        help="also copy the finished release folder (public/, private/ and privacy_audit/) here; an existing"
        " folder is replaced only if it is empty or an earlier copy",
    )

    add_scoring_commands(sub)

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


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help, --version or a usage error (already printed)
        return done.code if isinstance(done.code, int) else 2
    verbose = getattr(args, "verbose", False)
    from blueprint_assets.lib.personas.encoder import set_torch_threads
    from blueprint_assets.settings import Settings

    set_torch_threads(Settings.from_env().torch_threads)  # the scorer and baselines encode in this process
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


if __name__ == "__main__":  # `python -m blueprint_assets.cli`, as the benchmarks run it
    sys.exit(main())
