"""The privacy audit's PNG charts (matplotlib, Agg): PII removed per day and type, users per persona cluster.

Pure module (no Dagster). PNGs carry no Software/date text chunks, so equal inputs give equal bytes.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


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
