"""What a CLI run prints: one progress line per Dagster step, and one line naming a failure's cause and fix.

Dagster's own console logger (debug lines, stack traces) is used only with `--verbose`; by default the
job gets `progress_logger`, which turns Dagster events into short lines on stderr. `failure_line`
reads a finished run's events and names the first failed step or blocking check.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

from dagster import DagsterEventType, logger

PROGRESS_LOGGER = "blueprint_progress"
# A cause whose message already says what to do is printed as is; otherwise a hint is added.
FIX_WORDS = ("lower ", "raise ", "widen ", "run `", "pass ", "set ", "use ", "give ", "check ", "remove ")
HINTS = {
    "has no stored partition": "materialize those days first with `blueprint run --from DAY --to DAY`",
    "no days to read": "pass --from and --to",
}
GENERIC_HINT = "rerun with --verbose for Dagster's full log"


def _step_name(step_key: str | None) -> str:
    return step_key or "run"


class ProgressHandler(logging.Handler):
    """Prints step results, failed checks, user warnings and materialization summaries."""

    def __init__(self, stream=None) -> None:
        super().__init__(logging.DEBUG)
        self.stream = stream
        self._printed: set[str] = set()  # a range run materializes once per day: say each line once

    def emit(self, record: logging.LogRecord) -> None:
        line = progress_text(record)
        if line and line not in self._printed:
            self._printed.add(line)
            print(line, file=self.stream or sys.stderr, flush=True)


def progress_text(record: logging.LogRecord) -> str | None:
    """The terminal line for one Dagster log record, or None for records the default view hides."""
    meta = getattr(record, "dagster_meta", None) or {}
    event = meta.get("dagster_event")
    step = _step_name(meta.get("step_key"))
    if event is None:
        message = str(meta.get("orig_message", record.getMessage()))
        if message.startswith("Dependencies for step"):  # Dagster's note on a step it does not run
            return f"  skipped  {step} (upstream did not pass)"
        # A message an asset logged with context.log: warnings and errors reach the terminal.
        if record.levelno >= logging.WARNING:
            return f"  warning ({step}): {message}"
        return None
    kind = event.event_type
    data = event.event_specific_data
    if kind == DagsterEventType.STEP_SUCCESS:
        return f"  done     {step} ({data.duration_ms / 1000:.1f}s)"
    if kind == DagsterEventType.STEP_FAILURE:
        return f"  FAILED   {step}"
    if kind == DagsterEventType.STEP_SKIPPED:
        return f"  skipped  {step} (upstream did not pass)"
    if kind == DagsterEventType.ASSET_CHECK_EVALUATION and not data.passed:
        return f"  check    {data.asset_key.to_user_string()}:{data.check_name} did not pass"
    if kind == DagsterEventType.ASSET_MATERIALIZATION:
        summary = data.materialization.metadata.get("summary")
        if summary is not None:
            return f"           {getattr(summary, 'value', summary)}"
    return None


@logger(description="BluePrint's terse console view: one line per step, failed checks, warnings.")
def progress_logger(_init_context) -> logging.Logger:
    log = logging.Logger(PROGRESS_LOGGER, level=logging.DEBUG)
    log.addHandler(ProgressHandler())
    return log


def quiet_run_config() -> dict:
    """Run config selecting the progress logger instead of Dagster's console logger."""
    return {"loggers": {PROGRESS_LOGGER: {}}}


def _root_cause(error) -> tuple[str, str]:
    """(class name, first message line) of the innermost user error under Dagster's wrappers."""
    found = error
    while error is not None:
        if not error.cls_name or not error.cls_name.startswith("Dagster"):
            found = error
        error = error.cause or error.context
    message = (found.message or "").strip().splitlines()
    text = message[0] if message else found.cls_name or "unknown error"
    prefix = f"{found.cls_name}: "
    return found.cls_name or "", text[len(prefix) :] if text.startswith(prefix) else text


def with_fix(cause: str) -> str:
    """The cause, followed by what to do when the message does not say it already."""
    if any(word in cause for word in FIX_WORDS):
        return cause
    hint = next((fix for marker, fix in HINTS.items() if marker in cause), GENERIC_HINT)
    return f"{cause}: {hint}"


def failure_line(events: Iterable) -> str | None:
    """One line naming the first failed step or blocking check of a finished run, with a fix."""
    checks = []
    for event in events:
        data = event.event_specific_data
        if event.event_type == DagsterEventType.STEP_FAILURE:
            if data.user_failure_data is not None and data.user_failure_data.description:
                cause = data.user_failure_data.description.strip().splitlines()[0]
            elif data.error is not None:
                cause = _root_cause(data.error)[1]
            else:
                cause = "failed"
            return f"{_step_name(event.step_key)} failed: {with_fix(cause)}"
        # A range run records one evaluation per partition: name each check once.
        is_check = event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
        if (
            is_check
            and not data.passed
            and (data.asset_key, data.check_name) not in {(c.asset_key, c.check_name) for c in checks}
        ):
            checks.append(data)
    if checks:
        first = checks[0]
        about = (first.description or "").strip().splitlines()
        detail = f": {about[0]}" if about else ""
        more = f" (and {len(checks) - 1} more)" if len(checks) > 1 else ""
        name = f"{first.asset_key.to_user_string()}:{first.check_name}"
        return (
            f"check {name} did not pass{detail}{more}: see the check's metadata (`make ui`) and fix the input"
        )
    return None
