"""Markdown reports of `scorer.score` and `scorer.score_matrix` results (pure Python, no Dagster).

Every report opens with the settings that decide the numbers (scoring mode and text encoder) and shows the
legacy action score (BluePrint's collapsed-label "F1") beside macro-F1 overall, common and rare.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from blueprint_assets.lib.actions_space import ACTION_ORDER

MODE_NOTES = {
    "default": "default (corrected metrics; see docs/scoring.md)",
    "blueprint": "blueprint (BluePrint's published metric code, artifacts included; see docs/scoring.md)",
}


def fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return lines


def settings_lines(result: Mapping[str, Any]) -> list[str]:
    """'Scoring mode: ...' and 'Text encoder: ...' lines."""
    settings = result.get("settings") or {}
    mode = settings.get("mode", "default")
    return [
        f"Scoring mode: {MODE_NOTES.get(mode, mode)}.",
        f"Text encoder: {settings.get('encoder') or 'unnamed (a caller-supplied embed function)'}.",
    ]


def headline_rows(result: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(label, value) of the headline metrics of a `score` result."""
    pop = result["population"]
    act, txt = pop["actions"], pop["text"]
    common = result["common_actions"]
    set_note = " (mean over clusters)" if txt.get("cluster_mean") else ""
    return [
        ("macro-F1 (13 actions)", act["macro_f1"]),
        (f"macro-F1 common ({', '.join(common)})", act["macro_f1_common"]),
        (f"macro-F1 rare (other {len(ACTION_ORDER) - len(common)})", act["macro_f1_rare"]),
        ("legacy action score (BluePrint's collapsed-label 'F1' = accuracy)", act["legacy_score"]),
        ("accuracy (= micro-F1)", act["accuracy"]),
        ("mean per-item text cosine", txt["mean_item_cosine"]),
        (f"average-embedding cosine{set_note}", txt["avg_embedding_cosine"]),
        (f"max cosine{set_note}", txt["max_cosine"]),
        (f"JS divergence (lower is better){set_note}", txt["js_divergence"]),
        ("TF-IDF top-100 Jaccard (mean over clusters)", txt["tfidf_jaccard"]),
    ]


CLUSTER_HEADER = (
    "cluster",
    "n",
    "macro-F1",
    "F1 common",
    "F1 rare",
    "legacy",
    "accuracy",
    "n text",
    "item cos",
    "avg-emb cos",
    "max cos",
    "JS",
    "Jaccard",
)


def cluster_rows(result: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """One row per cluster in CLUSTER_HEADER order."""
    rows = []
    for c, r in result["clusters"].items():
        a, t = r["actions"], r["text"]
        rows.append(
            (
                c,
                a["n"],
                a["macro_f1"],
                a["macro_f1_common"],
                a["macro_f1_rare"],
                a["legacy_score"],
                a["accuracy"],
                t["n_text_items"],
                t["mean_item_cosine"],
                t["avg_embedding_cosine"],
                t["max_cosine"],
                t["js_divergence"],
                t["tfidf_jaccard"],
            )
        )
    return rows


def render_report(result: Mapping[str, Any]) -> str:
    """Markdown report of a `score` result."""
    act, txt = result["population"]["actions"], result["population"]["text"]
    common = result["common_actions"]
    out = [
        "# Scoring report",
        "",
        *settings_lines(result),
        "",
        f"{result['n_items']} items in {result['n_clusters']} clusters; {txt['n_text_items']} in the text sets. "
        f"Common actions (2 most frequent in the answers): {', '.join(common) or 'none'}.",
        "",
        "## Headline",
        "",
    ]
    out += table(["metric", "value"], headline_rows(result))
    out += ["", "## Per cluster", "", *table(CLUSTER_HEADER, cluster_rows(result))]
    out += ["", "## Per action (population)", ""]
    out += table(
        ["action", "precision", "recall", "F1", "support"],
        [(a, v["precision"], v["recall"], v["f1"], v["support"]) for a, v in act["per_class"].items()],
    )
    out += ["", "## Confusion matrix (rows = true, columns = predicted)", ""]
    out += table(
        ["true \\ pred", *ACTION_ORDER],
        [(a, *row) for a, row in zip(ACTION_ORDER, act["confusion"], strict=True)],
    )
    return "\n".join(out) + "\n"


def render_matrix_report(result: Mapping[str, Any]) -> str:
    """Markdown report of a `score_matrix` result: diagonality per metric, then each matrix."""
    clusters = result["clusters"]
    out = [
        "# Cluster x model scoring",
        "",
        *settings_lines(result),
        "",
        "Rows: the cluster whose answers are scored; columns: the model of that cluster. "
        "Diagonality = 1 - off-diagonal / total (JS first mapped to 1/(1+x)); 1 is best. "
        "TF-IDF: one vectorizer fitted on every (cluster, source) document of the whole matrix.",
        "",
    ]
    out += table(["metric", "diagonality"], [(n, m["diagonality"]) for n, m in result["metrics"].items()])
    for name, m in result["metrics"].items():
        out += ["", f"## {name}{' (lower is better)' if m['lower_is_better'] else ''}", ""]
        out += table(
            ["cluster \\ model", *map(str, clusters)],
            [(c, *row) for c, row in zip(clusters, m["matrix"], strict=True)],
        )
    return "\n".join(out) + "\n"
