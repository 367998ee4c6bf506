"""Personas stage: post embeddings (daily), user embeddings and persona clusters with cards (per release)."""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from dagster import AssetExecutionContext, AssetKey, BackfillPolicy, MaterializeResult, MetadataValue, asset

from blueprint_assets.assets.ingestion import DAILY
from blueprint_assets.assets.privacy import anonymized_posts
from blueprint_assets.assets.ui_metadata import table_metadata
from blueprint_assets.lib.storage.lake import read_files, write_table_atomic
from blueprint_assets.partitions import days_in_window, monthly_partitions, release_name
from blueprint_assets.resources import EncoderResource, LakeResource, ReleaseSettings

EMBEDDED_ACTIONS = ("post", "reply", "quote")  # English text posts get a vector
USER_VECTOR_ACTIONS = ("post", "reply")  # BluePrint: a user is the mean of their posts and replies

RELEASE = {
    "partitions_def": monthly_partitions,
    # A month range (an extended release) is one run over the whole window.
    "backfill_policy": BackfillPolicy.single_run(),
    "group_name": "personas",
}


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
    if not _exists(path):
        return None
    table = read_files([path])
    same = table.filter(pc.equal(table.column("model"), model)).combine_chunks()
    if same.num_rows == 0:
        return None
    return same.column("record_id").chunk(0), vector_matrix(same.column("vector"))


def vector_matrix(column: pa.ChunkedArray) -> np.ndarray:
    """A fixed-size-list vector column as a float32 (n, dim) matrix, without a Python loop."""
    dim = column.type.list_size
    values = pa.concat_arrays([chunk.flatten() for chunk in column.chunks]) if column.num_chunks else []
    return np.asarray(values, dtype=np.float32).reshape(-1, dim)


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


def _exists(path: str) -> bool:
    import os

    return os.path.isfile(path)


@asset(deps=[anonymized_posts], **{**DAILY, "group_name": "personas"})
def post_embeddings(
    context: AssetExecutionContext, lake: LakeResource, encoder: EncoderResource
) -> MaterializeResult:
    """One float32 vector per English text post (anonymized text), encoded once ever."""
    days = days_in_window(context)
    model = encoder.model_key
    encoded = reused = 0
    for day in days:
        posts = read_files(lake.lake.day_files("anonymized_posts", [day]))
        if posts is None:
            raise FileNotFoundError(
                f"anonymized_posts has no stored partition for {day}: materialize it first"
            )
        todo = posts_to_embed(posts)
        path = lake.lake.day_file("post_embeddings", day)
        matrix, missing = day_vectors(
            todo, stored_vectors(path, model), lambda t: encoder.encoder().encode(t)
        )
        dim = matrix.shape[1] if todo.num_rows else encoder.dim
        vectors = pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1), pa.float32()), dim)
        table = pa.table(
            {
                "record_id": todo.column("record_id"),
                "actor": todo.column("actor"),
                "day": todo.column("day"),
                "vector": vectors,
                "model": pa.array([model] * todo.num_rows, pa.string()),
            },
            schema=embedding_schema(dim),
        )
        if missing or not _exists(path):
            write_table_atomic(table, path)  # unchanged days are not rewritten at all
        encoded += missing
        reused += todo.num_rows - missing
        context.log.info(f"post_embeddings {day}: {missing} encoded, {todo.num_rows - missing} re-used")
    return MaterializeResult(
        metadata={
            "encoded": encoded,
            "reused": reused,
            "model": model,
            **table_metadata(lake.lake.day_files("post_embeddings", days)),
        }
    )


def release_rows(
    lake: LakeResource, table: str, days: list[str], columns: list[str] | None = None
) -> pa.Table:
    """A daily table's rows over a release window (days without partitions are skipped)."""
    data = read_files(lake.lake.day_files(table, days), columns=columns)
    if data is None:
        raise FileNotFoundError(f"{table} has no stored partition in the release window")
    return data


def single_model(models: pa.Table) -> str:
    """The one encoder that made a window's post vectors; vectors of two models must never be averaged."""
    found = sorted(set(pc.unique(models.column("model")).to_pylist()))
    if len(found) != 1:
        raise ValueError(
            f"post_embeddings in this window were made by {len(found)} encoders ({', '.join(found)}): "
            "re-materialize post_embeddings for the whole window with one BLUEPRINT_ENCODER"
        )
    return found[0]


def release_file(lake: LakeResource, table: str, context: AssetExecutionContext) -> str:
    return lake.lake.partition_file(table, "release", release_name(context))


@asset(deps=[post_embeddings, anonymized_posts], **RELEASE)
def user_embeddings(
    context: AssetExecutionContext, lake: LakeResource, settings: ReleaseSettings
) -> MaterializeResult:
    """In-scope users (language and topic rules) and the mean of their post and reply vectors."""
    from blueprint_assets.lib.personas.scope import load_keywords, select_in_scope_users
    from blueprint_assets.lib.personas.user_vectors import behaviour_profiles, mean_vectors

    days = days_in_window(context)
    rows = release_rows(
        lake, "anonymized_posts", days, ["actor", "action", "text", "is_english", "record_id"]
    )
    keywords = load_keywords(settings.keywords_file) if settings.keywords_file else load_keywords()
    scope = select_in_scope_users(
        rows, keywords, settings.min_english_posts, require_keywords=settings.require_keywords
    )
    single_model(release_rows(lake, "post_embeddings", days, ["model"]))
    vectors = release_rows(lake, "post_embeddings", days, ["record_id", "actor", "vector"])
    post_ids = scope.posts.filter(
        pc.is_in(scope.posts.column("action"), value_set=pa.array(USER_VECTOR_ACTIONS))
    )
    users, counts, matrix = mean_vectors(
        vectors, set(scope.users), set(post_ids.column("record_id").to_pylist())
    )
    if settings.behaviour_weight > 0:
        matrix = np.hstack([matrix, settings.behaviour_weight * behaviour_profiles(scope.posts, users)])
    table = pa.table(
        {"user": users, "n_posts": counts, "vector": [row.tolist() for row in matrix]},
        schema=pa.schema(
            [("user", pa.string()), ("n_posts", pa.int64()), ("vector", pa.list_(pa.float32()))]
        ),
    )
    write_table_atomic(table, release_file(lake, "user_embeddings", context))
    return MaterializeResult(
        metadata={
            "users": len(users),
            "release": release_name(context),
            "scope_filters": MetadataValue.json(scope.counts),
            "behaviour_weight": settings.behaviour_weight,
            **table_metadata([release_file(lake, "user_embeddings", context)]),
        }
    )


def require_enough_users(users: int, min_cluster_size: int) -> None:
    """Fail with the cause and the fix when not even one cluster of the minimum size can be formed."""
    if users < min_cluster_size:
        noun = "user" if users == 1 else "users"
        raise ValueError(
            f"{users} in-scope {noun}, need {min_cluster_size} per cluster: "
            "lower BLUEPRINT_MIN_CLUSTER_SIZE or widen the window"
        )


def skip_reason(k: int, users: int, min_cluster_size: int) -> str | None:
    """Why granularity K cannot be built for `users` in-scope users (None when it can)."""
    if users < k * min_cluster_size:
        return f"{users} in-scope users < K × min_cluster_size = {k} × {min_cluster_size}"
    return None


@asset(deps=[user_embeddings, AssetKey("post_embeddings"), AssetKey("anonymized_posts")], **RELEASE)
def persona_clusters(
    context: AssetExecutionContext, lake: LakeResource, settings: ReleaseSettings
) -> MaterializeResult:
    """For each K of BLUEPRINT_K: k-means with exactly K clusters of at least the minimum size (infeasible K skipped)."""
    from blueprint_assets.lib.personas.clustering import cluster_users, silhouette_sample

    users, matrix = user_matrix(lake, context)
    require_enough_users(len(users), settings.min_cluster_size)
    parts, per_k, skipped = [], {}, {}
    for k in settings.granularities:
        reason = skip_reason(k, len(users), settings.min_cluster_size)
        result = (
            None
            if reason
            else cluster_users(matrix, k=k, min_cluster_size=settings.min_cluster_size, seed=settings.seed)
        )
        if result is not None and result.k_used != k:
            # Feasible by count, but the clustering kept fewer: published under K, the card says k_used.
            context.log.warning(f"persona_clusters: K={k} kept {result.k_used} clusters: {result.notes}")
        if reason:
            skipped[str(k)] = reason
            context.log.warning(f"persona_clusters: K={k} skipped: {reason}")
            continue
        context.log.info(f"persona_clusters: K={k} clustered {len(users)} users")
        parts.append(pa.table(
            {"user": users, "cluster_id": result.assignments.astype(np.int32), "distance": result.distances,
             "k": np.full(len(users), k, dtype=np.int32)},
            schema=CLUSTERS_SCHEMA,
        ))  # fmt: skip
        silhouette = silhouette_sample(matrix, result.assignments) if result.k_used > 1 else float("nan")
        per_k[str(k)] = {
            "k_requested": result.k_requested, "k_used": result.k_used, "k_reason": result.k_reason,
            "notes": result.notes,
            "min_size": int(result.sizes.min()), "inertia": float(result.inertia),
            "silhouette_sample": float(silhouette),
            "sizes": {str(c): int(n) for c, n in enumerate(result.sizes)},
        }  # fmt: skip
    if not parts:
        raise ValueError(
            f"no K of {settings.granularities} is feasible for {len(users)} in-scope users with at least "
            f"{settings.min_cluster_size} per cluster: lower BLUEPRINT_K or BLUEPRINT_MIN_CLUSTER_SIZE, or widen the window"
        )
    write_table_atomic(pa.concat_tables(parts), release_file(lake, "persona_clusters", context))
    first = per_k[min(per_k, key=int)]
    return MaterializeResult(
        metadata={
            "k_requested": MetadataValue.json(settings.granularities),
            "k_used": MetadataValue.json(sorted(int(k) for k in per_k)),
            "skipped": MetadataValue.json(skipped),
            "granularities": MetadataValue.json(per_k),
            "min_size": first["min_size"],
            "inertia": first["inertia"],
            "silhouette_sample": first["silhouette_sample"],
            "k_lowered": bool(skipped),
            **table_metadata([release_file(lake, "persona_clusters", context)]),
        }
    )


CLUSTERS_SCHEMA = pa.schema(
    [("user", pa.string()), ("cluster_id", pa.int32()), ("distance", pa.float32()), ("k", pa.int32())]
)


def user_matrix(lake: LakeResource, context: AssetExecutionContext) -> tuple[list[str], np.ndarray]:
    table = read_files([release_file(lake, "user_embeddings", context)])
    return table.column("user").to_pylist(), np.asarray(table.column("vector").to_pylist(), dtype=np.float32)


def persona_cards_for(
    lake: LakeResource, context: AssetExecutionContext, maps: dict[int, dict[str, int]], hidden_text
) -> dict[int, dict[int, str]]:
    """Per K, a Markdown card per cluster; posts whose text `hidden_text(text)` flags (hidden answers) are left out."""
    from blueprint_assets.lib.personas.cards import build_persona_cards

    users, matrix = user_matrix(lake, context)
    days = days_in_window(context)
    rows = release_rows(lake, "anonymized_posts", days, ["actor", "action", "text", "record_id"])
    texts = rows.column("text").to_pylist()
    posts = rows.filter(pa.array([not (t and hidden_text(t)) for t in texts], pa.bool_()))
    post_vectors = release_rows(lake, "post_embeddings", days, ["record_id", "vector"])
    dim = len(post_vectors.column("vector")[0]) if post_vectors.num_rows else matrix.shape[1]
    cards = {}
    for k, clusters in sorted(maps.items()):
        assignments = np.asarray([clusters[u] for u in users])
        centroids = {c: matrix[assignments == c, :dim].mean(axis=0) for c in sorted(set(clusters.values()))}
        cards[k] = build_persona_cards(clusters, rows, posts, post_vectors, centroids)
        context.log.info(f"persona cards: K={k}, {len(cards[k])} cards")
    return cards
