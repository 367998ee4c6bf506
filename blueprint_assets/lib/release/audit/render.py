"""How the privacy audit is drawn: Markdown and self-contained HTML from a list of blocks, and its PNG charts.

Pure module (no Dagster). `audit_report` builds the blocks from validated stats; this module only renders them,
so the same blocks always give the same bytes.
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


@dataclass(frozen=True)
class Block:
    kind: str  # h1 | h2 | p | ul | table | img
    text: str = ""
    items: tuple[str, ...] = ()
    header: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    image: str = ""


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


# ------------------------------------------------------------------------------------------- charts


def _figure() -> Figure:
    fig = Figure(figsize=(8, 4), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _png_bytes(fig: Figure) -> bytes:
    buf = io.BytesIO()
    # No Software/date chunks: the same stats must give the same bytes.
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def pii_chart(pii: Mapping[str, Mapping[str, int]]) -> bytes:
    fig = _figure()
    ax = fig.add_subplot()
    days = sorted(pii)
    types = sorted({t for per_day in pii.values() for t in per_day})
    if not types:
        ax.text(0.5, 0.5, "no PII removed", ha="center", va="center", transform=ax.transAxes)
    colors = [f"C{i % 10}" for i in range(len(types))]
    bottoms = [0] * len(days)
    for entity, color in zip(types, colors, strict=True):
        heights = [pii[day].get(entity, 0) for day in days]
        ax.bar(days, heights, bottom=bottoms, label=entity, color=color)
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    ax.set_title("PII removed by entity type and day")
    ax.set_ylabel("spans removed")
    if types:
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.tick_params(axis="x", labelrotation=45, labelsize="small")
    fig.tight_layout()
    return _png_bytes(fig)


def cluster_chart(sizes: Sequence[tuple[str, int]], minimum: int) -> bytes:
    fig = _figure()
    ax = fig.add_subplot()
    labels = [cid for cid, _ in sizes]
    values = [n for _, n in sizes]
    # Clusters under the minimum are drawn in red so a failing release is obvious at a glance.
    colors = ["C3" if n < minimum else "C0" for n in values]
    if len(values) <= 60:
        ax.bar(range(len(values)), values, color=colors)
    else:
        # One LineCollection instead of a thousand Rectangle patches (K = 1000 draws in well under a second).
        ax.vlines(range(len(values)), 0, values, colors=colors, linewidth=max(0.5, 400 / len(values)))
    ax.axhline(minimum, color="black", linestyle="--", label=f"minimum ({minimum})")
    if len(values) <= 60:
        ax.set_xticks(range(len(values)), labels, fontsize="small", rotation=90 if len(values) > 30 else 0)
        ax.set_xlabel("cluster id")
    else:
        # K = 100 or 1000: individual labels would be unreadable; the table below the chart lists them.
        ax.set_xticks([])
        ax.set_xlabel(f"{len(values)} clusters, in id order")
    ax.set_title("Users per persona cluster")
    ax.set_ylabel("users")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return _png_bytes(fig)
