"""Charts drawn on the server as inline SVG, each with a table of its figures.

No charting library and no script: the page needs no network and no CDN, works
offline, and passes the admin's CSP and any sandbox (the SVG is markup styled by the
app's own stylesheet, with only presentation attributes, no inline style or script).
Every chart is ``role="img"`` with a title and a description naming what it shows,
and comes with a table of the same figures (``Chart.table``), so the numbers can be
read without the picture and by screen readers.

One kind of chart covers the reports: categories along the x axis (hours, mailings),
one or more series drawn as grouped bars, and optionally series drawn as lines over
them (clicks per hour over sends per hour).
"""

import math
from dataclasses import dataclass, field
from itertools import count

from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

WIDTH, HEIGHT = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 16, 44
# At most this many x labels, so they never overlap; the table has them all.
MAX_X_LABELS = 12
# A few wide bars would look like a wall: bars are at most this wide.
MAX_BAR_WIDTH = 48
_ids = count(1)


@dataclass
class Series:
    label: str
    values: list
    line: bool = False  # drawn as a line over the bars


@dataclass
class Chart:
    title: str
    description: str
    categories: list  # x labels, as text
    series: list = field(default_factory=list)
    unit: str = ""  # "%" for rates

    def table(self):
        """(headers, rows) of the chart's figures: one row per category."""
        headers = ["", *(series.label for series in self.series)]
        rows = [[category, *(self._format(series.values[index]) for series in self.series)]
                for index, category in enumerate(self.categories)]
        return headers, rows

    def _format(self, value):
        if value is None:
            return "–"
        return f"{value:.1f}{self.unit}" if self.unit else f"{value:,}"

    def svg(self):
        """The chart as inline SVG markup (safe HTML)."""
        number = next(_ids)
        top = nice_ceiling(max((v for s in self.series for v in s.values if v), default=0))
        plot = _Plot(len(self.categories), top)
        bars = [s for s in self.series if not s.line]
        parts = [plot.grid(self.unit), plot.x_labels(self.categories)]
        parts += [plot.bars(s, index, len(bars)) for index, s in enumerate(bars)]
        parts += [plot.line(s, len(bars) + index) for index, s in
                  enumerate(s for s in self.series if s.line)]
        parts.append(self._legend())
        return format_html(
            '<svg class="massmail-chart" viewBox="0 0 {} {}" role="img" '
            'aria-labelledby="massmail-chart-{}-title massmail-chart-{}-desc" '
            'xmlns="http://www.w3.org/2000/svg"><title id="massmail-chart-{}-title">{}</title>'
            '<desc id="massmail-chart-{}-desc">{}</desc>{}</svg>',
            WIDTH, HEIGHT, number, number, number, self.title, number, self.description,
            mark_safe("".join(parts)),
        )

    def _legend(self):
        items = []
        x = LEFT
        for index, series in enumerate(self.series):
            items.append(format_html(
                '<rect class="massmail-series-{}" x="{}" y="{}" width="10" height="10"></rect>'
                '<text class="massmail-chart-legend" x="{}" y="{}">{}</text>',
                index, x, HEIGHT - 14, x + 14, HEIGHT - 5, series.label))
            x += 24 + 7 * len(str(series.label))
        return "".join(items)


def nice_ceiling(value):
    """The smallest 1, 2 or 5 times a power of ten at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


class _Plot:
    """Coordinates of one chart's plot area."""

    def __init__(self, categories, top):
        self.categories = max(categories, 1)
        self.top = top
        self.width = WIDTH - LEFT - RIGHT
        self.height = HEIGHT - TOP - BOTTOM
        self.slot = self.width / self.categories

    def y(self, value):
        return TOP + self.height - (value or 0) * self.height / self.top

    def grid(self, unit):
        # 1 and 5 times a power of ten divide by five, 2 times one by four.
        steps = 4 if str(self.top).startswith("2") else 5
        lines = []
        for step in range(steps + 1):
            value = self.top * step / steps
            y = round(self.y(value), 1)
            label = f"{value:g}{unit}"
            lines.append((LEFT, y, LEFT + self.width, y, LEFT - 6, y + 4, label))
        return format_html_join(
            "", '<line class="massmail-chart-grid" x1="{}" y1="{}" x2="{}" y2="{}"></line>'
            '<text class="massmail-chart-axis" x="{}" y="{}" text-anchor="end">{}</text>', lines)

    def x_labels(self, categories):
        every = max(1, math.ceil(len(categories) / MAX_X_LABELS))
        return format_html_join(
            "", '<text class="massmail-chart-axis" x="{}" y="{}" text-anchor="middle">{}</text>',
            ((round(LEFT + (index + 0.5) * self.slot, 1), TOP + self.height + 16, label)
             for index, label in enumerate(categories) if index % every == 0))

    def bars(self, series, index, of):
        width = min(self.slot * 0.8 / of, MAX_BAR_WIDTH)
        margin = (self.slot - width * of) / 2
        return format_html_join(
            "", '<rect class="massmail-series-{}" x="{}" y="{}" width="{}" height="{}">'
            "<title>{}: {}</title></rect>",
            ((index, round(LEFT + position * self.slot + margin + index * width, 1),
              round(self.y(value), 1), round(max(width - 1, 1), 1),
              round(TOP + self.height - self.y(value), 1), series.label, value or 0)
             for position, value in enumerate(series.values)))

    def line(self, series, index):
        points = [(round(LEFT + (position + 0.5) * self.slot, 1), round(self.y(value), 1))
                  for position, value in enumerate(series.values)]
        path = " ".join(f"{x},{y}" for x, y in points)
        dots = format_html_join(
            "", '<circle class="massmail-series-{}" cx="{}" cy="{}" r="3"><title>{}: {}</title>'
            "</circle>", ((index, x, y, series.label, value or 0)
                          for (x, y), value in zip(points, series.values, strict=True)))
        return format_html('<polyline class="massmail-line-{}" points="{}"></polyline>{}',
                           index, path, dots)
