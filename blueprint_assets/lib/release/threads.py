"""Action threads: the prediction unit of a release, built from anonymized_posts rows (BluePrint's rules).

A thread is a short list of messages whose last message is the action to predict:
- post / reply: the reply chain of in-scope users ending at the action, cut to the last `max_depth` messages;
  a chain of one is labelled `post`, a longer one `reply` (so a reply to an unknown post becomes a `post`).
- like, unlike, repost, unrepost, quote: [target post, action].
- follow, unfollow, block, unblock: [target user's latest post at or before the action, action].
- post_update, post_delete: [latest known version of the post before the action, action].

Rows are processed once, in (time_us, event_id) order, keeping the state "as of now" (latest version of each
post, each author's posts, deletions), so every context lookup sees only what existed at the action.
What needs no state is done column-wise in lib/release/thread_columns.py: repeated events, opt-outs and
unknown actions are set aside, unresolved undos and deletes resolved, and likes, reposts and their undos
(most of a window) get their target post by an as-of lookup (a sort, O(n log n)) into the log of versions
this pass writes.
Clock time is replaced by a dense rank over all message times of the release and user pseudonyms are
re-keyed per thread, so a person cannot be followed from one thread to the next. The pass collects the threads
column by column; lib/release/thread_table.py turns them into the published Arrow table. The Ks of a
release share the pass and the user-id hashing (`build_threads_by_k`).
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa

from blueprint_assets.lib.actions_space import TEXT_ACTIONS
from blueprint_assets.lib.release.thread_columns import (
    INPUT_COLUMNS,
    LIKE_COLUMNS,
    LIKE_LIKE,
    POST_CREATES,
    UNDO_ACTIONS,
    VersionLog,
    cluster_ids,
    is_in,
    kept,
    like_threads,
    live_rows,
    prepared_rows,
    resolve_rows,
)
from blueprint_assets.lib.release.thread_table import (  # noqa: F401 - the table's names, re-exported
    ACTION_THREADS_SCHEMA,
    ACTIONS_TYPE,
    MESSAGE_TYPE,
    USER_ID_HEX,
    Built,
    thread_actors,
    thread_tables,
    threads_from_table,
)

USER_TARGET_ACTIONS = frozenset({"follow", "unfollow", "block", "unblock"})


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


def _rows(table: pa.Table) -> list[_Row]:
    """The table's rows as tuples, read column by column."""
    return list(map(_Row._make, zip(*(table.column(c).to_pylist() for c in INPUT_COLUMNS), strict=True)))


class _State:
    """What is visible at the current point of the time-ordered pass; every change of a post's version is
    logged with the row's position, for the column-wise likes (`like_threads`)."""

    def __init__(self) -> None:
        self.versions: dict[str, _Version] = {}
        self.deleted: set[str] = set()
        self.author_posts: dict[str, list[str]] = {}
        self.log = VersionLog()

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
            self.log.add(position, target, None, 0, None, True)
        else:
            self.log.add(
                position, target, version.author, version.created_us, version.text, target in self.deleted
            )


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
    reposts (thread_columns.like_threads)."""
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
    workers: int = 1,
) -> ThreadBuildResult:
    """Build the release's action threads from anonymized_posts rows of the release window.

    `clusters` maps in-scope user pseudonyms to their cluster id; only their actions become threads, and
    (with `chain_in_scope_only`, BluePrint's rule) reply chains stop at a parent by an out-of-scope author.
    `secret` keys the per-thread user ids (`stable_ids=True`: one id per person for the whole release).
    `excluded_users` (opt-out pseudonyms) are removed entirely, as actors and as context, as a second line of
    defence behind their removal from the lake. `workers` forked processes share the hashing of ids.
    """
    return build_threads_by_k(
        actions,
        {0: clusters},
        max_depth=max_depth,
        secret=secret,
        stable_ids=stable_ids,
        chain_in_scope_only=chain_in_scope_only,
        excluded_users=excluded_users,
        workers=workers,
    )[0]


def build_threads_by_k(
    actions: list[dict] | pa.Table,
    clusters_by_k: Mapping[int, dict[str, int]],
    *,
    max_depth: int = 5,
    secret: bytes,
    stable_ids: bool = False,
    chain_in_scope_only: bool = True,
    excluded_users: Collection[str] = (),
    workers: int = 1,
) -> dict[int, ThreadBuildResult]:
    """`build_threads` for each granularity K of a release (options as there), by K.

    The Ks of a release cluster the same users, and then their threads differ only in cluster ids and thread
    ids: the time-ordered pass and the hashing of user ids run once for all Ks with the same in-scope users.
    """
    if max_depth < 1:
        raise ValueError("max_depth must be at least 1")
    if not secret:
        raise ValueError("secret must not be empty")
    # A user mapped to None has no cluster: out of scope as an actor and as a reply-chain parent alike.
    scoped = {
        k: {user: int(cluster) for user, cluster in clusters.items() if cluster is not None}
        for k, clusters in clusters_by_k.items()
    }
    same_scope: dict[frozenset[str], list[int]] = {}
    for k, clusters in scoped.items():
        same_scope.setdefault(frozenset(clusters), []).append(k)
    excluded = frozenset(excluded_users)
    results: dict[int, ThreadBuildResult] = {}
    with paused_gc():
        for ks in same_scope.values():
            built, dropped, relabeled = _found(
                actions, scoped[ks[0]], max_depth, chain_in_scope_only, excluded
            )
            actors = thread_actors(built) if len(ks) > 1 else []
            columns = [built.clusters] + [[scoped[k][actor] for actor in actors] for k in ks[1:]]
            tables = thread_tables(built, columns, bytes(secret), stable_ids, workers)
            for k, table in zip(ks, tables, strict=True):
                results[k] = ThreadBuildResult(table, dict(dropped), dict(relabeled))
    return {k: results[k] for k in clusters_by_k}


def _found(
    actions: list[dict] | pa.Table,
    clusters: dict[str, int],
    max_depth: int,
    chain_in_scope_only: bool,
    excluded: frozenset[str],
) -> tuple[Built, dict[str, int], dict[str, int]]:
    """The threads of the window's rows for one set of in-scope users, and the counts of rows dropped and
    relabelled, by reason."""
    table = prepared_rows(actions)
    live, set_aside = live_rows(table, excluded)
    table = resolve_rows(kept(table, live))
    likes = is_in(table.column("action"), LIKE_LIKE)
    dropped: Counter[str] = Counter(set_aside)
    relabeled: Counter[str] = Counter()
    built, log = _stateful_pass(
        kept(table, ~likes),
        np.flatnonzero(~likes),
        clusters,
        max_depth,
        chain_in_scope_only,
        dropped,
        relabeled,
    )
    liked, like_drops = like_threads(
        kept(table.select(LIKE_COLUMNS), likes), np.flatnonzero(likes), clusters, log
    )
    dropped.update(like_drops)
    return Built.concat([built, liked]), dict(sorted(dropped.items())), dict(sorted(relabeled.items()))


def _stateful_pass(
    rows: pa.Table,
    positions: np.ndarray,
    clusters: dict[str, int],
    max_depth: int,
    chain_in_scope_only: bool,
    dropped: Counter[str],
    relabeled: Counter[str],
) -> tuple[Built, VersionLog]:
    """The time-ordered pass over the rows (at `positions` of the window) whose thread needs the state of
    the moment: their threads, and the log of post versions it wrote. Drops and relabels are counted."""
    state = _State()
    built = Built()
    # The loop runs once per action: its column appends and lookups are bound once here.
    add_label, add_event, add_cluster = built.labels.append, built.event_ids.append, built.clusters.append
    add_time, add_length, add_messages = built.last_times.append, built.lengths.append, built.messages.extend
    apply = state.apply
    ids, in_scope = (column.tolist() for column in cluster_ids(rows.column("actor"), clusters))
    for row, position, cluster_id, scoped in zip(_rows(rows), positions.tolist(), ids, in_scope, strict=True):
        if not scoped:
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
                add_cluster(cluster_id)
                add_time(int(row.time_us))
                add_length(len(messages))
                add_messages(messages)  # (author, time_us, text) tuples
        apply(row, position)
    return built, state.log
