"""`blueprint baseline leaderboard`: every baseline (and outside predictions) scored on every split that has
answers, with every metric the scorer computes, per-cluster tables and a PNG chart (pure Python, no Dagster).

Validation and test answers are read through `submissions.resolve_answers_path` (the release's private
answers folder). Each baseline is fitted once on train; its diagonality comes from the cluster x model
matrix where model m is the baseline fitted to cluster m applied to every cluster's threads (targets
relabelled to m), scored by `scorer.score_matrix` with one shared TF-IDF. Outside prediction files
(`--predictions name=path`) are scored on the split whose ids they cover; they have no diagonality.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from blueprint_assets.lib.evaluation import baselines, scorer
from blueprint_assets.lib.evaluation.score_report import settings_lines, table

SPLITS = ("validation", "test")
MAIN_COLUMNS = (
    ("macro-F1", "actions", "macro_f1"),
    ("F1 common", "actions", "macro_f1_common"),
    ("F1 rare", "actions", "macro_f1_rare"),
    ("accuracy", "actions", "accuracy"),
    ("legacy", "actions", "legacy_score"),
    ("item cos", "text", "mean_item_cosine"),
    ("avg-emb cos", "text", "avg_embedding_cosine"),
    ("max cos", "text", "max_cosine"),
    ("JS", "text", "js_divergence"),
    ("Jaccard", "text", "tfidf_jaccard"),
)
DIAGONALITY_METRICS = scorer.MATRIX_METRICS
Progress = Callable[[str], None]


@dataclasses.dataclass
class Entry:
    """One row of a split's table: a score result and, for baselines, the matrix result."""

    name: str
    result: dict[str, Any]
    matrix: dict[str, Any] | None = None


def parse_named_paths(values: Sequence[str]) -> dict[str, Path]:
    """`name=path` pairs (a bare path is named by its file stem)."""
    out: dict[str, Path] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep:
            name, path = Path(value).stem, value
        if not name or not path or name in out:
            raise scorer.ScoringError(f"--predictions {value!r}: expected name=path with a unique name")
        out[name] = Path(path)
    return out


def _silent(message: str) -> None:
    """The default progress sink: the library prints nothing (the CLI passes a printer)."""


def available_splits(
    release: str | Path, k: int | None, wanted: Sequence[str], progress: Progress = _silent
) -> dict[str, dict]:
    """split -> answers, for the wanted splits whose answers the release holds (a skipped one is reported)."""
    found = {}
    for split in wanted:
        try:
            found[split] = scorer.load_answers(release, split, k)
        except scorer.ScoringError:
            progress(f"no {split} answers in {release}; skipped")
    if not found:
        raise scorer.ScoringError(f"no answers for {', '.join(wanted)} in {release}")
    return found


def _matrix(
    predictor: baselines.Predictor,
    targets: Sequence[baselines.Thread],
    answers: Mapping[str, scorer.Answer],
    embed: scorer.Embed,
    mode: str,
) -> dict[str, Any]:
    clusters = sorted({a.cluster_id for a in answers.values()})
    models = {
        m: baselines.as_predictions(predictor([dataclasses.replace(t, cluster_id=m) for t in targets]))
        for m in clusters
    }
    return scorer.score_matrix(models, answers, embed, mode)


def build(
    release: str | Path,
    embed: scorer.Embed,
    outside: Mapping[str, Path] | None = None,
    splits: Sequence[str] = SPLITS,
    k: int | None = None,
    mode: str = "default",
    diagonality: bool = True,
    progress: Progress = _silent,
    workers: int = 1,
) -> dict[str, list[Entry]]:
    """split -> leaderboard entries (baselines first, then outside predictions); `progress` gets a line per
    baseline and per skipped split; `workers` threads fit the LightGBM models."""
    answers_by_split = available_splits(release, k, splits, progress)
    embed = scorer.cached_embed(embed)
    train = baselines.load_split(release, "train", k)
    targets = {s: baselines.load_split(release, s, k) for s in answers_by_split}
    board: dict[str, list[Entry]] = {s: [] for s in answers_by_split}
    for name in baselines.BASELINES:
        progress(name)
        predictor = baselines.fit_baseline(name, train, embed, workers)
        for split, answers in answers_by_split.items():
            preds = baselines.as_predictions(predictor(targets[split]))
            result = scorer.score(answers, preds, embed, mode)
            matrix = _matrix(predictor, targets[split], answers, embed, mode) if diagonality else None
            board[split].append(Entry(name, result, matrix))
    for name, path in (outside or {}).items():
        preds = scorer.load_predictions(path)
        split = next((s for s, a in answers_by_split.items() if set(a) == set(preds)), None)
        if split is None:
            raise scorer.ScoringError(
                f"predictions {name} ({path.name}): its ids match no split's answers "
                f"({', '.join(answers_by_split)}); run `blueprint score` to see which ids differ"
            )
        board[split].append(Entry(name, scorer.score(answers_by_split[split], preds, embed, mode)))
    return board


def _cell(result: Mapping[str, Any], block: str, key: str) -> Any:
    return result["population"][block][key]


def render(board: Mapping[str, list[Entry]], release: str | Path, chart: str | None = None) -> str:
    """Markdown: per split, the main table, the diagonality table and the per-cluster tables."""
    first = next(e for entries in board.values() for e in entries)
    out = ["# Leaderboard", "", f"Release: `{Path(release).name}`.", *settings_lines(first.result), ""]
    out += [
        "Common/rare: macro-F1 over the 2 most frequent actions of the split / over the other 11. legacy: "
        "BluePrint's collapsed-label action score. JS: lower is better. Diagonality: cluster x model matrix "
        "(model m = the baseline fitted to cluster m, applied to every cluster), 1 - off-diagonal / total.",
    ]
    if chart:
        out += ["", f"![per-cluster macro-F1 by baseline]({chart})"]
    for split, entries in board.items():
        out += ["", f"## {split}", ""]
        out += table(
            ["baseline", *(c for c, _, _ in MAIN_COLUMNS)],
            [(e.name, *(_cell(e.result, b, k) for _, b, k in MAIN_COLUMNS)) for e in entries],
        )
        with_matrix = [e for e in entries if e.matrix]
        if with_matrix:
            out += ["", f"### Diagonality ({split})", ""]
            out += table(
                ["baseline", *DIAGONALITY_METRICS],
                [
                    (e.name, *(e.matrix["metrics"][m]["diagonality"] for m in DIAGONALITY_METRICS))
                    for e in with_matrix
                ],
            )
        for label, block, key in (
            ("macro-F1", "actions", "macro_f1"),
            ("avg-emb cos", "text", "avg_embedding_cosine"),
        ):
            out += ["", f"### Per-cluster {label} ({split})", ""]
            clusters = list(entries[0].result["clusters"])
            out += table(
                ["cluster", "n", *(e.name for e in entries)],
                [
                    (
                        c,
                        entries[0].result["clusters"][c]["actions"]["n"],
                        *(e.result["clusters"][c][block][key] for e in entries),
                    )
                    for c in clusters
                ],
            )
    return "\n".join(out) + "\n"


def write_chart(board: Mapping[str, list[Entry]], path: str | Path) -> Path:
    """PNG: per-cluster macro-F1 by baseline, one panel per split."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(len(board), 1, figsize=(12, 3.6 * len(board)), squeeze=False)
    for ax, (split, entries) in zip(axes[:, 0], board.items(), strict=True):
        clusters = list(entries[0].result["clusters"])
        width = 0.8 / len(entries)
        for i, e in enumerate(entries):
            values = [e.result["clusters"][c]["actions"]["macro_f1"] or 0.0 for c in clusters]
            ax.bar([j + i * width for j in range(len(clusters))], values, width, label=e.name)
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(clusters))], clusters)
        ax.set_xlabel("cluster")
        ax.set_ylabel("macro-F1")
        ax.set_title(f"Per-cluster macro-F1 by baseline ({split})")
        ax.legend(fontsize="small", ncol=len(entries))
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
