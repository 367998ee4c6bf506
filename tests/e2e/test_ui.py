"""The Dagster UI, as a person sees it in a browser, over a demo data directory built with the real CLI."""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest
from support.e2e import MONTH, free_port
from support.e2e_browser import Page, chromium_page

from blueprint_assets.definitions import defs

# Every asset the pipeline is meant to have; the test also follows whatever definitions.py declares.
EXPECTED_ASSETS = {
    "raw_events", "actions", "anonymized_posts", "post_embeddings", "user_embeddings", "persona_clusters",
    "action_threads", "action_splits", "dataset_release", "privacy_audit_report",
}  # fmt: skip


def defined_assets() -> dict[str, str]:
    """Asset name -> group name, from the same Definitions object the webserver loads."""
    graph = defs.resolve_asset_graph()
    return {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}


WELCOME = "Join the Dagster community"


@pytest.fixture(scope="module")
def page(webserver) -> Iterator[Page]:
    # A wide window: the whole lineage graph fits at a readable zoom.
    with chromium_page(free_port(), width=2400, height=1300) as browser_page:
        # A fresh instance greets the first visitor with a dialog a little after the page loads; skip it
        # once, as a person would (the instance then remembers it), so it does not cover the screenshots.
        browser_page.navigate(f"{webserver}/assets")
        try:
            browser_page.wait_for_text([WELCOME], timeout=30)
            browser_page.click_text("Skip")
            browser_page.wait_for_absent(WELCOME)
        except AssertionError:
            pass  # no greeting on this instance or version
        yield browser_page


def shot(page: Page, artifacts, name: str) -> None:
    dismiss_welcome(page)
    page.settle()
    path = page.screenshot(artifacts / f"{name}.png")
    print(f"screenshot: {path}")


def dismiss_welcome(page: Page) -> None:
    """The first visit to a fresh instance shows a 'Join the Dagster community' dialog: skip it."""
    if WELCOME in page.text():
        page.click_text("Skip")
        page.wait_for_absent(WELCOME)


def graphql(base_url: str, query: str) -> dict:
    request = urllib.request.Request(
        f"{base_url}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        reply = json.loads(response.read())
    assert "errors" not in reply, reply.get("errors")
    return reply["data"]


def test_definitions_declare_the_whole_pipeline():
    assert EXPECTED_ASSETS - set(defined_assets()) == set()


def test_graphql_lists_every_asset_with_materializations(webserver):
    data = graphql(
        webserver,
        "{ assetNodes { assetKey { path } groupName assetMaterializations(limit: 1) { partition } } }",
    )
    served = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
    assert {name: node["groupName"] for name, node in served.items()} == defined_assets()
    # The demo materialized every asset: each has at least one materialization event.
    unmaterialized = sorted(name for name, node in served.items() if not node["assetMaterializations"])
    assert unmaterialized == []


def test_catalog_lists_every_asset(webserver, page, artifacts):
    page.navigate(f"{webserver}/assets")
    names = sorted(defined_assets())
    text = page.wait_for_text(["Asset name", *names])
    dismiss_welcome(page)
    # Wait for the status column too (materialized partition counts), so the screenshot is complete.
    page.wait_for_pattern(r"\d[\d,]* partitions")
    # One row per asset: each name is followed by its own description, so count the rows by their names.
    rows = [line for line in text.splitlines() if line.strip() in names]
    assert sorted(set(rows)) == names
    shot(page, artifacts, "asset_catalog")


def shown(name: str, text: str) -> bool:
    """True if the graph shows `name`, whole or middle-elided as the graph does ('privacy_au…_report')."""
    lines = {line.strip() for line in text.splitlines()}
    if name in lines:
        return True
    return any(
        (m := re.fullmatch(r"(.+)…(.+)", line)) and name.startswith(m[1]) and name.endswith(m[2])
        for line in lines
    )


def test_lineage_graph_shows_every_asset(webserver, page, artifacts):
    assets = defined_assets()
    groups = sorted(set(assets.values()))
    # Expand every group, the way the UI records it when a person clicks each collapsed group node.
    expanded = ",".join(f"global@global:{group}" for group in groups)
    page.navigate(f"{webserver}/asset-groups?{urllib.parse.urlencode({'expanded': expanded})}")
    page.wait_for_text(["Global asset lineage", *groups])
    dismiss_welcome(page)
    text = page.wait_for_text(["raw_events"])  # the nodes render after the layout is computed
    missing = [name for name in sorted(assets) if not shown(name, text)]
    assert missing == [], f"lineage graph lacks {missing}"
    shot(page, artifacts, "asset_lineage")


def open_markdown(page: Page, url: str, needles: list[str]) -> str:
    """Open an asset page, open its Markdown metadata dialog, wait for the rendered Markdown."""
    page.navigate(url)
    page.wait_for_text(["Metadata", "[Show Markdown]"])
    dismiss_welcome(page)
    assert page.click_text("[Show Markdown]"), "no [Show Markdown] button on the asset page"
    text = page.wait_for_text(needles)
    page.settle()
    page.scroll_to_top()  # the dialog is taller than the window: show its heading
    return text


def test_audit_report_page_shows_its_markdown(webserver, page, artifacts):
    name = "privacy_audit_report" if "privacy_audit_report" in defined_assets() else "dataset_release"
    needles = {
        "privacy_audit_report": [f"Privacy audit report: release {MONTH}", "Verdict: PASS", "PII removed"],
        "dataset_release": [f"BluePrint persona action threads ({MONTH})"],
    }[name]
    text = open_markdown(page, f"{webserver}/assets/{name}", needles)
    # Rendered as Markdown, not shown as source: no heading marks or table pipes left in the text.
    assert "# Privacy audit report" not in text and "|---|" not in text
    shot(page, artifacts, name)


def test_dataset_release_page_shows_the_dataset_card(webserver, page, artifacts):
    text = open_markdown(
        page,
        f"{webserver}/assets/dataset_release",
        [f"BluePrint persona action threads ({MONTH})", "Structure"],
    )
    assert "counts_by_split_and_action" in text and "manifest_sha256" in text
    shot(page, artifacts, "dataset_release")


def click_last(page: Page, label: str) -> bool:
    """Click the last button, link or tab whose text is exactly `label` (a detail pane's own tab)."""
    script = f"""(() => {{
        const nodes = [...document.querySelectorAll('button, a, [role=button], [role=tab]')]
            .filter(n => n.innerText && n.innerText.trim() === {json.dumps(label)});
        if (!nodes.length) return false;
        nodes[nodes.length - 1].click(); return true;
    }})()"""
    return bool(page.evaluate(script))


@pytest.mark.parametrize(("asset", "check", "partitions"), [("raw_events", "raw_events_quality", 2),
                                                             ("dataset_release", "dataset_release_manifest", 1)])  # fmt: skip
def test_passed_checks_show_as_passed(webserver, page, artifacts, asset, check, partitions):
    """The demo's checks passed: the asset page says so, for every partition the demo built (not Skipped)."""
    page.navigate(f"{webserver}/assets/{asset}?view=checks")
    text = page.wait_for_text(["Checks (", check, "Succeeded"])
    dismiss_welcome(page)
    listing = text[text.index("Checks (") : text.index("Execute all") + 200]
    assert "Skipped" not in listing and "Failed" not in listing
    assert click_last(page, "Partitions"), "no Partitions tab in the check's detail pane"
    text = page.wait_for_pattern(r"Passed \(\d+\)")
    assert f"Passed ({partitions})" in text
    assert "Skipped (0)" in text and "Failed (0)" in text
    shot(page, artifacts, f"checks_{asset}")


def test_audit_charts_render_in_the_markdown_view(webserver, page, artifacts):
    open_markdown(
        page, f"{webserver}/assets/privacy_audit_report", [f"Privacy audit report: release {MONTH}"]
    )
    widths = page.evaluate(
        "[...document.querySelectorAll('img')].filter(i => i.src.startsWith('data:image/png'))"
        ".map(i => i.complete ? i.naturalWidth : 0)"
    )
    assert len(widths) >= 2, "the audit's charts are not in the rendered Markdown"
    assert all(width > 0 for width in widths), f"a chart did not decode: {widths}"
    shot(page, artifacts, "privacy_audit_charts")


def test_table_assets_show_row_count_columns_kinds_and_owners(webserver, page, artifacts):
    page.navigate(f"{webserver}/assets/actions")
    text = page.wait_for_text(["Row count", "Columns", "event_key", "Owners", "Kinds", "DuckDB", "Parquet"])
    dismiss_welcome(page)
    assert "blueprint" in text[text.index("Owners") :]
    shot(page, artifacts, "actions_overview")


def test_every_table_asset_reports_row_count_and_columns(webserver):
    data = graphql(
        webserver,
        "{ assetNodes { assetKey { path } kinds owners { ... on TeamAssetOwner { team } } "
        "assetMaterializations(limit: 1) { metadataEntries { label } } } }",
    )
    for node in data["assetNodes"]:
        name = "/".join(node["assetKey"]["path"])
        assert node["owners"] and node["kinds"], name
        if name == "privacy_audit_report":  # a report, not a table
            continue
        labels = {entry["label"] for entry in node["assetMaterializations"][0]["metadataEntries"]}
        assert {"dagster/row_count", "dagster/column_schema"} <= labels, name
