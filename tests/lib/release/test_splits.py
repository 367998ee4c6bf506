"""Splits of action threads and hiding of answers."""

from __future__ import annotations

import copy
import hashlib
import random

import pytest
from support.reference_release import hide_answers, public_thread

from blueprint_assets.lib.actions_space import ACTION_ORDER, one_hot
from blueprint_assets.lib.release.splits import split_threads


def make_threads(n: int) -> list[dict]:
    threads = []
    for i in range(n):
        action = ACTION_ORDER[i % len(ACTION_ORDER)]
        last = {"user_id": f"{i:016x}", "relative_integer_time": i + 1, "actions": one_hot(action)}
        if action in ("post", "reply", "quote", "post_update"):
            last["text"] = f"text {i}"
        threads.append(
            {
                "id": hashlib.sha1(str(i).encode()).hexdigest(),
                "cluster_id": i % 3,
                "action": action,
                "last_time_us": 1_000 + i // 2,  # pairs share a time: ties are broken by id
                "thread": [{"user_id": "ctx", "relative_integer_time": 0, "text": "context"}, last],
            }
        )
    return threads


def ids(threads: list[dict]) -> list[str]:
    return [t["id"] for t in threads]


def test_temporal_split_puts_latest_in_test_then_validation() -> None:
    threads = make_threads(100)
    splits = split_threads(threads)
    assert [len(splits[s]) for s in ("train", "validation", "test")] == [80, 10, 10]
    ordered = sorted(threads, key=lambda t: (t["last_time_us"], t["id"]))
    assert ids(splits["train"]) == ids(ordered[:80])
    assert ids(splits["validation"]) == ids(ordered[80:90])
    assert ids(splits["test"]) == ids(ordered[90:])
    assert max(t["last_time_us"] for t in splits["validation"]) <= min(
        t["last_time_us"] for t in splits["test"]
    )
    shuffled = list(threads)
    random.Random(3).shuffle(shuffled)
    assert split_threads(shuffled) == splits


def test_random_split_is_seeded_disjoint_and_complete() -> None:
    threads = make_threads(200)
    a = split_threads(threads, "random", (0.9, 0.0, 0.1))
    assert [len(a[s]) for s in ("train", "validation", "test")] == [180, 0, 20]
    assert a == split_threads(list(reversed(threads)), "random", (0.9, 0.0, 0.1))
    b = split_threads(threads, "random", (0.9, 0.0, 0.1), seed=7)
    assert set(ids(a["test"])) != set(ids(b["test"]))
    # Not simply the latest threads.
    temporal = split_threads(threads, "temporal", (0.9, 0.0, 0.1))
    assert set(ids(a["test"])) != set(ids(temporal["test"]))
    for splits in (a, b, split_threads(threads, "random")):
        parts = [set(ids(splits[s])) for s in ("train", "validation", "test")]
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
        assert set().union(*parts) == set(ids(threads))


def test_small_and_invalid_inputs() -> None:
    assert split_threads([]) == {"train": [], "validation": [], "test": []}
    three = split_threads(make_threads(3))
    assert sum(len(v) for v in three.values()) == 3
    with pytest.raises(ValueError):
        split_threads(make_threads(5), fractions=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError):
        split_threads(make_threads(5), strategy="by-user")  # type: ignore[arg-type]
    duplicated = make_threads(2)
    duplicated[1]["id"] = duplicated[0]["id"]
    with pytest.raises(ValueError):
        split_threads(duplicated)


def test_hide_answers_removes_text_and_actions_of_last_message_only() -> None:
    thread = next(t for t in make_threads(13) if t["action"] == "reply")
    original = copy.deepcopy(thread)
    public, answer = hide_answers(thread)
    assert thread == original  # the input is not mutated
    assert list(public) == ["id", "cluster_id", "thread"]
    assert public["thread"][0] == thread["thread"][0]
    assert public["thread"][-1] == {"user_id": thread["thread"][-1]["user_id"], "relative_integer_time": 13}
    assert answer == {
        "id": thread["id"],
        "cluster_id": thread["cluster_id"],
        "action": "reply",
        "actions": one_hot("reply"),
        "text": thread["thread"][-1]["text"],
    }
    like = next(t for t in make_threads(13) if t["action"] == "like")
    assert hide_answers(like)[1]["text"] is None
    assert "last_time_us" not in public_thread(like) and "action" not in public_thread(like)
    with pytest.raises(ValueError):
        hide_answers({"id": "x", "cluster_id": 0, "thread": [{"user_id": "u", "relative_integer_time": 0}]})
