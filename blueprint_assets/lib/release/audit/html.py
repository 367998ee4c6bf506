"""The privacy audit as one self-contained HTML page: `to_html` renders the blocks, charts embedded as data URIs.

Pure module (no Dagster); the same blocks and images always give the same bytes.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence

from blueprint_assets.lib.release.audit.model import Block

_CSS = (
    "body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:0.5em 0 1em}td,th{border:1px solid #bbb;padding:0.2em 0.6em;"
    "text-align:left}th{background:#eee}img{max-width:100%}"
)


def to_html(blocks: Sequence[Block], images: Mapping[str, bytes], title: str) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        f'<head><meta charset="utf-8"><title>{esc(title)}</title><style>{_CSS}</style></head>',
        "<body>",
    ]
    for block in blocks:
        if block.kind in ("h1", "h2", "p"):
            parts.append(f"<{block.kind}>{esc(block.text)}</{block.kind}>")
        elif block.kind == "ul":
            parts.append("<ul>" + "".join(f"<li>{esc(i)}</li>" for i in block.items) + "</ul>")
        elif block.kind == "table":
            head = "".join(f"<th>{esc(h)}</th>" for h in block.header)
            body = "".join(
                "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in block.rows
            )
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif block.kind == "img":
            # Embedded, so the HTML file stands alone (no external references of any kind).
            data = base64.b64encode(images[block.image]).decode("ascii")
            parts.append(f'<p><img alt="{esc(block.text)}" src="data:image/png;base64,{data}"></p>')
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)
