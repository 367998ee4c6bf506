"""Action threads: the prediction unit of a release, built from anonymized_posts rows (BluePrint's rules).

A thread is a short list of messages whose last message is the action to predict:
- post / reply: the reply chain of in-scope users ending at the action, cut to the last `max_depth` messages;
  a chain of one is labelled `post`, a longer one `reply` (so a reply to an unknown post becomes a `post`).
- like, unlike, repost, unrepost, quote: [target post, action].
- follow, unfollow, block, unblock: [target user's latest visible post before the action, action].
- post_update, post_delete: [latest known version of the post before the action, action].

Every context lookup sees only what existed just before the action: rows are taken in (time_us, event_id)
order, and each thread is an as-of lookup into the state of the window's posts (the latest version of each
post, each author's posts, deletions), computed column-wise for the whole window at once:
lib/release/thread_columns.py prepares the rows (repeated events, opt-outs and unknown actions set aside,
unresolved undos and deletes resolved), lib/release/thread_state.py logs every version of every post and
answers the lookups.
Clock time is replaced by a dense rank over all message times of the release and user pseudonyms are
re-keyed per thread, so a person cannot be followed from one thread to the next. The threads are collected
column by column; lib/release/thread_table.py turns them into the published Arrow table. The Ks of a
release share the lookups and the user-id hashing (`build_threads_by_k`).
"""

from __future__ import annotations

import gc
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa

from blueprint_assets.lib.release.thread_columns import (
    INPUT_COLUMNS,  # noqa: F401 - re-exported: the columns the builder reads
    LIKE_COLUMNS,
    kept,
    window_rows,
)
from blueprint_assets.lib.release.thread_state import like_threads, state_threads
from blueprint_assets.lib.release.thread_table import (  # noqa: F401 - the table's names, re-exported
    ACTION_THREADS_SCHEMA,
    ACTIONS_TYPE,
    MESSAGE_TYPE,
    Built,
    thread_actors,
    thread_tables,
    threads_from_table,
)


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
    defence behind their removal from the lake. `workers` forked processes share the keying of user ids, and
    as many DuckDB threads hash the thread ids.
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
    ids: the lookups and the hashing of user ids run once for all Ks with the same in-scope users.
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
    table, likes, set_aside = window_rows(actions, excluded)
    built, posts, dropped, relabeled = state_threads(
        kept(table, ~likes), np.flatnonzero(~likes), clusters, max_depth, chain_in_scope_only
    )
    liked, like_drops = like_threads(
        kept(table.select(LIKE_COLUMNS), likes), np.flatnonzero(likes), clusters, posts
    )
    dropped.update(set_aside)
    dropped.update(like_drops)
    return Built.concat([built, liked]), dict(sorted(dropped.items())), dict(sorted(relabeled.items()))
