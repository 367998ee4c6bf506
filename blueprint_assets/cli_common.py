"""What every `blueprint` subcommand shares: the error types, the data root, the argument types and the parser
helpers (`Parser`, `common_options`, `add_command`)."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path


class UsageError(ValueError):
    """Bad usage: exit code 2, one line."""


class CommandFailed(RuntimeError):
    """A run or command that failed: exit code 1, one line naming the cause and the fix."""


def cli_settings(args: argparse.Namespace):
    """`Settings` from the environment with this command's flags as overrides (blueprint_assets/settings.py).

    The data root is normalized: an absolute local path, or an object-store URL (`s3://bucket/prefix`) as is.
    """
    from blueprint_assets.lib.storage.storage import normalize_root
    from blueprint_assets.settings import Settings

    path = getattr(args, "source_dir", None) or getattr(args, "path", None)
    settings = Settings.from_env(
        data_dir=getattr(args, "data_dir", None),
        source=getattr(args, "source", None),
        source_url=getattr(args, "url", None),
        source_path=str(Path(path).resolve()) if path else None,
        source_exclude=getattr(args, "exclude", None) or None,
        idle_timeout=getattr(args, "idle_timeout", None),
        max_retries=getattr(args, "max_retries", None),
        backoff=getattr(args, "backoff", None),
    )
    return settings.with_overrides(data_dir=normalize_root(settings.data_dir))


def _data_dir(args: argparse.Namespace) -> str:
    """The data root of the command (`--data-dir`, else BLUEPRINT_DATA_DIR, else ./data), normalized."""
    return cli_settings(args).data_dir


def existing_data_dir(args: argparse.Namespace) -> str:
    """The data directory of a read-only command; it must exist (read-only commands never create it)."""
    from blueprint_assets.lib.storage.storage import is_object_store

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
    from blueprint_assets.lib.window import ReleaseWindow

    try:
        return ReleaseWindow.parse(value).name
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


GENERIC_FIX = "rerun with --verbose for Dagster's full log"


class Parser(argparse.ArgumentParser):
    """argparse with a one-line usage error (exit 2) instead of the usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


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
