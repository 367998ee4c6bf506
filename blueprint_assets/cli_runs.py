"""The `blueprint` subcommands that run Dagster jobs (`run`, `release`) and report on the lake (`summary`)."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from blueprint_assets.cli_common import (
    GENERIC_FIX,
    CommandFailed,
    UsageError,
    cli_settings,
    day_range,
    existing_data_dir,
)
from blueprint_assets.defs.tags import PARTITION_TAG, RANGE_END_TAG, RANGE_START_TAG, WRITER_TAG
from blueprint_assets.lib.sources.kinds import ARCHIVE_KINDS
from blueprint_assets.settings import DataLayout


def dagster_instance(layout: DataLayout):
    """The persistent Dagster instance under the data directory (the one `make ui` serves).

    With an object-store data dir the instance stays local (scratch), unless DAGSTER_HOME names one.
    """
    from dagster import DagsterInstance

    from blueprint_assets.lib.storage.storage import is_object_store

    if is_object_store(layout.root) and os.environ.get("DAGSTER_HOME"):
        return DagsterInstance.get()
    home = layout.dagster_home
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
    from blueprint_assets.definitions import build_definitions
    from blueprint_assets.defs.jobs import selection_job
    from blueprint_assets.run_console import PROGRESS_LOGGER, failure_line, progress_logger, quiet_run_config

    settings = cli_settings(args)
    extra = [selection_job(job_name, selection)] if selection else []
    defs = build_definitions(settings, extra_jobs=extra)
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
        instance=dagster_instance(settings.layout), tags=tags, run_config=run_config, raise_on_error=False
    )
    if not result.success:
        return failure_line(result.all_events) or f"run {result.run_id} failed: {GENERIC_FIX}"
    return None


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
    from blueprint_assets.defs.jobs import DAILY_ASSETS

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
        from blueprint_assets.lib.sources.archive import list_archive_files

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
            print_summary(cli_settings(args).layout, first, last)
            raise CommandFailed(failure)
    print_summary(cli_settings(args).layout, first, last)
    return 0


def plan_run(args: argparse.Namespace, first: str, last: str) -> list[tuple[str, str]]:
    """The sub-ranges of first..last to run. For an archive source, only the days some file holds
    (found with the cached archive index, which the run then reuses); other sources: the whole range.
    Days outside the daily partitions are left out."""
    from blueprint_assets.defs.partitions import daily_partitions
    from blueprint_assets.lib.window import clamp_days, day_count

    start, end = daily_partitions.get_first_partition_key(), daily_partitions.get_last_partition_key()
    clamped = clamp_days(first, last, start, end)
    if clamped is None:
        print("note: no day of the range is a daily partition; nothing to run", file=sys.stderr)
        return []
    if clamped != (first, last):
        print(
            f"note: only {clamped[0]}..{clamped[1]} are daily partitions; the rest of the range is skipped",
            file=sys.stderr,
        )
    settings = cli_settings(args)
    if settings.source not in ARCHIVE_KINDS or not Path(settings.archive_dir).is_dir():
        return [clamped]
    path = settings.archive_dir
    from blueprint_assets.lib.sources.archive import plan_segments
    from blueprint_assets.lib.sources.source_lines import archive_index

    def progress(message: str) -> None:
        print(f"planning: {message}", file=sys.stderr, flush=True)

    exclude = list(settings.source_exclude or [])
    index = archive_index(Path(path), settings.layout.state, exclude, progress)
    segments = plan_segments(index.files(), *clamped)
    days = sum(day_count(a, b) for a, b in segments)
    total = day_count(*clamped)
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


def replaceable_copy(target: Path) -> None:
    """Refuse (UsageError) an `--out` folder that replacing would lose anything but an earlier release copy:
    a file, or a folder holding anything other than a release's own top-level folders."""
    from blueprint_assets.lib.release.layout import AUDIT, PRIVATE, PUBLIC

    if not target.exists():
        return
    if not target.is_dir():
        raise UsageError(f"--out {target} is a file: give an empty or new folder")
    extra = sorted(p.name for p in target.iterdir() if p.name not in (PUBLIC, PRIVATE, AUDIT))
    if extra:
        raise UsageError(
            f"--out {target} holds {extra[0]!r}, which no release has, and replacing the folder would delete"
            " it: give an empty or new folder"
        )


def cmd_release(args: argparse.Namespace) -> int:
    import shutil

    from blueprint_assets.lib.window import ReleaseWindow

    name = args.months  # normalized by month_spec: the folder name of the release
    first, last = ReleaseWindow.parse(name).partition_keys
    if args.out:
        replaceable_copy(Path(args.out))  # before the run: a folder that must not be replaced costs no build
    failure = run_job("monthly_release", first, last, args, None, label=name)
    from blueprint_assets.defs.resources import LakeResource

    settings = cli_settings(args)
    built = LakeResource(data_dir=settings.data_dir, scratch_dir=settings.scratch_dir).release_folder(name)
    if failure:
        raise CommandFailed(f"release {name} not built: {failure}")
    if args.out:
        target = Path(args.out)
        replaceable_copy(target)
        source, copy = built.resolve(), target.resolve()
        if copy == source:
            raise UsageError(f"--out {target} is the release folder itself")
        if source in copy.parents:  # copytree would copy the release into itself, without end
            raise UsageError(f"--out {target} is inside the release folder")
        if target.exists():
            shutil.rmtree(target)  # an earlier copy (replaceable_copy): a stale file must not survive
        shutil.copytree(built, target)
        print(f"release copied to {target}")
    print(f"release {name}: built at {built}")
    return 0


def print_summary(layout: DataLayout, first: str, last: str) -> None:
    """Events read, rows per action type, quarantined lines and where the files are (lib/release/summary.py)."""
    from blueprint_assets.lib.release.summary import lake_summary

    summary = lake_summary(layout, first, last)
    print(f"\nBluePrint summary for {first}..{last}")
    print(f"  events kept:       {summary.events}")
    print(f"  quarantined lines: {summary.quarantined}")
    print(f"  corrupt files:     {summary.corrupt_files}")
    if summary.read_nothing:
        print("  WARNING: no line was read for these days: check --source-dir, --exclude and the dates")
    print("  actions by type:")
    for action, count in summary.by_action:
        print(f"    {action:<12} {count:>8}")
    print(f"  lake:              {summary.lake}")
    for folder, audit in summary.releases:
        print(f"  release:           {folder}")
        if audit:
            print(f"  privacy audit:     {audit}")
    if summary.leaderboard:
        print(f"  leaderboard:       {summary.leaderboard}")
    print(f"  dagster instance:  {summary.dagster_home} (see it with `make ui`)")


def cmd_summary(args: argparse.Namespace) -> int:
    existing_data_dir(args)  # a read-only command: the folder must exist
    print_summary(cli_settings(args).layout, *day_range(args))
    return 0
