"""Personas and release stages through real Dagster runs: clusters, cards, threads, gates, rebuilds, audit."""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from dagster import AssetKey, DagsterInstance, asset, materialize
from support.pipeline import REPO, all_output_text, pipeline_resources, run_assets

from blueprint_assets.defs.ingestion.assets import actions, raw_events
from blueprint_assets.defs.partitions import monthly_partitions
from blueprint_assets.defs.personas.assets import (
    persona_clusters,
    post_embeddings,
    user_embeddings,
)
from blueprint_assets.defs.personas.checks import (
    persona_clusters_min_size,
    persona_clusters_privacy_scan,
    post_embeddings_privacy_scan,
    user_embeddings_privacy_scan,
)
from blueprint_assets.defs.privacy.assets import anonymized_posts
from blueprint_assets.defs.release.assets import (
    action_splits,
    action_threads,
    by_k,
    dataset_release,
    privacy_audit_report,
)
from blueprint_assets.defs.release.checks import (
    action_splits_privacy_scan,
    action_splits_quality,
    action_threads_privacy_scan,
    action_threads_quality,
    dataset_release_manifest,
    dataset_release_no_answers,
    dataset_release_privacy_scan,
)
from blueprint_assets.defs.resources import EncoderResource, ReleaseSettings
from blueprint_assets.lib.actions_space import ACTION_ORDER
from blueprint_assets.lib.personas.embeddings import posts_to_embed
from blueprint_assets.lib.personas.static_encoder import static_model_id
from blueprint_assets.lib.privacy.scans import lake_raw_identifiers
from blueprint_assets.lib.release.provenance import card_header
from blueprint_assets.lib.storage.lake import Lake, read_files

# Every test here runs the Dagster asset chain (`make test-fast` leaves them out).
pytestmark = pytest.mark.pipeline

DAYS = ("2025-03-01", "2025-03-02")
MONTH = "2025-03-01"
DAILY = [raw_events, actions, anonymized_posts, post_embeddings, post_embeddings_privacy_scan]
RELEASE = [
    user_embeddings,
    persona_clusters,
    action_threads,
    action_splits,
    dataset_release,
    privacy_audit_report,
]
RELEASE_CHECKS = [persona_clusters_min_size, action_threads_quality, action_threads_privacy_scan,
                  action_splits_quality, dataset_release_manifest, dataset_release_privacy_scan,
                  user_embeddings_privacy_scan, persona_clusters_privacy_scan, action_splits_privacy_scan,
                  dataset_release_no_answers]  # fmt: skip
PUBLIC_TABLES = ("anonymized_posts", "post_embeddings", "user_embeddings", "persona_clusters",
                 "action_threads", "action_splits")  # fmt: skip


def resources(data_dir: Path, archive: Path) -> dict:
    return {
        **pipeline_resources(data_dir, archive),
        "encoder": EncoderResource(),
        "settings": ReleaseSettings(ks=[2, 6, 1000], min_cluster_size=10),  # 1000: infeasible
    }


def build_release(res: dict, assets: list | None = None, raise_on_error: bool = True):
    return materialize(
        assets or [*RELEASE, *RELEASE_CHECKS], resources=res, partition_key=MONTH,
        instance=DagsterInstance.ephemeral(), raise_on_error=raise_on_error,
    )  # fmt: skip


def release_bytes(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def built(small_sample: Path, tmp_path_factory) -> tuple[Path, dict]:
    data_dir = tmp_path_factory.mktemp("release") / "data"
    res = resources(data_dir, small_sample)
    assert run_assets(DAILY, res, *DAYS).success
    assert build_release(res).success
    return data_dir, res


def test_learned_baselines_beat_majority_on_the_built_release(built) -> None:
    """LightGBM and lookup beat the majority baseline's macro-F1 on a pipeline-built release's validation."""
    from blueprint_assets.lib.evaluation import baselines, metrics, scorer

    data_dir, _ = built
    release = data_dir / "releases" / "2025-03"
    answers = scorer.load_answers(release, "validation")
    truth = [a.action for a in answers.values()]
    common = metrics.common_actions(truth)
    train = baselines.load_split(release, "train")
    targets = baselines.load_split(release, "validation")
    f1 = {}
    for name in ("majority", "lookup", "lightgbm"):
        preds = baselines.as_predictions(baselines.fit_baseline(name, train)(targets))
        f1[name] = metrics.action_metrics(truth, [preds[i].action for i in answers], common)["macro_f1"]
    assert f1["lightgbm"] > f1["majority"] and f1["lookup"] > f1["majority"], f1


def test_clusters_respect_minimum_size_and_cards_are_clean(built) -> None:
    data_dir, _ = built
    lake = Lake(str(data_dir))
    clusters = read_files([lake.partition_file("persona_clusters", "release", "2025-03")]).to_pandas()
    assert sorted(set(clusters["k"])) == [2, 6]  # K=1000 is infeasible for 300 users: skipped
    for k in (2, 6):
        assert clusters[clusters["k"] == k].groupby("cluster_id")["user"].count().min() >= 10
    sizes = clusters[clusters["k"] == 6].groupby("cluster_id")["user"].count()
    assert len(sizes) >= 2
    cards = sorted(
        (data_dir / "releases" / "2025-03" / "public" / "6_clusters" / "personas").glob("cluster_*.md")
    )
    assert len(cards) == len(sizes)
    text = cards[0].read_text()
    assert "## Action types" in text and "Representative posts" in text
    known = lake_raw_identifiers(read_files(lake.all_files("raw_events"), columns=["kind", "raw"]))
    for card in cards:
        lowered = card.read_text().lower()
        assert not [k for k in known if k in lowered]


def test_no_sample_identifier_or_secret_in_any_public_file(built) -> None:
    data_dir, _ = built
    lake = Lake(str(data_dir))
    known = lake_raw_identifiers(read_files(lake.all_files("raw_events"), columns=["kind", "raw"]))
    assert len(known) > 100
    secret = (data_dir / "secret.key").read_text().strip()
    texts = {}
    for table in PUBLIC_TABLES:
        assert (data_dir / "lake" / table).is_dir(), table
        texts.update(all_output_text(data_dir / "lake" / table))
    texts.update(all_output_text(data_dir / "releases"))
    assert len(texts) > 20
    for path, text in texts.items():
        lowered = text.lower()
        assert secret not in text, path
        assert not [k for k in known if k in lowered], path


def test_rerun_encodes_nothing(built) -> None:
    data_dir, res = built
    result = run_assets([post_embeddings], res, *DAYS)
    materialization = result.get_asset_materialization_events()[0]  # one per day, same metadata
    metadata = materialization.step_materialization_data.materialization.metadata
    assert metadata["encoded"].value == 0 and metadata["reused"].value > 100


def test_post_embeddings_store_the_static_model_id_and_its_exact_vectors(built) -> None:
    data_dir, res = built
    table = read_files(Lake(str(data_dir)).all_files("post_embeddings")).to_pylist()
    assert len(table) > 100
    assert {row["model"] for row in table} == {static_model_id()}
    sample = table[:50]
    posts = posts_to_embed(read_files(Lake(str(data_dir)).all_files("anonymized_posts")))
    text_of = dict(zip(posts.column("record_id").to_pylist(), posts.column("text").to_pylist(), strict=True))
    again = res["encoder"].encoder().encode([text_of[row["record_id"]] for row in sample])
    assert np.array_equal(np.asarray([row["vector"] for row in sample], dtype=np.float32), again)


def test_threads_cover_every_sample_action_and_splits_hide_answers(built) -> None:
    data_dir, _ = built
    release = data_dir / "releases" / "2025-03"
    actions_seen = set()
    for split in ("train", "validation", "test"):
        for line in (
            (release / "private" / "6_clusters" / "answers" / f"{split}.jsonl").read_text().splitlines()
            if split != "train"
            else []
        ):
            actions_seen.add(json.loads(line)["action"])
    train = pq.read_table(release / "public" / "6_clusters" / "data" / "train.parquet").to_pylist()
    for row in train:
        last = row["thread"][-1]
        actions_seen.add(next(a for a in ACTION_ORDER if last["actions"][a]))
    assert actions_seen == set(ACTION_ORDER)
    validation = pq.read_table(release / "public" / "6_clusters" / "data" / "validation.parquet").to_pylist()
    assert all(
        row["thread"][-1]["actions"] is None and row["thread"][-1]["text"] is None for row in validation
    )
    ids = [
        r["id"]
        for s in ("train", "validation", "test")
        for r in pq.read_table(release / "public" / "6_clusters" / "data" / f"{s}.parquet").to_pylist()
    ]
    assert len(ids) == len(set(ids))


def test_lake_thread_tables_store_actions_as_flags_and_match_the_release(built) -> None:
    """action_threads and action_splits hold each message's actions as int16 flags (the lake layout);
    decoded, the training split's threads are the ones the release publishes."""
    from blueprint_assets.lib.release.thread_storage import FLAGS_TYPE, from_lake

    data_dir, _ = built
    lake = Lake(str(data_dir))
    for name in ("action_threads", "action_splits"):
        stored = read_files([lake.partition_file(name, "release", "2025-03")])
        assert stored.schema.field("thread").type.value_type.field("actions").type == FLAGS_TYPE, name
    splits = from_lake(stored)
    train = splits.filter(pc.equal(splits.column("split"), "train"))
    published = pq.read_table(
        data_dir / "releases" / "2025-03" / "public" / "6_clusters" / "data" / "train.parquet"
    )
    in_lake = {row["id"]: row["thread"] for row in train.select(["id", "thread"]).to_pylist()}
    assert {row["id"]: row["thread"] for row in published.to_pylist()} == {
        i: in_lake[i] for i in published.column("id").to_pylist()
    }


def test_release_loads_with_pyarrow_and_duckdb(built) -> None:
    data_dir, _ = built
    release = data_dir / "releases" / "2025-03" / "public"
    manifest = json.loads((release / "MANIFEST.json").read_text())
    card = (release / "README.md").read_text()
    header = card_header(card)
    assert [c["config_name"] for c in header["configs"]] == ["2_clusters", "6_clusters"]
    assert (
        header["blueprint"]["synthetic_sample"] is True
        and "Synthetic sample" in card.split("---\n", 2)[2][:400]
    )
    assert (
        "K=1000 was requested but skipped: 300 in-scope users" in card
        or "K=1000 was requested but skipped" in card
    )
    for split in ("train", "validation", "test"):
        path = release / "6_clusters" / "data" / f"{split}.parquet"
        assert f"6_clusters/data/{split}.parquet" in manifest
        arrow_rows = pq.read_table(path).num_rows
        duck_rows = duckdb.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchone()[0]
        jsonl_rows = sum(
            len(p.read_text().splitlines()) for p in (release / "6_clusters" / split).glob("cluster_*.jsonl")
        )
        assert arrow_rows == duck_rows == jsonl_rows > 0
        assert f"num_examples: {arrow_rows}" in card


def test_release_rebuilds_byte_identically(built) -> None:
    data_dir, res = built
    folder = data_dir / "releases" / "2025-03"
    before = release_bytes(folder)
    assert build_release(res).success
    assert release_bytes(folder) == before


def test_audit_report_has_every_section_and_no_identifiers(built) -> None:
    data_dir, _ = built
    audit = data_dir / "releases" / "2025-03" / "privacy_audit"
    markdown = (audit / "privacy_audit.md").read_text()
    assert "Granularity K=2" in markdown and "Granularity K=6" in markdown
    assert "Granularity K=1000" in markdown
    assert "Skipped: " in markdown and "min_cluster_size = 1000 × 10" in markdown.replace("\\", "")
    for heading in ("PII removed", "NER", "Cluster sizes", "Opt-outs", "Pseudonym", "residual", "leak"):
        assert heading.lower() in markdown.lower(), heading
    for heading in ("Anonymizer quality on the labelled set", "Second-opinion residual scan",
                    "Random before/after sample", "Verbatim re-identification risk"):  # fmt: skip
        assert f"## {heading}" in markdown, heading
    assert "| EMAIL_ADDRESS | 1.000 |" in markdown and "seed 42" in markdown
    lake = Lake(str(data_dir))
    quarantined = read_files(lake.all_files("raw_events_quarantine")).num_rows
    assert quarantined > 0  # the sample plants malformed lines
    assert f"Input lines quarantined: {quarantined}; damaged input files" in markdown.replace("\\", "")
    known = lake_raw_identifiers(read_files(lake.all_files("raw_events"), columns=["kind", "raw"]))
    for path, text in all_output_text(audit).items():
        assert not [k for k in known if k in text.lower()], path


def tamper_blocks_downstream(res: dict, tamper, check) -> str:
    """Run a stand-in dataset_release that calls `tamper()`, then `check`; return the failed check's text."""

    @asset(key=AssetKey("dataset_release"), partitions_def=monthly_partitions, group_name="release")
    def tampered_release() -> None:
        tamper()

    result = build_release(res, [tampered_release, privacy_audit_report, check], raise_on_error=False)
    assert not result.success
    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert AssetKey("privacy_audit_report") not in materialized, "the audit must not run on a bad release"
    assert build_release(res).success  # a rebuild repairs it
    return evaluation.description


def test_corrupted_release_file_blocks_downstream(built) -> None:
    data_dir, res = built
    target = data_dir / "releases" / "2025-03" / "public" / "6_clusters" / "data" / "test.parquet"
    description = tamper_blocks_downstream(
        res, lambda: target.write_bytes(target.read_bytes() + b"tampered"), dataset_release_manifest
    )
    assert "changed: public/6_clusters/data/test.parquet" in description


def test_answer_text_planted_in_public_fails_the_blocking_check(built) -> None:
    data_dir, res = built
    folder = data_dir / "releases" / "2025-03"
    answers = [
        json.loads(line)
        for line in (folder / "private" / "6_clusters" / "answers" / "test.jsonl").read_text().splitlines()
    ]
    planted = next(a["text"] for a in answers if a["text"] and len(a["text"]) >= 20)
    card = folder / "public" / "6_clusters" / "personas" / "cluster_0.md"
    description = tamper_blocks_downstream(
        res, lambda: card.write_text(card.read_text() + f"\n> {planted}\n"), dataset_release_no_answers
    )
    assert "6_clusters/personas/cluster_0.md: holds the text of" in description


def test_forget_leaves_no_trace_in_any_table_or_release(built, tmp_path: Path) -> None:
    """Right after `forget`, before any re-ingest: neither the DID nor its pseudonym is in any file (private
    tables, public tables, releases), for an account with standalone posts that another user mentions."""
    import shutil
    from collections import Counter

    from blueprint_assets.cli import main
    from blueprint_assets.lib.privacy.pseudonyms import Pseudonymizer
    from blueprint_assets.lib.privacy.scans import DID_PATTERN

    data_dir = tmp_path / "data"
    shutil.copytree(built[0], data_dir)
    rows = read_files(Lake(str(data_dir)).all_files("actions")).to_pylist()
    mentioned = Counter(
        d
        for r in rows
        if r["facets_json"]
        for d in DID_PATTERN.findall(r["facets_json"])
        if d != r["actor_did"]
    )
    posters = {r["actor_did"] for r in rows if r["action"] == "post" and r["subject_did"] is None}
    did = next(d for d, _ in mentioned.most_common() if d in posters)
    pseudonym = Pseudonymizer.from_data_dir(data_dir)(did)
    before = all_output_text(data_dir)
    assert any("releases" in path for path in before), "a release was built"
    assert any(did in text for text in before.values()) and any(pseudonym in text for text in before.values())
    assert main(["forget", "--did", did, "--data-dir", str(data_dir)]) == 0
    log = data_dir / "state" / "optouts"  # the opt-out log holds the pseudonym, by design
    after = {
        path: text
        for path, text in all_output_text(data_dir).items()
        if log not in Path(path).parents and Path(path) != data_dir / "secret.key"
    }
    assert len(after) > 5
    leaks = sorted(path for path, text in after.items() if did in text.lower() or pseudonym in text)
    assert not leaks, f"account still in {leaks[:3]}"


def test_sample_submission_scores_on_validation_and_test(built, capsys) -> None:
    from blueprint_assets.cli import main

    data_dir, _ = built
    release = data_dir / "releases" / "2025-03"
    for k in (2, 6):
        submission = release / "public" / f"{k}_clusters" / "sample_submission.jsonl"
        rows = [json.loads(line) for line in submission.read_text().splitlines()]
        ids = {
            s: [
                r["id"]
                for r in pq.read_table(
                    release / "public" / f"{k}_clusters" / "data" / f"{s}.parquet"
                ).to_pylist()
            ]
            for s in ("validation", "test")
        }
        assert [r["id"] for r in rows] == ids["validation"] + ids["test"]
        assert all(sum(r[a] for a in ACTION_ORDER) == 1 for r in rows)
        for split in ("validation", "test"):
            assert (
                main(
                    [
                        "score",
                        "--answers",
                        str(release),
                        "--predictions",
                        str(submission),
                        "--split",
                        split,
                        "--k",
                        str(k),
                    ]
                )
                == 0
            )
            assert "macro-F1" in capsys.readouterr().out


def test_starter_notebook_runs_headless_on_the_release(built, monkeypatch) -> None:
    import nbclient
    import nbformat

    repo = str(REPO)  # the kernel imports this checkout's blueprint_assets
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")])))

    data_dir, _ = built
    public = data_dir / "releases" / "2025-03" / "public"
    before = release_bytes(public)
    notebook = nbformat.read(public / "starter.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(public)}}
    )
    client.execute()
    outputs = "".join(o.get("text", "") for cell in notebook.cells for o in cell.get("outputs", []))
    assert "DatasetDict" in outputs and "overall majority:" in outputs
    assert "validation scored, exit code 0" in outputs and "macro-F1" in outputs
    assert release_bytes(public) == before  # the notebook writes nothing into the dataset folder


def test_by_k_slices_tables_written_k_after_k_and_filters_any_other_order() -> None:
    table = pa.table({"k": [2, 2, 5, 5, 5, 9], "v": list("abcdef")})
    expected = {2: ["a", "b"], 5: ["c", "d", "e"], 9: ["f"]}
    for rows in (table, table.take(pa.array([5, 2, 0, 3, 1, 4]))):
        split = by_k(rows)
        assert list(split) == [2, 5, 9]
        assert all(t.column_names == ["v"] for t in split.values())
        assert {k: sorted(t.column("v").to_pylist()) for k, t in split.items()} == expected
    assert by_k(table)[5].column("v").to_pylist() == ["c", "d", "e"]
    assert by_k(table.slice(0, 0)) == {}
