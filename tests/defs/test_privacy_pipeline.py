"""The privacy layer end to end: anonymized_posts, its blocking checks, opt-out, leak scans of every file."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pyarrow as pa
import pytest
from dagster import AssetKey, asset
from support.pipeline import all_output_text, pipeline_resources, run_assets

from blueprint_assets.defs.ingestion.assets import actions, raw_events
from blueprint_assets.defs.ingestion.checks import actions_quality, raw_events_quality
from blueprint_assets.defs.partitions import daily_partitions
from blueprint_assets.defs.privacy.assets import anonymized_posts
from blueprint_assets.defs.privacy.checks import (
    anonymized_posts_leak_scan,
    anonymized_posts_residual_scan,
    anonymized_posts_secret_scan,
)
from blueprint_assets.lib.privacy.optout import OPTOUT_FOLDER
from blueprint_assets.lib.privacy.pseudonyms import Pseudonymizer
from blueprint_assets.lib.privacy.scans import harvest_identifiers
from blueprint_assets.lib.sources.archive import flatten_examples
from blueprint_assets.lib.storage.lake import Lake, read_files, write_table_atomic

# Every test here runs the Dagster asset chain (`make test-fast` leaves them out).
pytestmark = pytest.mark.pipeline

PRIVACY_CHECKS = [anonymized_posts_leak_scan, anonymized_posts_residual_scan, anonymized_posts_secret_scan]
PIPELINE = [raw_events, actions, anonymized_posts, raw_events_quality, actions_quality, *PRIVACY_CHECKS]
DAYS = ["2025-03-01", "2025-03-02"]


def raw_identifiers(lake: Lake) -> set[str]:
    raw = read_files(lake.all_files("raw_events"), columns=["raw"])
    return harvest_identifiers(raw.column("raw").to_pylist())


def public_files(data_dir: Path) -> dict[str, str]:
    return all_output_text(data_dir / "lake" / "anonymized_posts")


def assert_no_identifiers(texts: dict[str, str], identifiers: set[str]) -> None:
    lowered = {path: text.lower() for path, text in texts.items()}
    leaks = [(path, kind) for path, text in lowered.items() for kind in identifiers if kind in text]
    assert not leaks, f"{len(leaks)} identifier(s) leaked into {sorted({p for p, _ in leaks})[:3]}"


@pytest.fixture(scope="module")
def pipeline(small_sample: Path, tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("privacy") / "data"
    assert run_assets(PIPELINE, pipeline_resources(data_dir, small_sample), DAYS[0], DAYS[1]).success
    return data_dir


def test_sample_identifiers_never_reach_public_tables(pipeline: Path) -> None:
    lake = Lake(str(pipeline))
    identifiers = raw_identifiers(lake)
    assert any(i.startswith("did:plc:") for i in identifiers) and any("@" in i for i in identifiers)
    assert_no_identifiers(public_files(pipeline), identifiers)
    secret = (pipeline / "secret.key").read_bytes().strip().decode()
    assert all(secret not in text for text in public_files(pipeline).values())
    table = read_files(lake.all_files("anonymized_posts"))
    texts = [t for t in table.column("text").to_pylist() if t]
    assert any("<EMAIL_ADDRESS>" in t for t in texts) and any("<USERNAME>" in t for t in texts)
    assert (pipeline / "secret.key").stat().st_mode & 0o777 == 0o600


def test_pseudonyms_are_stable_across_partitions(pipeline: Path) -> None:
    lake = Lake(str(pipeline))
    actors = [set(read_files([f]).column("actor").to_pylist()) for f in lake.all_files("anonymized_posts")]
    assert len(actors) == 2 and actors[0] & actors[1], "the same accounts keep the same pseudonym across days"


def test_real_samples_leave_no_identifiers(real_samples: Path, tmp_path: Path) -> None:
    flatten_examples(real_samples / "jetstream_examples.json", tmp_path / "archive")
    data_dir = tmp_path / "data"
    res = pipeline_resources(data_dir, tmp_path / "archive")
    assert run_assets(PIPELINE, res, "2025-03-01", "2025-03-03").success
    assert_no_identifiers(public_files(data_dir), raw_identifiers(Lake(str(data_dir))))


def test_planted_leak_blocks_the_run(small_sample: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    res = pipeline_resources(data_dir, small_sample)
    assert run_assets([raw_events, actions], res, DAYS[0]).success
    lake = Lake(str(data_dir))
    leaked_did = read_files(lake.day_files("raw_events", [DAYS[0]])).column("did")[0].as_py()

    @asset(key=AssetKey("anonymized_posts"), partitions_def=daily_partitions, group_name="privacy")
    def leaky_anonymized_posts() -> None:
        table = pa.table({"event_id": ["e1"], "text": [f"hello {leaked_did}"], "actor": ["a" * 64]})
        write_table_atomic(table, lake.day_file("anonymized_posts", DAYS[0]))

    downstream_ran = []

    @asset(deps=[AssetKey("anonymized_posts")], partitions_def=daily_partitions)
    def downstream() -> None:
        downstream_ran.append(True)

    result = run_assets(
        [leaky_anonymized_posts, downstream, anonymized_posts_leak_scan], res, DAYS[0], raise_on_error=False
    )
    assert not result.success and not downstream_ran
    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert "anonymized_posts.text" in evaluation.description and "DID" in evaluation.description
    assert leaked_did not in evaluation.description


def test_forget_removes_account_everywhere_and_stays_forgotten(small_sample: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    res = pipeline_resources(data_dir, small_sample)
    assert run_assets(PIPELINE, res, DAYS[0], DAYS[1]).success
    lake = Lake(str(data_dir))
    acts = read_files(lake.all_files("actions")).to_pandas()
    # The most-followed account appears as actor and as subject.
    did = acts.loc[acts["action"] == "follow", "subject_did"].value_counts().index[0]
    assert (acts["actor_did"] == did).any()

    from blueprint_assets.cli import main

    assert main(["forget", "--did", did, "--data-dir", str(data_dir)]) == 0
    pseudonym = Pseudonymizer.from_data_dir(data_dir)(did)

    def assert_gone() -> None:
        for path, text in all_output_text(data_dir / "lake").items():
            assert did not in text, f"account still in {path}"
        public = read_files(lake.all_files("anonymized_posts")).to_pandas()
        assert not (public["actor"] == pseudonym).any() and not (public["subject_user"] == pseudonym).any()

    assert_gone()
    entries = sorted((data_dir / "state" / OPTOUT_FOLDER).iterdir())
    log = "\n".join(p.read_text() for p in entries)
    assert pseudonym in log and did not in log
    assert [json.loads(p.read_text())["pseudonym"] for p in entries] == [pseudonym]
    # A later run over the same archive keeps excluding the account.
    assert run_assets(PIPELINE, res, DAYS[0], DAYS[1]).success
    assert_gone()


def _events(path: Path) -> list[dict]:
    """The JSON objects of an archive file (the sample plants damaged lines too)."""
    events = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        events.append(event) if isinstance(event, dict) else None
    return events


def _handle_mentioned_in(text: str, handle: str) -> bool:
    """Whether `text` names `handle` as a whole handle (with or without its `@`), ignoring case."""
    return (
        re.search(rf"(?<![\w.\-]){re.escape(handle)}(?![\w\-]|\.[a-z0-9])", text, re.IGNORECASE) is not None
    )


def test_forget_removes_posts_naming_the_account_by_handle_only_and_they_stay_gone(
    small_sample: Path, tmp_path: Path
) -> None:
    """An account known by its identity events' handle, named by `@handle` in another account's post with no
    mention facet: forget removes that post from every table, and a later run does not ingest it again."""
    archive = tmp_path / "archive"
    shutil.copytree(small_sample, archive)
    day_files = sorted((archive / "2025-03" / "01").rglob("*.jsonl"))
    events = [(path, event) for path in day_files for event in _events(path)]
    identity_path, identity = next((p, e) for p, e in events if e.get("kind") == "identity")
    did, handle = identity["did"], identity["identity"]["handle"]
    poster = next(
        e for p, e in events if p == identity_path and e.get("commit", {}).get("collection") == "app.bsky.feed.post"
        and e["commit"].get("operation") == "create" and e["did"] != did
    )  # fmt: skip
    naming = json.loads(json.dumps(poster))
    rkey = naming["commit"]["rkey"]
    naming["commit"]["rkey"] = rkey[:-1] + ("2" if rkey[-1] != "2" else "3")
    record = naming["commit"]["record"]
    for key in ("facets", "reply", "embed"):  # no mention facet, nothing that names the account
        record.pop(key, None)
    record["text"] = f"zebracake thanks to @{handle.upper()} for the tip"
    with identity_path.open("a") as out:
        out.write(json.dumps(naming) + "\n")

    data_dir = tmp_path / "data"
    res = pipeline_resources(data_dir, archive)
    assert run_assets(PIPELINE, res, DAYS[0], DAYS[1]).success
    lake = Lake(str(data_dir))
    texts = read_files(lake.all_files("actions")).column("text").to_pylist()
    assert any(t and "zebracake" in t for t in texts), "the post naming the account was ingested"
    assert any("zebracake" in t for t in public_files(data_dir).values())

    from blueprint_assets.cli import main

    assert main(["forget", "--did", did, "--data-dir", str(data_dir)]) == 0

    def assert_gone() -> None:
        for path, text in all_output_text(data_dir / "lake").items():
            assert "zebracake" not in text, f"the post naming the account is still in {path}"
            assert not _handle_mentioned_in(text, handle), f"the account's handle is still in {path}"
            assert did not in text, f"the account is still in {path}"

    assert_gone()
    pseudonym = Pseudonymizer.from_data_dir(data_dir)
    [entry] = [json.loads(p.read_text()) for p in (data_dir / "state" / OPTOUT_FOLDER).iterdir()]
    assert entry["handles"] == [pseudonym(handle.lower())] and handle not in json.dumps(entry)
    # A later run over the same archive leaves the post out again, counted as opted out.
    assert run_assets(PIPELINE, res, DAYS[0], DAYS[1]).success
    assert_gone()
