"""The release folder: layout, hidden answers, dataset card, reproducibility and the manifest gate."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import yaml
from support.release_inputs import (
    CFG,
    CLUSTERS,
    CONTEXT,
    LAKE_SECRET,
    PERSONAS,
    RELEASE_SECRET,
    anonymized_rows,
)

from blueprint_assets.lib.actions_space import ACTION_ORDER, one_hot
from blueprint_assets.lib.release.files import verify_manifest, write_release
from blueprint_assets.lib.release.splits import split_threads
from blueprint_assets.lib.release.threads import build_threads


@pytest.fixture(scope="module")
def splits() -> dict[str, list[dict]]:
    result = build_threads(anonymized_rows(), CLUSTERS, secret=RELEASE_SECRET)
    assert {t["action"] for t in result.threads} == set(ACTION_ORDER)
    return split_threads(result.threads)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_layout_is_exactly_the_contract(tmp_path: Path, splits: dict) -> None:
    out = tmp_path / "releases" / "2025-03"
    summary = write_release(out, splits, PERSONAS, CONTEXT)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    public = (
        ["MANIFEST.json", "README.md"]
        + [f"{CFG}/data/{s}.parquet" for s in ("test", "train", "validation")]
        + [f"{CFG}/personas/cluster_0.md", f"{CFG}/personas/cluster_1.md"]
        + [f"{CFG}/{s}/cluster_{c}.jsonl" for s in ("test", "train", "validation") for c in (0, 1)]
    )
    private = ["MANIFEST.json"] + [
        f"{CFG}/answers/{s}.{ext}" for s in ("test", "validation") for ext in ("jsonl", "parquet")
    ]
    assert files == sorted([f"public/{f}" for f in public] + [f"private/{f}" for f in private])
    assert summary["files"] == len(files)
    published = {name: sum(counts.values()) for name, counts in summary["counts"].items()}
    total = {name: len(threads) for name, threads in splits.items()}
    assert sum(published.values()) + summary["reveals_hidden_answer"] == sum(total.values())
    assert published["train"] == total["train"] and summary["reveals_hidden_answer"] > 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["2025-03"]  # no temp folder left beside
    assert (out / "public" / CFG / "personas" / "cluster_0.md").read_text() == PERSONAS[0] + "\n"


def test_parquet_jsonl_and_answers_agree_and_hide_the_answers(tmp_path: Path, splits: dict) -> None:
    out = tmp_path / "rel"
    stats = write_release(out, splits, PERSONAS, CONTEXT)["counts"]
    for name in ("train", "validation", "test"):
        table = pq.read_table(out / "public" / CFG / "data" / f"{name}.parquet")
        assert table.column_names == ["id", "cluster_id", "thread"]
        assert table.num_rows == sum(stats[name].values()) > 0
        jsonl = read_jsonl(out / "public" / CFG / name / "cluster_0.jsonl") + read_jsonl(
            out / "public" / CFG / name / "cluster_1.jsonl"
        )
        assert sorted(r["id"] for r in jsonl) == sorted(table.column("id").to_pylist())
        assert all(list(r) == ["id", "cluster_id", "thread"] for r in jsonl)
        assert all(r["cluster_id"] == 0 for r in read_jsonl(out / "public" / CFG / name / "cluster_0.jsonl"))
        lasts = [r["thread"][-1] for r in jsonl]
        if name == "train":
            assert all(sum(m["actions"].values()) == 1 for m in lasts)
            assert all(list(m["actions"]) == list(ACTION_ORDER) for m in lasts)
            continue
        assert all(set(m) == {"user_id", "relative_integer_time"} for m in lasts)
        assert all(
            m["text"] is None and m["actions"] is None
            for m in (r[-1] for r in table.column("thread").to_pylist())
        )
        answers = read_jsonl(out / "private" / CFG / "answers" / f"{name}.jsonl")
        assert [a["id"] for a in answers] == [r["id"] for r in table.to_pylist()]
        originals = {t["id"]: t for t in splits[name]}
        for answer in answers:
            original = originals[answer["id"]]
            assert list(answer) == ["id", "cluster_id", "action", "actions", "text"]
            assert answer["actions"] == one_hot(original["action"]) and answer["action"] == original["action"]
            assert answer["text"] == original["thread"][-1].get("text")
        assert pq.read_table(out / "private" / CFG / "answers" / f"{name}.parquet").to_pylist() == answers


def test_duckdb_reads_the_release_and_counts_match(tmp_path: Path, splits: dict) -> None:
    out = tmp_path / "rel"
    stats = write_release(out, splits, PERSONAS, CONTEXT)["counts"]
    con = duckdb.connect()
    for name in ("train", "validation", "test"):
        path = str(out / "public" / CFG / "data" / f"{name}.parquet")
        (count,) = con.execute("SELECT count(*) FROM read_parquet(?)", [path]).fetchone()
        assert count == sum(stats[name].values())
    by_action = dict(
        con.execute(
            "SELECT action, count(*) FROM read_json_auto(?) GROUP BY action",
            [str(out / "private" / CFG / "answers" / "test.jsonl")],
        ).fetchall()
    )
    assert by_action == {a: n for a, n in stats["test"].items() if n}
    (likes,) = con.execute(
        'SELECT count(*) FROM read_parquet(?) WHERE thread[len(thread)].actions."like"',
        [str(out / "public" / CFG / "data" / "train.parquet")],
    ).fetchone()
    assert likes == stats["train"]["like"]


def test_dataset_card_header_and_prose(tmp_path: Path, splits: dict) -> None:
    out = tmp_path / "rel"
    stats = write_release(out, splits, PERSONAS, {**CONTEXT, "dropped": {"target_post_unknown": 3}})["counts"]
    card = (out / "public" / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\n")
    header = yaml.safe_load(card.split("---\n")[1])
    assert header["license"] == "cc-by-4.0"
    assert header["task_categories"]
    assert header["configs"][0]["config_name"] == CFG
    assert header["configs"][0]["data_files"] == [
        {"split": s, "path": f"{CFG}/data/{s}.parquet"} for s in ("train", "validation", "test")
    ]
    assert {s["name"]: s["num_examples"] for s in header["dataset_info"][0]["splits"]} == {
        s: sum(stats[s].values()) for s in ("train", "validation", "test")
    }
    for phrase in ("## Collection", "## Filtering", "## Privacy measures", "## Known residual risks"):
        assert phrase in card
    assert "blueprint forget" in card and "per-thread" in card and "temporal" in card
    assert "`target_post_unknown`: 3" in card
    like_row = next(line for line in card.splitlines() if line.startswith("| like |"))
    assert like_row == f"| like | {stats['train']['like']} |"  # hidden splits: totals only
    assert f"validation {sum(stats['validation'].values())}, test {sum(stats['test'].values())}" in card
    assert "(7 opt-outs applied)" in (
        write_release(tmp_path / "o", splits, PERSONAS, {**CONTEXT, "opt_outs": 7})
        and (tmp_path / "o" / "public" / "README.md")
    ).read_text(encoding="utf-8")
    stable = tmp_path / "stable"
    write_release(
        stable, splits, PERSONAS, {**CONTEXT, "pseudonym_mode": "stable", "license": "cc-by-nc-4.0"}
    )
    stable_card = (stable / "public" / "README.md").read_text(encoding="utf-8")
    assert "**stable**" in stable_card and "license: cc-by-nc-4.0" in stable_card


def test_rebuild_is_byte_identical_and_replaces_in_place(tmp_path: Path, splits: dict) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    s1 = write_release(first, splits, PERSONAS, CONTEXT)
    reordered = {name: list(reversed(threads)) for name, threads in splits.items()}
    s2 = write_release(second, reordered, dict(reversed(list(PERSONAS.items()))), CONTEXT)
    assert s1["manifest_sha256"] == s2["manifest_sha256"]
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for rel in files:
        assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel
    # Rebuilding over an existing release replaces it (a stale file disappears) with the same bytes.
    (first / "stale.txt").write_text("old")
    assert write_release(first, splits, PERSONAS, CONTEXT)["manifest_sha256"] == s1["manifest_sha256"]
    assert not (first / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


def test_a_failed_parquet_write_fails_the_release_and_keeps_the_old_one(
    tmp_path: Path, splits: dict, monkeypatch
) -> None:
    """The Parquet files are written on a thread of their own: its error still reaches the caller, and the
    release already in place is left as it was, with no temporary folder beside it."""
    from blueprint_assets.lib.release import files

    out = tmp_path / "2025-03"
    before = write_release(out, splits, PERSONAS, CONTEXT)["manifest_sha256"]
    real = files._write_parquet

    def failing(table, path: Path) -> None:
        if path.name == "validation.parquet" and path.parent.name == "answers":
            raise OSError("disk full")
        real(table, path)

    monkeypatch.setattr(files, "_write_parquet", failing)
    with pytest.raises(OSError, match="disk full"):
        write_release(out, splits, PERSONAS, CONTEXT)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2025-03"]
    assert not verify_manifest(out)
    assert files.sha256_file(out / "public" / "MANIFEST.json") == before


def test_verify_manifest_catches_changed_missing_and_extra_files(tmp_path: Path, splits: dict) -> None:
    out = tmp_path / "rel"
    write_release(out, splits, PERSONAS, CONTEXT)
    assert verify_manifest(out) == []
    manifest = json.loads((out / "public" / "MANIFEST.json").read_text())
    assert list(manifest) == sorted(manifest) and "MANIFEST.json" not in manifest
    data = out / "public" / CFG / "data" / "test.parquet"
    corrupted = bytearray(data.read_bytes())
    corrupted[len(corrupted) // 2] ^= 0xFF
    data.write_bytes(bytes(corrupted))
    (out / "public" / CFG / "personas" / "cluster_1.md").unlink()
    (out / "public" / CFG / "train" / "cluster_9.jsonl").write_text("{}\n")
    assert verify_manifest(out) == [
        f"changed: public/{CFG}/data/test.parquet",
        f"missing: public/{CFG}/personas/cluster_1.md",
        f"extra: public/{CFG}/train/cluster_9.jsonl",
    ]
    (out / "public" / "MANIFEST.json").unlink()
    (out / "private" / CFG / "answers" / "test.jsonl").write_text("")
    assert verify_manifest(out) == [
        "missing: public/MANIFEST.json",
        f"changed: private/{CFG}/answers/test.jsonl",
    ]


def test_no_lake_identifier_or_clock_time_is_published(tmp_path: Path, splits: dict) -> None:
    out = tmp_path / "rel"
    write_release(out, splits, PERSONAS, CONTEXT)
    rows = anonymized_rows()
    secrets_and_ids = {RELEASE_SECRET.decode(), LAKE_SECRET.decode()}
    for row in rows:
        secrets_and_ids |= {
            row["actor"][:16],
            row["record_id"][:16],
            row["event_id"][:16],
            str(row["time_us"]),
        }
    for path in out.rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            leaks = [s for s in secrets_and_ids if s.encode() in blob]
            assert leaks == [], path
    shutil.rmtree(out)


def test_overlapping_splits_are_refused(tmp_path: Path, splits: dict) -> None:
    overlapping = {**splits, "test": splits["test"] + splits["train"][:1]}
    with pytest.raises(ValueError, match="disjoint"):
        write_release(tmp_path / "bad", overlapping, PERSONAS, CONTEXT)
    with pytest.raises(ValueError, match="unknown split"):
        write_release(tmp_path / "bad", {"dev": []}, PERSONAS, CONTEXT)
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left behind


def _hidden_index(out: Path):
    from blueprint_assets.lib.release.answer_leaks import AnswerIndex, load_answer_rows
    from blueprint_assets.lib.release.layout import answer_files

    return AnswerIndex(load_answer_rows(answer_files(out)))


def test_public_folder_holds_no_answer_and_planting_one_is_caught(tmp_path: Path, splits: dict) -> None:
    from blueprint_assets.lib.release.public_scan import scan_public

    out = tmp_path / "rel"
    write_release(out, splits, PERSONAS, CONTEXT)
    index = _hidden_index(out)
    answers = read_jsonl(out / "private" / CFG / "answers" / "test.jsonl")
    assert len(index) == len(answers) + len(
        read_jsonl(out / "private" / CFG / "answers" / "validation.jsonl")
    )
    assert scan_public(out / "public", index) == []
    with_text = next(a for a in answers if a["text"] and len(a["text"]) >= 16)
    # An answer text planted in a persona card (Markdown-escaped, inside other words) is found.
    card = out / "public" / CFG / "personas" / "cluster_0.md"
    card.write_text(card.read_text() + "\n> Said: " + with_text["text"].replace("é", "é") + " indeed\n")
    [finding] = scan_public(out / "public", index)
    assert finding.startswith(f"{CFG}/personas/cluster_0.md: holds the text of 1 hidden answer")


def test_scan_catches_answers_files_and_restored_actions_in_public(tmp_path: Path, splits: dict) -> None:
    from blueprint_assets.lib.release.public_scan import scan_public

    out = tmp_path / "rel"
    write_release(out, splits, PERSONAS, CONTEXT)
    index = _hidden_index(out)
    shutil.copytree(out / "private" / CFG / "answers", out / "public" / "answers")
    findings = scan_public(out / "public", index)
    assert "answers/test.jsonl: an answers folder inside public/" in findings
    shutil.rmtree(out / "public" / "answers")
    rows = read_jsonl(out / "public" / CFG / "test" / "cluster_0.jsonl")
    rows[0]["thread"][-1]["actions"] = one_hot("like")
    (out / "public" / CFG / "test" / "cluster_0.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows)
    )
    [finding] = scan_public(out / "public", index)
    assert (
        finding.startswith(f"{CFG}/test/cluster_0.jsonl: hidden thread") and "carries its action" in finding
    )


def test_answer_index_with_a_shared_opening_finds_exactly_the_planted_answers() -> None:
    from blueprint_assets.lib.release.answer_leaks import AnswerIndex

    answers = [{"id": f"a{i}", "text": f"some text number {i} about things"} for i in range(3000)]
    answers.append({"id": "twin", "text": "some text number 7 about things"})
    index = AnswerIndex(answers)
    haystack = "intro some text number 7 about things and some text number 2999 about things end"
    assert index.hits(haystack) == ["a2999", "a7", "twin"]
    assert index.hits("some text number 30000 about things") == []


@pytest.mark.parametrize("workers", [1, 2])
def test_bulk_answer_scan_finds_what_the_per_position_lookup_finds(workers: int) -> None:
    """In one process or shared by forked workers, the bulk scan finds what the exact lookup finds."""
    import random

    from blueprint_assets.lib.release.answer_leaks import AnswerIndex, _prepare

    rng = random.Random(8)
    words = ["the", "cat", "ünï", "✓", "🌱", "garden", "\\", '"', "about", "things", "\ud800", "x", "\t", "*"]

    def text(n: int) -> str:
        return " ".join(rng.choice(words) for _ in range(n))

    answers = [{"id": f"a{i}", "text": text(rng.randint(2, 40))} for i in range(800)]
    index = AnswerIndex(answers, workers=workers)
    haystacks = [
        text(rng.randint(0, 30)) + ("\n" + rng.choice(answers)["text"] if rng.random() < 0.2 else "")
        for _ in range(3000)
    ]
    expected = [index._exact(_prepare(h, False)) for h in haystacks]
    assert sum(map(bool, expected)) > 500
    assert index.hits_many(haystacks) == expected
    assert index.flags_many(haystacks) == [bool(ids) for ids in expected]
    assert index.hits("\n\n".join(haystacks)) == index._exact(_prepare("\n\n".join(haystacks), False))
    assert index.hits_many(["\\* " + h for h in haystacks[:50]], markdown=True) == [
        index._exact(_prepare("\\* " + h, True)) for h in haystacks[:50]
    ]
    assert AnswerIndex([]).hits_many(["anything at all here"]) == [[]]
    assert AnswerIndex([]).flags_many(["anything at all here"]) == [False]


def test_answers_sharing_long_openings_are_all_found_in_bulk() -> None:
    """Many answers with one long opening and many lengths (reply templates): each anchors elsewhere."""
    from blueprint_assets.lib.release.answer_leaks import AnswerIndex, _prepare

    opening = "Thanks for sharing, I had no idea that "
    answers = [{"id": f"a{i}", "text": opening + "x" * (i % 97) + f" {i}"} for i in range(2000)]
    index = AnswerIndex(answers)
    haystacks = [f"pre {a['text']} post" for a in answers[::7]] + [opening + "nothing here", opening * 3]
    expected = [index._exact(_prepare(h, False)) for h in haystacks]
    assert all(expected[: len(answers[::7])]) and not any(expected[-2:])
    assert index.hits_many(haystacks) == expected


def test_a_long_answer_cut_at_a_space_is_found_in_the_text_it_was_cut_from() -> None:
    """A post edited by appending: its first MAX_COMPARED characters are the original, whose last word
    ends right where the cut falls (the cut would otherwise keep the space and miss the original)."""
    from blueprint_assets.lib.release.answer_leaks import MAX_COMPARED, AnswerIndex

    original = ("word " * 60)[: MAX_COMPARED - 1]
    assert original.endswith("word") and len(original) == MAX_COMPARED - 1
    index = AnswerIndex([{"id": "edit", "text": original + " (edit: typo)"}])
    assert index.hits(original) == ["edit"]
    assert index.flags_many(["context: " + original, "nothing"]) == [True, False]


def test_the_public_scan_reads_each_string_of_a_row_on_its_own(tmp_path: Path) -> None:
    """As the writer screens them: an answer is found inside one message's text, never across two."""
    from blueprint_assets.lib.release.answer_leaks import AnswerIndex
    from blueprint_assets.lib.release.public_scan import scan_public

    index = AnswerIndex([{"id": "hidden-1", "text": "I agree with you completely"}])
    public = tmp_path / "public"
    public.mkdir()
    across = {"id": "t1", "thread": [{"text": "well, I agree"}, {"text": "with you completely, yes"}]}
    (public / "across.jsonl").write_text(json.dumps(across) + "\n")
    assert scan_public(public, index) == []
    inside = {"id": "t2", "thread": [{"text": "so I agree with you completely."}]}
    (public / "inside.jsonl").write_text(json.dumps(inside) + "\n")
    assert scan_public(public, index) == [
        "inside.jsonl: holds the text of 1 hidden answer(s), e.g. hidden-1…"
    ]


def test_json_lines_arrow_cannot_read_are_scanned_row_by_row(tmp_path: Path) -> None:
    from blueprint_assets.lib.release.answer_leaks import AnswerIndex
    from blueprint_assets.lib.release.public_scan import scan_public

    index = AnswerIndex([{"id": "hidden-2", "text": "a hidden answer of some length"}])
    public = tmp_path / "public"
    public.mkdir()
    hidden_row = {"id": "hidden-2", "thread": [{"text": "context"}, {"text": "restored", "actions": None}]}
    lines = [json.dumps(hidden_row), "not JSON: a hidden answer of some length, pasted"]
    (public / "odd.jsonl").write_text("\n".join(lines) + "\n")
    assert scan_public(public, index) == [
        "odd.jsonl: hidden thread hidden-2… last message carries its action or text",
        "odd.jsonl: holds the text of 1 hidden answer(s), e.g. hidden-2…",
    ]


def test_date_like_strings_in_json_lines_are_still_compared(tmp_path: Path) -> None:
    """Arrow would read these strings as timestamps; such a file is read row by row instead."""
    from blueprint_assets.lib.release.answer_leaks import AnswerIndex
    from blueprint_assets.lib.release.public_scan import scan_public

    index = AnswerIndex([{"id": "hidden-3", "text": "2024-01-01T10:00:00"}])
    public = tmp_path / "public"
    public.mkdir()
    rows = [
        {"id": "t1", "thread": [{"text": "2024-01-01T10:00:00"}]},
        {"id": "t2", "thread": [{"text": "x"}]},
    ]
    (public / "dates.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert scan_public(public, index) == ["dates.jsonl: holds the text of 1 hidden answer(s), e.g. hidden-3…"]


def test_the_public_scan_finds_the_same_in_batches_of_one_string(tmp_path: Path, monkeypatch) -> None:
    """A batch closes at BATCH_STRINGS distinct strings; closing after every file changes no finding."""
    from blueprint_assets.lib.release import public_scan
    from blueprint_assets.lib.release.answer_leaks import AnswerIndex

    index = AnswerIndex([{"id": "hidden-4", "text": "an answer that must stay hidden"}])
    public = tmp_path / "public"
    public.mkdir()
    for name, text in (("a", "nothing here"), ("b", "so: an answer that must stay hidden!"), ("c", "x")):
        (public / f"{name}.jsonl").write_text(json.dumps({"id": name, "thread": [{"text": text}]}) + "\n")
    whole = public_scan.scan_public(public, index)
    monkeypatch.setattr(public_scan, "BATCH_STRINGS", 1)
    assert public_scan.scan_public(public, index) == whole
    assert whole == ["b.jsonl: holds the text of 1 hidden answer(s), e.g. hidden-4…"]


def test_each_k_after_the_first_looks_its_texts_up_and_screens_only_new_ones() -> None:
    """The writer's leak screen across the Ks of a release (files._Screened) flags exactly what
    `AnswerIndex.flags_many` flags, whether a text was screened for an earlier K or is new."""
    import pyarrow as pa

    from blueprint_assets.lib.release.answer_leaks import AnswerIndex
    from blueprint_assets.lib.release.files import _Screened

    index = AnswerIndex([{"id": "a1", "text": "the hidden answer text here"}])
    first = ["ok then", "so: the hidden answer text here!", "", "ok then"]
    later = ["so: the hidden answer text here!", "new: the hidden answer text here", "ok then", "fresh text"]
    screened = _Screened()
    for texts in (first, later):
        assert screened.leaking(pa.array(texts), index).tolist() == index.flags_many(texts)
    assert screened.texts.to_pylist() == ["ok then", "so: the hidden answer text here!", "",
                                          "new: the hidden answer text here", "fresh text"]  # fmt: skip
