"""Several granularities in one release, loaded through `datasets`; the dataset card's required content."""

from __future__ import annotations

import yaml
from support.release_inputs import CONTEXT, two_granularities

from blueprint_assets.lib.release.files import write_release
from blueprint_assets.lib.release.provenance import PAPER_BIBTEX, card_header, card_problems


def test_each_k_is_a_config_that_datasets_loads(tmp_path, monkeypatch) -> None:
    import datasets

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    out = tmp_path / "rel"
    context = {**CONTEXT, "skipped_ks": {1000: "4 in-scope users < K × min_cluster_size = 1000 × 10"}}
    summary = write_release(out, two_granularities(), card_context=context)
    card = (out / "public" / "README.md").read_text()
    header = card_header(card)
    assert [c["config_name"] for c in header["configs"]] == ["2_clusters", "4_clusters"]
    assert "K=1000 was requested but skipped: 4 in-scope users" in card
    assert header["blueprint"]["skipped_granularities"] == {1000: context["skipped_ks"][1000]}
    for k in (2, 4):
        ds = datasets.load_dataset(str(out / "public"), f"{k}_clusters", cache_dir=str(tmp_path / "cache"))
        assert set(ds) == {"train", "validation", "test"}
        counts = summary["counts_by_k"][k]
        assert {s: ds[s].num_rows for s in ds} == {s: sum(counts[s].values()) for s in ds}
        assert set(ds["train"]["cluster_id"]) == set(range(k))
        last = ds["test"][0]["thread"][-1]
        assert last["actions"] is None and last["text"] is None
    # The same threads are in the same split in every config: only cluster_id and id differ.
    threads = {}
    for k in (2, 4):
        ds = datasets.load_dataset(str(out / "public"), f"{k}_clusters", cache_dir=str(tmp_path / "cache"))
        threads[k] = {s: sorted(str(r["thread"]) for r in ds[s]) for s in ("train", "test")}
    assert threads[2] == threads[4]


def test_card_has_values_removal_citation_contact_licence_and_synthetic_notice(tmp_path) -> None:
    out = tmp_path / "rel"
    filters = {"min_english_posts": 2, "require_keywords": False, "min_cluster_size": 10}
    context = {**CONTEXT, "filters": filters, "contact": "privacy@example.org", "synthetic_sample": True}
    write_release(out, two_granularities(), card_context=context)
    card = (out / "public" / "README.md").read_text()
    prose = card.split("---\n", 2)[2].lstrip()
    assert prose.splitlines()[0].startswith("# ") and "Synthetic sample" in prose.splitlines()[2]
    assert card_header(card)["blueprint"]["synthetic_sample"] is True
    assert "synthetic" in card_header(card)["tags"]
    assert "- `min_english_posts` = `2`" in card
    assert "- `min_cluster_size` = `10` (set with `BLUEPRINT_MIN_CLUSTER_SIZE`)" in card
    assert "- `require_keywords` = `False` (set with `BLUEPRINT_REQUIRE_KEYWORDS`)" in card
    assert "`blueprint forget --did <DID>`" in card and "`blueprint forget --list <file" in card
    assert "blueprint forget <handle" not in card
    assert (
        "privacy@example.org" in card and card_header(card)["blueprint"]["contact"] == "privacy@example.org"
    )
    assert PAPER_BIBTEX in card and "@misc{blueprint_release_2025_03," in card
    assert "remains the work of its author" in card
    assert card_problems(card) == []
    real = tmp_path / "real"
    write_release(real, two_granularities(), card_context={**CONTEXT, "gated": True})
    real_card = (real / "public" / "README.md").read_text()
    assert (
        "Synthetic sample" not in real_card
        and card_header(real_card)["blueprint"]["synthetic_sample"] is False
    )
    assert card_header(real_card)["extra_gated_fields"]
    assert card_problems(real_card) == [
        "contact: no contact configured (set BLUEPRINT_CONTACT and rebuild the release)"
    ]
    assert yaml.safe_load(real_card.split("---\n")[1])["license"] == "cc-by-4.0"


def test_cli_forget_options_are_the_ones_the_card_names() -> None:
    from blueprint_assets.cli import build_parser

    forget = build_parser()._subparsers._group_actions[0].choices["forget"]
    assert {"--did", "--list"} <= {o for a in forget._actions for o in a.option_strings}
