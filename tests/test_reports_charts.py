"""Server-rendered SVG charts: accessible (role, title, description, a table of the
figures), script-free and self-contained, scaled to round numbers."""

import re

import pytest

from massmail.reports.charts import MAX_X_LABELS, Chart, Series, nice_ceiling


@pytest.mark.parametrize(("value", "expected"), [
    (0, 1), (1, 1), (3, 5), (7, 10), (10, 10), (11, 20), (130, 200), (71.4, 100)])
def test_the_scale_rounds_up_to_one_two_or_five(value, expected):
    assert nice_ceiling(value) == expected


def chart(hours=3):
    return Chart(title="Sent <per> hour", description="Bars & lines",
                 categories=[f"{hour:02d}:00" for hour in range(hours)],
                 series=[Series("sent", [5, 0, 2] + [1] * (hours - 3)),
                         Series("human clicks", [0, 3, None] + [0] * (hours - 3), line=True)])


def test_svg_is_accessible_and_self_contained():
    svg = str(chart().svg())
    assert svg.startswith("<svg") and 'role="img"' in svg
    title_id, desc_id = re.search(r'aria-labelledby="(\S+) (\S+)"', svg).groups()
    assert f'<title id="{title_id}">Sent &lt;per&gt; hour</title>' in svg
    assert f'<desc id="{desc_id}">Bars &amp; lines</desc>' in svg
    for forbidden in ("<script", "style=", "href", "http://", "https://"):
        assert forbidden not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert svg.count("<rect") == 3 + 2  # three bars and two legend keys
    assert "<polyline" in svg and svg.count("<circle") == 3


def test_every_chart_has_a_table_of_its_figures():
    headers, rows = chart().table()
    assert headers == ["", "sent", "human clicks"]
    assert rows == [["00:00", "5", "0"], ["01:00", "0", "3"], ["02:00", "2", "–"]]
    percent = Chart("Rates", "", ["A"], [Series("clicked %", [71.43])], unit="%")
    assert percent.table()[1] == [["A", "71.4%"]]


def test_long_axes_label_only_some_categories_but_the_table_has_all():
    long = chart(hours=72)
    assert str(long.svg()).count('text-anchor="middle"') <= MAX_X_LABELS
    assert len(long.table()[1]) == 72
