"""The row-by-row thread pass that lib/release/thread_state.py replaced: the reference its column-wise
lookups are tested against (tests/lib/release/test_thread_state.py).

One pass over the non-like rows in (time_us, event_id) order keeps the state "as of now" (latest version of
each post, each author's posts, deletions): each row's thread is built from it, then the row updates it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from blueprint_assets.lib.actions_space import TEXT_ACTIONS
from blueprint_assets.lib.release.thread_columns import INPUT_COLUMNS, POST_CREATES, UNDO_ACTIONS, cluster_ids
from blueprint_assets.lib.release.thread_state import USER_TARGET_ACTIONS
from blueprint_assets.lib.release.thread_table import Built


class _Row(NamedTuple):
    event_id: str
    time_us: int
    action: str
    actor: str
    record_id: str | None
    text: str | None
    reply_parent_id: str | None
    quote_id: str | None
    subject_id: str | None
    subject_user: str | None
    resolved: bool


@dataclass
class _Version:
    """The currently visible version of a post."""

    author: str
    created_us: int  # first time the post was seen (its creation, or the first update seen)
    version_us: int  # time of the version whose text this is
    text: str | None
    reply_parent_id: str | None


# A message before finalisation, a plain (author pseudonym, time_us, text) tuple (cheaper than a named one
# at millions of messages): pseudonym and clock time are both replaced on output.
_Msg = tuple[str, int, str | None]


def _rows(table: pa.Table) -> list[_Row]:
    """The table's rows as tuples, read column by column."""
    return list(map(_Row._make, zip(*(table.column(c).to_pylist() for c in INPUT_COLUMNS), strict=True)))


class _State:
    """What is visible at the current point of the time-ordered pass; every change of a post's version is
    logged with the row's position."""

    def __init__(self) -> None:
        self.versions: dict[str, _Version] = {}
        self.deleted: set[str] = set()
        self.author_posts: dict[str, list[str]] = {}
        self.log: list[tuple] = []  # (position, record, author, created, version, text, parent, deleted)

    def post(self, record_id: str | None) -> _Version | None:
        """The visible version of a post with text, or None if unknown, deleted or textless."""
        if record_id is None or record_id in self.deleted:
            return None
        version = self.versions.get(record_id)
        if version is None or version.text is None:
            return None
        return version

    def latest_post_of(self, author: str | None) -> _Version | None:
        """The author's most recent visible post (deleted posts are popped lazily: deletion is final)."""
        stack = self.author_posts.get(author, []) if author is not None else []
        while stack and stack[-1] in self.deleted:
            stack.pop()
        for record_id in reversed(stack):  # skips the rare post without text
            version = self.post(record_id)
            if version is not None:
                return version
        return None

    def apply(self, row: _Row, position: int) -> None:
        """Update the state with a row, after its own thread was built (context precedes the action)."""
        if row.action in POST_CREATES:
            if row.record_id is None:
                return
            target = row.record_id
            if target not in self.versions:
                self.author_posts.setdefault(row.actor, []).append(target)
            self.versions[target] = _Version(
                row.actor, row.time_us, row.time_us, row.text, row.reply_parent_id
            )
        elif row.action == "post_update":
            target = row.subject_id or row.record_id
            if target is None:
                return
            old = self.versions.get(target)
            if old is None:
                # An update carries the full record, so a post created before the window becomes known here.
                self.author_posts.setdefault(row.actor, []).append(target)
                self.versions[target] = _Version(
                    row.actor, row.time_us, row.time_us, row.text, row.reply_parent_id
                )
            else:
                old.version_us = row.time_us
                old.text = row.text
                old.reply_parent_id = row.reply_parent_id or old.reply_parent_id
        elif row.action == "post_delete":
            target = row.subject_id or row.record_id
            if target is None or not row.resolved:
                return
            self.deleted.add(target)
        else:
            return
        version = self.versions.get(target)
        if version is None:
            self.log.append((position, target, None, 0, 0, None, None, True))
        else:
            self.log.append(
                (position, target, version.author, version.created_us, version.version_us, version.text,
                 version.reply_parent_id, target in self.deleted)
            )  # fmt: skip


def _chain(
    row: _Row, state: _State, clusters: dict[str, int], max_depth: int, in_scope_only: bool
) -> list[_Msg]:
    """Reply chain ending at `row`, oldest first, at most `max_depth` messages."""
    chain = [(row.actor, row.time_us, row.text or "")]
    seen = {row.record_id}
    parent_id = row.reply_parent_id
    while parent_id is not None and len(chain) < max_depth and parent_id not in seen:
        parent = state.post(parent_id)
        if parent is None or (in_scope_only and parent.author not in clusters):
            break
        chain.append((parent.author, parent.created_us, parent.text))
        seen.add(parent_id)
        parent_id = parent.reply_parent_id
    chain.reverse()
    return chain


def _context(row: _Row, state: _State) -> tuple[_Version | None, str | None, bool]:
    """(context post, drop reason, use the version time) for a non-chain action other than likes and
    reposts."""
    action = row.action
    if action in UNDO_ACTIONS and not row.resolved:
        return None, "unresolved_undo", False
    if action == "quote":
        target = state.post(row.quote_id)
        return target, None if target else "target_post_unknown", False
    if action in USER_TARGET_ACTIONS:
        if row.subject_user is None:
            return None, "unresolved_undo" if action in UNDO_ACTIONS else "target_user_unknown", False
        target = state.latest_post_of(row.subject_user)
        return target, None if target else "no_prior_post_of_target_user", False
    if action == "post_delete" and not row.resolved:
        return None, "unresolved_delete", True
    # post_update / post_delete: the version shown is the one just before the action, so use its time.
    original = state.post(row.subject_id or row.record_id)
    return original, None if original else "original_post_unknown", True


def _build_one(
    row: _Row, state: _State, clusters: dict[str, int], max_depth: int, in_scope_only: bool
) -> tuple[str, list[_Msg]] | str:
    """(label, messages) for one action, or a drop reason."""
    if row.action in ("post", "reply"):
        chain = _chain(row, state, clusters, max_depth, in_scope_only)
        return ("post" if len(chain) == 1 else "reply"), chain
    target, reason, version_time = _context(row, state)
    if target is None:
        return reason or "context_unavailable"
    ctx_time = target.version_us if version_time else target.created_us
    text = (row.text or "") if row.action in TEXT_ACTIONS else None
    return row.action, [(target.author, ctx_time, target.text), (row.actor, row.time_us, text)]


def reference_pass(
    rows: pa.Table,
    positions: np.ndarray,
    clusters: dict[str, int],
    max_depth: int,
    chain_in_scope_only: bool,
    dropped: Counter[str],
    relabeled: Counter[str],
) -> tuple[Built, list[tuple]]:
    """The time-ordered pass over the rows (at `positions` of the window) whose thread needs the state of
    the moment: their threads, and the log of post versions it wrote. Drops and relabels are counted."""
    state = _State()
    columns: dict[str, list] = {
        name: [] for name in ("labels", "event_ids", "clusters", "last_times", "lengths")
    }
    messages: list[tuple[str, int, str | None]] = []
    ids, in_scope = (column.tolist() for column in cluster_ids(rows.column("actor"), clusters))
    for row, position, cluster_id, scoped in zip(_rows(rows), positions.tolist(), ids, in_scope, strict=True):
        if not scoped:
            dropped["actor_out_of_scope"] += 1
        else:
            result = _build_one(row, state, clusters, max_depth, chain_in_scope_only)
            if isinstance(result, str):
                dropped[result] += 1
            else:
                label, thread = result
                if label != row.action:
                    relabeled[f"{row.action}_to_{label}"] += 1
                for name, value in zip(
                    columns, (label, row.event_id, cluster_id, int(row.time_us), len(thread)), strict=True
                ):
                    columns[name].append(value)
                messages += thread  # (author, time_us, text) tuples
        state.apply(row, position)
    authors, clock, texts = (list(c) for c in zip(*messages, strict=True)) if messages else ([], [], [])
    return Built(**columns, authors=authors, clock=clock, texts=texts), state.log
