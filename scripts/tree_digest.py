"""Hash every file of a demo's lake and release, and compare two such digests.

`python scripts/tree_digest.py DATA_DIR > digest.txt` prints one `sha256  path` line per file under
`DATA_DIR/lake` and `DATA_DIR/releases`; `python scripts/tree_digest.py --compare A.txt B.txt` lists the
files that differ, are missing or are new, and exits 1 when there is any.

A lake partition's file name carries its write time and `_COMMITTED.json` its commit time, so each
partition's current file is listed as `part.parquet` and commit markers are left out. Pseudonyms depend
on the secret: run both demos with the same `BLUEPRINT_SECRET` to compare releases.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

TREES = ("lake", "releases")


def digest(data_dir: Path) -> dict[str, str]:
    """sha256 of every file under the lake and release folders, keyed by path relative to `data_dir`."""
    out: dict[str, str] = {}
    for tree in TREES:
        for path in sorted((data_dir / tree).rglob("*")):
            if path.is_file() and path.name != "_COMMITTED.json":
                name = re.sub(r"/part-[^/]+\.parquet$", "/part.parquet", str(path.relative_to(data_dir)))
                out[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def read_digest(path: Path) -> dict[str, str]:
    """A digest file back as a dict."""
    rows = (line.split("  ", 1) for line in path.read_text().splitlines() if line)
    return {name: sha for sha, name in rows}


def compare(a: dict[str, str], b: dict[str, str]) -> list[str]:
    """One line per file that is not the same in both digests."""
    lines = [f"differs  {p}" for p in sorted(a.keys() & b.keys()) if a[p] != b[p]]
    lines += [f"missing  {p}" for p in sorted(a.keys() - b.keys())]
    lines += [f"new      {p}" for p in sorted(b.keys() - a.keys())]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="DATA_DIR, or two digest files with --compare")
    parser.add_argument("--compare", action="store_true", help="compare two digest files")
    args = parser.parse_args()
    if args.compare:
        a, b = (read_digest(p) for p in args.paths)
        problems = compare(a, b)
        print("\n".join(problems) if problems else f"identical: {len(a)} files")
        return 1 if problems else 0
    for name, sha in digest(args.paths[0]).items():
        print(f"{sha}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
