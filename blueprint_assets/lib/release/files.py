"""The published release folder (docs/tables.md, "Release folder"), written atomically and reproducibly.

Layout under `<out_dir>` (lib/release/layout.py resolves it for readers), one `{K}_clusters` per K:
    public/                          the uploadable dataset
      {K}_clusters/data/{split}.parquet       id, cluster_id, thread (validation/test: last message hidden)
      {K}_clusters/{split}/cluster_{i}.jsonl  the same rows, Kaggle layout, one file per cluster
      {K}_clusters/personas/cluster_{i}.md    persona cards
      README.md                      dataset card (lib/release/dataset_card.py), one HF config per K
      MANIFEST.json                  {relative path: sha256} of every other public file, sorted
    private/                         never uploaded
      {K}_clusters/answers/{validation,test}.jsonl + .parquet   hidden answer keys
      MANIFEST.json                  the same for the private files

Threads whose public part would reveal a hidden answer's text (lib/release/answer_leaks.py) are dropped and
counted under `reveals_hidden_answer`, so the public folder provably holds no answer.

Everything is a pure function of the inputs (no clock, no random names inside the folder, fixed row and
key order), so rebuilding from the same inputs gives byte-identical files and the manifest doubles as a
reproducibility check. The Ks of a release publish the same threads: each split's message JSON is built
once and taken for the other Ks' rows (`_SharedMessages`, paired by `granularities.twin_rows`). The Parquet
files are encoded on a thread of their own while the JSON lines are built (`_ParquetWriter`).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from blueprint_assets.lib.actions_space import ACTION_ORDER
from blueprint_assets.lib.release.answer_leaks import AnswerIndex
from blueprint_assets.lib.release.dataset_card import render_card
from blueprint_assets.lib.release.granularities import twin_rows
from blueprint_assets.lib.release.layout import ANSWERS, config_name, private_dir, public_dir
from blueprint_assets.lib.release.published import (  # noqa: F401 - the schemas, re-exported
    ANSWERS_SCHEMA,
    RELEASE_SCHEMA,
    Split,
    answer_lines,
    grouped_lines_bytes,
    last_actions,
    lines_bytes,
    message_lists,
    public_text_array,
    publish_split,
    row_lines,
    row_lines_array,
    threads_table,
)
from blueprint_assets.lib.release.splits import HIDDEN_SPLITS, SPLITS
from blueprint_assets.lib.release.threads import paused_gc

MANIFEST = "MANIFEST.json"
ExtraFiles = Callable[[dict[int, dict[str, Any]]], dict[str, str | bytes]] | None


class Granularity(NamedTuple):
    """One K of a release: its splits (internal threads, as dicts or `action_threads` tables) and persona cards."""

    splits: dict[str, list[dict[str, Any]] | pa.Table]
    persona_cards: dict[int, str]


def release_stats(splits: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, int]]:
    """Thread counts per split and action type (every action listed, in ACTION_ORDER, zeros included)."""
    stats: dict[str, dict[str, int]] = {}
    for name, threads in splits.items():
        counts = dict.fromkeys(ACTION_ORDER, 0)
        for thread in threads:
            counts[thread["action"]] += 1
        stats[name] = counts
    return stats


def _drop_revealing(per_k: dict[int, dict[str, Split]], index: AnswerIndex | None = None) -> int:
    """Remove threads whose public messages hold any hidden answer's text (any K), with their answers.

    The index spans every granularity: the same thread is hidden in every config, so one config's public
    rows must not reveal another's answers either. `index`, when given, is that index already built by the
    caller. Returns the threads dropped per config (the same for all).
    """
    if index is None:
        index = AnswerIndex(
            {"id": i, "text": t}
            for splits in per_k.values()
            for split in splits.values()
            if split.answers is not None
            for i, t in zip(
                split.answers.column("id").to_pylist(), split.answers.column("text").to_pylist(), strict=True
            )
        )
    screened: dict[str, _Screened] = {}
    dropped = 0
    for splits in per_k.values():
        dropped = 0
        for name, split in splits.items():
            leaks = screened.setdefault(name, _Screened()).leaking(public_text_array(split.rows), index)
            dropped += int(leaks.sum())
            if leaks.any():
                mask = pa.array(~leaks, pa.bool_())
                answers = split.answers.filter(mask) if split.answers is not None else None
                splits[name] = Split(split.rows.filter(mask), answers)
    return dropped


class _Screened:
    """The distinct public texts of one split screened so far, and those holding an answer: every K of a
    release publishes the same threads, so a K after the first only looks its texts up."""

    def __init__(self) -> None:
        self.texts = pa.array([], pa.large_string())
        self.holding = pa.array([], pa.large_string())

    def leaking(self, texts: pa.Array, index: AnswerIndex) -> np.ndarray:
        """Per text, whether it holds an answer (`index.flags_many`), each distinct text screened once."""
        texts = texts.cast(pa.large_string())
        distinct = pc.drop_null(pc.unique(texts))
        if len(self.texts):
            distinct = distinct.filter(pc.invert(pc.is_in(distinct, value_set=self.texts)))
        found = sorted(index.found_in(distinct.to_pylist()))
        self.texts = pa.concat_arrays([self.texts, distinct])
        self.holding = pa.concat_arrays([self.holding, pa.array(found, pa.large_string())])
        return pc.fill_null(pc.is_in(texts, value_set=self.holding), False).to_numpy(zero_copy_only=False)


def _published(splits: dict[str, list[dict[str, Any]] | pa.Table]) -> dict[str, Split]:
    """Published rows and (hidden splits) answer keys per split, in a stable order."""
    unknown = set(splits) - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown split names {sorted(unknown)}; expected {list(SPLITS)}")
    tables = {name: threads_table(splits.get(name, [])) for name in SPLITS}
    all_ids = [i for table in tables.values() for i in table.column("id").to_pylist()]
    if len(set(all_ids)) != len(all_ids):
        raise ValueError("thread ids must be unique across splits (splits must be disjoint)")
    return {name: publish_split(table, name in HIDDEN_SPLITS) for name, table in tables.items()}


def _write_parquet(table: pa.Table, path: Path) -> None:
    # No timestamps are written by Parquet; `created_by` only names the pyarrow version, which is pinned.
    pq.write_table(table, path, compression="zstd", use_dictionary=True, write_statistics=True)


class _ParquetWriter:
    """Writes the release's Parquet files on a thread of its own while the caller builds the JSON lines:
    Arrow encodes without holding the GIL, so the two share the cores. Leaving the block waits for every
    file and raises the first write's error."""

    def __enter__(self) -> _ParquetWriter:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="release-parquet")
        self._pending: list[Future] = []
        return self

    def write(self, table: pa.Table, path: Path) -> None:
        self._pending.append(self._pool.submit(_write_parquet, table, path))

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        try:
            if exc_type is None:  # else the caller's error stands, and the writes left are cancelled
                for future in self._pending:
                    future.result()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _published_stats(splits: dict[str, Split]) -> dict[str, dict[str, int]]:
    """Thread counts per split and action of what is published (answers give the hidden actions)."""
    labelled = {
        name: [
            {"action": a}
            for a in (
                split.answers.column("action").to_pylist()
                if split.answers is not None
                else last_actions(split.rows)
            )
        ]
        for name, split in splits.items()
    }
    return release_stats(labelled)


class _SharedMessages:
    """The `message_lists` of each split's public rows, built for the first K and taken for every other
    K's twin rows: the Ks publish the same threads, only their ids, clusters and order differ."""

    def __init__(self) -> None:
        self.first: dict[str, tuple[pa.Table, pa.Array]] = {}

    def of(self, name: str, rows: pa.Table) -> pa.Array:
        if name not in self.first:
            self.first[name] = (rows, message_lists(rows))
            return self.first[name][1]
        reference, messages = self.first[name]
        twins = twin_rows(reference, rows, ("thread",))
        return message_lists(rows) if twins is None else messages.take(pa.array(twins))


def _write_config(
    public: Path, private: Path, splits: dict[str, Split], cards: dict[int, str], shared: _SharedMessages,
    writer: _ParquetWriter,
) -> list[int]:  # fmt: skip
    """One granularity: data/, Kaggle JSONL per split and cluster, persona cards; answers on the private side."""
    present = {c for split in splits.values() for c in pc.unique(split.rows.column("cluster_id")).to_pylist()}
    clusters = sorted({int(c) for c in cards} | {int(c) for c in present if c is not None})
    for sub in ("data", "personas", *SPLITS):
        (public / sub).mkdir(parents=True, exist_ok=True)
    (private / ANSWERS).mkdir(parents=True, exist_ok=True)
    for name, split in splits.items():
        writer.write(split.rows, public / "data" / f"{name}.parquet")
        # One file per cluster even when empty, so the layout is the same for every split and release.
        lines = row_lines_array(split.rows, shared.of(name, split.rows))
        files = grouped_lines_bytes(lines, split.rows.column("cluster_id"), clusters)
        for cluster, content in files.items():
            (public / name / f"cluster_{cluster}.jsonl").write_bytes(content)
    for name, split in splits.items():
        if split.answers is not None:
            (private / ANSWERS / f"{name}.jsonl").write_bytes(lines_bytes(answer_lines(split.answers)))
            writer.write(split.answers, private / ANSWERS / f"{name}.parquet")
    for cluster in sorted(int(c) for c in cards):
        (public / "personas" / f"cluster_{cluster}.md").write_text(
            cards[cluster].rstrip("\n") + "\n", encoding="utf-8"
        )
    return clusters


def _write_tree(
    root: Path,
    granularities: dict[int, Granularity],
    context: dict,
    extra: ExtraFiles,
    answer_index: AnswerIndex | None,
) -> dict:
    per_k = {k: _published(g.splits) for k, g in sorted(granularities.items())}
    revealing = _drop_revealing(per_k, answer_index)
    public, private = public_dir(root), private_dir(root)
    context = {**context, "dropped": {**context.get("dropped", {}), "reveals_hidden_answer": revealing}}
    info: dict[int, dict[str, Any]] = {}
    shared = _SharedMessages()
    with _ParquetWriter() as writer:
        for k, splits in per_k.items():
            name = config_name(k)
            clusters = _write_config(
                public / name, private / name, splits, granularities[k].persona_cards, shared, writer
            )
            info[k] = {
                "stats": _published_stats(splits),
                "clusters": clusters,
                "rows": {name: split.rows for name, split in splits.items()},
                "answers": {n: split.answers for n, split in splits.items() if split.answers is not None},
            }
    (public / "README.md").write_text(render_card(info, context), encoding="utf-8")
    for relative, content in (extra(info) if extra else {}).items():
        target = public / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    files = len(refresh_manifest(public)) + len(refresh_manifest(private)) + 2
    first = min(info)
    return {
        "counts": info[first]["stats"],
        "counts_by_k": {k: i["stats"] for k, i in info.items()},
        "clusters": info[first]["clusters"],
        "clusters_by_k": {k: len(i["clusters"]) for k, i in info.items()},
        "files": files,
        "reveals_hidden_answer": revealing,
    }


def refresh_manifest(root: Path) -> dict[str, str]:
    """(Re)write `root`/MANIFEST.json with the sha256 of every other file below `root` (public/ or private/)."""
    manifest = {path: sha256_file(root / path) for path in _files(root) if path != MANIFEST}
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


def _swap_in(tmp: Path, out_dir: Path) -> None:
    """Replace `out_dir` by `tmp`: two renames, with the old folder restored if the second fails."""
    if not out_dir.exists():
        os.replace(tmp, out_dir)
        return
    old = out_dir.with_name(f".{out_dir.name}.old-{secrets.token_hex(6)}")
    os.replace(out_dir, old)
    try:
        os.replace(tmp, out_dir)
    except BaseException:
        os.replace(old, out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)


def write_release(
    out_dir: Path,
    granularities: dict[int, Granularity] | dict[str, list[dict[str, Any]]],
    persona_cards: dict[int, str] | None = None,
    card_context: dict[str, Any] | None = None,
    extra_files: ExtraFiles = None,
    answer_index: AnswerIndex | None = None,
) -> dict[str, Any]:
    """Write the release folder atomically (built beside `out_dir`, then swapped in); return a summary.

    `granularities` maps K to `Granularity(splits, persona_cards)`; a plain `splits` dict (split name ->
    threads) with `persona_cards` is one granularity, K = card_context["k"] or the number of cards.
    Splits hold internal threads (dicts or `action_threads` tables, with `action`, `last_time_us`); answers
    are hidden here.
    `card_context` feeds the dataset card: window, license, pseudonym_mode ('per-thread'|'stable'),
    split_strategy, fractions, seed, max_depth, filters, collection, dropped, pii_counts, opt_outs,
    contact, pretty_name, languages, synthetic_sample, gated, url, skipped_ks {K: reason}.
    `extra_files(info)` returns more public files {relative path: text|bytes} (the starter kit), given
    per K the published `rows` and `answers` (Arrow tables per split), `stats` and `clusters`.
    `answer_index`: an AnswerIndex of every hidden answer (id, last text) the caller already built, so it is
    not built twice.
    """
    card_context = dict(card_context or {})
    if granularities and all(isinstance(key, str) for key in granularities):  # split names: one K
        cards = persona_cards or {}
        k = int(card_context.get("k") or len(cards) or 1)
        granularities = {k: Granularity(granularities, cards)}  # type: ignore[arg-type]
    if not granularities:
        raise ValueError("a release needs at least one granularity (K)")
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}-{secrets.token_hex(6)}")
    try:
        with paused_gc():
            summary = _write_tree(tmp, granularities, card_context, extra_files, answer_index)  # type: ignore[arg-type]
        _swap_in(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    manifest_digest = sha256_file(public_dir(out_dir) / MANIFEST)
    return {"out_dir": str(out_dir), "manifest_sha256": manifest_digest, **summary}


def verify_manifest(release_dir: Path) -> list[str]:
    """Problems of a release's public and private manifests, as `missing|extra|changed|invalid: side/path`."""
    root = Path(release_dir)
    sides = [side for side in (public_dir(root), private_dir(root)) if side.is_dir()]
    if not sides:
        return [f"missing: {public_dir(root).name}/{MANIFEST}"]
    problems = []
    for side in sides:
        problems += [p.replace(": ", f": {side.name}/", 1) for p in verify_folder_manifest(side)]
    return problems


def verify_folder_manifest(folder: Path) -> list[str]:
    """Problems found against `folder`/MANIFEST.json: `missing: p`, `extra: p`, `changed: p`, `invalid: p`."""
    root = Path(folder)
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        return [f"missing: {MANIFEST}"]
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return [f"invalid: {MANIFEST}"]
    if not isinstance(manifest, dict):
        return [f"invalid: {MANIFEST}"]
    problems: list[str] = []
    present = set(_files(root)) - {MANIFEST}
    for path in sorted(manifest):
        parts = Path(path).parts
        if Path(path).is_absolute() or ".." in parts:
            problems.append(f"invalid: {path}")
        elif path not in present:
            problems.append(f"missing: {path}")
        elif sha256_file(root / path) != manifest[path]:
            problems.append(f"changed: {path}")
    problems.extend(f"extra: {path}" for path in sorted(present - set(manifest)))
    return problems
