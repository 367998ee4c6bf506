"""Release-stage throughput: build_threads, split_threads and write_release on synthetic anonymized actions.

Run: `python benchmarks/bench_release.py [--actions 500000]`. Builds a deterministic table shaped like
`anonymized_posts` (20,000 users, 80% of them in scope across 25 clusters; posts, replies, quotes, likes,
reposts, follows and their undos pointing at recent posts), then times each release step on it.

Baseline, same run, same table: `table.to_pylist()` + sorting the rows by (time_us, event_id), the least
any Python pass over the window's rows must do. Each step runs what its asset runs: build_threads gives the
`action_threads` Arrow table the asset stores, split_table splits that table (action_splits), and
write_release writes the folder from the split tables (dataset_release). Each figure is actions/s of a step vs actions/s of the
baseline (ratio < 1: the step is that much slower than one plain Python pass), both in CPU time. The
answer-leak scan write_release runs is also timed alone, on the published rows' texts: the bulk hash join
(`AnswerIndex.hits_many`) vs the per-position lookup of every text (its exact pass), same rows, same run.
BluePrint publishes four granularities (K = 2, 25, 100, 1000): building them together
(`build_threads_by_k`, one pass and one hashing of user ids) is timed against building each K alone.
Records merged into benchmarks/results.json: release_build_threads, release_split_threads,
release_write_release, release_leak_scan, release_build_threads_4k.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import cpu_timed, merge_results, record, report  # noqa: E402

from blueprint_assets.lib.release.files import write_release  # noqa: E402
from blueprint_assets.lib.release.splits import split_table  # noqa: E402
from blueprint_assets.lib.release.threads import INPUT_COLUMNS as COLUMNS  # noqa: E402
from blueprint_assets.lib.release.threads import build_threads, build_threads_by_k  # noqa: E402

# Action mix, roughly Bluesky's: likes dominate, then posts and replies.
KINDS = (
    ["post"] * 20
    + ["reply"] * 15
    + ["like"] * 35
    + ["repost"] * 8
    + ["quote"] * 3
    + ["follow"] * 10
    + ["unlike", "unrepost", "block", "unfollow", "post_update", "post_delete", "unblock"]
)
K = 25
BLUEPRINT_KS = (2, 25, 100, 1000)  # the granularities BluePrint publishes


def _h(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


def synth(n: int, n_users: int = 20_000, seed: int = 1) -> tuple[pa.Table, dict[str, int]]:
    """`n` anonymized-action rows and the cluster of each in-scope user (80% of users)."""
    rng = random.Random(seed)
    users = [_h(f"u{i}") for i in range(n_users)]
    posts: list[tuple[str, str]] = []
    cols: dict[str, list] = {c: [] for c in COLUMNS}
    t = 1_740_787_200_000_000
    for i in range(n):
        t += rng.randint(0, 20_000)
        actor = users[rng.randrange(n_users)]
        kind = rng.choice(KINDS)
        rec = _h(f"r{i}")
        row: dict[str, Any] = dict.fromkeys(COLUMNS)
        row.update(event_id=_h(f"e{i}"), time_us=t, action=kind, actor=actor, record_id=rec, resolved=True)
        target = posts[-rng.randint(1, min(len(posts), 5000))] if posts else None
        if kind in ("post", "reply", "quote"):
            row["text"] = f"some text number {i} about things"
            if kind == "reply" and target:
                row["reply_parent_id"] = target[0]
            if kind == "quote" and target:
                row["quote_id"] = target[0]
            posts.append((rec, actor))
        elif kind in ("like", "repost", "unlike", "unrepost") and target:
            row["subject_id"] = target[0]
        elif kind in ("follow", "block", "unfollow", "unblock") and target:
            row["subject_user"] = target[1]
        elif kind in ("post_update", "post_delete") and target:
            row["subject_id"] = row["record_id"] = target[0]
            row["actor"] = target[1]
            row["text"] = "edited" if kind == "post_update" else None
        for key, value in row.items():
            cols[key].append(value)
    clusters = {u: i % K for i, u in enumerate(users) if i % 5}
    return pa.table(cols), clusters


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--actions", type=int, default=500_000)
    parser.add_argument("--quick", action="store_true", help="100,000 actions")
    parser.add_argument("--no-results", action="store_true", help="do not write benchmarks/results.json")
    args = parser.parse_args()
    n = 100_000 if args.quick else args.actions

    table, clusters = synth(n)
    _, base_s = cpu_timed(lambda: sorted(table.to_pylist(), key=lambda r: (r["time_us"], r["event_id"])))
    result, build_s = cpu_timed(lambda: build_threads(table, clusters, secret=b"bench-secret"))
    tables, split_s = cpu_timed(lambda: split_table(result.table))

    with tempfile.TemporaryDirectory() as tmp:
        cards = {i: f"# Persona {i}" for i in range(K)}
        _, write_s = cpu_timed(lambda: write_release(Path(tmp) / "release", tables, cards, {}))
    print(
        f"{n:,} actions -> {result.table.num_rows:,} threads; dropped {dict(sorted(result.dropped.items()))}"
    )
    base_rate = n / base_s
    print(f"baseline to_pylist + sort: {base_s:.2f} cpu-s ({base_rate:,.0f} actions/s)")
    records = [
        report(record(f"release_{step}", n / seconds, "actions/s", "to_pylist_sort", base_rate, digits=1))
        for step, seconds in (
            ("build_threads", build_s),
            ("split_threads", split_s),
            ("write_release", write_s),
        )
    ]
    records.append(report(leak_scan_record(tables)))
    records.append(report(granularities_record(table, n)))
    if not args.no_results:
        merge_results(records)


def granularities_record(table: pa.Table, n: int) -> dict[str, Any]:
    """Actions/s of building BluePrint's four Ks together (`build_threads_by_k`, as the action_threads asset
    does) vs building each K alone (`build_threads` once per K), same rows, same run."""
    users = sorted(set(table.column("actor").to_pylist()))
    by_k = {k: {u: i % k for i, u in enumerate(users) if i % 5} for k in BLUEPRINT_KS}
    together, together_s = cpu_timed(lambda: build_threads_by_k(table, by_k, secret=b"bench-secret"))
    alone, alone_s = cpu_timed(
        lambda: {k: build_threads(table, c, secret=b"bench-secret") for k, c in by_k.items()}
    )
    assert all(together[k].table.equals(alone[k].table) for k in by_k), "the Ks built together must match"
    print(f"Ks {BLUEPRINT_KS}: together {together_s:.2f} cpu-s, each alone {alone_s:.2f} cpu-s")
    return record(
        "release_build_threads_4k", n / together_s, "actions/s", "build_threads_per_k", n / alone_s, digits=1
    )


def leak_scan_record(tables: dict[str, pa.Table]) -> dict[str, Any]:
    """Rows/s of the bulk answer-leak scan vs the per-position lookup, over the published public texts."""
    from blueprint_assets.lib.release.answer_leaks import AnswerIndex, _prepare
    from blueprint_assets.lib.release.files import _published
    from blueprint_assets.lib.release.published import public_texts

    published = _published(tables)
    index = AnswerIndex(
        {"id": i, "text": t}
        for split in published.values()
        if split.answers is not None
        for i, t in zip(
            split.answers.column("id").to_pylist(), split.answers.column("text").to_pylist(), strict=True
        )
    )
    texts = [text for split in published.values() for text in public_texts(split.rows)]
    bulk, bulk_s = cpu_timed(lambda: index.hits_many(texts))
    exact, exact_s = cpu_timed(lambda: [index._exact(_prepare(text, False)) for text in texts])
    assert bulk == exact, "the bulk scan must find what the per-position lookup finds"
    print(
        f"leak scan: {len(texts):,} rows, {bulk_s / len(texts) * 1e6:.1f} vs {exact_s / len(texts) * 1e6:.1f} us/row"
    )
    return record(
        "release_leak_scan", len(texts) / bulk_s, "rows/s", "per_position_lookup", len(texts) / exact_s
    )


if __name__ == "__main__":
    main()
