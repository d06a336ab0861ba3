"""A small hand-written SVG bar chart of items per week, for topic pages (no plotting library needed)."""

from __future__ import annotations

from typing import Sequence
from xml.sax.saxutils import escape


def weekly_svg(title: str, series: Sequence[dict[str, object]], width: int = 640, height: int = 200) -> str:
    """Return an SVG document: one bar per week, the peak labelled, first and last week on the axis."""
    left, right, top, bottom = 40, 10, 28, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title, _QUOTE)}: items per week">',
             f'<title>{escape(title)}: items per week</title>',
             '<style>text{font:11px sans-serif;fill:#333}.bar{fill:#4a78c2}.axis{stroke:#999}</style>',
             f'<text x="{left}" y="16">{escape(title)} — items per week</text>',
             f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}"/>']
    if not series:
        parts.append(f'<text x="{left + 8}" y="{top + plot_h // 2}">no dated items yet</text>')
    else:
        peak = max(int(point["items"]) for point in series) or 1
        step = plot_w / len(series)
        bar_w = max(1.0, step * 0.8)
        for index, point in enumerate(series):
            count = int(point["items"])
            bar_h = plot_h * count / peak
            x = left + index * step + (step - bar_w) / 2
            parts.append(f'<rect class="bar" x="{x:.1f}" y="{top + plot_h - bar_h:.1f}" width="{bar_w:.1f}" '
                         f'height="{bar_h:.1f}"><title>week of {escape(str(point["week"]))}: {count}</title></rect>')
        parts.append(f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{peak}</text>')
        parts.append(f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>')
        parts.append(f'<text x="{left}" y="{height - 8}">{escape(str(series[0]["week"]))}</text>')
        parts.append(f'<text x="{left + plot_w}" y="{height - 8}" text-anchor="end">'
                     f'{escape(str(series[-1]["week"]))}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


_QUOTE = {'"': "&quot;"}
