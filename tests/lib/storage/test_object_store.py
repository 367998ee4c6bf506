"""The storage layer against a real S3-compatible server (moto server mode on 127.0.0.1).

Partitions publish atomically (a killed writer leaves the previous version), re-runs clean up, shared state
loses no concurrent update, the secret never goes to the bucket, and the daily pipeline plus a release run
with `BLUEPRINT_DATA_DIR=s3://...` give the same tables as a local run. Run alone: `pytest -m object_store`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest
from support.object_store import BUCKET, lake_digests, moto_s3, release_digests
from support.pipeline import REPO

from blueprint_assets.lib.privacy.identifier_store import DIGEST_FOLDER
from blueprint_assets.lib.privacy.optout import logged_optouts, record_optout
from blueprint_assets.lib.privacy.pseudonyms import MissingSecretError, load_or_create_secret
from blueprint_assets.lib.sources.archive import ArchiveIndex
from blueprint_assets.lib.storage import storage
from blueprint_assets.lib.storage.lake import COMMIT_FILE, Lake, read_files, write_table_atomic
from blueprint_assets.lib.storage.state import load_cursor, save_cursor
from blueprint_assets.settings import Settings

pytestmark = pytest.mark.object_store


@pytest.fixture(scope="module")
def s3():
    with moto_s3() as server:
        yield server


def test_files_round_trip_list_and_delete(s3) -> None:
    root = s3.url("roundtrip")
    storage.write_bytes(storage.join(root, "a/b.txt"), b"one")
    storage.write_bytes(storage.join(root, "a/b.txt"), b"two")
    storage.write_bytes(storage.join(root, "c.txt"), b"three")
    assert storage.read_text(storage.join(root, "a/b.txt")) == "two"
    assert storage.read_text(storage.join(root, "missing.txt")) is None
    assert [f.relpath for f in storage.list_files(root)] == ["a/b.txt", "c.txt"]
    assert storage.list_folders(root) == ["a"]
    assert s3.keys("roundtrip/") == ["roundtrip/a/b.txt", "roundtrip/c.txt"]
    assert storage.delete_tree(storage.join(root, "a")) and s3.keys("roundtrip/") == ["roundtrip/c.txt"]


def test_rewriting_a_partition_replaces_it_and_deletes_the_old_object(s3) -> None:
    lake = Lake(s3.url("rewrite"))
    write_table_atomic(pa.table({"x": [1, 2]}), lake.day_file("actions", "2025-03-01"))
    write_table_atomic(pa.table({"x": [3]}), lake.day_file("actions", "2025-03-01"))
    assert lake.existing_days("actions") == ["2025-03-01"]
    assert read_files(lake.all_files("actions")).column("x").to_pylist() == [3]
    keys = s3.keys("rewrite/lake/actions/")
    current = lake.day_file("actions", "2025-03-01").rsplit("/", 1)[1]
    assert [k.rsplit("/", 1)[1] for k in keys] == sorted([COMMIT_FILE, current])


WRITER = """
import sys, time
import pyarrow as pa, pyarrow.parquet as pq
from blueprint_assets.lib.storage import lake as lake_module
from blueprint_assets.lib.storage.lake import Lake, write_table_atomic

root, mode = sys.argv[1], sys.argv[2]
if mode == "before-commit":
    # The data object is complete; the writer dies before publishing it.
    def stalled_commit(temp_path, final_path=None):
        print("written", flush=True)
        time.sleep(600)
    lake_module.commit_file = stalled_commit
    table = pa.table({"x": list(range(1000))})
else:
    # Dies while its multipart upload is still open: row groups are streamed slowly.
    original = pq.write_table
    def slow_write(table, where, filesystem=None, **kwargs):
        with pq.ParquetWriter(where, table.schema, filesystem=filesystem) as writer:
            for index, batch in enumerate(table.to_batches(max_chunksize=50_000)):
                writer.write_batch(batch)
                if index == 3:
                    print("written", flush=True)
                time.sleep(0.5)
    pq.write_table = slow_write
    import numpy as np
    table = pa.table({"x": np.random.default_rng(0).random(4_000_000)})
write_table_atomic(table, Lake(root).day_file("actions", "2025-03-01"))
"""


@pytest.mark.parametrize("mode", ["before-commit", "mid-upload"])
def test_a_writer_killed_mid_partition_leaves_the_previous_version(s3, mode: str) -> None:
    root = s3.url(f"killed-{mode}")
    lake = Lake(root)
    write_table_atomic(pa.table({"x": [7, 8, 9]}), lake.day_file("actions", "2025-03-01"))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writer = subprocess.Popen([sys.executable, "-c", WRITER, root, mode], env=env, stdout=subprocess.PIPE)
    try:
        assert writer.stdout.readline().strip() == b"written"
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        writer.kill()
        writer.wait()
    # Readers still see the complete previous version, with its row count.
    assert lake.existing_days("actions") == ["2025-03-01"]
    assert read_files(lake.all_files("actions")).column("x").to_pylist() == [7, 8, 9]
    # A re-run publishes the new version and removes the version it replaced.
    write_table_atomic(pa.table({"x": [1]}), lake.day_file("actions", "2025-03-01"))
    assert read_files(lake.all_files("actions")).column("x").to_pylist() == [1]
    names = [k.rsplit("/", 1)[1] for k in s3.keys(f"killed-{mode}/lake/actions/")]
    current = lake.day_file("actions", "2025-03-01").rsplit("/", 1)[1]
    assert {current, COMMIT_FILE} <= set(names)
    # Besides, only a dead writer's complete but unpublished object can be left (an upload cut short never
    # becomes an object); the next write deletes it once older than STRAY_GRACE_S (see test_lake.py).
    assert len(names) == (3 if mode == "before-commit" else 2)


def _at_once(count: int, work) -> None:
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            work(index)
        except BaseException as error:  # reported below: a thread's failure must fail the test
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


def test_concurrent_optouts_and_cursor_updates_lose_nothing(s3) -> None:
    state = s3.url("shared/state")
    _at_once(8, lambda i: [record_optout(state, f"p{i}-{n}") for n in range(5)])
    assert logged_optouts(state) == {f"p{i}-{n}" for i in range(8) for n in range(5)}
    _at_once(8, lambda i: save_cursor(state, "jetstream", 1_000 + i))
    assert load_cursor(state, "jetstream") == 1_007


def test_concurrent_archive_indexing_loses_no_entry(s3, tmp_path: Path) -> None:
    roots = []
    for worker in range(4):
        folder = tmp_path / f"w{worker}" / "2025-03" / "01" / "00"
        folder.mkdir(parents=True)
        (folder / f"events-{worker}.jsonl").write_text(
            json.dumps({"time_us": 1740787200000000 + worker}) + "\n"
        )
        roots.append(tmp_path / f"w{worker}")
    cache = s3.url("shared/state/archive_index_test.json")
    _at_once(4, lambda i: ArchiveIndex(roots[i], cache).files())
    merged = ArchiveIndex(roots[0], cache)._load_cache()
    assert sorted(merged) == sorted(f"2025-03/01/00/events-{w}.jsonl" for w in range(4))


def test_the_secret_must_come_from_the_environment_on_an_object_store(s3, monkeypatch) -> None:
    monkeypatch.delenv("BLUEPRINT_SECRET", raising=False)
    with pytest.raises(MissingSecretError) as failure:
        load_or_create_secret(s3.url("nosecret"))
    message = str(failure.value)
    assert "BLUEPRINT_SECRET" in message and "\n" not in message
    assert s3.keys("nosecret") == []
    monkeypatch.setenv("BLUEPRINT_SECRET", "from-a-kubernetes-secret")
    assert (
        load_or_create_secret(s3.url("nosecret"), Settings.from_env().secret) == b"from-a-kubernetes-secret"
    )
    assert s3.keys("nosecret") == []


# --- The pipeline: local folder and object store give the same tables -----------------------------------

DAYS = ("2025-03-01", "2025-03-02")
MONTH = "2025-03"
SECRET = "object-store-test-secret"


def _blueprint(args: list[str], env: dict, log: Path) -> float:
    """Run the real CLI as a user would; returns the seconds it took."""
    started = time.monotonic()
    with log.open("w") as out:
        result = subprocess.run([str(Path(sys.executable).parent / "blueprint"), *args], env=env, cwd=REPO,
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    assert result.returncode == 0, f"blueprint {' '.join(args)} failed:\n{log.read_text()[-3000:]}"
    return time.monotonic() - started


def _pipeline(data_dir: str, archive: Path, work: Path, extra_env: dict) -> dict[str, float]:
    """The daily pipeline then a release, with only BLUEPRINT_DATA_DIR naming where data goes."""
    env = {**os.environ, **extra_env, "BLUEPRINT_DATA_DIR": data_dir, "BLUEPRINT_SECRET": SECRET,
           "BLUEPRINT_K": "5", "PYTHONPATH": str(REPO), "BLUEPRINT_SCRATCH_DIR": str(work / "scratch")}  # fmt: skip
    env.pop("DAGSTER_HOME", None)
    timings = {"run": _blueprint(["run", "--source-dir", str(archive), "--from", DAYS[0], "--to", DAYS[1]],
                                 env, work / "run.log")}  # fmt: skip
    timings["release"] = _blueprint(["release", "--months", MONTH], env, work / "release.log")
    return timings


@pytest.fixture(scope="module")
def both_runs(s3, small_sample: Path, tmp_path_factory) -> dict:
    local_work, s3_work = tmp_path_factory.mktemp("local"), tmp_path_factory.mktemp("s3")
    local_root = str(local_work / "data")
    s3_root = s3.url("pipeline")
    timings = {
        "local": _pipeline(local_root, small_sample, local_work, {}),
        "object_store": _pipeline(s3_root, small_sample, s3_work, s3.env),
    }
    print(f"\npipeline seconds (run, release): {json.dumps(timings)}")
    return {"local": local_root, "s3": s3_root, "timings": timings, "s3_work": s3_work}


@pytest.mark.pipeline
def test_pipeline_and_release_on_the_object_store_equal_a_local_run(s3, both_runs) -> None:
    local, remote = lake_digests(both_runs["local"]), lake_digests(both_runs["s3"])
    tables = {name.split("/")[0] for name in local}
    assert {"raw_events", "actions", "anonymized_posts", "post_embeddings", "persona_clusters",
            "action_threads", "action_splits"} <= tables  # fmt: skip
    assert all(local[f"{table}/day={day}"][0] > 0 for table in ("raw_events", "actions") for day in DAYS)
    assert remote == local  # same partitions, same row counts, same content hashes
    local_release, remote_release = release_digests(both_runs["local"]), release_digests(both_runs["s3"])
    assert any(name.endswith(".parquet") for name in local_release)
    assert remote_release == local_release
    # Nothing was written outside the bucket prefix but scratch, and the secret is nowhere in the bucket.
    keys = s3.keys("pipeline/")
    assert not [k for k in keys if "secret" in k]
    assert not any(SECRET.encode() in s3.client().get_object(Bucket=BUCKET, Key=k)["Body"].read()
                   for k in keys if not k.endswith(".parquet"))  # fmt: skip


@pytest.mark.pipeline
def test_forget_removes_an_account_from_the_object_store(s3, both_runs) -> None:
    from blueprint_assets.lib.privacy.optout import forget_account
    from blueprint_assets.lib.privacy.pseudonyms import Pseudonymizer

    remote = both_runs["s3"]
    actions = read_files(Lake(remote).all_files("actions")).to_pylist()
    did = next(r["actor_did"] for r in actions if r["action"] == "post")
    pseudonym = Pseudonymizer(SECRET.encode())
    digests = storage.join(remote, "state", DIGEST_FOLDER)  # the leak scans' raw identifiers, as digests
    assert storage.list_files(digests)
    report = forget_account(remote, did, pseudonym)
    assert storage.list_files(digests) == []
    assert report.removed_rows["actions"] > 0 and MONTH in report.dropped_releases
    lake = Lake(remote)
    for table in ("raw_events", "actions", "anonymized_posts", "post_embeddings"):
        for path in lake.all_files(table):
            assert did not in repr(read_files([path]).to_pylist()), f"account still in {table}"
    assert pseudonym(did) in logged_optouts(storage.join(remote, "state"))
    assert storage.list_folders(storage.join(remote, "releases")) == []
    # The same forget on the local lake removes the same number of rows.
    assert forget_account(both_runs["local"], did, pseudonym).removed_rows == report.removed_rows
