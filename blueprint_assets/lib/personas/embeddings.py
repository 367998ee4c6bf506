"""Post vectors: which posts get one, the stored vectors a day re-uses, and the one-encoder rule (pure)."""

import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from blueprint_assets.lib.storage.lake import read_files

EMBEDDED_ACTIONS = ("post", "reply", "quote")  # English text posts get a vector
USER_VECTOR_ACTIONS = ("post", "reply")  # BluePrint: a user is the mean of their posts and replies


def embedding_schema(dim: int) -> pa.Schema:
    return pa.schema(
        [
            ("record_id", pa.string()),
            ("actor", pa.string()),
            ("day", pa.string()),
            ("vector", pa.list_(pa.float32(), dim)),
            ("model", pa.string()),
        ]
    )


def posts_to_embed(posts: pa.Table) -> pa.Table:
    """English post/reply/quote rows with text, one per record id."""
    mask = pc.and_(
        pc.is_in(posts.column("action"), value_set=pa.array(EMBEDDED_ACTIONS)),
        pc.and_(
            pc.fill_null(posts.column("is_english"), False),
            pc.fill_null(pc.greater(pc.utf8_length(posts.column("text")), 0), False),
        ),
    )
    chosen = posts.filter(mask).select(["record_id", "actor", "day", "text"])
    # The first row of each record id (a record may reappear, e.g. as an edit), then record-id order.
    index = pa.array(np.arange(chosen.num_rows, dtype=np.int64))
    firsts = (
        pa.table({"record_id": chosen.column("record_id"), "i": index})
        .group_by("record_id", use_threads=False)
        .aggregate([("i", "min")])
        .column("i_min")
    )
    return chosen.take(firsts).sort_by("record_id")


def stored_vectors(path: str, model: str) -> tuple[pa.Array, np.ndarray] | None:
    """(record ids, float32 matrix) already stored for a day by the same model (re-used, never re-encoded)."""
    if not is_stored(path):
        return None
    table = read_files([path])
    same = table.filter(pc.equal(table.column("model"), model)).combine_chunks()
    if same.num_rows == 0:
        return None
    return same.column("record_id").chunk(0), vector_matrix(same.column("vector"))


def vector_matrix(column: pa.ChunkedArray) -> np.ndarray:
    """A vector column (fixed-size lists, or lists all of one length) as a float32 (n, dim) matrix, without a
    Python loop."""
    fixed = pa.types.is_fixed_size_list(column.type)
    if not len(column):
        return np.zeros((0, column.type.list_size if fixed else 0), dtype=np.float32)
    if fixed:
        dim = column.type.list_size
    else:
        lengths = pc.list_value_length(column)
        dim = pc.max(lengths).as_py()
        if column.null_count or pc.min(lengths).as_py() != dim:
            raise ValueError("vectors of different lengths (or missing) cannot form one matrix")
    values = pa.concat_arrays([chunk.flatten() for chunk in column.chunks])
    return np.asarray(values, dtype=np.float32).reshape(-1, dim)


def vector_lists(matrix: np.ndarray) -> pa.ListArray:
    """A float32 (n, dim) matrix as a column of float32 lists, one per row, without a Python loop."""
    n, dim = matrix.shape
    if n * dim >= 2**31:  # a list array's 32-bit offsets
        raise ValueError(f"{n} vectors of {dim} values outgrow one list column: split them")
    offsets = pa.array(np.arange(n + 1, dtype=np.int32) * dim)
    return pa.ListArray.from_arrays(offsets, pa.array(np.ascontiguousarray(matrix, dtype=np.float32).ravel()))


def day_vectors(todo: pa.Table, known: tuple[pa.Array, np.ndarray] | None, encode) -> tuple[np.ndarray, int]:
    """The (n, dim) matrix for `todo`'s rows: stored vectors where known, `encode` for the rest."""
    ids = todo.column("record_id")
    if known is None:
        where = np.full(len(ids), -1, dtype=np.int64)
    else:
        where = pc.fill_null(pc.index_in(ids, value_set=known[0]), -1).to_numpy(zero_copy_only=False)
    missing = np.flatnonzero(where < 0)
    texts = todo.column("text").to_pylist() if len(missing) else []
    encoded = encode([texts[i] for i in missing]) if len(missing) else None
    dim = known[1].shape[1] if known is not None else encoded.shape[1] if encoded is not None else 0
    matrix = np.zeros((len(ids), dim), dtype=np.float32)
    if known is not None:
        hit = where >= 0
        matrix[hit] = known[1][where[hit]]
    if encoded is not None:
        matrix[missing] = encoded
    return matrix, len(missing)


def is_stored(path: str) -> bool:
    return os.path.isfile(path)


def single_model(models: pa.Table) -> str:
    """The one encoder that made a window's post vectors; vectors of two models must never be averaged."""
    found = sorted(set(pc.unique(models.column("model")).to_pylist()))
    if len(found) != 1:
        raise ValueError(
            f"post_embeddings in this window were made by {len(found)} encoders ({', '.join(found)}): "
            "re-materialize post_embeddings for the whole window with one BLUEPRINT_ENCODER"
        )
    return found[0]
