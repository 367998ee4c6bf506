"""The 13-type action space of the BluePrint release and the Bluesky collections it comes from, shared by
every stage."""

from __future__ import annotations

ACTION_ORDER: tuple[str, ...] = (
    "like",
    "unlike",
    "repost",
    "unrepost",
    "follow",
    "unfollow",
    "block",
    "unblock",
    "post_update",
    "post_delete",
    "quote",
    "post",
    "reply",
)
ACTION_SET = frozenset(ACTION_ORDER)

# Actions whose last message carries text as well as the action flag.
TEXT_ACTIONS = frozenset({"post", "reply", "quote", "post_update"})

# The Bluesky collections the action table is built from: posts, and the records whose create and delete
# are an action and its undo. Every source asks for these, and the mapping reads only these.
POST_COLLECTION = "app.bsky.feed.post"
ACTION_COLLECTIONS: dict[str, tuple[str, str]] = {
    "app.bsky.feed.like": ("like", "unlike"),
    "app.bsky.feed.repost": ("repost", "unrepost"),
    "app.bsky.graph.follow": ("follow", "unfollow"),
    "app.bsky.graph.block": ("block", "unblock"),
}
BLUESKY_COLLECTIONS: tuple[str, ...] = (POST_COLLECTION, *ACTION_COLLECTIONS)


def one_hot(action: str) -> dict[str, bool]:
    """The 13-boolean actions dict with exactly `action` set."""
    if action not in ACTION_SET:
        raise ValueError(f"unknown action type {action!r}; expected one of {', '.join(ACTION_ORDER)}")
    return {name: name == action for name in ACTION_ORDER}
