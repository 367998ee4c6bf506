"""Opt-out: remove every row derived from an account, and keep excluding it (pure, no Dagster).

The removal log (`state/optouts.jsonl`) is append-only and records pseudonyms only, so the log itself
does not re-identify anyone. Later runs read it and drop the account as actor and as subject.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from blueprint_assets.core.anonymize_actions import URI_COLUMNS, involves, uri_author
from blueprint_assets.core.lake import PART_FILE, Lake, write_table_atomic

OPTOUT_LOG = "optouts.jsonl"
ID_COLUMNS = ("event_id", "actor", "record_id", "reply_parent_id", "reply_root_id", "quote_id", "subject_id",
              "subject_user", "user")  # fmt: skip
# Release-level tables re-key users per thread, so rows cannot be traced back: they are dropped whole and the
# affected releases rebuilt.
RELEASE_TABLES = ("user_embeddings", "persona_clusters", "action_threads", "action_splits")


@dataclass
class ForgetReport:
    """What an opt-out removed, by table (row counts only)."""

    removed_rows: dict[str, int] = field(default_factory=dict)
    dropped_releases: list[str] = field(default_factory=list)


def record_optout(state_dir: Path, pseudonym: str) -> None:
    """Append the pseudonym to the removal log (never the DID)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    entry = {"pseudonym": pseudonym, "recorded_at": datetime.now(UTC).isoformat(timespec="seconds")}
    with open(state_dir / OPTOUT_LOG, "a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\n")


def logged_optouts(state_dir: Path) -> set[str]:
    """Pseudonyms of every account that opted out so far."""
    path = state_dir / OPTOUT_LOG
    if not path.is_file():
        return set()
    return {json.loads(line)["pseudonym"] for line in path.read_text().splitlines() if line.strip()}


def listed_dids(path: str | None) -> list[str]:
    """DIDs in an opt-out list file (one per line, `#` comments)."""
    if not path:
        return []
    lines = Path(path).read_text().splitlines()
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def _rewrite(path: Path, keep: Callable[[pa.Table], pa.Array]) -> int:
    table = pq.read_table(path, partitioning=None)
    mask = keep(table)
    kept = table.filter(mask)
    removed = table.num_rows - kept.num_rows
    if removed:
        write_table_atomic(kept, str(path))
    return removed


def _partition_files(lake: Lake, table: str) -> list[Path]:
    base = Path(lake.root) / table
    return sorted(base.glob(f"*=*/{PART_FILE}")) if base.is_dir() else []


def _not_any(table: pa.Table, columns: tuple[str, ...], values: set[str]) -> pa.Array:
    value_set = pa.array(sorted(values), type=pa.string())
    drop = pa.array([False] * table.num_rows)
    for column in columns:
        if column in table.column_names:
            drop = pc.or_(drop, pc.fill_null(pc.is_in(table.column(column), value_set=value_set), False))
    return pc.invert(drop)


def forget_account(data_dir: Path, did: str, pseudonym: Callable[[str], str]) -> ForgetReport:
    """Remove every stored row made by or about `did`, log the opt-out, drop affected releases."""
    lake = Lake(str(data_dir))
    report = ForgetReport()
    needle = did.lower()

    def without_did_text(column: str) -> Callable[[pa.Table], pa.Array]:
        return lambda t: pc.invert(
            pc.fill_null(pc.match_substring(pc.utf8_lower(t.column(column)), needle), False)
        )

    # Identifiers derived from the account, collected before the private tables lose them.
    derived = {pseudonym(did)}
    for path in _partition_files(lake, "actions"):
        table = pq.read_table(path, partitioning=None).to_pylist()
        for row in table:
            if involves(row, {did}):
                derived.add(pseudonym(row["event_key"]))
                derived.update(pseudonym(row[c]) for c in URI_COLUMNS if uri_author(row[c]) == did)

    removals = {
        "raw_events": without_did_text("raw"),
        "raw_events_quarantine": without_did_text("raw"),
        "actions": lambda t: pc.invert(
            pc.fill_null(
                pc.or_(
                    pc.equal(t.column("actor_did"), did),
                    pc.or_(pc.equal(t.column("subject_did"), did), _mentions_uri(t, did)),
                ),
                False,
            )
        ),
        "anonymized_posts": lambda t: _not_any(t, ID_COLUMNS, derived),
        "post_embeddings": lambda t: _not_any(t, ID_COLUMNS, derived),
    }
    for table_name, keep in removals.items():
        report.removed_rows[table_name] = sum(_rewrite(p, keep) for p in _partition_files(lake, table_name))
    for table_name in RELEASE_TABLES:
        base = Path(lake.root) / table_name
        if base.is_dir():
            report.dropped_releases += sorted(p.name.split("=", 1)[1] for p in base.glob("release=*"))
            shutil.rmtree(base)
    releases = data_dir / "releases"
    if releases.is_dir():
        for folder in sorted(releases.iterdir()):
            report.dropped_releases.append(folder.name)
            shutil.rmtree(folder)
    report.dropped_releases = sorted(set(report.dropped_releases))
    record_optout(data_dir / "state", pseudonym(did))
    return report


def _mentions_uri(table: pa.Table, did: str) -> pa.Array:
    prefix = f"at://{did}/"
    hit = pa.array([False] * table.num_rows)
    for column in URI_COLUMNS:
        hit = pc.or_(hit, pc.fill_null(pc.starts_with(table.column(column), prefix), False))
    return hit
