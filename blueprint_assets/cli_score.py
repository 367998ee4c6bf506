"""The `blueprint` subcommands of modellers: `score` and `baseline` (the five baselines and `leaderboard`).

They parse the options, build the text encoder's `Embedder` from them and `Settings`, call
`lib/evaluation` (`scorer.score_files`, `baselines.run_baseline`, `leaderboard.build`) and print. A file
that cannot be scored raises `ScoringError` (a `ValueError`: exit 2, one line).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from blueprint_assets.cli_common import UsageError, add_command, cli_settings

SPLITS = ("validation", "test")


def add_encoder_options(parser: argparse.ArgumentParser) -> None:
    """--encoder/--pooling/--max-tokens/--prefix and the embedding cache options (score and leaderboard)."""
    group = parser.add_argument_group("text encoder (text metrics, retrieval)")
    group.add_argument(
        "--encoder",
        default=None,
        help="sentence-transformers model name or local folder (default: all-MiniLM-L6-v2, bundled); "
        "'static' = the post_embeddings model2vec encoder (reuses the lake's vectors); BluePrint used "
        "intfloat/multilingual-e5-large with mean pooling and 512 tokens",
    )
    group.add_argument(
        "--pooling", help="pooling of the encoder: mean, cls, max, ... (default: the model's own)"
    )
    group.add_argument("--max-tokens", type=int, default=None, help="truncation (default 256; e5: 512)")
    group.add_argument("--prefix", help='text prefix, e.g. "query: " for e5 models (default none)')
    group.add_argument("--cache-dir", help="embedding cache (default <data dir>/cache/embeddings)")
    group.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")


def embedder_from_args(args: argparse.Namespace, release_dir: str | Path | None, seed: bool = True):
    """The `Embedder` of the parsed encoder options, cached by model id and text hash under the data dir
    the release sits in (else the configured one); `seed`: seed the cache from that data dir's lake."""
    from blueprint_assets.lib.personas.embed_cache import build_embedder, data_dir_of, default_cache_dir

    settings = cli_settings(args)
    settings = settings.with_overrides(data_dir=str(data_dir_of(release_dir, settings.data_dir)))
    cache_dir = None
    if not getattr(args, "no_cache", False):
        cache_dir = getattr(args, "cache_dir", None) or default_cache_dir(settings.data_dir)
    return build_embedder(
        settings.model_cache_dir,
        cache_dir,
        settings.layout.lake if seed else None,
        model_name=getattr(args, "encoder", None),
        pooling=getattr(args, "pooling", None),
        max_tokens=getattr(args, "max_tokens", None),
        prefix=getattr(args, "prefix", None),
    )


def cmd_score(args: argparse.Namespace) -> int:
    """Print the Markdown report; `--out` also writes it, with the JSON result beside it."""
    from blueprint_assets.lib.evaluation.scorer import score_files

    if not args.predictions and not args.matrix:
        raise UsageError("give --predictions FILE or --matrix DIR")
    result, report = score_files(
        args.answers, args.predictions, embed=embedder_from_args(args, args.answers),
        matrix_dir=args.matrix, split=args.split, k=args.k, mode=args.compat or "default",
    )  # fmt: skip
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report, encoding="utf-8")
        out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(report, end="")
    return 0


def _workers(args: argparse.Namespace) -> int:
    """Threads for fitting baselines: BLUEPRINT_WORKERS, else one per usable core (`lib.parallel.workers`)."""
    from blueprint_assets.lib.parallel import workers

    return workers(cli_settings(args).workers)


def cmd_baseline(args: argparse.Namespace) -> int:
    """Write one baseline's predictions for a split (retrieval encodes with the default encoder)."""
    from blueprint_assets.lib.evaluation.baselines import run_baseline, write_predictions

    embed = embedder_from_args(args, args.release, seed=False) if args.name == "retrieval" else None
    preds = run_baseline(args.name, args.release, args.split, embed, args.k, _workers(args))
    write_predictions(args.out, preds)
    print(f"wrote {len(preds)} predictions to {args.out}")
    return 0


def cmd_leaderboard(args: argparse.Namespace) -> int:
    """Print the leaderboard; `--out` also writes it, with the per-cluster chart beside it."""
    from blueprint_assets.lib.evaluation.leaderboard import (
        SPLITS,
        build,
        parse_named_paths,
        render,
        write_chart,
    )

    def progress(message: str) -> None:
        print(f"leaderboard: {message}", file=sys.stderr, flush=True)

    embed = embedder_from_args(args, args.release)
    board = build(
        args.release, embed, parse_named_paths(args.predictions), (args.split,) if args.split else SPLITS,
        args.k, args.compat or "default", not args.no_diagonality, progress, _workers(args),
    )  # fmt: skip
    chart = None
    if args.out:
        out = Path(args.out)
        chart = write_chart(board, out.with_name(f"{out.stem}_per_cluster_f1.png")).name
    text = render(board, args.release, chart)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    print(text, end="")
    counts = getattr(embed, "counts", None)
    if counts:
        progress(f"texts encoded {counts['encoded']}, from cache {counts['from_cache']}")
    return 0


def add_scoring_commands(sub) -> None:
    """Register `score` and `baseline NAME` (NAME: a baseline or `leaderboard`) on the subcommand set."""
    from blueprint_assets.lib.evaluation.baselines import BASELINES
    from blueprint_assets.lib.evaluation.scorer import MODES

    compat = tuple(mode for mode in MODES if mode != "default")
    score = add_command(sub, "score", cmd_score, "score predictions against answer keys", data_dir=False)
    score.add_argument("--answers", required=True, help="release folder, answers folder or answers JSONL")
    score.add_argument("--predictions", help="predictions JSONL or CSV (id, 13 action booleans, text)")
    score.add_argument("--matrix", help="folder of cluster_<i>.jsonl|csv predictions, one model per cluster")
    score.add_argument(
        "--split", default="validation", choices=SPLITS, help="split to score (default validation)"
    )
    score.add_argument(
        "--k", type=int, help="which granularity's answers ({K}_clusters) of a multi-K release"
    )
    score.add_argument(
        "--compat", choices=compat,
        help="reproduce BluePrint's published metric code, artifacts included (docs/scoring.md)",
    )  # fmt: skip
    score.add_argument("--out", help="write the Markdown report here; the JSON goes next to it (.json)")
    add_encoder_options(score)

    baseline = add_command(
        sub, "baseline", cmd_baseline, f"run a baseline: {', '.join(BASELINES)}, leaderboard", data_dir=False
    )
    names = baseline.add_subparsers(
        dest="name",
        required=True,
        metavar="NAME",
        parser_class=type(baseline),
        help="a baseline, or leaderboard",
    )
    for name in BASELINES:
        one = add_command(
            names, name, cmd_baseline, f"write the {name} baseline's predictions", data_dir=False
        )
        one.add_argument("--release", required=True, help="release folder (public data; answers not needed)")
        one.add_argument(
            "--split", default="validation", choices=SPLITS, help="split to predict (default validation)"
        )
        one.add_argument("--k", type=int, help="granularity ({K}_clusters) of a multi-K release")
        one.add_argument("--out", required=True, help="predictions file (.jsonl or .csv)")

    board = add_command(
        names, "leaderboard", cmd_leaderboard, "score every baseline on validation and test", data_dir=False
    )
    board.add_argument("--release", required=True, help="release folder (public data and private answers)")
    board.add_argument("--split", choices=SPLITS, help="only this split (default: every split with answers)")
    board.add_argument("--k", type=int, help="granularity ({K}_clusters) of a multi-K release")
    board.add_argument(
        "--predictions", nargs="*", default=[], metavar="NAME=PATH", help="outside predictions"
    )
    board.add_argument("--compat", choices=compat, help="score with BluePrint's metric code")
    board.add_argument("--no-diagonality", action="store_true", help="skip the cluster x model matrices")
    board.add_argument("--out", help="Markdown file; the chart goes next to it as <stem>_per_cluster_f1.png")
    add_encoder_options(board)
