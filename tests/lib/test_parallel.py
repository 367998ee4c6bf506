"""Forked workers give what the same work gives in one process, in order."""

from __future__ import annotations

import os

import pytest

from blueprint_assets.lib.parallel import MIN_ITEMS, forked_map, workers


def _pids_and_squares(chunk: list[int]) -> tuple[int, list[int]]:
    return os.getpid(), [n * n for n in chunk]


def test_chunks_run_in_children_and_come_back_in_order() -> None:
    items = list(range(5 * MIN_ITEMS))
    parts = forked_map(_pids_and_squares, items, 2)
    assert [n for _, squares in parts for n in squares] == [n * n for n in items]
    assert len(parts) > 1 and os.getpid() not in {pid for pid, _ in parts}


def test_small_inputs_and_one_worker_stay_in_this_process() -> None:
    assert forked_map(_pids_and_squares, [1, 2, 3], 2) == [(os.getpid(), [1, 4, 9])]
    assert forked_map(_pids_and_squares, list(range(MIN_ITEMS)), 1) == [
        (os.getpid(), [n * n for n in range(MIN_ITEMS)])
    ]


def test_a_closure_is_inherited_not_pickled() -> None:
    offset = 7
    parts = forked_map(lambda chunk: [n + offset for n in chunk], list(range(MIN_ITEMS * 2)), 2)
    assert [n for part in parts for n in part] == [n + 7 for n in range(MIN_ITEMS * 2)]


def test_the_worker_count_rule() -> None:
    assert workers(3) == 3
    assert 1 <= workers() <= len(os.sched_getaffinity(0))
    with pytest.raises(ValueError, match="BLUEPRINT_WORKERS must be at least 1"):
        workers(0)


def test_a_cgroup_cpu_quota_caps_the_cores(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import blueprint_assets.lib.parallel as parallel

    quota = tmp_path / "cpu.max"
    monkeypatch.setattr(parallel, "CGROUP_CPU_MAX", quota)
    quota.write_text("50000 100000\n")  # half a CPU: one worker
    assert parallel.usable_cores() == 1 and parallel.workers() == 1
    quota.write_text("max 100000\n")
    assert parallel.usable_cores() == len(os.sched_getaffinity(0))
