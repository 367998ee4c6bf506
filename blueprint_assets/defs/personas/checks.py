"""Blocking gates on the personas stage: privacy scans of the vectors and the minimum cluster size."""

from dagster import AssetCheckExecutionContext, AssetCheckResult

from blueprint_assets.defs.lake_io import read_release_table
from blueprint_assets.defs.partitions import daily_partitions, monthly_partitions
from blueprint_assets.defs.resources import LakeResource, PrivacyResource, ReleaseSettings
from blueprint_assets.lib.window import run_days
from checks.gx_suite import expectations, run_suite
from checks.partitioned import asset_check
from checks.privacy_scans import days_with_neighbours, leak_and_secret_scan, release_table_privacy_scan
from checks.results import outcome_result


@asset_check(asset="post_embeddings", blocking=True, partitions_def=daily_partitions)
def post_embeddings_privacy_scan(
    context: AssetCheckExecutionContext, lake: LakeResource, privacy: PrivacyResource
) -> AssetCheckResult:
    """No raw identifier, and not the secret, in any column of the post vectors table."""
    days = run_days(context)
    table = lake.lake.read_days("post_embeddings", days, every_day=True).drop_columns(["vector"])
    return leak_and_secret_scan(
        "post_embeddings", table, lake.lake, privacy.secret_for_scans(), days_with_neighbours(days),
        privacy.worker_count(),
    )  # fmt: skip


@asset_check(asset="persona_clusters", blocking=True, partitions_def=monthly_partitions)
def persona_clusters_min_size(
    context: AssetCheckExecutionContext, lake: LakeResource, settings: ReleaseSettings
) -> AssetCheckResult:
    """Every cluster of every K holds at least `min_cluster_size` users."""
    table = read_release_table(lake, "persona_clusters", context)
    sizes = table.group_by(["k", "cluster_id"]).aggregate([("user", "count")]).to_pandas()
    sizes = sizes.rename(columns={"user_count": "users"})
    gx = expectations()
    suite = [gx.ExpectColumnValuesToBeBetween(column="users", min_value=settings.min_cluster_size)]
    return outcome_result(run_suite(sizes, suite, "persona_clusters"), "persona_clusters", table.num_rows)


user_embeddings_privacy_scan = release_table_privacy_scan(
    "user_embeddings", ("user_embeddings",), monthly_partitions
)
persona_clusters_privacy_scan = release_table_privacy_scan(
    "persona_clusters", ("persona_clusters",), monthly_partitions
)
