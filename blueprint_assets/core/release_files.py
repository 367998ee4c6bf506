"""The published release folder (docs/CONTRACTS.md, "Release folder"), written atomically and reproducibly.

Layout under `<out_dir>` (core/release_layout.py resolves it for readers):
    public/                          the uploadable dataset
      data/{split}.parquet           id, cluster_id, thread (validation/test: last message without text/actions)
      {split}/cluster_{i}.jsonl      the same rows, Kaggle layout, one file per cluster
      personas/cluster_{i}.md        persona cards
      README.md                      dataset card with a Hugging Face YAML header
      MANIFEST.json                  {relative path: sha256} of every other public file, sorted
    private/                         never uploaded
      answers/{validation,test}.jsonl + .parquet   hidden answer keys
      MANIFEST.json                  the same for the private files

Threads whose public part would reveal a hidden answer's text (core/answer_leaks.py) are dropped and
counted under `reveals_hidden_answer`, so the public folder provably holds no answer.

Everything is a pure function of the inputs (no clock, no random names inside the folder, fixed row and
key order), so rebuilding from the same inputs gives byte-identical files and the manifest doubles as a
reproducibility check.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from blueprint_assets.core.actions_space import ACTION_ORDER
from blueprint_assets.core.answer_leaks import AnswerIndex
from blueprint_assets.core.release_layout import ANSWERS, private_dir, public_dir
from blueprint_assets.core.release_rows import jsonl
from blueprint_assets.core.splits import HIDDEN_SPLITS, SPLITS, hide_answers, public_thread
from blueprint_assets.core.threads import ACTIONS_TYPE, MESSAGE_TYPE, paused_gc

MANIFEST = "MANIFEST.json"
DEFAULT_LICENSE = "cc-by-4.0"

RELEASE_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("cluster_id", pa.int32(), nullable=False),
        pa.field("thread", pa.list_(MESSAGE_TYPE), nullable=False),
    ]
)
ANSWERS_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("cluster_id", pa.int32(), nullable=False),
        pa.field("action", pa.string(), nullable=False),
        pa.field("actions", ACTIONS_TYPE, nullable=False),
        pa.field("text", pa.string()),
    ]
)


def release_stats(splits: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, int]]:
    """Thread counts per split and action type (every action listed, in ACTION_ORDER, zeros included)."""
    stats: dict[str, dict[str, int]] = {}
    for name, threads in splits.items():
        counts = dict.fromkeys(ACTION_ORDER, 0)
        for thread in threads:
            counts[thread["action"]] += 1
        stats[name] = counts
    return stats


def _row_key(row: dict[str, Any]) -> tuple[int, str]:
    # Public order: by the last message's relative time, then id (the clock time itself is not published).
    return (int(row["thread"][-1]["relative_integer_time"]), str(row["id"]))


def _public_texts(row: dict[str, Any]) -> str:
    return "\n".join(m["text"] for m in row["thread"] if m.get("text"))


def _drop_revealing(rows: dict[str, list], answers: dict[str, list]) -> int:
    """Remove threads whose public messages hold a hidden answer's text (and their answers); count them."""
    index = AnswerIndex(a for keys in answers.values() for a in keys)
    dropped = 0
    for name in SPLITS:
        keep = [not index.hits(_public_texts(row)) for row in rows[name]]
        dropped += keep.count(False)
        rows[name] = [row for row, k in zip(rows[name], keep, strict=True) if k]
        if name in answers:
            answers[name] = [a for a, k in zip(answers[name], keep, strict=True) if k]
    return dropped


def _published(splits: dict[str, list[dict[str, Any]]]) -> tuple[dict[str, list], dict[str, list], int]:
    """Published rows per split, answer keys per hidden split (stable order), threads dropped as revealing."""
    unknown = set(splits) - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown split names {sorted(unknown)}; expected {list(SPLITS)}")
    all_ids = [t["id"] for name in SPLITS for t in splits.get(name, [])]
    if len(set(all_ids)) != len(all_ids):
        raise ValueError("thread ids must be unique across splits (splits must be disjoint)")
    rows: dict[str, list] = {}
    answers: dict[str, list] = {}
    for name in SPLITS:
        threads = splits.get(name, [])
        if name in HIDDEN_SPLITS:
            # copy=False: rows only feed the writers below, which never modify them.
            pairs = sorted((hide_answers(t, copy=False) for t in threads), key=lambda pair: _row_key(pair[0]))
            rows[name] = [row for row, _ in pairs]
            answers[name] = [answer for _, answer in pairs]
        else:
            rows[name] = sorted((public_thread(t, copy=False) for t in threads), key=_row_key)
    return rows, answers, _drop_revealing(rows, answers)


def _jsonl(records: list[dict[str, Any]]) -> bytes:
    # Key order is fixed by how the dicts are built (never sorted), text stays readable (ensure_ascii=False).
    return jsonl(records)


def _write_parquet(records: list[dict[str, Any]], schema: pa.Schema, path: Path) -> None:
    table = pa.Table.from_pylist(records, schema=schema)
    # No timestamps are written by Parquet; `created_by` only names the pyarrow version, which is pinned.
    pq.write_table(table, path, compression="zstd", use_dictionary=True, write_statistics=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _hf_features() -> list[dict[str, Any]]:
    actions = [{"name": name, "dtype": "bool"} for name in ACTION_ORDER]
    message = [
        {"name": "user_id", "dtype": "string"},
        {"name": "relative_integer_time", "dtype": "int64"},
        {"name": "text", "dtype": "string"},
        {"name": "actions", "struct": actions},
    ]
    return [
        {"name": "id", "dtype": "string"},
        {"name": "cluster_id", "dtype": "int32"},
        {"name": "thread", "list": message},
    ]


def _size_category(n: int) -> str:
    for limit, label in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
    ):
        if n < limit:
            return label
    return "1M<n<10M"


def _yaml_header(stats: dict[str, dict[str, int]], context: dict[str, Any]) -> str:
    total = sum(sum(c.values()) for c in stats.values())
    header = {
        "license": context.get("license", DEFAULT_LICENSE),
        "pretty_name": context.get("pretty_name", "BluePrint persona action threads"),
        "language": list(context.get("languages", ["en"])),
        "task_categories": ["text-generation", "text-classification"],
        "tags": ["social-media", "bluesky", "persona", "next-action-prediction", "simpact"],
        "size_categories": [_size_category(total)],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": s, "path": f"data/{s}.parquet"} for s in SPLITS],
            }
        ],
        "dataset_info": {
            "features": _hf_features(),
            "splits": [{"name": s, "num_examples": sum(stats[s].values())} for s in SPLITS],
        },
    }
    return "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True, width=1000) + "---\n"


def _counts_table(stats: dict[str, dict[str, int]]) -> str:
    """Train threads per action; validation/test only as totals (their action mix is part of the answers)."""
    hidden = [s for s in SPLITS if s in HIDDEN_SPLITS]
    lines = ["| action | train |", "|---|---:|"]
    lines += [f"| {action} | {stats['train'][action]} |" for action in ACTION_ORDER]
    lines.append(f"| **all** | {sum(stats['train'].values())} |")
    totals = ", ".join(f"{s} {sum(stats[s].values())}" for s in hidden)
    return "\n".join(lines) + f"\n\nHidden splits (threads): {totals}."


def _bullets(mapping: dict[str, Any]) -> str:
    if not mapping:
        return "- (none)"
    return "\n".join(f"- `{key}`: {mapping[key]}" for key in sorted(mapping))


def _card(stats: dict[str, dict[str, int]], clusters: list[int], context: dict[str, Any]) -> str:
    """README.md: HF YAML header plus the prose a data user and a data subject need."""
    license_id = context.get("license", DEFAULT_LICENSE)
    window = context.get("window", "unspecified")
    mode = context.get("pseudonym_mode", "per-thread")
    strategy = context.get("split_strategy", "temporal")
    fractions = context.get("fractions", (0.8, 0.1, 0.1))
    filters = context.get("filters") or [
        "topic keywords and language configured for the release",
        "users with at least 2 English posts or replies",
    ]
    if mode == "stable":
        mode_text = (
            "**stable**: a user has the same `user_id` in every thread of this release (keyed HMAC of the "
            "pseudonym). This allows per-user modelling but also lets anyone link one person's threads."
        )
    else:
        mode_text = (
            "**per-thread**: `user_id` is a keyed HMAC of the pseudonym and the thread, so the same person "
            "has the same id within a thread but unrelated ids in different threads."
        )
    sections = [
        f"# {context.get('pretty_name', 'BluePrint persona action threads')} ({window})",
        "Next-action prediction threads from public Bluesky activity, grouped into persona clusters "
        "following the SIMPACT method of BluePrint (arXiv 2510.02343). Each row is a short thread whose last "
        "message is the action to predict: one of the 13 action types "
        f"({', '.join(f'`{a}`' for a in ACTION_ORDER)}), flagged by exactly one true boolean in `actions`, "
        "with `text` for `post`, `reply`, `quote` and `post_update`.",
        "## Structure\n"
        "- `data/{train,validation,test}.parquet`: `id`, `cluster_id`, `thread` (list of messages "
        "`{user_id, relative_integer_time, text?, actions?}`; only the last message has `actions`).\n"
        "- `{split}/cluster_{i}.jsonl`: the same rows, one file per persona cluster (Kaggle layout).\n"
        "- In `validation` and `test` the last message has neither `text` nor `actions`. Their answer keys "
        "are not part of this dataset: the maintainers keep them to score submissions.\n"
        "- `personas/cluster_{i}.md`: a description of each persona cluster.\n"
        "- `MANIFEST.json`: SHA-256 of every file.\n\n"
        "Load with `datasets.load_dataset('parquet', data_dir='data')`, pandas `read_parquet`, or DuckDB "
        "`SELECT * FROM 'data/train.parquet'`.",
        "## Collection\n"
        + context.get(
            "collection",
            "Public Bluesky repository events (posts, replies, quotes, edits, deletions, likes, reposts, "
            "follows, blocks and their undo operations) collected from the Jetstream firehose over the "
            "release window.",
        )
        + f"\n\nRelease window: `{window}`.",
        "## Filtering\n" + "\n".join(f"- {f}" for f in filters) + "\n"
        f"- Persona clusters: {len(clusters)} clusters of user embeddings (mean sentence embedding of a "
        "user's posts), each with a minimum number of users.\n"
        f"- Reply chains are cut at depth {context.get('max_depth', 5)}; an action whose context (target "
        "post, the target user's latest post, the original of an edit or deletion) is not available is "
        "dropped. Drop counts by reason:\n" + _bullets(context.get("dropped", {})),
        "## Privacy measures\n"
        "- Personal information in text is replaced by typed placeholders (`<URL>`, `<EMAIL_ADDRESS>`, "
        "`<PHONE_NUMBER>`, `<USERNAME>`, `<DID>`, `<AT_URI>`, `<IP_ADDRESS>`, ...), using presidio plus "
        "recognizers for handles, DIDs and at:// URIs; mention and link facets are always replaced.\n"
        "- Accounts and records are replaced by keyed pseudonyms (HMAC-SHA256 under a secret that is never "
        "published); no DID, handle or record URI appears in the release.\n"
        f"- User ids are re-keyed again for publication. Pseudonym mode: {mode_text}\n"
        "- Timestamps are replaced by `relative_integer_time`, the dense rank of the message time among all "
        "message times of the release: order is kept, clock time is not.\n"
        "- Accounts that asked to be removed (`blueprint forget`) are excluded before threads are built"
        + (f" ({context['opt_outs']} opt-outs applied).\n" if "opt_outs" in context else ".\n")
        + (
            "\nPlaceholders substituted, by type:\n" + _bullets(context["pii_counts"])
            if context.get("pii_counts")
            else ""
        ),
        "## Known residual risks\n"
        "- The text is public: searching Bluesky for a distinctive sentence can find the original post and "
        "its author. Pseudonyms protect against casual linkage, not against a search of public text.\n"
        "- Automatic PII detection misses some cases (names in free text, unusual formats).\n"
        "- Posts that were later deleted may appear as context of `post_delete` threads, as in BluePrint.\n"
        "- Persona cards describe groups, but small clusters describe few people.",
        "## Removal requests\n"
        "Anyone can ask for their data to be removed. Maintainers run `blueprint forget <handle-or-did>`, "
        "which records the opt-out (as a pseudonym) and excludes the account from every future release and "
        "rebuild; published releases are rebuilt without it. "
        + context.get("contact", "Open an issue or contact the maintainers of this dataset."),
        "## Splits\n"
        f"Strategy: **{strategy}**, fractions train/validation/test = "
        f"{'/'.join(str(f) for f in fractions)}"
        + (f", seed {context['seed']}" if strategy == "random" and "seed" in context else "")
        + (
            ". Temporal: the latest threads are in test and the ones just before in validation."
            if strategy == "temporal"
            else ". Random: a seeded shuffle (BluePrint used 90/10 train/test)."
        ),
        "## Statistics\nTraining threads per action type:\n\n" + _counts_table(stats),
        "## License\n"
        f"Released under `{license_id}` (configurable per release). Text remains the work of its authors.",
        "## Citation\nBluePrint: a social-media user dataset for LLM persona evaluation and training "
        "(arXiv 2510.02343).",
    ]
    return _yaml_header(stats, context) + "\n" + "\n\n".join(sections) + "\n"


def _published_stats(rows: dict[str, list], answers: dict[str, list]) -> dict[str, dict[str, int]]:
    """Thread counts per split and action of what is published (answers give the hidden actions)."""
    labelled = {
        name: [{"action": a["action"]} for a in answers[name]]
        if name in answers
        else [{"action": next(x for x in ACTION_ORDER if r["thread"][-1]["actions"][x])} for r in rows[name]]
        for name in SPLITS
    }
    return release_stats(labelled)


def _write_tree(root: Path, splits: dict[str, list], persona_cards: dict[int, str], context: dict) -> dict:
    rows, answers, revealing = _published(splits)
    stats = _published_stats(rows, answers)
    public, private = public_dir(root), private_dir(root)
    context = {**context, "dropped": {**context.get("dropped", {}), "reveals_hidden_answer": revealing}}
    clusters = sorted({int(c) for c in persona_cards} | {r["cluster_id"] for rs in rows.values() for r in rs})
    for sub in ("data", "personas", *SPLITS):
        (public / sub).mkdir(parents=True, exist_ok=True)
    (private / ANSWERS).mkdir(parents=True, exist_ok=True)
    for name in SPLITS:
        _write_parquet(rows[name], RELEASE_SCHEMA, public / "data" / f"{name}.parquet")
        by_cluster: dict[int, list] = {cluster: [] for cluster in clusters}
        for row in rows[name]:
            by_cluster[row["cluster_id"]].append(row)
        # One file per cluster even when empty, so the layout is the same for every split and release.
        for cluster, records in by_cluster.items():
            (public / name / f"cluster_{cluster}.jsonl").write_bytes(_jsonl(records))
    for name, keys in answers.items():
        (private / ANSWERS / f"{name}.jsonl").write_bytes(_jsonl(keys))
        _write_parquet(keys, ANSWERS_SCHEMA, private / ANSWERS / f"{name}.parquet")
    for cluster in sorted(int(c) for c in persona_cards):
        card = persona_cards[cluster].rstrip("\n") + "\n"
        (public / "personas" / f"cluster_{cluster}.md").write_text(card, encoding="utf-8")
    (public / "README.md").write_text(_card(stats, clusters, context), encoding="utf-8")
    files = len(refresh_manifest(public)) + len(refresh_manifest(private)) + 2
    return {"counts": stats, "clusters": clusters, "files": files, "reveals_hidden_answer": revealing}


def refresh_manifest(root: Path) -> dict[str, str]:
    """(Re)write `root`/MANIFEST.json with the sha256 of every other file below `root` (public/ or private/)."""
    manifest = {path: _sha256(root / path) for path in _files(root) if path != MANIFEST}
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
    splits: dict[str, list[dict[str, Any]]],
    persona_cards: dict[int, str],
    card_context: dict[str, Any],
) -> dict[str, Any]:
    """Write the release folder atomically (built beside `out_dir`, then swapped in); return a summary.

    `splits` holds internal threads (with `action`, `last_time_us`); answers are hidden here.
    `card_context` feeds the dataset card: window, license, pseudonym_mode ('per-thread'|'stable'),
    split_strategy, fractions, seed, max_depth, filters, collection, dropped, pii_counts, opt_outs,
    contact, pretty_name, languages.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}-{secrets.token_hex(6)}")
    try:
        with paused_gc():
            summary = _write_tree(tmp, splits, persona_cards, card_context)
        _swap_in(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    manifest_digest = _sha256(public_dir(out_dir) / MANIFEST)
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
        elif _sha256(root / path) != manifest[path]:
            problems.append(f"changed: {path}")
    problems.extend(f"extra: {path}" for path in sorted(present - set(manifest)))
    return problems
