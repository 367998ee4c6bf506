"""Opt-out: remove every row derived from an account, and keep excluding it (pure, no Dagster).

The removal log (`state/optouts/`, one entry per opt-out, so concurrent workers never lose one) records
pseudonyms only, so the log itself does not re-identify anyone. Later runs read it and drop the account as actor and as subject.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from blueprint_assets.core import storage
from blueprint_assets.core.anonymize_actions import URI_COLUMNS, involves, uri_author
from blueprint_assets.core.lake import Lake, read_files, write_table_atomic
from blueprint_assets.core.state import append_entry, read_entries
from blueprint_assets.core.storage import join, normalize_root

OPTOUT_FOLDER = "optouts"  # one entry per opt-out (see core/state.py)
OPTOUT_LOG = "optouts.jsonl"  # the single log of earlier versions, still read
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


def record_optout(state_dir: str | Path, pseudonym: str) -> None:
    """Record the pseudonym (never the DID) as its own entry, so concurrent opt-outs never overwrite each other."""
    entry = {"pseudonym": pseudonym, "recorded_at": datetime.now(UTC).isoformat(timespec="seconds")}
    append_entry(join(str(state_dir), OPTOUT_FOLDER), entry)


def logged_optouts(state_dir: str | Path) -> set[str]:
    """Pseudonyms of every account that opted out so far (entries, plus a pre-entry `optouts.jsonl`)."""
    found = {entry["pseudonym"] for _, entry in read_entries(join(str(state_dir), OPTOUT_FOLDER))}
    legacy = storage.read_text(join(str(state_dir), OPTOUT_LOG)) or ""
    return found | {json.loads(line)["pseudonym"] for line in legacy.splitlines() if line.strip()}


def listed_dids(path: str | None) -> list[str]:
    """DIDs in an opt-out list file (one per line, `#` comments)."""
    if not path:
        return []
    lines = Path(path).read_text().splitlines()
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def _rewrite(path: str, keep: Callable[[pa.Table], pa.Array]) -> int:
    table = read_files([path])
    mask = keep(table)
    kept = table.filter(mask)
    removed = table.num_rows - kept.num_rows
    if removed:
        write_table_atomic(kept, path)
    return removed


def _partition_files(lake: Lake, table: str) -> list[str]:
    return [lake.partition_file(table, "day", day) for day in lake.existing_days(table)]


def _not_any(table: pa.Table, columns: tuple[str, ...], values: set[str]) -> pa.Array:
    value_set = pa.array(sorted(values), type=pa.string())
    drop = pa.array([False] * table.num_rows)
    for column in columns:
        if column in table.column_names:
            drop = pc.or_(drop, pc.fill_null(pc.is_in(table.column(column), value_set=value_set), False))
    return pc.invert(drop)


def forget_account(data_dir: str | Path, did: str, pseudonym: Callable[[str], str]) -> ForgetReport:
    """Remove every stored row made by or about `did`, log the opt-out, drop affected releases."""
    lake = Lake(str(data_dir))
    root = normalize_root(data_dir)
    report = ForgetReport()
    needle = did.lower()

    def without_did_text(column: str) -> Callable[[pa.Table], pa.Array]:
        return lambda t: pc.invert(
            pc.fill_null(pc.match_substring(pc.utf8_lower(t.column(column)), needle), False)
        )

    # Identifiers derived from the account, collected before the private tables lose them.
    derived = {pseudonym(did)}
    for path in _partition_files(lake, "actions"):
        table = read_files([path]).to_pylist()
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
        report.dropped_releases += lake.drop_table(table_name)
    releases = join(root, "releases")
    for name in storage.list_folders(releases):
        report.dropped_releases.append(name)
        storage.delete_tree(join(releases, name))
    report.dropped_releases = sorted(set(report.dropped_releases))
    record_optout(join(root, "state"), pseudonym(did))
    return report


def _mentions_uri(table: pa.Table, did: str) -> pa.Array:
    prefix = f"at://{did}/"
    hit = pa.array([False] * table.num_rows)
    for column in URI_COLUMNS:
        hit = pc.or_(hit, pc.fill_null(pc.starts_with(table.column(column), prefix), False))
    return hit
