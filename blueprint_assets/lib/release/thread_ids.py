"""The published ids of a release's threads: a user id per message and a thread id per thread and K.

- A user id is HMAC-SHA256(secret, pseudonym[|event]) cut to USER_ID_HEX hex digits: once per person
  (stable ids) or once per message (per-thread ids: the key is the author and the thread's action event).
  The HMACs are Python's (`keyed_digests`), shared by forked workers (`parallel.forked_map`).
- A thread id is the sha1 of the thread's compact JSON list
  `[cluster_id,label,event_id,user_id,text,user_id,text,...]`: what is published minus the time rank (which
  shifts with the release's composition), plus the action's event pseudonym, so that two identical-looking
  threads still get distinct ids. The JSON is built column-wise with Arrow, byte for byte
  `json.dumps(..., ensure_ascii=False, separators=(",", ":"))` (its strings by json_literals.py), and
  DuckDB hashes it on its own threads: everything after the cluster id is the
  same for every K and is built once.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from blueprint_assets.lib.parallel import forked_map
from blueprint_assets.lib.privacy.pseudonyms import keyed_digests
from blueprint_assets.lib.release.json_literals import json_literals

USER_ID_HEX = 16  # 64 bits: collisions are negligible at release scale, ids stay short.


@dataclass(frozen=True, repr=False)  # no repr: it holds the secret
class _UserHashing:
    """What the per-thread user ids of a range of threads are hashed from (plain lists, so that a forked
    child can hash its share)."""

    event_ids: list[str]  # each thread's action event
    lengths: list[int]  # each thread's number of messages
    offsets: list[int]  # message offset of each thread, and the end
    authors: list[str]  # each message's author pseudonym
    secret: bytes

    def ids(self, threads: list[int]) -> bytes:
        """The user id of each message of a contiguous range of threads, packed end to end as ASCII: one
        bytes object goes back to the parent, not a string per id."""
        if not threads:
            return b""
        first, last = threads[0], threads[-1] + 1
        authors = self.authors[self.offsets[first] : self.offsets[last]]
        events = np.asarray(self.event_ids[first:last], dtype=object)
        suffixes = np.repeat(events, self.lengths[first:last]).tolist()
        keys = [author + "|" + event for author, event in zip(authors, suffixes, strict=True)]
        return "".join(keyed_digests(self.secret, keys, USER_ID_HEX)).encode("ascii")


def user_ids(
    event_ids: list[str], lengths: list[int], offsets: np.ndarray, authors: list[str], secret: bytes,
    stable_ids: bool, workers: int,
) -> pa.ChunkedArray:  # fmt: skip
    """Each message's user id: keyed once per person (`stable_ids`) or once per message, hashing shared
    among `workers`."""
    if stable_ids:
        distinct = list(dict.fromkeys(authors))
        stable = dict(zip(distinct, keyed_digests(secret, distinct, USER_ID_HEX), strict=True))
        packed = "".join([stable[author] for author in authors]).encode("ascii")
    else:
        hashing = _UserHashing(event_ids, lengths, offsets.tolist(), authors, secret)
        packed = b"".join(forked_map(hashing.ids, list(range(len(event_ids))), workers))
    return packed_strings(packed, USER_ID_HEX)


def thread_ids(
    labels: list[str], event_ids: list[str], offsets: np.ndarray, users: pa.ChunkedArray, texts: pa.Array,
    cluster_columns: list[list[int]], workers: int,
) -> list[pa.Array]:  # fmt: skip
    """Per cluster column (one per K), the id of each thread: the sha1 hex digest of its JSON list."""
    rest = _json_after_cluster(labels, event_ids, offsets, users, texts)
    with duckdb.connect() as con:
        con.execute(f"SET threads = {max(1, int(workers))}")
        # The default, relied on: the ids come back in row order.
        con.execute("SET preserve_insertion_order = true")
        # Nothing spills: a projection streams, and were memory short the query fails rather than writing the
        # threads' texts to a `.tmp` folder beside the step.
        con.execute("SET temp_directory = ''")
        ids = []
        for clusters in cluster_columns:
            con.register("threads", rest.append_column("cluster", pa.array(clusters, pa.int64())))
            result = con.sql(
                "SELECT sha1('[' || CAST(cluster AS VARCHAR) || ',' || label || ',' || event || ','"
                " || messages || ']') AS id FROM threads"
            ).to_arrow_table()
            ids.append(_one_large(result.column("id")).cast(pa.string()))
            con.unregister("threads")
    return ids


def _json_after_cluster(
    labels: list[str], event_ids: list[str], offsets: np.ndarray, users: pa.ChunkedArray, texts: pa.Array
) -> pa.Table:
    """Per thread, the JSON of what follows its cluster id: label, event id and the messages joined (its
    own function, so that the messages' fragments are freed before the hashing)."""
    fragments = _joined('"', _one_large(users), '",', json_strings(texts))  # "user_id",text
    messages = pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), fragments)
    return pa.table(
        {
            "label": json_strings(pa.array(labels, pa.large_string())),
            "event": json_strings(pa.array(event_ids, pa.large_string())),
            "messages": pc.binary_join(messages, pa.scalar(",", pa.large_string())),
        }
    )


def json_strings(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Each string as json.dumps(ensure_ascii=False) writes it, null as `null` (large strings)."""
    return pc.fill_null(json_literals(_one_large(values)), "null")


def _joined(*parts: str | pa.Array) -> pa.Array:
    """The parts (large string arrays, or one string for every row) joined row by row."""
    large = [pa.scalar(part, pa.large_string()) if isinstance(part, str) else part for part in parts]
    return pc.binary_join_element_wise(*large, pa.scalar("", pa.large_string()))


def _one_large(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The column as one array of large strings (no 2 GiB limit on one array's offsets)."""
    column = column.cast(pa.large_string())
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def packed_strings(data: bytes, width: int) -> pa.ChunkedArray:
    """ASCII strings of one width packed end to end, as Arrow strings (no Python string each), in chunks
    that each stay under the 2 GiB a string array's 32-bit offsets reach."""
    count = len(data) // width
    per_chunk = (2**31 - 1) // width
    view = memoryview(data)
    chunks = []
    for first in range(0, count, per_chunk):
        n = min(per_chunk, count - first)
        offsets = np.arange(n + 1, dtype=np.int32) * width
        piece = view[first * width : (first + n) * width]
        chunks.append(pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(piece)))
    return pa.chunked_array(chunks, pa.string())
