"""Charts drawn as SVG on the server, for the report (on screen and in the PDF).

The report's PDF is made by WeasyPrint, which runs no JavaScript, so the report cannot use
the dashboards' chart library. :func:`render` draws a :class:`~humas.analytics.charts.Chart`
as plain SVG markup: lines (broken where a value is ``None``, never dropped to 0) or grouped
bars, a y axis with round tick values and the chart's unit, thinned x labels and a legend.
Every text that reaches the markup (series names, labels, the unit) is escaped: channel
handles, unit names and campaign names are typed by people.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date

from django.utils.formats import date_format, number_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from humas.analytics.charts import Chart, Number

#: Colours for the series, in order (readable printed in grey too: they differ in lightness).
PALETTE = ("#1f5fa8", "#d9822b", "#2e8b57", "#8e44ad", "#c0392b", "#5d6d7e")

WIDTH = 720
HEIGHT = 260
LEFT = 64
RIGHT = 16
BOTTOM = 40
LEGEND_ROW = 16
MAX_X_LABELS = 8
MAX_LABEL_CHARS = 16
LEGEND_CHARS = 32
#: Widest bar: a chart with one or two labels would otherwise be a wall of colour.
MAX_BAR = 48.0


def _float(value: Number) -> float | None:
    return None if value is None else float(value)


def nice_step(span: float, ticks: int = 4) -> float:
    """A round step (1, 2 or 5 times a power of ten) dividing ``span`` into about ``ticks``."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def y_range(values: list[float], *, from_zero: bool) -> tuple[float, float, float]:
    """(bottom, top, step) of the y axis for ``values``: round ticks enclosing them all.

    Bars always start at 0 (a bar's length is its value); lines start at 0 too unless the
    values sit far above it (a follower count of 10,000 ± 50 would otherwise be a flat line).
    """
    low, high = min(values), max(values)
    if from_zero or (low >= 0 and low <= high / 2):
        low = min(low, 0.0)
        high = max(high, 0.0)
    if low == high:
        low, high = (low - 1, high + 1) if low else (0.0, 1.0)
    step = nice_step(high - low)
    bottom = math.floor(low / step) * step
    top = math.ceil(high / step) * step
    return bottom, top, step


def _tick_label(value: float, step: float) -> str:
    decimals = 0 if step >= 1 else min(4, -math.floor(math.log10(step)))
    return number_format(round(value, decimals), decimal_pos=decimals, use_l10n=True)


def _short(label: str, limit: int = MAX_LABEL_CHARS) -> str:
    """A day as "3 Nov" (in the active language), a long name cut to ``limit`` characters."""
    try:
        day = date.fromisoformat(label)
    except ValueError:
        return label if len(label) <= limit else label[: limit - 1] + "…"
    return date_format(day, "j M")


def _text(x: float, y: float, text: str, *, anchor: str = "middle", css: str = "") -> str:
    extra = f' class="{css}"' if css else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{escape(text)}</text>'


def render(chart: Chart, *, width: int = WIDTH, height: int = HEIGHT) -> SafeString:
    """The chart as an ``<svg>`` element; an empty string when there is nothing to draw
    (the template shows ``chart.empty_text`` instead)."""
    if chart.is_empty:
        return mark_safe("")
    series = chart.series
    legend_rows = math.ceil(len(series) / 3) if len(series) > 1 else 0
    top_margin = 24 + legend_rows * LEGEND_ROW
    plot_w = width - LEFT - RIGHT
    plot_h = height - top_margin - BOTTOM
    values = [v for s in series for v in (_float(x) for x in s.values) if v is not None]
    bottom, top, step = y_range(values, from_zero=chart.kind == "bar")

    def y_of(value: float) -> float:
        return top_margin + plot_h - (value - bottom) / (top - bottom) * plot_h

    count = len(chart.labels)
    slot = plot_w / count
    parts: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="report-chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-label="{escape(chart.title)}" data-chart="{escape(chart.key)}" '
        f'font-family="DejaVu Sans, Arial, sans-serif" font-size="10" fill="#333">',
        f"<title>{escape(chart.title)}</title>",
    ]
    # The y axis: grid lines at round values, the unit above the labels.
    tick = bottom
    while tick <= top + step / 1000:
        y = y_of(tick)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{width - RIGHT}" y2="{y:.1f}" '
            f'stroke="#ddd" stroke-width="1"/>'
        )
        parts.append(_text(LEFT - 6, y + 3.5, _tick_label(tick, step), anchor="end"))
        tick += step
    if chart.unit:
        parts.append(_text(LEFT - 6, top_margin - 10, chart.unit, anchor="end", css="unit"))
    parts.append(
        f'<line x1="{LEFT}" y1="{top_margin + plot_h:.1f}" x2="{width - RIGHT}" '
        f'y2="{top_margin + plot_h:.1f}" stroke="#888" stroke-width="1"/>'
    )
    # The x axis: at most MAX_X_LABELS labels, evenly thinned.
    every = max(1, math.ceil(count / MAX_X_LABELS))
    for index, label in enumerate(chart.labels):
        if index % every:
            continue
        x = LEFT + slot * (index + 0.5)
        parts.append(_text(x, top_margin + plot_h + 16, _short(label)))
    if chart.kind == "bar":
        # Bars grow from 0 (or from the bottom of an axis that does not reach 0).
        parts.extend(_bars(chart, y_of, slot, 0.0 if bottom <= 0 <= top else bottom))
    else:
        parts.extend(_lines(chart, y_of, slot))
    # The legend, three series a row, above the plot.
    if legend_rows:
        for index, one in enumerate(series):
            row, column = divmod(index, 3)
            x = LEFT + column * (plot_w / 3)
            y = 6 + row * LEGEND_ROW
            colour = PALETTE[index % len(PALETTE)]
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="10" height="10" fill="{colour}"/>')
            parts.append(_text(x + 14, y + 9, _short(one.name, LEGEND_CHARS), anchor="start"))
    parts.append("</svg>")
    # Every piece of text above went through escape(); the rest is numbers and constants.
    return mark_safe("".join(parts))  # noqa: S308


def _lines(chart: Chart, y_of: Callable[[float], float], slot: float) -> list[str]:
    parts = []
    for index, one in enumerate(chart.series):
        colour = PALETTE[index % len(PALETTE)]
        runs: list[list[tuple[float, float]]] = [[]]
        for position, raw in enumerate(one.values):
            value = _float(raw)
            if value is None:
                # A gap: the line stops here and starts again at the next value.
                if runs[-1]:
                    runs.append([])
                continue
            runs[-1].append((LEFT + slot * (position + 0.5), y_of(value)))
        for run in runs:
            if len(run) == 1:
                (x, y) = run[0]
                parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"/>')
            elif run:
                points = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
                parts.append(
                    f'<polyline points="{points}" fill="none" stroke="{colour}" '
                    f'stroke-width="2" stroke-linejoin="round"/>'
                )
    return parts


def _bars(chart: Chart, y_of: Callable[[float], float], slot: float, base: float) -> list[str]:
    parts = []
    width = min(slot * 0.8 / len(chart.series), MAX_BAR)
    group = width * len(chart.series)
    for index, one in enumerate(chart.series):
        colour = PALETTE[index % len(PALETTE)]
        for position, raw in enumerate(one.values):
            value = _float(raw)
            if value is None:
                continue
            x = LEFT + slot * position + (slot - group) / 2 + width * index
            y_value, y_base = y_of(value), y_of(base)
            y, h = min(y_value, y_base), abs(y_base - y_value)
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(width - 1, 1):.1f}" '
                f'height="{max(h, 0.5):.1f}" fill="{colour}"/>'
            )
    return parts
