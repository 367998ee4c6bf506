"""The state of a window's posts as of each action, column-wise, and the threads that read it.

A thread sees what existed just before its action: the latest version of each post (author, creation time,
version time, text, reply parent, deleted or not) and each author's posts in the order they were first seen.
- `version_log`: every change of a post's visible version (create, edit, delete) at once, grouped by post
  and forward-filled, in row order: what a dict of versions updated row by row would hold after each change;
- `state_threads`: posts and replies (the chain of parents, one level per step), quotes, follows and blocks
  (the target user's latest visible post, stepping back through that user's posts) and edits and deletes
  (the version just before), each an as-of lookup (`AsOf`) into the log;
- `like_threads`: likes, reposts and their undos, most of a window: [target post as of the action, action].
`PostVersions` holds the log and answers the lookups.

The rules are threads.py's; tests/support/reference_threads.py is the row-by-row pass they are tested
against.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from blueprint_assets.lib.actions_space import TEXT_ACTIONS
from blueprint_assets.lib.release.thread_columns import (
    POST_CREATES,
    STRING,
    UNDO_ACTIONS,
    AsOf,
    cluster_ids,
    codes_in,
    dense_codes,
    is_in,
    or_else,
)
from blueprint_assets.lib.release.thread_table import Built

USER_TARGET_ACTIONS = frozenset({"follow", "unfollow", "block", "unblock"})
_CREATE, _UPDATE, _DELETE = 0, 1, 2


@dataclass(frozen=True)
class VersionLog:
    """Every change of a post's visible version, in row order: the row position of the change, the post,
    and after the change its author, creation time, version time, text and reply parent (None and 0 where
    the post has no version: a delete of a post never seen) and whether it is deleted (deletion is final).
    `first_seen` marks the change that made a post known, which puts it on its actor's list of posts."""

    positions: np.ndarray
    records: pa.Array
    authors: np.ndarray
    created: np.ndarray
    versions: np.ndarray
    texts: np.ndarray
    reply_parents: np.ndarray
    deleted: np.ndarray
    first_seen: np.ndarray
    first_seen_by: np.ndarray  # the actor of each change (None where not first_seen)

    def __len__(self) -> int:
        return len(self.positions)


@dataclass(frozen=True)
class RowValues:
    """The rows' actors, times and texts as Python objects, converted once: a log entry and a message of the
    same row share one object (half the memory, and hashing reads them in order)."""

    actors: np.ndarray
    times: np.ndarray
    texts: np.ndarray

    @classmethod
    def of(cls, rows: pa.Table) -> RowValues:
        return cls(*(rows.column(c).to_numpy(zero_copy_only=False) for c in ("actor", "time_us", "text")))


def _last_where(condition: np.ndarray, group_start: np.ndarray) -> np.ndarray:
    """Per entry of rows grouped contiguously, the greatest index at or before it in its group where
    `condition` holds (-1: none)."""
    at = np.maximum.accumulate(np.where(condition, np.arange(len(condition)), -1))
    return np.where(at >= group_start, at, -1)


def version_log(rows: pa.Table, positions: np.ndarray, values: RowValues | None = None) -> VersionLog:
    """The log of post versions the rows (in time order, at `positions` of the window) write.

    A create sets the whole version; an edit sets the text and version time, and the reply parent when it
    names one, or sets the whole version when the post was never seen (created before the window); a delete
    (resolved) marks the post deleted for good. `values`: the rows' RowValues, when already converted.
    """
    values = values or RowValues.of(rows)
    action, record = rows.column("action"), rows.column("record_id")
    target = or_else(rows.column("subject_id"), record)
    has_target = target.is_valid().to_numpy(zero_copy_only=False)
    create = is_in(action, POST_CREATES) & record.is_valid().to_numpy(zero_copy_only=False)
    update = is_in(action, {"post_update"}) & has_target
    resolved = rows.column("resolved").to_numpy(zero_copy_only=False)
    delete = is_in(action, {"post_delete"}) & has_target & resolved
    change = np.flatnonzero(create | update | delete)
    records = pc.if_else(pa.array(create), record, target).take(pa.array(change)).combine_chunks()
    kind = np.where(create[change], _CREATE, np.where(update[change], _UPDATE, _DELETE))
    # Grouped by post, each group in row order (a stable sort): a post's versions are a forward fill.
    codes = dense_codes(records)
    order = np.argsort(codes, kind="stable")
    m = len(order)
    codes = codes[order]
    starts = np.ones(m, dtype=bool)
    starts[1:] = codes[1:] != codes[:-1]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(m), 0))
    kinds = kind[order]
    sets_text = kinds != _DELETE
    last_text = _last_where(sets_text, group_start)
    earlier_text = np.full(m, -1, dtype=np.int64)
    earlier_text[1:] = last_text[:-1]
    first_seen = sets_text & (earlier_text < group_start)  # the post's first create or edit
    whole = (kinds == _CREATE) | first_seen  # the changes that set every field of the version
    last_whole = _last_where(whole, group_start)
    parents = rows.column("reply_parent_id")
    names_parent = pc.fill_null(pc.not_equal(parents, ""), False).to_numpy(zero_copy_only=False)
    row_of = change[order]
    last_parent = _last_where(sets_text & (whole | names_parent[row_of]), group_start)
    last_deleted = _last_where(kinds == _DELETE, group_start)
    has_version = last_whole >= 0

    def source(column: np.ndarray, at: np.ndarray, empty: object) -> np.ndarray:
        """Per change, the column's value at the row of change `at` (`empty` where no version)."""
        return np.where(has_version, column[row_of[np.maximum(at, 0)]], empty)

    actors, times = values.actors, values.times
    by_sorted = {
        "authors": source(actors, last_whole, None),
        "created": source(times, last_whole, 0),
        "versions": source(times, last_text, 0),
        "texts": source(values.texts, last_text, None),
        "reply_parents": source(parents.to_numpy(zero_copy_only=False), last_parent, None),
        "deleted": last_deleted >= 0,
        "first_seen": first_seen,
        "first_seen_by": np.where(first_seen, actors[row_of], None),
    }
    back = np.empty(m, dtype=np.int64)
    back[order] = np.arange(m)
    return VersionLog(
        positions=positions[change], records=records, **{name: v[back] for name, v in by_sorted.items()}
    )


class PostVersions:
    """As-of lookups of visible post versions in a log: a post's latest version before a row, if it is not
    deleted and has a text.

    The per-entry flags end with one entry more, for the entry -1 (none): a lookup that found nothing reads
    False (not visible, not in scope) and parent -1, even in an empty log.
    """

    def __init__(self, log: VersionLog, clusters: dict[str, int]) -> None:
        self.log = log
        self._distinct = pc.unique(log.records)
        self.codes = self.code(log.records)
        self.as_of = AsOf(self.codes, log.positions)
        has_text = np.asarray([text is not None for text in log.texts], dtype=bool)
        self.visible = np.append(~log.deleted & has_text, False)
        self.in_scope = np.append(cluster_ids(pa.array(log.authors, STRING), clusters)[1], False)
        self.parent_codes = np.append(self.code(pa.array(log.reply_parents, STRING)), -1)

    def code(self, ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Per id, its code among the log's posts (-1: never logged, or null)."""
        return codes_in(ids, self._distinct)

    def at(self, codes: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Per query, the log entry of the post's visible version just before `positions` (-1: none)."""
        found = self.as_of.find(codes, positions)
        return np.where(self.visible[found], found, -1)

    def latest_of(self, authors: pa.ChunkedArray, positions: np.ndarray) -> np.ndarray:
        """Per query, the log entry of the author's most recently first-seen post that is visible just
        before `positions` (-1: none)."""
        log = self.log
        seen = np.flatnonzero(log.first_seen)
        by = pa.array(log.first_seen_by[seen], STRING)
        distinct = pc.unique(by)
        by_owner = AsOf(codes_in(by, distinct), log.positions[seen])
        asked = codes_in(authors, distinct)
        at = by_owner.rank_before(asked, positions)  # among the author's posts, in first-seen order
        ranked = seen[by_owner.order]  # the first-seen change of each ranked post
        deleted_at = self._deleted_at()[self.codes[ranked]]
        found = np.full(len(asked), -1, dtype=np.int64)
        pending = np.flatnonzero(at >= 0)
        # A post without text at the time is stepped over one round each (rare: a post's text is "" at least).
        while pending.size:
            at[pending] = _undeleted_at_or_before(
                at[pending], positions[pending], deleted_at, by_owner.ranked_keys, asked[pending]
            )
            pending = pending[at[pending] >= 0]
            version = self.at(self.codes[ranked[at[pending]]], positions[pending])
            found[pending] = version
            pending = pending[version < 0]
            at[pending] -= 1
        return found

    def _deleted_at(self) -> np.ndarray:
        """Per post code, the position of its deletion (the largest int64: never deleted)."""
        out = np.full(len(self._distinct), np.iinfo(np.int64).max, dtype=np.int64)
        gone = np.flatnonzero(self.log.deleted)
        np.minimum.at(out, self.codes[gone], self.log.positions[gone])
        return out


def _undeleted_at_or_before(
    start: np.ndarray, positions: np.ndarray, deleted_at: np.ndarray, owner_of: np.ndarray, owners: np.ndarray
) -> np.ndarray:
    """Per query, the greatest rank at or below `start` of the query's owner whose post is not deleted
    before the query's position (-1: none).

    Deletion is final, so the queries are answered in position order while the deleted posts are removed
    as their deletions pass, over a union-find of removed runs: each deleted post is stepped over once per
    call, not once per query (an account that posts and deletes thousands of times, followed often). Only
    removed ranks are held, so a call costs its queries and the deletions, not every post.
    """
    never = np.iinfo(np.int64).max
    removals = [r for r in np.argsort(deleted_at, kind="stable").tolist() if deleted_at[r] != never]
    removed_by = deleted_at[removals].tolist() if removals else []
    left: dict[int, int] = {}  # a removed rank -> a rank further left (-1: none)
    starts, at_position, found = start.tolist(), positions.tolist(), np.full(len(start), -1, dtype=np.int64)
    done = 0
    for query in np.argsort(positions, kind="stable").tolist():
        while done < len(removals) and removed_by[done] < at_position[query]:
            left[removals[done]] = removals[done] - 1
            done += 1
        root = starts[query]
        while root >= 0 and root in left:
            root = left[root]
        rank = starts[query]
        while rank != root:  # compress the path walked
            left[rank], rank = root, left[rank]
        if root >= 0 and owner_of[root] == owners[query]:
            found[query] = root
    return found


@dataclass
class _Threads:
    """Threads of one kind, column by column: their rows, labels, and per thread the log entries of its
    context messages, oldest first (-1: none), before the action's own message."""

    rows: np.ndarray
    labels: list[str]
    contexts: list[np.ndarray]
    context_times: str  # the VersionLog field of the time a context message shows: "created" or "versions"


def state_threads(
    rows: pa.Table,
    positions: np.ndarray,
    clusters: dict[str, int],
    max_depth: int,
    chain_in_scope_only: bool,
) -> tuple[Built, PostVersions, Counter[str], Counter[str]]:
    """The threads of the rows (non-likes, in time order, at `positions` of the window) whose context is the
    state of the moment, the post versions they write, and the counts of rows dropped and relabelled by
    reason."""
    values = RowValues.of(rows)
    posts = PostVersions(version_log(rows, positions, values), clusters)
    action = rows.column("action")
    cluster, in_scope = cluster_ids(rows.column("actor"), clusters)
    dropped: Counter[str] = Counter({"actor_out_of_scope": int((~in_scope).sum())})
    relabeled: Counter[str] = Counter()
    kinds = [_chains(rows, positions, posts, in_scope, max_depth, chain_in_scope_only, relabeled)]
    others = in_scope & ~is_in(action, {"post", "reply"})
    for builder in (_quotes, _user_targets, _edits):
        threads, drops = builder(rows, positions, posts, others)
        kinds.append(threads)
        dropped.update(drops)
    return _built(rows, values, posts.log, cluster, kinds), posts, +dropped, relabeled


def _chains(
    rows: pa.Table, positions: np.ndarray, posts: PostVersions, in_scope: np.ndarray, max_depth: int,
    chain_in_scope_only: bool, relabeled: Counter[str],
) -> _Threads:  # fmt: skip
    """Posts and replies: the chain of visible parents (by in-scope authors, with `chain_in_scope_only`)
    ending at the action, at most `max_depth` messages; a chain of one is a `post`, a longer one a `reply`."""
    at = np.flatnonzero(in_scope & is_in(rows.column("action"), {"post", "reply"}))
    where = positions[at]
    seen = [posts.code(rows.column("record_id").take(pa.array(at)))]  # a chain never visits a post twice
    parent = posts.code(rows.column("reply_parent_id").take(pa.array(at)))
    alive = np.ones(len(at), dtype=bool)
    parents: list[np.ndarray] = []
    for _ in range(max_depth - 1):
        asked = np.flatnonzero(alive & (parent >= 0))
        for earlier in seen:
            asked = asked[parent[asked] != earlier[asked]]
        found = np.full(len(at), -1, dtype=np.int64)
        found[asked] = posts.at(parent[asked], where[asked])
        if chain_in_scope_only:
            found[~posts.in_scope[found]] = -1
        alive &= found >= 0
        if not alive.any():
            break
        parents.append(found)  # -1 wherever the chain has ended
        seen.append(parent)
        parent = np.where(alive, posts.parent_codes[found], -1)
    stacked = np.stack(parents) if parents else np.zeros((0, len(at)), dtype=np.int64)
    depth = (stacked >= 0).sum(axis=0)
    labels = np.where(depth > 0, "reply", "post").tolist()
    asked_as = rows.column("action").take(pa.array(at)).to_pylist()
    relabeled.update(f"{a}_to_{label}" for a, label in zip(asked_as, labels, strict=True) if a != label)
    # Oldest first: the deepest parent found is the first message.
    threads = np.arange(len(at))
    contexts = [
        np.where(depth > level, stacked[np.maximum(depth - 1 - level, 0), threads], -1)
        for level in range(len(parents))
    ]
    return _Threads(at, labels, contexts, "created")


def _quotes(
    rows: pa.Table, positions: np.ndarray, posts: PostVersions, in_scope: np.ndarray
) -> tuple[_Threads, dict[str, int]]:
    """Quotes: [quoted post as of the quote, quote]."""
    at = np.flatnonzero(in_scope & is_in(rows.column("action"), {"quote"}))
    found = posts.at(posts.code(rows.column("quote_id").take(pa.array(at))), positions[at])
    kept = found >= 0
    return (
        _Threads(at[kept], ["quote"] * int(kept.sum()), [found[kept]], "created"),
        {"target_post_unknown": int((~kept).sum())},
    )


def _user_targets(
    rows: pa.Table, positions: np.ndarray, posts: PostVersions, in_scope: np.ndarray
) -> tuple[_Threads, dict[str, int]]:
    """Follows, blocks and their undos: [target user's latest visible post before the action, action]."""
    action = rows.column("action")
    at = np.flatnonzero(in_scope & is_in(action, USER_TARGET_ACTIONS))
    taken = pa.array(at)
    undo = is_in(action.take(taken), UNDO_ACTIONS)
    resolved = rows.column("resolved").take(taken).to_numpy(zero_copy_only=False)
    subject = rows.column("subject_user").take(taken)
    has_subject = subject.is_valid().to_numpy(zero_copy_only=False)
    unresolved = _unresolved_undos(undo, resolved, has_subject)
    asked = ~unresolved & has_subject
    found = np.full(len(at), -1, dtype=np.int64)
    found[asked] = posts.latest_of(subject.filter(pa.array(asked)), positions[at][asked])
    kept = found >= 0
    drops = {
        "unresolved_undo": int(unresolved.sum()),
        "target_user_unknown": int((~undo & ~has_subject).sum()),
        "no_prior_post_of_target_user": int((asked & ~kept).sum()),
    }
    labels = action.take(pa.array(at[kept])).to_pylist()
    return _Threads(at[kept], labels, [found[kept]], "created"), drops


def _unresolved_undos(undo: np.ndarray, resolved: np.ndarray, has_subject: np.ndarray) -> np.ndarray:
    """The undos without a thread: an undo needs its subject, resolved by the lake or the window."""
    return undo & ~(resolved & has_subject)


def _edits(
    rows: pa.Table, positions: np.ndarray, posts: PostVersions, in_scope: np.ndarray
) -> tuple[_Threads, dict[str, int]]:
    """Edits and deletes: [the post's version just before the action (shown at its version time), action]."""
    action = rows.column("action")
    at = np.flatnonzero(in_scope & is_in(action, {"post_update", "post_delete"}))
    taken = pa.array(at)
    is_delete = is_in(action.take(taken), {"post_delete"})
    unresolved = is_delete & ~rows.column("resolved").take(taken).to_numpy(zero_copy_only=False)
    target = or_else(rows.column("subject_id"), rows.column("record_id")).take(taken)
    found = np.full(len(at), -1, dtype=np.int64)
    asked = np.flatnonzero(~unresolved)
    found[asked] = posts.at(posts.code(target.take(pa.array(asked))), positions[at][asked])
    kept = found >= 0
    drops = {
        "unresolved_delete": int(unresolved.sum()),
        "original_post_unknown": int((~unresolved & ~kept).sum()),
    }
    labels = action.take(pa.array(at[kept])).to_pylist()
    return _Threads(at[kept], labels, [found[kept]], "versions"), drops


def _built(
    rows: pa.Table, values: RowValues, log: VersionLog, cluster: np.ndarray, kinds: list[_Threads]
) -> Built:
    """One Built of the threads of every kind: context messages from the log, then the action's own (its
    text, or "" for none, where the action carries text: TEXT_ACTIONS)."""
    actors, times, texts = values.actors, values.times, values.texts
    parts = []
    for threads in kinds:
        at = threads.rows
        has = [context >= 0 for context in threads.contexts]
        lengths = 1 + np.sum(has, axis=0, dtype=np.int64) if has else np.ones(len(at), dtype=np.int64)
        offsets = np.zeros(len(at) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        authors = np.empty(int(offsets[-1]), dtype=object)
        clock = np.zeros(int(offsets[-1]), dtype=np.int64)
        words = np.empty(int(offsets[-1]), dtype=object)
        shown = getattr(log, threads.context_times)
        slot = offsets[:-1].copy()
        for context, present in zip(threads.contexts, has, strict=True):  # oldest first; -1 takes no slot
            entry, place = context[present], slot[present]
            authors[place], clock[place], words[place] = log.authors[entry], shown[entry], log.texts[entry]
            slot[present] += 1
        last = offsets[1:] - 1
        authors[last], clock[last] = actors[at], times[at]
        own = [
            (text if text is not None else "") if label in TEXT_ACTIONS else None
            for label, text in zip(threads.labels, texts[at].tolist(), strict=True)
        ]
        words[last] = np.asarray(own, dtype=object) if own else words[last]
        parts.append(
            Built(
                labels=threads.labels,
                event_ids=rows.column("event_id").take(pa.array(at)).to_pylist(),
                clusters=cluster[at].tolist(),
                last_times=times[at].tolist(),
                lengths=lengths.tolist(),
                authors=authors.tolist(),
                clock=clock.tolist(),
                texts=words.tolist(),
            )
        )
    return Built.concat(parts)


def like_threads(
    table: pa.Table, positions: np.ndarray, clusters: dict[str, int], posts: PostVersions
) -> tuple[Built, dict[str, int]]:
    """[target post as of the action, action] for likes, reposts and their undos (`table`, at `positions`
    of the window's rows), and the counts of those dropped, by reason (the rules of `_user_targets` for an
    unresolved undo, of `_quotes` for the target)."""
    action = table.column("action")
    cluster, in_scope = cluster_ids(table.column("actor"), clusters)
    undo = is_in(action, UNDO_ACTIONS)
    resolved = table.column("resolved").to_numpy(zero_copy_only=False)
    has_subject = table.column("subject_id").is_valid().to_numpy(zero_copy_only=False)
    version = posts.at(posts.code(table.column("subject_id")), positions)
    unresolved = in_scope & _unresolved_undos(undo, resolved, has_subject)
    kept = np.flatnonzero(in_scope & ~unresolved & (version >= 0))
    dropped = {
        "actor_out_of_scope": int((~in_scope).sum()),
        "unresolved_undo": int(unresolved.sum()),
        "target_post_unknown": int((in_scope & ~unresolved & (version < 0)).sum()),
    }
    source, log = version[kept], posts.log
    times = table.column("time_us").take(pa.array(kept)).to_pylist()
    built = Built(
        labels=action.take(pa.array(kept)).to_pylist(),
        event_ids=table.column("event_id").take(pa.array(kept)).to_pylist(),
        clusters=cluster[kept].tolist(),
        last_times=times,
        lengths=[2] * len(kept),
        authors=_interleaved(
            log.authors[source].tolist(), table.column("actor").take(pa.array(kept)).to_pylist()
        ),
        clock=_interleaved(log.created[source].tolist(), times),
        texts=_interleaved(log.texts[source].tolist(), [None] * len(kept)),
    )
    return built, {reason: n for reason, n in dropped.items() if n}


def _interleaved(first: list, second: list) -> list:
    """[first[0], second[0], first[1], second[1], ...]: a two-message thread's messages, flattened."""
    out: list = [None] * (2 * len(first))
    out[0::2], out[1::2] = first, second
    return out
