"""Personas stage: post embeddings (daily), user embeddings and persona clusters with cards (per release)."""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from blueprint_assets.defs.lake_io import release_file, release_name, release_rows, user_matrix
from blueprint_assets.defs.partitions import daily_asset, release_asset
from blueprint_assets.defs.resources import EncoderResource, LakeResource, PrivacyResource, ReleaseSettings
from blueprint_assets.defs.ui_metadata import table_metadata
from blueprint_assets.lib.personas.clustering import require_enough_users, skip_reason
from blueprint_assets.lib.personas.embeddings import (
    USER_VECTOR_ACTIONS,
    day_vectors,
    embedding_schema,
    is_stored,
    posts_to_embed,
    single_model,
    stored_vectors,
    vector_lists,
)
from blueprint_assets.lib.storage.lake import write_table_atomic
from blueprint_assets.lib.window import run_days

RELEASE = release_asset("personas")


@asset(deps=[AssetKey("anonymized_posts")], **daily_asset("personas"))
def post_embeddings(
    context: AssetExecutionContext, lake: LakeResource, encoder: EncoderResource
) -> MaterializeResult:
    """One float32 vector per English text post (anonymized text), encoded once ever."""
    days = run_days(context)
    model = encoder.model_key
    encoded = reused = 0
    for day in days:
        posts = lake.lake.read_days("anonymized_posts", [day], every_day=True)
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
        if missing or not is_stored(path):
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


@asset(deps=[post_embeddings, AssetKey("anonymized_posts")], **RELEASE)
def user_embeddings(
    context: AssetExecutionContext, lake: LakeResource, privacy: PrivacyResource, settings: ReleaseSettings
) -> MaterializeResult:
    """In-scope users (language and topic rules) and the mean of their post and reply vectors."""
    from blueprint_assets.lib.personas.scope import load_keywords, select_in_scope_users
    from blueprint_assets.lib.personas.user_vectors import behaviour_profiles, mean_vectors

    days = run_days(context)
    rows = release_rows(
        lake, "anonymized_posts", days, ["actor", "action", "text", "is_english", "record_id"]
    )
    keywords = load_keywords(settings.keywords_file) if settings.keywords_file else load_keywords()
    scope = select_in_scope_users(
        rows, keywords, settings.min_english_posts, require_keywords=settings.require_keywords,
        workers=privacy.worker_count(),
    )  # fmt: skip
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
        {"user": users, "n_posts": counts, "vector": vector_lists(matrix)},
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
