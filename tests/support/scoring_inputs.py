"""Fixed answers, predictions and a hashed embedding shared by the scoring-mode tests (deterministic)."""

from __future__ import annotations

import hashlib
import re

import numpy as np

WORDS = [
    "cat",
    "dog",
    "vote",
    "senate",
    "budget",
    "kitten",
    "garden",
    "tomato",
    "rose",
    "moon",
    "star",
    "orbit",
    "rocket",
    "bill",
    "house",
    "election",
    "coffee",
    "rain",
    "music",
    "guitar",
    "concert",
    "ferry",
    "harbor",
    "train",
    "station",
    "bread",
    "cheese",
    "market",
    "river",
    "bridge",
]
ACTIONS = ("like", "reply", "post", "repost", "follow", "quote", "unlike", "block", "post_update")
# Texts that exercise BluePrint's text handling: quotes, backslashes, escapes, non-ASCII, single characters.
ODD = (
    'she said "no way" and left',
    "path C:\\temp\\cats is full",
    "line one\\nline two about the moon",
    "caf\u00e9 au lait and cheese",
    "x",
    "  padded garden text  ",
    "emoji \U0001f600 rocket launch",
    "ends with a backslash \\",
)


def hash_embed(texts: list[str]) -> np.ndarray:
    """Deterministic bag-of-words embedding (256 hashed dimensions); the empty text gets its own vector."""
    out = np.zeros((len(texts), 256), dtype=np.float32)
    for i, text in enumerate(texts):
        words = re.findall(r"\w+", text.lower()) or ["<empty>"]
        for word in words:
            out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % 256] += 1.0
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def sentence(i: int, n: int = 6) -> str:
    return " ".join(WORDS[(i * 7 + j * 3) % len(WORDS)] for j in range(n))


def answer_rows() -> list[tuple[str, int, str, str | None]]:
    """(id, cluster, action, text) for 36 items in 3 clusters."""
    rows = []
    for i in range(36):
        action = ACTIONS[(i * 5) % len(ACTIONS)] if i % 4 else ("reply", "post", "quote")[i % 3]
        text = None
        if action in ("reply", "post", "quote", "post_update"):
            text = ODD[i % len(ODD)] if i % 3 == 0 else sentence(i)
        rows.append((f"t{i:02d}", i % 3, action, text))
    return rows


def prediction_rows() -> list[tuple[str, str, str]]:
    """(id, action, text): a mix of right and wrong actions, paraphrases, odd and empty texts."""
    rows = []
    for i, (rid, _, action, _text) in enumerate(answer_rows()):
        guess = action if i % 3 else ACTIONS[(i + 1) % len(ACTIONS)]
        if i % 5 == 0:
            gen = ""
        elif i % 7 == 0:
            gen = ODD[(i + 3) % len(ODD)]
        else:
            gen = sentence(i + (i % 2), 5)
        rows.append((rid, guess, gen))
    return rows


def blueprint_with_embed(monkeypatch, embed):
    """The `blueprint` command (`cli.main`) with the scoring commands' text encoder replaced by `embed`."""
    from blueprint_assets import cli, cli_score

    monkeypatch.setattr(cli_score, "embedder_from_args", lambda *args, **kwargs: embed)
    return cli.main
