"""Where things live in a release folder: the one place that knows the public/private layout.

    releases/<window>/
      public/                    uploadable dataset: README.md, MANIFEST.json, {K}_clusters/... (or flat data/)
      private/                   answer keys, never uploaded: MANIFEST.json, {K}_clusters/answers/... (or answers/)
      privacy_audit/             the maintainers' audit

Every reader of answers (scorer, baselines, leaderboard) and of published data goes through
`answers_dir` / `data_root` here, so the layout can change in one place. Both accept a release folder,
its `public/` or `private/` folder, or (for data) a `{K}_clusters` folder, and an optional K; with no K
the single (or smallest) granularity present is used.
"""

from __future__ import annotations

import re
from pathlib import Path

PUBLIC = "public"
PRIVATE = "private"
AUDIT = "privacy_audit"
ANSWERS = "answers"
CONFIG_RE = re.compile(r"^(\d+)_clusters$")


class LayoutError(FileNotFoundError):
    """A folder that is not (part of) a release; the message says what was expected."""


def config_name(k: int) -> str:
    """Hugging Face config (and folder) name of granularity K."""
    return f"{int(k)}_clusters"


def public_dir(release: str | Path) -> Path:
    return Path(release) / PUBLIC


def private_dir(release: str | Path) -> Path:
    return Path(release) / PRIVATE


def audit_dir(release: str | Path) -> Path:
    return Path(release) / AUDIT


def release_root(path: str | Path) -> Path:
    """The release folder for a release, public/, private/ or {K}_clusters folder path."""
    p = Path(path)
    for candidate in (p, p.parent, p.parent.parent):
        if (candidate / PUBLIC).is_dir() or (candidate / PRIVATE).is_dir():
            return candidate
    return p


def configs_in(folder: str | Path) -> list[int]:
    """The K values with a `{K}_clusters` folder directly under `folder`, ascending."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = (CONFIG_RE.match(p.name) for p in folder.iterdir() if p.is_dir())
    return sorted(int(m.group(1)) for m in found if m)


def _granularity(base: Path, k: int | None, marker: str) -> Path:
    """`base/{K}_clusters` (K given, or the smallest present) or `base` itself for the flat layout."""
    ks = configs_in(base)
    if k is not None:
        if (base / config_name(k)).is_dir():
            return base / config_name(k)
        if not ks and (base / marker).exists():
            return base  # flat layout: one granularity, whatever its K
        raise LayoutError(f"{base} has no {config_name(k)} folder (present: {[config_name(x) for x in ks]})")
    return base / config_name(ks[0]) if ks else base


def data_root(path: str | Path, k: int | None = None) -> Path:
    """The folder holding `data/{split}.parquet` for granularity K of a release (public side)."""
    p = Path(path)
    if (p / "data").is_dir() and CONFIG_RE.match(p.name):
        return p
    base = public_dir(p) if public_dir(p).is_dir() else p
    return _granularity(base, k, "data")


def answers_dir(path: str | Path, k: int | None = None) -> Path:
    """The folder holding `{validation,test}.jsonl` answer keys for granularity K of a release."""
    p = Path(path)
    if p.name == ANSWERS:
        return p
    root = release_root(p)
    base = private_dir(root) if private_dir(root).is_dir() else p
    return _granularity(base, k, ANSWERS) / ANSWERS


def answer_files(release: str | Path) -> list[Path]:
    """Every answers JSONL of a release, all granularities."""
    private = private_dir(release)
    return sorted(private.rglob(f"{ANSWERS}/*.jsonl")) if private.is_dir() else []
