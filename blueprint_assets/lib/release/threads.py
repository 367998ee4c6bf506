"""Action threads: the prediction unit of a release, built from anonymized_posts rows (BluePrint's rules).

A thread is a short list of messages whose last message is the action to predict:
- post / reply: the reply chain of in-scope users ending at the action, cut to the last `max_depth` messages;
  a chain of one is labelled `post`, a longer one `reply` (so a reply to an unknown post becomes a `post`).
- like, unlike, repost, unrepost, quote: [target post, action].
- follow, unfollow, block, unblock: [target user's latest post at or before the action, action].
- post_update, post_delete: [latest known version of the post before the action, action].

Rows are processed once, in (time_us, event_id) order, keeping the state "as of now" (latest version of each
post, each author's posts, deletions), so every context lookup sees only what existed at the action: O(n).
Clock time is replaced by a dense rank over all message times of the release and user pseudonyms are
re-keyed per thread, so a person cannot be followed from one thread to the next. The pass collects the threads
column by column; lib/release/thread_table.py turns them into the published Arrow table.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from blueprint_assets.lib.actions_space import ACTION_SET, TEXT_ACTIONS
from blueprint_assets.lib.release.thread_table import (  # noqa: F401 - the table's names, re-exported
    ACTION_THREADS_SCHEMA,
    ACTIONS_TYPE,
    MESSAGE_TYPE,
    USER_ID_HEX,
    Built,
    thread_table,
    threads_from_table,
)

LIKE_LIKE = frozenset({"like", "unlike", "repost", "unrepost"})
UNDO_ACTIONS = frozenset({"unlike", "unrepost", "unfollow", "unblock"})
USER_TARGET_ACTIONS = frozenset({"follow", "unfollow", "block", "unblock"})
POST_CREATES = frozenset({"post", "reply", "quote"})
UNDOABLE_CREATES = frozenset({"like", "repost", "follow", "block"})

# The anonymized_posts columns thread building reads.
INPUT_COLUMNS = (
    "event_id",
    "time_us",
    "action",
    "actor",
    "record_id",
    "text",
    "reply_parent_id",
    "quote_id",
    "subject_id",
    "subject_user",
    "resolved",
)


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


@dataclass(frozen=True)
class ThreadBuildResult:
    """The `action_threads` table (sorted by last_time_us, id) and counters of what was dropped or
    relabelled, by reason; `threads` is the same table as dicts, converted on first use."""

    table: pa.Table
    dropped: dict[str, int]
    relabeled: dict[str, int] = field(default_factory=dict)

    @cached_property
    def threads(self) -> list[dict[str, Any]]:
        return threads_from_table(self.table)


def _rows(actions: list[dict] | pa.Table) -> list[_Row]:
    """Normalise input rows and sort them by (time_us, event_id) so input order does not matter."""
    if isinstance(actions, pa.Table):
        present = set(actions.column_names)
        n = actions.num_rows
        if n and "time_us" in present and "event_id" in present:
            # Arrow's stable sort in C; UTF-8 byte order is code-point order, i.e. Python's str order.
            order = pc.sort_indices(actions, [("time_us", "ascending"), ("event_id", "ascending")])
            actions = actions.take(order)
        cols = [actions.column(c).to_pylist() if c in present else [None] * n for c in INPUT_COLUMNS]
        presorted = True
    else:
        cols = [[a.get(c) for a in actions] for c in INPUT_COLUMNS]
        presorted = False
    # A missing `resolved` means the ingestion did not flag it: treat as resolved.
    cols[-1] = [value is not False for value in cols[-1]]
    rows = list(map(_Row._make, zip(*cols, strict=True)))
    if not presorted:
        rows.sort(key=lambda r: (r.time_us, r.event_id))
    return rows


class _State:
    """What is visible at the current point of the time-ordered pass."""

    def __init__(self) -> None:
        self.versions: dict[str, _Version] = {}
        self.deleted: set[str] = set()
        self.author_posts: dict[str, list[str]] = {}
        # Likes, reposts, follows and blocks seen so far, by record id: what an undo refers to.
        self.undoable: dict[str, tuple[str | None, str | None]] = {}

    def resolve(self, row: _Row) -> _Row:
        """Resolve an undo or delete the lake left unresolved, from a create seen earlier in the window.

        The lake resolves deletes against earlier *stored* days, so days ingested in parallel can leave a
        cross-day undo unresolved; the release sees the whole window and does not depend on that order.
        """
        if row.resolved or row.record_id is None:
            return row
        if row.action in UNDO_ACTIONS and row.record_id in self.undoable:
            subject_id, subject_user = self.undoable[row.record_id]
            return row._replace(subject_id=subject_id, subject_user=subject_user, resolved=True)
        if row.action == "post_delete" and row.record_id in self.versions:
            return row._replace(subject_id=row.record_id, resolved=True)
        return row

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

    def apply(self, row: _Row) -> None:
        """Update the state with a row, after its own thread was built (context precedes the action)."""
        if row.action in UNDOABLE_CREATES and row.record_id is not None:
            self.undoable[row.record_id] = (row.subject_id, row.subject_user)
        if row.action in POST_CREATES and row.record_id is not None:
            if row.record_id not in self.versions:
                self.author_posts.setdefault(row.actor, []).append(row.record_id)
            self.versions[row.record_id] = _Version(
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
            if target is not None and row.resolved:
                self.deleted.add(target)


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
    """(context post, drop reason, use the version time) for a non-chain action."""
    action = row.action
    if action in UNDO_ACTIONS and not row.resolved:
        return None, "unresolved_undo", False
    if action in LIKE_LIKE:
        if row.subject_id is None:
            return None, "unresolved_undo" if action in UNDO_ACTIONS else "target_post_unknown", False
        target = state.post(row.subject_id)
        return target, None if target else "target_post_unknown", False
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


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic GC while building millions of small acyclic objects.

    CPython's generational GC rescans the growing heap as allocations pile up, which makes large builds
    superlinear; nothing built here forms cycles, so reference counting alone frees it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def build_threads(
    actions: list[dict] | pa.Table,
    clusters: dict[str, int],
    *,
    max_depth: int = 5,
    secret: bytes,
    stable_ids: bool = False,
    chain_in_scope_only: bool = True,
    excluded_users: Collection[str] = (),
) -> ThreadBuildResult:
    """Build the release's action threads from anonymized_posts rows of the release window.

    `clusters` maps in-scope user pseudonyms to their cluster id; only their actions become threads, and
    (with `chain_in_scope_only`, BluePrint's rule) reply chains stop at a parent by an out-of-scope author.
    `secret` keys the per-thread user ids (`stable_ids=True`: one id per person for the whole release).
    `excluded_users` (opt-out pseudonyms) are removed entirely, as actors and as context, as a second line of
    defence behind their removal from the lake.
    """
    if max_depth < 1:
        raise ValueError("max_depth must be at least 1")
    if not secret:
        raise ValueError("secret must not be empty")
    with paused_gc():
        return _build(
            actions, clusters, max_depth, secret, stable_ids, chain_in_scope_only, frozenset(excluded_users)
        )


def _build(
    actions: list[dict] | pa.Table,
    clusters: dict[str, int],
    max_depth: int,
    secret: bytes,
    stable_ids: bool,
    chain_in_scope_only: bool,
    excluded: frozenset[str],
) -> ThreadBuildResult:
    state = _State()
    dropped: Counter[str] = Counter()
    relabeled: Counter[str] = Counter()
    built = Built()
    # The loop runs once per action: its column appends and lookups are bound once here.
    add_label, add_event, add_cluster = built.labels.append, built.event_ids.append, built.clusters.append
    add_time, add_length, add_messages = built.last_times.append, built.lengths.append, built.messages.extend
    seen_events: set[str] = set()
    see, cluster_of, apply = seen_events.add, clusters.get, state.apply
    for row in _rows(actions):
        if row.event_id in seen_events:
            # Jetstream delivers at least once; a repeated event must not become a second, identical thread.
            dropped["duplicate_event"] += 1
            continue
        see(row.event_id)
        if row.actor in excluded:
            # Never enters the state either, so it cannot appear as anyone's context.
            dropped["actor_opted_out"] += 1
            continue
        if row.action not in ACTION_SET:
            dropped["unknown_action"] += 1
            continue
        if not row.resolved:
            row = state.resolve(row)
        cluster_id = cluster_of(row.actor)
        if cluster_id is None:
            dropped["actor_out_of_scope"] += 1
        else:
            result = _build_one(row, state, clusters, max_depth, chain_in_scope_only)
            if isinstance(result, str):
                dropped[result] += 1
            else:
                label, messages = result
                if label != row.action:
                    relabeled[f"{row.action}_to_{label}"] += 1
                add_label(label)
                add_event(row.event_id)
                add_cluster(int(cluster_id))
                add_time(int(row.time_us))
                add_length(len(messages))
                add_messages(messages)  # (author, time_us, text) tuples
        apply(row)
    table = thread_table(built, bytes(secret), stable_ids)
    return ThreadBuildResult(table, dict(sorted(dropped.items())), dict(sorted(relabeled.items())))
