"""One chart's data, as dashboards, reports and exports all see it.

A :class:`Chart` is what a page draws (with the vendored chart library), what a report
draws (as SVG, so a PDF needs no JavaScript), what the table view under a chart lists and
what its CSV download holds: one source, so the four can never disagree.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from humas.lib.sheets import safe_cell

Number = int | Decimal | None


@dataclass(frozen=True)
class Series:
    name: str
    # One value per label of the chart; None is "no data" (drawn as a gap, never as 0).
    values: list[Number]


@dataclass(frozen=True)
class Chart:
    # Short ASCII key: the CSV file name and the page anchor.
    key: str
    title: str
    kind: Literal["line", "bar"]
    # The x axis: local dates as ISO strings for time series, names otherwise.
    labels: list[str]
    series: list[Series]
    # What the values are ("%", "menit"/"minutes", …), shown on the axis and table header.
    unit: str = ""
    # Shown instead of the chart when there is nothing to draw.
    empty_text: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.labels or all(
            value is None for series in self.series for value in series.values
        )

    def rows(self) -> list[list[object]]:
        """The table view: one row per label, one column per series."""
        return [
            [label, *(series.values[index] for series in self.series)]
            for index, label in enumerate(self.labels)
        ]

    def header(self, label_heading: str) -> list[str]:
        return [label_heading, *(series.name for series in self.series)]


def chart_csv(chart: Chart, label_heading: str) -> str:
    """The chart's table as CSV text (values as plain numbers, gaps as empty cells)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([safe_cell(cell) for cell in chart.header(label_heading)])
    for row in chart.rows():
        writer.writerow([safe_cell(cell) for cell in row])
    return buffer.getvalue()
