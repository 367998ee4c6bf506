"""The column-wise preparation of thread building, and the primitives of its as-of lookups, answered with
Arrow and numpy for the whole window at once:
- `prepared_rows`: the input as an Arrow table sorted by (time_us, event_id), every INPUT_COLUMN typed;
- `live_rows`: which rows thread building considers at all (first delivery of an event, actor not opted
  out, a known action), with the counts of the others;
- `resolve_rows`: an undo or delete the lake left unresolved, resolved from a create seen earlier in the
  window (an as-of lookup, `latest_before`);
- `window_rows`: the three in turn, and which rows are likes (most of a window, looked up apart);
- the primitives of the as-of lookups thread_state.py answers from the state of the window's posts
  (`AsOf`, `is_in`, `dense_codes`, `codes_in`, `or_else`, `cluster_ids`), of the sorts by (time, id) that
  sort only the rows tied on time (`tie_ranges`, `order_within_ties`, also thread_table.py's), and
  `all_distinct`, which tells that no id repeats from 64-bit hashes of fixed-width strings.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from blueprint_assets.lib.actions_space import ACTION_SET
from blueprint_assets.lib.arrays import distinct_sorted
from blueprint_assets.lib.release.json_literals import string_offsets

LIKE_LIKE = frozenset({"like", "unlike", "repost", "unrepost"})
UNDO_ACTIONS = frozenset({"unlike", "unrepost", "unfollow", "unblock"})
UNDOABLE_CREATES = frozenset({"like", "repost", "follow", "block"})
POST_CREATES = frozenset({"post", "reply", "quote"})

# The anonymized_posts columns thread building reads, with their types. Strings are large: a month's ids
# (52M rows of 64 hex digits) outgrow the 2 GiB a column of 32-bit offsets can hold.
STRING = pa.large_string()
INPUT_SCHEMA = pa.schema(
    [
        ("event_id", STRING),
        ("time_us", pa.int64()),
        ("action", STRING),
        ("actor", STRING),
        ("record_id", STRING),
        ("text", STRING),
        ("reply_parent_id", STRING),
        ("quote_id", STRING),
        ("subject_id", STRING),
        ("subject_user", STRING),
        ("resolved", pa.bool_()),
    ]
)
INPUT_COLUMNS = tuple(INPUT_SCHEMA.names)
# What `like_threads` reads of its rows: most of a window are likes, so the other columns are not copied.
LIKE_COLUMNS = ("event_id", "time_us", "action", "actor", "subject_id", "resolved")


def prepared_rows(actions: list[dict] | pa.Table) -> pa.Table:
    """The rows as an INPUT_SCHEMA table sorted by (time_us, event_id), so input order does not matter.

    Ids and texts are strings, times integers and `resolved` a bool, as anonymized_posts stores them (a
    value of another type raises). A missing column is all nulls; a missing `resolved` means the ingestion
    did not flag it: resolved. Arrow's sort is stable, and UTF-8 byte order is code-point order, i.e.
    Python's str order.
    """
    if isinstance(actions, pa.Table):
        present = set(actions.column_names)
        columns = [
            _typed(actions.column(f.name), f) if f.name in present else pa.nulls(actions.num_rows, f.type)
            for f in INPUT_SCHEMA
        ]
    else:
        columns = [pa.array([a.get(f.name) for a in actions], f.type) for f in INPUT_SCHEMA]
    table = pa.Table.from_arrays(columns, schema=INPUT_SCHEMA)
    if table.column("resolved").null_count:
        table = table.set_column(
            INPUT_COLUMNS.index("resolved"), "resolved", pc.fill_null(table.column("resolved"), True)
        )
    if table.num_rows:
        table = _in_order(table, _time_then_id_order(table))
    return table


def _time_then_id_order(table: pa.Table) -> np.ndarray:
    """The row order of Arrow's stable sort by (time_us, event_id): numpy's stable sort of the times, then
    only the rows tied on time ordered by id. The lake stores each day in time order and few events share a
    microsecond, so the string sort of every id (most of the cost) is skipped."""
    event_ids = table.column("event_id")
    if table.column("time_us").null_count or event_ids.null_count:  # nulls: Arrow's placement decides
        return pc.sort_indices(table, [("time_us", "ascending"), ("event_id", "ascending")]).to_numpy()
    times = table.column("time_us").to_numpy()
    by_time = np.argsort(times, kind="stable")
    sorted_times = times[by_time]
    ties = tie_ranges(sorted_times)
    if not ties:
        return by_time
    moved = not np.array_equal(by_time, np.arange(len(by_time)))
    within = order_within_ties(event_ids.take(pa.array(by_time)) if moved else event_ids, sorted_times, ties)
    return by_time if within is None else by_time[within]


# Past this many tied ranges, one whole take is cheaper than stitching slices.
MAX_STITCHED_RANGES = 1024


def tie_ranges(times: np.ndarray) -> list[tuple[int, int]]:
    """The (start, end) ranges of sorted `times` that hold two or more equal values."""
    if len(times) < 2:
        return []
    tied = np.flatnonzero(times[1:] == times[:-1])  # row tied + 1 equals row tied
    if not tied.size:
        return []
    breaks = np.flatnonzero(np.diff(tied) > 1)
    starts = tied[np.r_[0, breaks + 1]]
    ends = tied[np.r_[breaks, tied.size - 1]] + 2
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def order_within_ties(ids: pa.Array, times: np.ndarray, ties: list[tuple[int, int]]) -> np.ndarray | None:
    """The row order that sorts rows sorted by `times` by (time, id), as Arrow's stable `sort_indices`
    would; None if no row moves."""
    rows = np.arange(len(ids))
    order = rows.copy()
    if len(ties) > MAX_STITCHED_RANGES:
        # One Arrow sort of the tied rows alone: each range holds one time, so sorting them by (time, id)
        # moves rows only within their range.
        starts, ends = np.asarray(ties, dtype=np.int64).T
        edges = np.zeros(len(ids) + 1, dtype=np.int64)
        np.add.at(edges, starts, 1)
        np.add.at(edges, ends, -1)
        tied = np.flatnonzero(np.cumsum(edges)[:-1] > 0)
        keys = pa.table({"time": times[tied], "id": ids.take(pa.array(tied))})
        order[tied] = tied[pc.sort_indices(keys, [("time", "ascending"), ("id", "ascending")]).to_numpy()]
    else:
        for start, end in ties:
            values = ids.slice(start, end - start).to_pylist()
            order[start:end] = start + np.array(sorted(range(end - start), key=values.__getitem__))
    return None if (order == rows).all() else order


# Past this many runs of moved rows, one whole take is cheaper than stitching slices.
MAX_MOVED_RUNS = 64


def _in_order(table: pa.Table, order: np.ndarray) -> pa.Table:
    """`table.take(order)`, where rows that keep their place stay zero-copy slices of `table`.

    The lake stores each day in time order, so only rows tied on time move (to event_id order): a whole
    take would copy every column, ids and texts, of the window.
    """
    moved = np.flatnonzero(order != np.arange(len(order)))
    if not moved.size:
        return table
    breaks = np.flatnonzero(np.diff(moved) > 1)
    starts, ends = moved[np.r_[0, breaks + 1]], moved[np.r_[breaks, moved.size - 1]] + 1
    if len(starts) > MAX_MOVED_RUNS:
        return table.take(pa.array(order))
    pieces, at = [], 0
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        # A take from the slice the run's rows come from: a take from a whole chunked column joins its
        # chunks first (a copy of every id and text of the window).
        low, high = int(order[start:end].min()), int(order[start:end].max()) + 1
        pieces += [
            table.slice(at, start - at),
            table.slice(low, high - low).take(pa.array(order[start:end] - low)),
        ]
        at = end
    pieces.append(table.slice(at))
    return pa.concat_tables(pieces)


def window_rows(
    actions: list[dict] | pa.Table, excluded: frozenset[str]
) -> tuple[pa.Table, np.ndarray, dict[str, int]]:
    """The window's rows as thread building reads them (prepared, live, resolved), which of them are likes,
    reposts or their undos (LIKE_LIKE), and the counts of the rows set aside, by reason."""
    table = prepared_rows(actions)
    live, set_aside = live_rows(table, excluded)
    table = resolve_rows(kept(table, live))
    return table, is_in(table.column("action"), LIKE_LIKE), set_aside


def _typed(column: pa.ChunkedArray, field: pa.Field) -> pa.ChunkedArray:
    """The column as INPUT_SCHEMA types it; another kind of type (a number for a bool) is an error."""
    kind = column.type
    if pa.types.is_boolean(field.type):
        fits = pa.types.is_boolean(kind)
    elif pa.types.is_integer(field.type):
        fits = pa.types.is_integer(kind)
    else:
        fits = pa.types.is_string(kind) or pa.types.is_large_string(kind)
    if not (fits or pa.types.is_null(kind)):
        raise ValueError(f"thread input column {field.name} is {kind}, expected {field.type}")
    return column.cast(field.type)


def dense_codes(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Dense integer codes of the values (null: -1), equal values equal codes."""
    encoded = pc.dictionary_encode(values)
    encoded = encoded.combine_chunks() if isinstance(encoded, pa.ChunkedArray) else encoded
    return pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def live_rows(table: pa.Table, excluded: frozenset[str]) -> tuple[np.ndarray, dict[str, int]]:
    """(mask of the rows thread building considers, counts of the others by reason).

    Jetstream delivers at least once: only an event's first row counts. An opted-out actor's rows never
    enter the state, so they cannot appear as anyone's context either.
    """
    n = table.num_rows
    first = _first_deliveries(table.column("event_id"))
    opted_out = is_in(table.column("actor"), excluded) & first
    known = is_in(table.column("action"), ACTION_SET)
    live = first & ~opted_out & known
    dropped = {
        "duplicate_event": int(n - first.sum()),
        "actor_opted_out": int(opted_out.sum()),
        "unknown_action": int((first & ~opted_out & ~known).sum()),
    }
    return live, {reason: count for reason, count in dropped.items() if count}


def _first_deliveries(event_ids: pa.ChunkedArray) -> np.ndarray:
    """Per row, whether it is its event's first row (in row order)."""
    n = len(event_ids)
    if all_distinct(event_ids):  # the usual case, and far cheaper than coding every row
        return np.ones(n, dtype=bool)
    first = np.zeros(n, dtype=bool)
    first[np.unique(dense_codes(event_ids), return_index=True)[1]] = True
    return first


_MIX = np.uint64(0x9E3779B97F4A7C15)  # any odd 64-bit multiplier spreads the words
_HASHED_ROWS = 1 << 20


def all_distinct(values: pa.ChunkedArray) -> bool:
    """Whether no value repeats (exactly). Strings of one byte width (the window's ids, 64 hex digits) are
    first compared as 64-bit hashes of their bytes, without Arrow's hash table of every string: distinct
    hashes are distinct strings, so only a shared hash (or nulls, or mixed widths) asks `pc.unique`."""
    hashes = [
        _fixed_width_hashes(chunk.slice(start, _HASHED_ROWS))  # bounded memory: a slice's bytes at a time
        for chunk in values.chunks
        for start in range(0, len(chunk), _HASHED_ROWS)
    ]
    if all(h is not None for h in hashes):
        joined = np.concatenate(hashes) if hashes else np.zeros(0, dtype=np.uint64)
        if distinct_sorted(joined).size == len(values):
            return True
    return len(pc.unique(values)) == len(values)


def _fixed_width_hashes(chunk: pa.Array) -> np.ndarray | None:
    """A 64-bit hash of each string's bytes, when the chunk's strings all have one width (else None)."""
    if chunk.null_count or not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
        return None
    n = len(chunk)
    offsets = string_offsets(chunk)
    width = int(offsets[1] - offsets[0]) if n else 0
    if n and not (np.diff(offsets) == width).all():
        return None
    words = -(-width // 8)
    padded = np.zeros((n, 8 * words), dtype=np.uint8)
    if n and width:
        data = np.frombuffer(chunk.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
        padded[:, :width] = data.reshape(n, width)
    hashes = np.full(n, width, dtype=np.uint64)  # the width too: "a" and "a\0" pad alike
    for word in padded.view(np.uint64).T:
        hashes = (hashes ^ word) * _MIX
    return hashes


def kept(table: pa.Table, mask: np.ndarray) -> pa.Table:
    """`table.filter(mask)`, without the copy of every column when the mask keeps every row."""
    return table if mask.all() else table.filter(pa.array(mask, pa.bool_()))


def is_in(values: pa.ChunkedArray, members: frozenset[str] | set[str]) -> np.ndarray:
    """Per value, whether it is one of `members` (null: never)."""
    found = pc.is_in(values, value_set=pa.array(sorted(members), values.type))
    return pc.fill_null(found, False).to_numpy(zero_copy_only=False)


class AsOf:
    """Entries given by key code (>= 0) and row position, sorted once by (key, position) for any number of
    as-of queries: per query, the entry with the same key and the greatest position below the query's. A
    dict overwritten in row order, read at each query's row, answers the same."""

    def __init__(self, keys: np.ndarray, positions: np.ndarray) -> None:
        # Positions past every entry's are clamped to one past the last: the combined key stays exact.
        self._span = int(positions.max(initial=0)) + 2
        combined = keys * self._span + positions
        self.order = np.argsort(combined, kind="stable")
        self._ranked = combined[self.order]
        self.ranked_keys = keys[self.order]

    def rank_before(self, query_keys: np.ndarray, query_positions: np.ndarray) -> np.ndarray:
        """Per query, the rank of its entry in (key, position) order (-1: none)."""
        if not len(self.order) or not len(query_keys):
            return np.full(len(query_keys), -1, dtype=np.int64)
        asked = query_keys * self._span + np.minimum(query_positions, self._span - 1)
        at = np.searchsorted(self._ranked, asked, side="left") - 1
        hit = (at >= 0) & (query_keys >= 0) & (self.ranked_keys[np.maximum(at, 0)] == query_keys)
        return np.where(hit, at, -1)

    def find(self, query_keys: np.ndarray, query_positions: np.ndarray) -> np.ndarray:
        """Per query, the index of its entry (-1: none)."""
        at = self.rank_before(query_keys, query_positions)
        return np.where(at >= 0, self.order[np.maximum(at, 0)], -1) if len(self.order) else at


def latest_before(
    keys: np.ndarray, positions: np.ndarray, query_keys: np.ndarray, query_positions: np.ndarray
) -> np.ndarray:
    """Per query, the index of the entry with the same key and the greatest position below the query's
    (-1: none): one `AsOf` lookup."""
    return AsOf(keys, positions).find(query_keys, query_positions)


def or_else(first: pa.ChunkedArray, second: pa.ChunkedArray) -> pa.ChunkedArray:
    """Python's `first or second` for string columns: `second` where `first` is null or empty."""
    return pc.if_else(pc.fill_null(pc.not_equal(first, ""), False), first, second)


def _codes(values: pa.ChunkedArray | pa.Array, keys: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Per value, the index of its first occurrence among the distinct `keys` (-1: not a key, or null).

    Codes come from the smaller side of a lookup (the keys asked about): a probe into a small hash table is
    far cheaper than a table of every id of the window.
    """
    return codes_in(values, pc.unique(pc.cast(keys, STRING)))


def codes_in(values: pa.ChunkedArray | pa.Array, distinct: pa.Array) -> np.ndarray:
    """Per value, its index in the distinct (large) strings `distinct` (-1: not among them, or null)."""
    found = pc.index_in(pc.cast(values, STRING), value_set=distinct)
    return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def resolve_rows(table: pa.Table) -> pa.Table:
    """Resolve the undos and deletes the lake left unresolved, from creates earlier in the (live) rows.

    The lake resolves deletes against earlier *stored* days, so days ingested in parallel can leave a
    cross-day undo unresolved; the release sees the whole window and does not depend on that order.
    An undo takes the subject of the latest like, repost, follow or block with its record id; a delete is
    resolved to its own record id if that post was created or edited before it.
    """
    n = table.num_rows
    action, record_id, resolved = table.column("action"), table.column("record_id"), table.column("resolved")
    open_ = ~resolved.to_numpy(zero_copy_only=False) & record_id.is_valid().to_numpy(zero_copy_only=False)
    undo = open_ & is_in(action, UNDO_ACTIONS)
    delete = open_ & is_in(action, {"post_delete"})
    if not (undo.any() or delete.any()):
        return table
    # Each row takes its subjects from itself, a resolved undo from its create; a resolved delete names itself.
    source = np.arange(n, dtype=np.int64)
    undo_rows, creates = np.flatnonzero(undo), _undo_sources(table, undo)
    found = creates >= 0
    source[undo_rows[found]] = creates[found]
    deletes = np.zeros(n, dtype=bool)
    deletes[np.flatnonzero(delete)[_post_known(table, delete)]] = True
    now_resolved = deletes.copy()
    now_resolved[undo_rows[found]] = True
    # Only the resolved rows change: their new values are taken, the rest of each column is kept as it is.
    undone = np.zeros(n, dtype=bool)
    undone[undo_rows[found]] = True
    sources = pa.array(source[undone])
    subject_id, subject_user = table.column("subject_id"), table.column("subject_user")
    resolved_ids = pc.if_else(
        pa.array(deletes[now_resolved]),
        record_id.filter(pa.array(now_resolved)),
        subject_id.take(pa.array(source[now_resolved])),
    )
    columns = {
        "subject_id": _replaced(subject_id, now_resolved, resolved_ids),
        "subject_user": _replaced(subject_user, undone, subject_user.take(sources)),
        "resolved": pc.or_(resolved, pa.array(now_resolved)),
    }
    for name, values in columns.items():
        table = table.set_column(table.schema.get_field_index(name), name, values)
    return table


def _replaced(
    column: pa.ChunkedArray, mask: np.ndarray, values: pa.Array | pa.ChunkedArray
) -> pa.ChunkedArray:
    """`column` with the rows of `mask` replaced by `values`, in row order (none: the column itself)."""
    if not mask.any():
        return column
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    return pc.replace_with_mask(column, pa.array(mask), values.cast(column.type))


def _undo_sources(table: pa.Table, undo: np.ndarray) -> np.ndarray:
    """Per undo row, the row of the latest earlier like, repost, follow or block with its record id (-1:
    none); codes come from the undone record ids only."""
    record_id, position = table.column("record_id"), np.arange(table.num_rows, dtype=np.int64)
    codes = _codes(record_id, record_id.filter(pa.array(undo)))
    creates = is_in(table.column("action"), UNDOABLE_CREATES) & (codes >= 0)
    found = latest_before(codes[creates], position[creates], codes[undo], position[undo])
    rows = np.flatnonzero(creates)
    return np.where(found >= 0, rows[np.maximum(found, 0)], -1) if len(rows) else found


def _post_known(table: pa.Table, delete: np.ndarray) -> np.ndarray:
    """Per delete row, whether its record was created (post, reply, quote) or edited (post_update, whose
    target is `subject_id or record_id`) before it."""
    action, record_id = table.column("action"), table.column("record_id")
    deleted = record_id.filter(pa.array(delete))
    # Codes of the creates' and edits' targets only (a minority of the window: likes are most of it).
    posts, updates = is_in(action, POST_CREATES), is_in(action, {"post_update"})
    post_codes = _codes(record_id.filter(pa.array(posts)), deleted)
    update_mask = pa.array(updates)
    targets = or_else(table.column("subject_id").filter(update_mask), record_id.filter(update_mask))
    update_codes = _codes(targets, deleted)
    post_rows, update_rows = np.flatnonzero(posts), np.flatnonzero(updates)
    keys = np.concatenate([post_codes[post_codes >= 0], update_codes[update_codes >= 0]])
    positions = np.concatenate([post_rows[post_codes >= 0], update_rows[update_codes >= 0]])
    return latest_before(keys, positions, _codes(deleted, deleted), np.flatnonzero(delete)) >= 0


def cluster_ids(
    actors: pa.Array | pa.ChunkedArray, clusters: dict[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Per actor, (its cluster id, whether it has one): out of scope when not clustered or null."""
    users = pa.array(list(clusters), actors.type)
    found = pc.fill_null(pc.index_in(actors, value_set=users), -1).to_numpy(zero_copy_only=False)
    ids = np.asarray(list(clusters.values()) or [0], dtype=np.int64)
    return ids[np.maximum(found, 0)], found >= 0
