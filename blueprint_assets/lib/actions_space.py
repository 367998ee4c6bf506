"""The 13-type action space of the BluePrint release, shared by every stage."""

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


def one_hot(action: str) -> dict[str, bool]:
    """The 13-boolean actions dict with exactly `action` set."""
    if action not in ACTION_SET:
        raise ValueError(f"unknown action type {action!r}; expected one of {', '.join(ACTION_ORDER)}")
    return {name: name == action for name in ACTION_ORDER}
