"""Opt-out: remove every row derived from an account, and keep excluding it (pure, no Dagster).

The removal log (`state/optouts/`, one entry per opt-out, so concurrent workers never lose one) records
pseudonyms only, so the log itself does not re-identify anyone. Later runs read it and drop the account as actor and as subject.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from blueprint_assets.lib.privacy.identifier_store import forget_digests
from blueprint_assets.lib.privacy.involvement import (
    URI_COLUMNS,
    Matcher,
    any_of,
    handles_pseudonymized_in,
    involved_mask,
    members_of,
    uri_author,
)
from blueprint_assets.lib.storage import storage
from blueprint_assets.lib.storage.lake import Lake, read_files, write_table_atomic
from blueprint_assets.lib.storage.layout import DataLayout
from blueprint_assets.lib.storage.state import append_entry, read_entries
from blueprint_assets.lib.storage.storage import join, normalize_root, resolve

OPTOUT_FOLDER = "optouts"  # one entry per opt-out (see lib/storage/state.py)
OPTOUT_LOG = "optouts.jsonl"  # the single log of earlier versions, still read
# What Bluesky shows for an account whose handle does not verify: not a handle of anyone in particular.
INVALID_HANDLE = "handle.invalid"
# Release-level tables re-key users per thread, so rows cannot be traced back: they are dropped whole and the
# affected releases rebuilt.
RELEASE_TABLES = ("user_embeddings", "persona_clusters", "action_threads", "action_splits")


@dataclass
class ForgetReport:
    """What an opt-out removed, by table (row counts only)."""

    removed_rows: dict[str, int] = field(default_factory=dict)
    dropped_releases: list[str] = field(default_factory=list)
    handles: int = 0  # the account's handles sought in texts (found in its raw events, or logged before)


def record_optout(state_dir: str | Path, pseudonym: str, handles: Collection[str] = ()) -> None:
    """Record the pseudonyms (never the DID or a handle) of the account and of its handles as their own
    entry, so concurrent opt-outs never overwrite each other."""
    entry: dict = {"pseudonym": pseudonym, "recorded_at": datetime.now(UTC).isoformat(timespec="seconds")}
    if handles:
        entry["handles"] = sorted(handles)
    append_entry(join(str(state_dir), OPTOUT_FOLDER), entry)


def logged_optouts(state_dir: str | Path) -> set[str]:
    """Pseudonyms of every account that opted out so far (entries, plus a pre-entry `optouts.jsonl`)."""
    found = {entry["pseudonym"] for _, entry in read_entries(join(str(state_dir), OPTOUT_FOLDER))}
    legacy = storage.read_text(join(str(state_dir), OPTOUT_LOG)) or ""
    return found | {json.loads(line)["pseudonym"] for line in legacy.splitlines() if line.strip()}


def logged_handles(state_dir: str | Path, account: str | None = None) -> set[str]:
    """Pseudonyms of the handles of every opted-out account (or of the one with pseudonym `account`)."""
    entries = (entry for _, entry in read_entries(join(str(state_dir), OPTOUT_FOLDER)))
    return {h for entry in entries if account in (None, entry["pseudonym"]) for h in entry.get("handles", ())}


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


def _keep_uninvolved(matches: Matcher, needles: list[str]) -> Callable[[pa.Table], pa.Array]:
    """Keep mask: rows that involve no identifier `matches` accepts, under the shared rule (involvement.py);
    `needles` are what a text naming the account holds (its DID, `@` and a handle)."""
    return lambda table: pa.array(~involved_mask(table, matches, needles), pa.bool_())


def account_handles(lake: Lake, did: str) -> set[str]:
    """The handles the account's own raw events give it (identity events, the author of a feed post),
    lowercased. Only the row groups that hold its events are read whole."""
    found: set[str] = set()
    for path in _partition_files(lake, "raw_events"):
        for line in _account_lines(path, did):
            if line and '"handle"' in line:
                found.update(_handles_in(json.loads(line), did))
    return found - {INVALID_HANDLE}


def _account_lines(path: str, did: str) -> list[str | None]:
    """The raw lines of `did` in a raw_events part: only the row groups that hold them are read whole."""
    filesystem, inner = resolve(path)
    with pq.ParquetFile(inner, filesystem=filesystem) as parquet:
        dids = parquet.read(columns=["did"]).column("did")
        rows = np.flatnonzero(pc.fill_null(pc.equal(dids, did), False).to_numpy(zero_copy_only=False))
        if not rows.size:
            return []
        ends = np.cumsum([parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)])
        groups = sorted(set(np.searchsorted(ends, rows, side="right").tolist()))
        table = parquet.read_row_groups(groups, columns=["did", "raw"])
    return table.filter(pc.equal(table.column("did"), did)).column("raw").to_pylist()


def _handles_in(value: object, did: str) -> Iterator[str]:
    """The `handle` of every object in a JSON value whose `did` is `did`, lowercased."""
    if isinstance(value, dict):
        if value.get("did") == did and isinstance(handle := value.get("handle"), str) and handle:
            yield handle.lower()
        for inner in value.values():
            yield from _handles_in(inner, did)
    elif isinstance(value, list):
        for inner in value:
            yield from _handles_in(inner, did)


def _lost_handles(
    lost: set[str], pseudonym: Callable[[str], str], needles: list[str]
) -> tuple[list[Matcher], list[str]]:
    """(extra matchers, text needles) for handles logged by a forget cut short, whose raw events are gone:
    known by pseudonym only, so every text with a mention is read and its handles pseudonymized."""
    if not lost:
        return [], needles
    return [handles_pseudonymized_in(lost, lambda values: [pseudonym(v) for v in values])], [needles[0], "@"]


def forget_account(data_dir: str | Path, did: str, pseudonym: Callable[[str], str]) -> ForgetReport:
    """Remove every stored row made by, about or mentioning `did`, log the opt-out, drop affected releases.

    One rule (`involvement.involved_mask`, column by column) decides for every table; its identifiers are
    the DID, the account's handles (`account_handles`: a post naming it by `@handle` only, with no mention
    facet, mentions it too) plus the pseudonyms of the account and of every record that involves it
    (collected before the private tables lose them), so public tables, which hold pseudonyms only, lose the
    same rows as the private ones.
    """
    lake = Lake(str(data_dir))
    layout = DataLayout(normalize_root(data_dir))
    report = ForgetReport()
    me = pseudonym(did)
    handles = sorted(account_handles(lake, did))
    found, earlier = {pseudonym(h) for h in handles}, logged_handles(layout.state, me)
    # Logged first: a forget cut short still keeps the account and its handles out of later runs.
    record_optout(layout.state, me, found | earlier)
    report.handles = len(found | earlier)
    account = {did, did.lower(), *handles}
    lost, needles = _lost_handles(earlier - found, pseudonym, [did, *(f"@{h}" for h in handles)])
    ids = {*account, me}
    for path in _partition_files(lake, "actions"):
        table = read_files([path])
        involved_rows = involved_mask(table, any_of(members_of(account), *lost), needles)
        involved = table.filter(pa.array(involved_rows, pa.bool_()))
        for row in involved.to_pylist():
            # the row itself and the account's own records; not other people's posts it points to
            ids.update(pseudonym(row[c]) for c in ("event_key", "record_uri") if row[c])
            ids.update(pseudonym(row[c]) for c in URI_COLUMNS if uri_author(row[c]) == did)
    keep = _keep_uninvolved(any_of(members_of(ids), *lost), needles)
    # actions last: the records it names are how the public tables' rows are found, so a forget cut short
    # before it is done finds them all again when run again.
    tables = [t for t in storage.list_folders(lake.root) if t not in RELEASE_TABLES]
    for table_name in sorted(tables, key=lambda name: name == "actions"):
        report.removed_rows[table_name] = sum(_rewrite(p, keep) for p in _partition_files(lake, table_name))
    for table_name in RELEASE_TABLES:
        report.dropped_releases += lake.drop_table(table_name)
    releases = layout.releases
    for name in storage.list_folders(releases):
        report.dropped_releases.append(name)
        storage.delete_tree(join(releases, name))
    report.dropped_releases = sorted(set(report.dropped_releases))
    forget_digests(layout.state)  # rebuilt from the rewritten raw parts by the next scan
    return report
