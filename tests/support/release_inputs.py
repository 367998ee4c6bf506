"""A small deterministic release input shared by the release-file, config and publish tests: four users,
every action type, two clusters (and a four-cluster granularity)."""

from __future__ import annotations

from blueprint_assets.lib.privacy.pseudonyms import pseudonym
from blueprint_assets.lib.release.files import Granularity
from blueprint_assets.lib.release.granularities import align_splits
from blueprint_assets.lib.release.splits import split_threads
from blueprint_assets.lib.release.threads import build_threads

LAKE_SECRET = b"lake-secret-for-release-tests"
RELEASE_SECRET = b"release-secret-for-release-tests"
USERS = ("alice", "bob", "carol", "dave")
CLUSTERS = {pseudonym(LAKE_SECRET, f"did:plc:{u}"): i % 2 for i, u in enumerate(USERS)}
PERSONAS = {0: "# Cluster 0\nTalks about gardens.", 1: "# Cluster 1\nTalks about trains.\n"}
CFG = "2_clusters"  # the one granularity of these tests: K = number of persona cards
CONTEXT = {"window": "2025-03", "pseudonym_mode": "per-thread", "split_strategy": "temporal", "max_depth": 5}


def anonymized_rows() -> list[dict]:
    """A small deterministic activity log of four in-scope users touching every action type."""
    rows: list[dict] = []
    posts: dict[str, list[str]] = {u: [] for u in USERS}

    def add(i: int, action: str, actor: str, **fields: object) -> str:
        record = pseudonym(LAKE_SECRET, f"at://{actor}/{i}")
        base = {k: None for k in ("text", "reply_parent_id", "quote_id", "subject_id", "subject_user")}
        base.update(fields)
        rows.append(
            {
                "event_id": pseudonym(LAKE_SECRET, f"event-{i}"),
                "time_us": 1_740_787_200_000_000 + i * 1_000_000,
                "action": action,
                "actor": pseudonym(LAKE_SECRET, f"did:plc:{actor}"),
                "record_id": fields.get("record_id", record),
                "resolved": True,
                **base,
            }
        )
        return record

    for i in range(120):
        actor, other = USERS[i % 4], USERS[(i + 1) % 4]
        other_user = pseudonym(LAKE_SECRET, f"did:plc:{other}")
        kind = i % 10
        target = posts[other][-1] if posts[other] else None
        if kind in (0, 1) or target is None:
            posts[actor].append(add(i, "post", actor, text=f"{actor} says héllo {i}"))
        elif kind == 2:
            posts[actor].append(add(i, "reply", actor, text=f"reply {i}", reply_parent_id=target))
        elif kind == 3:
            add(i, "like" if i % 20 == 3 else "repost", actor, subject_id=target)
        elif kind == 4:
            add(i, "follow" if i % 20 == 4 else "block", actor, subject_user=other_user)
        elif kind == 5:
            posts[actor].append(add(i, "quote", actor, text=f"quote {i}", quote_id=target))
        elif kind == 6 and posts[actor]:
            own = posts[actor][-1]
            add(i, "post_update", actor, text=f"edited {i}", subject_id=own, record_id=own)
        elif kind == 7:
            add(i, "unlike" if i % 20 == 7 else "unrepost", actor, subject_id=target)
        elif kind == 8:
            add(i, "unfollow" if i % 20 == 8 else "unblock", actor, subject_user=other_user)
        elif kind == 9 and len(posts[actor]) > 1:
            own = posts[actor].pop(0)
            add(i, "post_delete", actor, subject_id=own, record_id=own)
    return rows


CONFIG_SECRET = b"release-secret-for-config-tests"


def two_granularities() -> dict[int, Granularity]:
    """K=2 (the test clusters) and K=4 (every user alone), split alike."""
    rows = anonymized_rows()
    users = sorted(CLUSTERS)
    maps = {2: CLUSTERS, 4: {u: i for i, u in enumerate(users)}}
    threads = {k: build_threads(rows, m, secret=CONFIG_SECRET).threads for k, m in maps.items()}
    reference = split_threads(threads[2])
    out = {}
    for k, clusters in maps.items():
        splits = reference if k == 2 else align_splits(reference, threads[k])
        out[k] = Granularity(splits, {c: f"# Persona {c} of K={k}" for c in sorted(set(clusters.values()))})
    return out
