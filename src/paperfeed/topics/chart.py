"""The topic trend chart: items per week as an SVG bar chart, drawn on the server (no plotting library, no script).

The chart has no ``viewBox``: its user unit is the CSS pixel, so its text is the same size at every width (a
viewBox would shrink a 640-unit-wide chart's 11-unit labels to 6 px on a phone). Horizontal positions are
percentages of the width, so the bars stretch to fill whatever width the page gives; heights are pixels. The
tick labels are chosen so that they fit a 280 px wide chart: three dates under the axis (first week, middle,
last week) and two counts above their grid lines.

Colours are presentation attributes (``currentColor`` for text: the page's text colour, light or dark), so the
page's stylesheet can restyle the classes and nothing needs an inline style (the page's Content-Security-Policy
allows none). The same SVG is the page's inline chart and the ``/topics/<slug>/trend.svg`` document.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Sequence
from xml.sax.saxutils import escape

HEIGHT = 240
"""Pixels: the title line, the plot, the date labels."""
TITLE_SIZE = 15
LABEL_SIZE = 13
"""Pixels, at every width (the chart is never scaled)."""
TITLE_CHARS = 34
"""A longer topic name is cut with an ellipsis in the visible title (the full name stays in ``<title>``): about
what 15 px text holds in 280 px."""
_PLOT_TOP, _PLOT_BOTTOM = 44, HEIGHT - 34
_QUOTE = {'"': "&quot;"}


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, … at or above ``value`` (the top grid line)."""
    if value <= 1:
        return 1
    power = 10 ** int(math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def short_day(day: str) -> str:
    """``2025-03-03`` as ``3 Mar 2025`` (a tick label); anything else as given."""
    try:
        moment = date.fromisoformat(day)
    except ValueError:
        return day
    return f"{moment.day} {moment.strftime('%b')} {moment.year}"


def weekly_svg(title: str, series: Sequence[dict[str, object]], chart_id: str = "trend") -> str:
    """Return the SVG of items per week: one bar per week, grid lines with counts, dates under the axis.

    ``title`` is plain text (escaped here); ``chart_id`` names the title element for ``aria-labelledby``.
    """
    label = f"{title}: items per week"
    shown = title if len(title) <= TITLE_CHARS else title[:TITLE_CHARS - 1].rstrip() + "…"
    plot_h = _PLOT_BOTTOM - _PLOT_TOP
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="trend-chart" width="100%" height="{HEIGHT}" '
             f'role="img" aria-labelledby="{escape(chart_id, _QUOTE)}-title {escape(chart_id, _QUOTE)}-desc" '
             f'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif">',
             f'<title id="{escape(chart_id, _QUOTE)}-title">{escape(label)}</title>',
             f'<text class="chart-title" x="0" y="{TITLE_SIZE + 3}" font-size="{TITLE_SIZE}" font-weight="600" '
             f'fill="currentColor">{escape(shown)} · items per week</text>']
    if not series:
        parts.append(f'<desc id="{escape(chart_id, _QUOTE)}-desc">No dated items yet.</desc>')
        parts.append(f'<text class="tick" x="0" y="{_PLOT_TOP + plot_h // 2}" font-size="{LABEL_SIZE}" '
                     'fill="currentColor">no dated items yet</text>')
        parts.append("</svg>")
        return "\n".join(parts) + "\n"
    counts = [int(point["items"]) for point in series]
    top = nice_ceiling(max(counts))
    weeks = [str(point["week"]) for point in series]
    total = sum(counts)
    parts.append(f'<desc id="{escape(chart_id, _QUOTE)}-desc">{total} items in {len(series)} weeks, from the week of '
                 f'{escape(short_day(weeks[0]))} to the week of {escape(short_day(weeks[-1]))}; the busiest week had '
                 f'{max(counts)}.</desc>')
    # Grid lines at 0, half and the top, each count written just above its line, at the left.
    for value in (top // 2 if top >= 2 else None, top):
        if value is None:
            continue
        y = _PLOT_BOTTOM - plot_h * value / top
        parts.append(f'<line class="grid" x1="0" x2="100%" y1="{y:.1f}" y2="{y:.1f}" stroke="#8a949e" '
                     'stroke-opacity="0.45" stroke-dasharray="3 3"/>')
        parts.append(f'<text class="tick" x="0" y="{y - 4:.1f}" font-size="{LABEL_SIZE}" fill="currentColor">'
                     f'{value}</text>')
    step = 100 / len(series)
    bar_w = step * 0.78
    for index, (week, count) in enumerate(zip(weeks, counts)):
        bar_h = plot_h * count / top
        x = index * step + (step - bar_w) / 2
        parts.append(f'<rect class="bar" x="{x:.3f}%" y="{_PLOT_BOTTOM - bar_h:.1f}" width="{bar_w:.3f}%" '
                     f'height="{bar_h:.1f}" fill="#1f5fbf"><title>week of {escape(short_day(week))}: {count} '
                     f'item{"" if count == 1 else "s"}</title></rect>')
    parts.append(f'<line class="axis" x1="0" x2="100%" y1="{_PLOT_BOTTOM}" y2="{_PLOT_BOTTOM}" stroke="currentColor" '
                 'stroke-opacity="0.6"/>')
    parts.append(f'<text class="tick" x="0" y="{_PLOT_BOTTOM + 4 + LABEL_SIZE}" font-size="{LABEL_SIZE}" '
                 'fill="currentColor" text-anchor="start">'
                 f'{escape(short_day(weeks[0]))}</text>')
    if len(series) >= 3:
        middle = len(series) // 2
        parts.append(f'<text class="tick" x="{middle * step + step / 2:.3f}%" y="{_PLOT_BOTTOM + 4 + LABEL_SIZE}" '
                     f'font-size="{LABEL_SIZE}" fill="currentColor" text-anchor="middle">'
                     f'{escape(short_day(weeks[middle]))}</text>')
    if len(series) >= 2:
        parts.append(f'<text class="tick" x="100%" y="{_PLOT_BOTTOM + 4 + LABEL_SIZE}" font-size="{LABEL_SIZE}" '
                     'fill="currentColor" text-anchor="end">'
                     f'{escape(short_day(weeks[-1]))}</text>')
    parts.append(f'<text class="axis-title" x="100%" y="{HEIGHT - 2}" font-size="{LABEL_SIZE - 1}" '
                 'fill="currentColor" text-anchor="end">weeks start on Monday</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
