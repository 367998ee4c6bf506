"""Writes a sample to disk as BluePrint's hourly archive and summarises what it wrote.

`generate_sample` streams `generator.iter_events`' lines into `out_dir/YYYY-MM/DD/HH/events.jsonl[.gz]` (one
folder in memory at a time; files appear atomically via a temporary name) and returns a `SampleSummary`.
Gzip output has mtime 0 and no file name, so the bytes depend only on the arguments.
"""

from __future__ import annotations

import gzip as gzip_module
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from blueprint_assets.lib.actions_space import ACTION_ORDER
from blueprint_assets.lib.sample.generator import SampleGenerator
from blueprint_assets.lib.sample.model import SampleLine
from blueprint_assets.lib.sample.vocabulary import DEFAULT_EVENTS_PER_USER_DAY


@dataclass
class SampleSummary:
    """What a sample run wrote; counts cover distinct well-formed events unless named otherwise."""

    out_dir: str
    days: int
    users: int
    seed: int
    start: str
    gzip: bool
    events: int = 0
    lines: int = 0
    duplicates: int = 0
    malformed: int = 0
    malformed_by_reason: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, int] = field(default_factory=dict)
    by_collection: dict[str, dict[str, int]] = field(default_factory=dict)
    by_action: dict[str, int] = field(default_factory=dict)
    active_users: int = 0
    files: list[str] = field(default_factory=list)
    misfiled: int = 0
    cross_day_undos: int = 0
    unresolvable_deletes: int = 0
    pii_planted: dict[str, int] = field(default_factory=dict)
    personas: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (keys of nested counts sorted)."""
        return json.loads(json.dumps(asdict(self), sort_keys=True))


@dataclass
class _Tally:
    """Running counts of the lines written, folded into a `SampleSummary` at the end."""

    events: int = 0
    duplicates: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    by_action: Counter[str] = field(default_factory=Counter)
    by_coll: dict[str, Counter[str]] = field(default_factory=dict)
    malformed: Counter[str] = field(default_factory=Counter)
    actors: set[str] = field(default_factory=set)

    def add(self, item: SampleLine) -> None:
        if item.status == "duplicate":
            self.duplicates += 1
        elif item.status != "ok":
            self.malformed[item.status] += 1
        else:
            ev = item.event or {}
            self.events += 1
            self.by_kind[ev["kind"]] += 1
            self.actors.add(ev["did"])
            if ev["kind"] == "commit":
                c = ev["commit"]
                self.by_coll.setdefault(c["collection"], Counter())[c["operation"]] += 1
            if item.action:
                self.by_action[item.action] += 1

    def fill(self, summary: SampleSummary, gen: SampleGenerator) -> None:
        """Copy the counts (sorted) and the generator's own statistics into `summary`."""
        summary.events = self.events
        summary.duplicates = self.duplicates
        summary.malformed = sum(self.malformed.values())
        summary.lines = summary.events + summary.duplicates + summary.malformed
        summary.malformed_by_reason = dict(sorted(self.malformed.items()))
        summary.by_kind = dict(sorted(self.by_kind.items()))
        summary.by_collection = {k: dict(sorted(v.items())) for k, v in sorted(self.by_coll.items())}
        summary.by_action = {a: self.by_action.get(a, 0) for a in ACTION_ORDER}
        summary.active_users = len(self.actors)
        summary.misfiled = gen.stats["misfiled"]
        summary.cross_day_undos = gen.stats["cross_day_undos"]
        summary.unresolvable_deletes = gen.stats["unresolvable_deletes"]
        summary.pii_planted = dict(sorted(gen.pii.items()))
        summary.personas = dict(sorted(Counter(u.persona for u in gen.users).items()))


def generate_sample(
    out_dir: Path,
    days: int = 3,
    users: int = 2000,
    seed: int = 7,
    start: date = date(2025, 3, 1),
    gzip: bool = False,
    events_per_user_day: float = DEFAULT_EVENTS_PER_USER_DAY,
) -> SampleSummary:
    """Write a sample archive under `out_dir` (hourly `YYYY-MM/DD/HH/events.jsonl[.gz]`) and summarise it."""
    out_dir = Path(out_dir)
    gen = SampleGenerator(days, users, seed, start, events_per_user_day)
    summary = SampleSummary(str(out_dir), days, users, seed, start.isoformat(), gzip)
    name = "events.jsonl.gz" if gzip else "events.jsonl"
    tally = _Tally()
    folder: str | None = None
    buf: list[str] = []
    for item in gen.lines():
        if item.folder != folder:
            if folder is not None:
                summary.files.append(_write_folder(out_dir, f"{folder}/{name}", buf, gzip))
            folder, buf = item.folder, []
        buf.append(item.line)
        tally.add(item)
    if folder is not None:
        summary.files.append(_write_folder(out_dir, f"{folder}/{name}", buf, gzip))
    tally.fill(summary, gen)
    return summary


def _write_folder(out_dir: Path, rel: str, lines: list[str], gz: bool) -> str:
    """Write one hourly file and return its path relative to `out_dir`."""
    _write_lines(out_dir / rel, lines, gz)
    return rel


def _write_lines(path: Path, lines: list[str], gz: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = ("\n".join(lines) + "\n").encode()
    tmp = path.with_name(path.name + ".tmp")
    if gz:
        # mtime=0 and no file name in the header keep gzip output byte-identical across runs.
        with (
            open(tmp, "wb") as raw,
            gzip_module.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as f,
        ):
            f.write(data)
    else:
        tmp.write_bytes(data)
    tmp.replace(path)
