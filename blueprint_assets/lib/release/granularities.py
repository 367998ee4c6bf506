"""Several granularities (K) in one release: the same threads, in the same split, for every K.

Each K's threads have their own `cluster_id`, and so their own id (lib/release/threads.py builds the Ks
together), but what they publish, the messages, does not depend on K. `content_key` identifies a thread
independently of K, and `align_splits` puts each thread of another K in the split its twin has in the
reference K, so a text hidden in one config is never public in another and every config has the same
train/validation/test threads. `content_keys` and
`align_tables` do the same on Arrow tables of threads, writing the keys from the leaf columns by hand
(byte for byte the JSON `content_key` hashes); `aligner` keys the reference once for every other K.
At BluePrint's four Ks the sha1 keys were most of action_splits, so `aligner` first pairs rows by a 64-bit
hash of the same columns (`twin_rows`: DuckDB's hash, in C++), when every reference thread's hash is its
own, and keeps that pairing only when each pair proves equal, column by column; otherwise (a hash
collision, or two threads of one content) the sha1 keys decide, as before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from json.encoder import encode_basestring
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from blueprint_assets.lib.release.splits import SPLITS

TWIN_COLUMNS = ("action", "last_time_us", "thread")  # what a thread's twins share: all but id and cluster


def content_key(thread: dict[str, Any]) -> str:
    """K-independent identity of a thread: its action, last-message time and messages."""
    payload = json.dumps(
        [thread["action"], int(thread["last_time_us"]), thread["thread"]],
        ensure_ascii=False, sort_keys=True, separators=(",", ":"),
    )  # fmt: skip
    return hashlib.sha1(payload.encode("utf-8")).hexdigest()


def content_keys(table: pa.Table) -> list[str]:
    """`content_key` of every row of a threads table (schema ACTION_THREADS_SCHEMA), from its columns."""
    lists = table.column("thread").combine_chunks()
    children = dict(zip([f.name for f in lists.type.value_type], lists.flatten().flatten(), strict=True))
    flags = children["actions"]
    valid = flags.is_valid().to_numpy(zero_copy_only=False)
    actions: list[str | None] = [None] * len(valid)
    if valid.any():
        names = [f.name for f in flags.type]
        rows = zip(
            *(c.to_pylist() for c in flags.take(pa.array(np.flatnonzero(valid))).flatten()), strict=True
        )
        cache: dict[tuple, str] = {}
        for at, values in zip(np.flatnonzero(valid).tolist(), rows, strict=True):
            text = cache.get(values)
            if text is None:
                text = cache[values] = json.dumps(dict(zip(names, values, strict=True)), sort_keys=True,
                                                  separators=(",", ":"))  # fmt: skip
            actions[at] = text
    enc = encode_basestring
    fragments = [
        "{"
        + ('"actions":' + flags_json + "," if flags_json is not None else "")
        + '"relative_integer_time":'
        + str(time)
        + (',"text":' + enc(text) if text is not None else "")
        + ',"user_id":'
        + enc(user_id)
        + "}"
        for flags_json, time, text, user_id in zip(
            actions,
            children["relative_integer_time"].to_pylist(),
            children["text"].to_pylist(),
            children["user_id"].to_pylist(),
            strict=True,
        )
    ]
    ends = np.cumsum(lists.value_lengths().to_numpy(zero_copy_only=False)).tolist()
    sha1 = hashlib.sha1
    return [
        sha1(("[" + enc(action) + "," + str(time) + ",[" + ",".join(fragments[begin:end]) + "]]").encode()).hexdigest()
        for action, time, begin, end in zip(
            table.column("action").to_pylist(), table.column("last_time_us").to_pylist(), [0, *ends], ends,
            strict=False,
        )
    ]  # fmt: skip


def _placement(where: dict[str, tuple[str, int]], keys: list[str]) -> dict[str, list[int]]:
    """Per split, the positions in `keys` of its threads, in their reference order."""
    placed: dict[str, list[tuple[int, int]]] = {name: [] for name in SPLITS}
    for index, key in enumerate(keys):
        if key not in where:
            raise ValueError("a thread of one granularity has no twin in the reference granularity")
        name, position = where[key]
        placed[name].append((position, index))
    return {name: [index for _, index in sorted(items)] for name, items in placed.items()}


def align_splits(
    reference: dict[str, list[dict[str, Any]]], threads: list[dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """`threads` (another K) split like their twins in `reference`; ordered like the reference splits."""
    where = {content_key(t): (name, i) for name in SPLITS for i, t in enumerate(reference.get(name, []))}
    placed = _placement(where, [content_key(t) for t in threads])
    return {name: [threads[i] for i in indexes] for name, indexes in placed.items()}


def align_tables(reference: dict[str, pa.Table], table: pa.Table) -> dict[str, pa.Table]:
    """`align_splits` on tables: `table`'s rows split and ordered like their twins in `reference`."""
    return aligner(reference)(table)


def twin_hashes(table: pa.Table, columns: tuple[str, ...] = TWIN_COLUMNS) -> np.ndarray:
    """A 64-bit hash of each row's `columns`: equal for twins, almost never equal otherwise."""
    selected = table.select(list(columns))  # noqa: F841 - read by name by the query below
    con = duckdb.connect()
    try:
        hashes = con.sql(f"SELECT hash({', '.join(columns)}) FROM selected").to_arrow_table()
    finally:
        con.close()
    return hashes.column(0).to_numpy()


def twin_rows(reference: pa.Table, table: pa.Table, columns: tuple[str, ...]) -> np.ndarray | None:
    """The row of `reference` equal to each row of `table` in `columns` (its twin), paired by hash and
    proven equal column by column; None when that does not hold (a row without a twin, a hash repeated in
    `reference`, a collision). Rows repeated in `table` may share a twin."""
    if reference.num_rows != table.num_rows:
        return None
    ours, theirs = twin_hashes(reference, columns), twin_hashes(table, columns)
    order = np.argsort(ours, kind="stable")
    sorted_hashes = ours[order]
    if len(sorted_hashes) > 1 and not np.all(sorted_hashes[1:] != sorted_hashes[:-1]):
        return None  # a repeated hash: the pairing is not one to one
    at = np.minimum(np.searchsorted(sorted_hashes, theirs), max(len(order) - 1, 0))
    if len(order) and not np.array_equal(sorted_hashes[at], theirs):
        return None
    rows = order[at]
    if all(_equals_taken(table.column(c), reference.column(c), rows) for c in columns):
        return rows
    return None


# Past this many runs of consecutive rows, one take is cheaper than comparing slice by slice.
MAX_COMPARED_RUNS = 1024


def _equals_taken(values: pa.ChunkedArray, reference: pa.ChunkedArray, rows: np.ndarray) -> bool:
    """Whether `values` equals `reference.take(rows)`. Rows mostly in order (a temporal split) are compared
    run by run of consecutive rows, as slices, so the messages are not copied to be compared."""
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    if len(breaks) >= MAX_COMPARED_RUNS:
        return values.equals(reference.take(pa.array(rows, pa.int64())))
    starts, ends = np.r_[0, breaks].tolist(), np.r_[breaks, len(rows)].tolist()
    return all(
        values.slice(start, end - start).equals(reference.slice(int(rows[start]), end - start))
        for start, end in zip(starts, ends, strict=True)
        if end > start
    )


def aligner(reference: dict[str, pa.Table]) -> Callable[[pa.Table], dict[str, pa.Table]]:
    """`align_tables` against one reference for many tables (one per other K): twins are paired by hash
    (`twin_rows`, over the reference splits one after another); when that is not proven, by the sha1 keys,
    the reference's computed once, on first use."""
    names = [name for name in SPLITS if name in reference]
    together = pa.concat_tables([reference[name] for name in names]) if names else None
    keyed: dict[str, tuple[str, int]] = {}

    def align(table: pa.Table) -> dict[str, pa.Table]:
        # Every reference row with a hash of its own and each pairing proven: the sha1 keys' placement.
        twins = twin_rows(together, table, TWIN_COLUMNS) if together is not None else None
        if twins is not None:
            placed = _by_twin(twins, [reference[name].num_rows for name in names], names)
            if _one_to_one(twins):  # each split's rows are its reference rows' twins, in their order
                return _shared_taken(table, placed, reference)
            return _taken(table, placed)
        if not keyed:
            keyed.update(
                (key, (name, i)) for name in names for i, key in enumerate(content_keys(reference[name]))
            )
        return _taken(table, _placement(keyed, content_keys(table)))

    return align


def _by_twin(twins: np.ndarray, sizes: list[int], names: list[str]) -> dict[str, list[int]]:
    """Per split, the rows whose twin (a row of the splits one after another) is in it, in twin order."""
    order = np.argsort(twins, kind="stable")
    bounds = np.searchsorted(twins[order], np.cumsum([0, *sizes]))
    placed = {name: order[bounds[i] : bounds[i + 1]].tolist() for i, name in enumerate(names)}
    return {name: placed.get(name, []) for name in SPLITS}


def _taken(table: pa.Table, placed: dict[str, list[int]]) -> dict[str, pa.Table]:
    return {name: table.take(pa.array(indexes, pa.int64())) for name, indexes in placed.items()}


def _one_to_one(twins: np.ndarray) -> bool:
    """Whether every reference row is the twin of exactly one row."""
    return bool(np.array_equal(np.sort(twins), np.arange(len(twins))))


def _shared_taken(
    table: pa.Table, placed: dict[str, list[int]], reference: dict[str, pa.Table]
) -> dict[str, pa.Table]:
    """`_taken` when the placed rows of each split are, one for one and in order, twins of its reference
    rows: their TWIN_COLUMNS are the reference's (proven equal by `twin_rows`), so only the K's own
    columns (id, cluster_id) are taken, and the messages are not copied again."""
    out = {}
    for name, indexes in placed.items():
        rows = pa.array(indexes, pa.int64())
        shared = reference.get(name)  # None: a split the reference lacks, so empty here
        columns = [
            shared.column(column)
            if shared is not None and column in TWIN_COLUMNS
            else table.column(column).take(rows)
            for column in table.column_names
        ]
        out[name] = pa.Table.from_arrays(columns, schema=table.schema)
    return out
