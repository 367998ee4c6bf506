"""The privacy audit as Markdown: `to_markdown` renders the report's blocks, escaping every text.

Pure module (no Dagster); the same blocks always give the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from blueprint_assets.lib.release.audit.model import Block

_MD_SPECIAL = re.compile(r"([\\`*<>|\[\]#])")


def _md(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text).replace("\n", " ")


def to_markdown(blocks: Sequence[Block]) -> str:
    lines: list[str] = []
    for block in blocks:
        if block.kind == "h1":
            lines += [f"# {_md(block.text)}", ""]
        elif block.kind == "h2":
            lines += [f"## {_md(block.text)}", ""]
        elif block.kind == "p":
            lines += [_md(block.text), ""]
        elif block.kind == "ul":
            lines += [f"- {_md(item)}" for item in block.items] + [""]
        elif block.kind == "table":
            lines.append("| " + " | ".join(_md(h) for h in block.header) + " |")
            lines.append("|" + "|".join("---" for _ in block.header) + "|")
            lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in block.rows]
            lines.append("")
        elif block.kind == "img":
            lines += [f"![{_md(block.text)}]({block.image})", ""]
    return "\n".join(lines).rstrip("\n") + "\n"
