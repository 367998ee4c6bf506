"""Several granularities (K) in one release: the same threads, in the same split, for every K.

Threads are built once per K (their `cluster_id`, and so their id, depend on K), but what they publish,
the messages, does not. `content_key` identifies a thread independently of K, and `align_splits` puts
each thread of another K in the split its twin has in the reference K, so a text hidden in one config is
never public in another and every config has the same train/validation/test threads.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from blueprint_assets.lib.release.splits import SPLITS


def content_key(thread: dict[str, Any]) -> str:
    """K-independent identity of a thread: its action, last-message time and messages."""
    payload = json.dumps(
        [thread["action"], int(thread["last_time_us"]), thread["thread"]],
        ensure_ascii=False, sort_keys=True, separators=(",", ":"),
    )  # fmt: skip
    return hashlib.sha1(payload.encode("utf-8")).hexdigest()


def align_splits(
    reference: dict[str, list[dict[str, Any]]], threads: list[dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """`threads` (another K) split like their twins in `reference`; ordered like the reference splits."""
    where = {content_key(t): (name, i) for name in SPLITS for i, t in enumerate(reference.get(name, []))}
    placed: dict[str, list[tuple[int, dict[str, Any]]]] = {name: [] for name in SPLITS}
    for thread in threads:
        key = content_key(thread)
        if key not in where:
            raise ValueError("a thread of one granularity has no twin in the reference granularity")
        name, position = where[key]
        placed[name].append((position, thread))
    return {name: [t for _, t in sorted(items, key=lambda item: item[0])] for name, items in placed.items()}
