"""The events of a sample, one at a time: commits for the 13 actions, the social graph, and other records.

`EventMaker` holds the bounded state later events refer to (each account's posts and undoable records, pools of
recent posts, accounts outside the sample) and turns an event category, an account and a receive time into a
Jetstream event. Every draw comes from one `random.Random`, in a fixed order: reordering draws changes the
output, which must stay byte-identical for a given seed.
"""

from __future__ import annotations

import bisect
import json
import random
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from typing import Any

from blueprint_assets.lib.sample.content import ContentMaker, embed
from blueprint_assets.lib.sample.ids import dumps, fake_cid, iso_ms, random_did, tid
from blueprint_assets.lib.sample.model import Post, UserState, make_users
from blueprint_assets.lib.sample.vocabulary import DAY_US, EDIT_SUFFIXES, EMOJI, SYNTHETIC_MARKER, UNDO
from blueprint_assets.lib.sample.vocabulary_topics import PERSONA_INDEX, PERSONAS

Made = tuple[str | None, dict[str, Any]]  # (intended action or None, event)


def accumulate(values: Iterable[float]) -> Iterator[float]:
    """Running sums of `values` (cumulative weights for bisect-based weighted choice)."""
    total = 0.0
    for v in values:
        total += v
        yield total


def gate_record(kind: str, post: Post, ts: str) -> dict[str, Any]:
    """A threadgate (followers may reply) or postgate (no quoting) record on `post`."""
    if kind == "threadgate":
        return {
            "$type": "app.bsky.feed.threadgate",
            "allow": [{"$type": "app.bsky.feed.threadgate#followingRule"}],
            "createdAt": ts,
            "hiddenReplies": [],
            "post": post.uri,
        }
    return {
        "$type": "app.bsky.feed.postgate",
        "createdAt": ts,
        "detachedEmbeddingUris": [],
        "embeddingRules": [{"$type": "app.bsky.feed.postgate#disableRule"}],
        "post": post.uri,
    }


class EventMaker:
    """Makes one event per call of `make`; `stats` holds counts only the generator knows (misfiled, ...)."""

    def __init__(self, users: int, seed: int, start: date) -> None:
        self.seed, self.start = seed, start
        self.users = make_users(users, seed)
        self._state = [UserState(u) for u in self.users]
        self._by_persona: list[list[int]] = [[] for _ in PERSONAS]
        for u in self.users:
            self._by_persona[PERSONA_INDEX[u.persona]].append(u.index)
        self.rng = random.Random(f"blueprint-sample-events:{seed}")
        rng = self.rng
        # Heavy-ish tail of activity (exponential weights): most users act a little, a few a lot.
        weights = [rng.expovariate(1.0) + 0.05 for _ in self.users]
        self._cum_user = list(accumulate(weights))
        self._external = [random_did(rng) for _ in range(200)]
        pool = max(500, min(20_000, users * 2))
        self._recent: deque[Post] = deque(maxlen=pool)
        self._recent_replies: deque[Post] = deque(maxlen=pool // 4)
        self._persona_recent: list[deque[Post]] = [deque(maxlen=200) for _ in PERSONAS]
        self._start_us = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp()) * 1_000_000
        self._seq = 5_900_000_000 + rng.randrange(10_000_000)
        self.stats: Counter[str] = Counter()
        self.content = ContentMaker(rng, self.users, self._start_us)
        self.pii = self.content.pii

    def make(self, cat: str, st: UserState, t: int, day_idx: int) -> Made | None:
        """The event of category `cat` by account `st` received at `t`, with its intended action."""
        if cat in ("post", "reply", "quote"):
            return self._text_action(cat, st, t)
        if cat in ("like", "repost"):
            return cat, self._like_or_repost(cat, st, t)
        if cat in ("follow", "block"):
            return cat, self._follow_or_block(cat, st, t)
        if cat in UNDO:
            return self._undo(cat, st, t, day_idx)
        if cat in ("post_update", "post_delete"):
            return self._post_edit(cat, st, t, day_idx)
        if cat == "identity":
            return None, self._identity(st, t)
        if cat == "account":
            return None, self._account(st, t)
        if cat == "other_bsky":
            return None, self._other_bsky(st, t)
        return None, self._other_app(st, t)

    def _random_user(self) -> UserState:
        """An account drawn by activity weight."""
        return self._state[bisect.bisect_right(self._cum_user, self.rng.random() * self._cum_user[-1])]

    # ----- commits --------------------------------------------------------------------------------------
    def _times(self, t: int) -> tuple[int, int]:
        """(record createdAt, commit rev) microseconds shortly before the receive time `t`."""
        created = t - self.rng.randint(150_000, 1_500_000)
        return created, t - self.rng.randint(1_000, 120_000)

    def _commit(
        self,
        did: str,
        t: int,
        op: str,
        coll: str,
        rkey: str,
        rev_us: int,
        record: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        commit: dict[str, Any] = {
            "rev": tid(rev_us, self.rng.randrange(32)),
            "operation": op,
            "collection": coll,
        }
        commit["rkey"] = rkey
        if record is not None:
            commit["record"] = {**record, SYNTHETIC_MARKER: True}
            commit["cid"] = fake_cid(f"{did}/{coll}/{rkey}/{t}")
        return {"did": did, "time_us": t, "kind": "commit", "commit": commit}

    def _remember(self, st: UserState, coll: str, rec: int, cap: int = 6) -> None:
        # Reservoir-like replacement keeps some old records around, so undos can reach back several days.
        lst = st.records.setdefault(coll, [])
        if len(lst) < cap:
            lst.append(rec)
        else:
            lst[self.rng.randrange(cap)] = rec

    # ----- the social graph -----------------------------------------------------------------------------
    def _pick_target(self, st: UserState) -> Post | None:
        """A recent post by someone else (same persona more often), or None if nothing is known yet."""
        rng = self.rng
        for _ in range(4):
            r = rng.random()
            if r < 0.35:
                pool: deque[Post] = self._persona_recent[PERSONA_INDEX[st.user.persona]]
            elif r < 0.55:
                pool = self._recent_replies
            else:
                pool = self._recent
            if pool:
                p = pool[rng.randrange(len(pool))]
                if p.author != st.user.index:
                    return p
        return None

    def _external_post(self, t: int) -> Post:
        did = self._external[self.rng.randrange(len(self._external))]
        created = t - self.rng.randrange(1, 40 * DAY_US)
        rkey = tid(created, self.rng.randrange(32))
        uri = f"at://{did}/app.bsky.feed.post/{rkey}"
        cid = fake_cid(uri)
        return Post(uri, cid, rkey, did, -1, created, None, uri, cid, 0)

    def _like_or_repost(self, cat: str, st: UserState, t: int) -> dict[str, Any]:
        coll = f"app.bsky.feed.{cat}"
        target = self._pick_target(st) if self.rng.random() < 0.85 else None
        target = target or self._external_post(t)
        created, rev = self._times(t)
        packed = (created << 10) | self.rng.randrange(32)
        rkey = tid(created, packed & 1023)
        record = {
            "$type": coll,
            "createdAt": iso_ms(created),
            "subject": {"cid": target.cid, "uri": target.uri},
        }
        self._remember(st, coll, packed)
        return self._commit(st.user.did, t, "create", coll, rkey, rev, record)

    def _other_user_did(self, st: UserState) -> str:
        rng = self.rng
        if rng.random() < 0.15:
            return self._external[rng.randrange(len(self._external))]
        same = self._by_persona[PERSONA_INDEX[st.user.persona]]
        for _ in range(4):
            idx = same[rng.randrange(len(same))] if rng.random() < 0.5 else rng.randrange(len(self.users))
            if idx != st.user.index:
                return self.users[idx].did
        return self._external[0]

    def _follow_or_block(self, cat: str, st: UserState, t: int) -> dict[str, Any]:
        coll = f"app.bsky.graph.{cat}"
        created, rev = self._times(t)
        packed = (created << 10) | self.rng.randrange(32)
        rkey = tid(created, packed & 1023)
        record = {"$type": coll, "createdAt": iso_ms(created), "subject": self._other_user_did(st)}
        self._remember(st, coll, packed)
        return self._commit(st.user.did, t, "create", coll, rkey, rev, record)

    def _undo(self, cat: str, st: UserState, t: int, day_idx: int) -> Made | None:
        coll = UNDO[cat][0]
        rng = self.rng
        owner = st
        if not st.records.get(coll):
            # Borrow another user who has something to undo (early hours have few records).
            for _ in range(6):
                cand = self._random_user()
                if cand.records.get(coll):
                    owner = cand
                    break
        recs = owner.records.get(coll)
        if not recs or rng.random() < 0.03:
            return cat, self._unresolvable_delete(owner, t, coll)
        i = 0 if rng.random() < 0.3 else rng.randrange(len(recs))  # index 0 tends to be the oldest
        rec = recs[i]
        recs[i] = recs[-1]
        recs.pop()
        if ((rec >> 10) - self._start_us) // DAY_US < day_idx:
            self.stats["cross_day_undos"] += 1
        _, rev = self._times(t)
        return cat, self._commit(owner.user.did, t, "delete", coll, tid(rec >> 10, rec & 1023), rev)

    def _unresolvable_delete(self, st: UserState, t: int, coll: str) -> dict[str, Any]:
        """Delete of a record created long before the sample window (its create is never seen)."""
        self.stats["unresolvable_deletes"] += 1
        old = self._start_us - self.rng.randrange(30 * DAY_US, 200 * DAY_US)
        _, rev = self._times(t)
        return self._commit(st.user.did, t, "delete", coll, tid(old, self.rng.randrange(32)), rev)

    def _post_edit(self, cat: str, st: UserState, t: int, day_idx: int) -> Made:
        rng = self.rng
        owner = st
        if not st.posts:
            for _ in range(6):
                cand = self._random_user()
                if cand.posts:
                    owner = cand
                    break
        coll = "app.bsky.feed.post"
        if not owner.posts and cat == "post_update":
            return self._text_action("post", st, t)  # nothing to edit yet
        if not owner.posts or (cat == "post_delete" and rng.random() < 0.04):
            return cat, self._unresolvable_delete(owner, t, coll)
        i = 0 if rng.random() < 0.3 else rng.randrange(len(owner.posts))
        post = owner.posts[i]
        if (post.created_us - self._start_us) // DAY_US < day_idx:
            self.stats["cross_day_undos"] += 1
        _, rev = self._times(t)
        if cat == "post_delete":
            owner.posts[i] = owner.posts[-1]
            owner.posts.pop()
            return cat, self._commit(owner.user.did, t, "delete", coll, post.rkey, rev)
        record = json.loads(post.record_json or "{}")
        # Appending keeps every facet's byte range valid.
        record["text"] = record.get("text", "") + rng.choice(EDIT_SUFFIXES)
        ev = self._commit(owner.user.did, t, "update", coll, post.rkey, rev, record)
        owner.posts[i] = post._replace(record_json=dumps(record), cid=ev["commit"]["cid"])
        return cat, ev

    # ----- posts, replies, quotes -----------------------------------------------------------------------
    def _text_action(self, cat: str, st: UserState, t: int) -> tuple[str, dict[str, Any]]:
        rng = self.rng
        target = self._pick_target(st) if cat != "post" else None
        if cat == "reply" and target is not None and target.depth >= 12:
            target = None
        if target is None:
            cat = "post"
        created, rev = self._times(t)
        rkey = tid(created, rng.randrange(32))
        uri = f"at://{st.user.did}/app.bsky.feed.post/{rkey}"
        text, facets, langs, link = self.content.compose(st.user, reply=cat == "reply")
        record: dict[str, Any] = {"$type": "app.bsky.feed.post", "createdAt": iso_ms(created)}
        post_embed = embed(rng, cat, target, link, created)
        if post_embed is not None:
            record["embed"] = post_embed
        if facets:
            record["facets"] = facets
        record["langs"] = langs
        root_uri, root_cid, depth = uri, "", 0
        if cat == "reply" and target is not None:
            root_uri, root_cid = target.root_uri, target.root_cid
            record["reply"] = {
                "parent": {"cid": target.cid, "uri": target.uri},
                "root": {"cid": root_cid, "uri": root_uri},
            }
            depth = target.depth + 1
        record["text"] = text
        ev = self._commit(st.user.did, t, "create", "app.bsky.feed.post", rkey, rev, record)
        cid = ev["commit"]["cid"]
        post = Post(
            uri,
            cid,
            rkey,
            st.user.did,
            st.user.index,
            created,
            dumps(record),
            root_uri,
            root_cid or cid,
            depth,
        )
        self._keep_post(st, post)
        return cat, ev

    def _keep_post(self, st: UserState, post: Post) -> None:
        """Remember `post` for its author (five at most) and in the pools later events draw targets from."""
        if len(st.posts) < 5:
            st.posts.append(post)
        else:
            st.posts[self.rng.randrange(5)] = post
        self._recent.append(post)
        self._persona_recent[PERSONA_INDEX[st.user.persona]].append(post)
        if post.depth:
            self._recent_replies.append(post)

    # ----- non-action events ------------------------------------------------------------------------------
    def _next_seq(self) -> int:
        self._seq += self.rng.randint(1, 400)
        return self._seq

    def _identity(self, st: UserState, t: int) -> dict[str, Any]:
        did = st.user.did
        body = {"did": did, "handle": st.user.handle, "seq": self._next_seq(), "time": iso_ms(t - 200_000)}
        return {"did": did, "time_us": t, "kind": "identity", "identity": body}

    def _account(self, st: UserState, t: int) -> dict[str, Any]:
        did = st.user.did
        body: dict[str, Any] = {
            "active": True,
            "did": did,
            "seq": self._next_seq(),
            "time": iso_ms(t - 200_000),
        }
        if self.rng.random() < 0.1:
            body["active"] = False
            body["status"] = self.rng.choice(("deactivated", "takendown"))
        return {"did": did, "time_us": t, "kind": "account", "account": body}

    def _other_bsky(self, st: UserState, t: int) -> dict[str, Any]:
        """A Bluesky record outside the 13 actions: profile, list, list item, thread/post gate, starter pack."""
        rng = self.rng
        did = st.user.did
        created, rev = self._times(t)
        rkey = tid(created, rng.randrange(32))
        ts = iso_ms(created)
        kind = rng.choice(("profile", "list", "listitem", "threadgate", "postgate", "starterpack"))
        if kind == "profile":
            record = {
                "$type": "app.bsky.actor.profile",
                "createdAt": ts,
                "description": f"{st.user.persona.replace('_', ' ')} enthusiast. Views my own.",
                "displayName": st.user.handle.split(".")[0].capitalize(),
            }
            op = "update" if rng.random() < 0.7 else "create"
            return self._commit(did, t, op, "app.bsky.actor.profile", "self", rev, record)
        if kind in ("threadgate", "postgate") and st.posts:
            post = st.posts[-1]
            record = gate_record(kind, post, ts)
            return self._commit(did, t, "create", f"app.bsky.feed.{kind}", post.rkey, rev, record)
        if kind in ("listitem", "starterpack") and st.lists:
            record = self._list_member(kind, st, ts)
            return self._commit(did, t, "create", f"app.bsky.graph.{kind}", rkey, rev, record)
        record = {
            "$type": "app.bsky.graph.list",
            "createdAt": ts,
            "description": "",
            "name": st.user.persona.replace("_", " ").title(),
            "purpose": "app.bsky.graph.defs#curatelist",
        }
        st.lists = [*st.lists[-2:], f"at://{did}/app.bsky.graph.list/{rkey}"]
        return self._commit(did, t, "create", "app.bsky.graph.list", rkey, rev, record)

    def _list_member(self, kind: str, st: UserState, ts: str) -> dict[str, Any]:
        """A list item (an account put on one of `st`'s lists) or a starter pack built on such a list."""
        list_uri = st.lists[self.rng.randrange(len(st.lists))]
        if kind == "listitem":
            return {
                "$type": "app.bsky.graph.listitem",
                "createdAt": ts,
                "list": list_uri,
                "subject": self._other_user_did(st),
            }
        return {
            "$type": "app.bsky.graph.starterpack",
            "createdAt": ts,
            "list": list_uri,
            "name": f"{st.user.persona.replace('_', ' ').title()} starter pack",
        }

    def _other_app(self, st: UserState, t: int) -> dict[str, Any]:
        """A record of another atproto app (statusphere, teal.fm, WhiteWind) the pipeline must ignore."""
        rng = self.rng
        created, rev = self._times(t)
        rkey = tid(created, rng.randrange(32))
        ts = iso_ms(created)
        kind = rng.randrange(3)
        if kind == 0:
            coll = "xyz.statusphere.status"
            record: dict[str, Any] = {"$type": coll, "createdAt": ts, "status": rng.choice(EMOJI)}
        elif kind == 1:
            coll = "fm.teal.alpha.feed.play"
            record = {
                "$type": coll,
                "artistNames": [rng.choice(("The Example Band", "Sample Trio", "Placeholder Quartet"))],
                "duration": rng.randrange(120, 400),
                "playedTime": ts,
                "submissionClientAgent": "tealtracker/0.0.1b",
                "trackName": rng.choice(("Night Drive", "Blue Hour", "Paper Boats")),
            }
        else:
            # Post-like text in a foreign lexicon: the pipeline must ignore it, not treat it as a post.
            coll = "com.whtwnd.blog.entry"
            record = {
                "$type": coll,
                "content": self.content.sentence(PERSONA_INDEX[st.user.persona], "en", False),
                "createdAt": ts,
                "title": "Weekly notes",
                "visibility": "public",
            }
        return self._commit(st.user.did, t, "create", coll, rkey, rev, record)
