"""The sample stream: hour after hour of events in receive order, with the flaws of a real Jetstream archive.

`SampleGenerator` draws each hour's events (diurnal volume, category mix, account activity) through
`actions.EventMaker`, then cuts them into hourly folders the way an archiver does: a few events land in the
neighbouring folder, some lines are delivered twice, and each day carries two malformed lines of every reason.
`iter_events` is the public entry point; `writer.generate_sample` writes what it yields.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from blueprint_assets.lib.sample.actions import EventMaker, accumulate
from blueprint_assets.lib.sample.ids import dumps
from blueprint_assets.lib.sample.model import SampleLine
from blueprint_assets.lib.sample.vocabulary import (
    CATEGORY_WEIGHTS,
    DAY_US,
    DEFAULT_EVENTS_PER_USER_DAY,
    HOUR_US,
    MALFORMED_REASONS,
)

Timed = tuple[int, str | None, dict[str, Any]]  # (receive time_us, intended action or None, event)


class SampleGenerator(EventMaker):
    """Streams the events of a sample; `stats` holds counts only the generator knows (misfiled, PII, ...)."""

    def __init__(
        self,
        days: int = 3,
        users: int = 2000,
        seed: int = 7,
        start: date = date(2025, 3, 1),
        events_per_user_day: float = DEFAULT_EVENTS_PER_USER_DAY,
    ) -> None:
        if days < 1 or users < 2:
            raise ValueError("a sample needs days >= 1 and users >= 2")
        super().__init__(users, seed, start)
        self.days = days
        self._cum_cat = list(accumulate(w for _, w in CATEGORY_WEIGHTS))
        self._cats = [c for c, _ in CATEGORY_WEIGHTS]
        per_day = max(24, round(users * events_per_user_day))
        # Diurnal curve: quiet around 06 UTC, busy around 18 UTC.
        curve = [1.0 + 0.6 * math.sin(2 * math.pi * (h - 12) / 24) for h in range(24)]
        total = sum(curve)
        self._hour_counts = [max(1, round(per_day * c / total)) for c in curve]
        self._dup_rate = 0.0005
        self._plans: dict[int, dict[int, list[str]]] = {}

    def lines(self) -> Iterator[SampleLine]:
        """All lines, folder after folder (chronological); within a folder, ok lines sorted by time_us."""
        pending: list[Timed] = []
        pending_slot: tuple[int, int] | None = None
        for day_idx in range(self.days):
            self._plans[day_idx] = self._day_plan()
            for hour in range(24):
                evs = self._gen_hour(day_idx, hour)
                if pending_slot is not None:
                    # Archives are cut by receive time: a few events land in the neighbouring folder.
                    n_late = self._misfile_count(crosses_day=hour == 0)
                    n_early = self._misfile_count(crosses_day=hour == 0)
                    late = pending[len(pending) - n_late :] if n_late else []
                    del pending[len(pending) - len(late) :]
                    early, evs = evs[:n_early], evs[n_early:]
                    pending.extend(early)
                    evs = late + evs
                    self.stats["misfiled"] += len(late) + len(early)
                    yield from self._emit(pending_slot, pending)
                pending, pending_slot = evs, (day_idx, hour)
        if pending_slot is not None:
            yield from self._emit(pending_slot, pending)

    def _misfile_count(self, crosses_day: bool) -> int:
        n = 1 if self.rng.random() < 0.3 else 0
        return max(n, 1) if crosses_day else n

    def _day_plan(self) -> dict[int, list[str]]:
        """Which hours of the day receive which malformed lines (two of each reason per day)."""
        plan: dict[int, list[str]] = {}
        for reason in MALFORMED_REASONS:
            for _ in range(2):
                plan.setdefault(self.rng.randrange(24), []).append(reason)
        return plan

    def _folder(self, slot: tuple[int, int]) -> str:
        d = self.start + timedelta(days=slot[0])
        return f"{d:%Y-%m}/{d:%d}/{slot[1]:02d}"

    def _emit(self, slot: tuple[int, int], evs: list[Timed]) -> Iterator[SampleLine]:
        """The lines of one folder: its events, duplicated deliveries, and the malformed lines planned for it."""
        folder = self._folder(slot)
        plan = self._plans[slot[0]]
        rng = self.rng
        out: list[SampleLine] = []
        for _, action, ev in evs:
            line = dumps(ev)
            out.append(SampleLine(folder, line, ev, action, "ok"))
            # Jetstream delivers at least once: an exact copy right after keeps the file sorted.
            if rng.random() < self._dup_rate:
                out.append(SampleLine(folder, line, ev, action, "duplicate"))
        if evs and not any(s.status == "duplicate" for s in out) and rng.random() < 0.15:
            src = out[rng.randrange(len(out))]
            out.insert(out.index(src) + 1, src._replace(status="duplicate"))
        for reason in plan.get(slot[1], []):
            if not evs:
                break
            src = out[rng.randrange(len(out))]
            out.insert(
                rng.randrange(len(out) + 1),
                SampleLine(folder, self._malformed(reason, src), None, None, reason),
            )
        yield from out

    def _malformed(self, reason: str, src: SampleLine) -> str:
        rng = self.rng
        ev = src.event or {}
        if reason == "truncated":
            return src.line[: rng.randrange(10, max(11, len(src.line) - 5))]
        if reason == "not_json":
            return rng.choice(
                ("<html><body>502 Bad Gateway</body></html>", "}}{{garbage", "ERROR read tcp: reset")
            )
        if reason == "not_object":
            return rng.choice(("[1,2,3]", "null", '"did:plc"', "42"))
        broken = dict(ev)
        if reason == "missing_did":
            broken.pop("did", None)
        elif reason == "missing_time_us":
            broken.pop("time_us", None)
        else:  # bad_time_us
            broken["time_us"] = str(ev.get("time_us", ""))
        return dumps(broken)

    def _gen_hour(self, day_idx: int, hour: int) -> list[Timed]:
        rng = self.rng
        base = self._start_us + day_idx * DAY_US + hour * HOUR_US
        # Generated in time order so every undo/reply/like refers to something already emitted.
        offsets = sorted(rng.randrange(HOUR_US) for _ in range(self._hour_counts[hour]))
        out: list[Timed] = []
        # Local names: this loop runs once per event, the hottest path of the generator.
        cum_u, total_u = self._cum_user, self._cum_user[-1]
        cum_c, total_c = self._cum_cat, self._cum_cat[-1]
        for off in offsets:
            t = base + off
            cat = self._cats[bisect.bisect_right(cum_c, rng.random() * total_c)]
            user = self._state[bisect.bisect_right(cum_u, rng.random() * total_u)]
            made = self.make(cat, user, t, day_idx)
            if made is not None:
                out.append((t, made[0], made[1]))
        return out


def iter_events(
    days: int = 3,
    users: int = 2000,
    seed: int = 7,
    start: date = date(2025, 3, 1),
    events_per_user_day: float = DEFAULT_EVENTS_PER_USER_DAY,
) -> Iterator[SampleLine]:
    """Stream every line of a sample in write order (see `SampleLine`); memory stays bounded by one hour."""
    yield from SampleGenerator(days, users, seed, start, events_per_user_day).lines()
