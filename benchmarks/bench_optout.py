"""Opt-out cost: the column-wise involvement rule against the same rule row by row, on actions-shaped rows.

Run: `python benchmarks/bench_optout.py [--rows 1000000] [--quick]`. Builds a deterministic table shaped like
the private `actions` table (20,000 accounts; DIDs as actors, subjects and the authors of record URIs; a
tenth of the texts and facets mention an account by DID, in any case), then times the two places the rule
runs:
- `optout_daily_filter`: what `anonymized_posts` does every day once anyone opted out, rows that involve an
  account known only by pseudonym (`dids_pseudonymized_in`); baseline the row rule (`to_pylist`, then a
  pseudonym per DID each row involves), which is what the asset did before.
- `optout_forget_scan`: what `blueprint forget` does to every partition of every table, rows that involve a
  set of identifiers (`members_of`, texts prefiltered on the DID); baseline `involved_ids` on every row.
Both paths must give the same rows (asserted). Times are CPU seconds, one process.
Records merged into benchmarks/results.json: optout_daily_filter, optout_forget_scan.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import cpu_timed, merge_results, record, report  # noqa: E402

from blueprint_assets.lib.privacy.involvement import (  # noqa: E402
    dids_pseudonymized_in,
    involved_ids,
    involved_mask,
    members_of,
)
from blueprint_assets.lib.privacy.pseudonyms import Pseudonymizer  # noqa: E402

SECRET = b"bench-optout"


def synth(n: int, accounts: int = 20_000, seed: int = 2) -> pa.Table:
    """`n` actions-shaped rows: posts (some replying, some mentioning), likes and follows."""
    rng = random.Random(seed)
    dids = [f"did:plc:{rng.getrandbits(100):025x}" for _ in range(accounts)]
    columns: dict[str, list[Any]] = {
        c: []
        for c in ("event_key", "actor_did", "subject_did", "record_uri", "reply_parent_uri", "subject_uri")
        + ("text", "facets_json")
    }
    for i in range(n):
        actor, other = rng.choice(dids), rng.choice(dids)
        kind = rng.choice(("post", "like", "like", "follow"))
        record_uri = f"at://{actor}/app.bsky.feed.{kind}/{i:013x}"
        row = dict.fromkeys(columns)
        row.update(event_key=record_uri, actor_did=actor, record_uri=record_uri)
        if kind == "post":
            mention = rng.random() < 0.1
            row["text"] = f"post {i} about things" + (f" cc {other.upper()}" if mention else "")
            if rng.random() < 0.3:
                row["reply_parent_uri"] = f"at://{other}/app.bsky.feed.post/{i - 1:013x}"
            if mention:
                row["facets_json"] = json.dumps([{"features": [{"did": other}]}])
        elif kind == "like":
            row["subject_uri"] = f"at://{other}/app.bsky.feed.post/{i - 1:013x}"
        else:
            row["subject_did"] = other
        for name, value in row.items():
            columns[name].append(value)
    return pa.table(columns)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 rows")
    parser.add_argument("--no-results", action="store_true", help="do not write benchmarks/results.json")
    args = parser.parse_args()
    n = 100_000 if args.quick else args.rows
    table = synth(n)
    some = table.column("actor_did").slice(0, 3).to_pylist()
    pseudonym = Pseudonymizer(SECRET)
    opted_out = {pseudonym(did) for did in some}

    def daily_rows() -> list[bool]:
        return [
            any(pseudonym(i) in opted_out for i in involved_ids(row) if i.startswith("did:"))
            for row in table.to_pylist()
        ]

    records = []
    # A fresh pseudonymizer for each path, so neither starts from the other's cache.
    fresh = Pseudonymizer(SECRET)
    daily, daily_s = cpu_timed(lambda: involved_mask(table, dids_pseudonymized_in(opted_out, fresh.many)))
    expected, daily_rows_s = cpu_timed(daily_rows)
    assert daily.tolist() == expected, "the column-wise rule must drop the rows the row rule drops"
    print(f"daily filter: {n:,} rows, {int(daily.sum()):,} opted out")
    records.append(report(record("optout_daily_filter", n / daily_s, "rows/s", "row_rule", n / daily_rows_s)))

    ids = {some[0], pseudonym(some[0])}
    forget, forget_s = cpu_timed(lambda: involved_mask(table, members_of(ids), [some[0]]))
    expected, forget_rows_s = cpu_timed(
        lambda: [not involved_ids(row).isdisjoint(ids) for row in table.to_pylist()]
    )
    assert forget.tolist() == expected, "the column-wise rule must find the rows the row rule finds"
    print(f"forget scan: {n:,} rows, {int(forget.sum()):,} involve the account")
    records.append(
        report(record("optout_forget_scan", n / forget_s, "rows/s", "row_rule", n / forget_rows_s))
    )
    if not args.no_results:
        merge_results(records)


if __name__ == "__main__":
    main()
