"""Trend charts of a group's headline totals that tell the truth.

- A hidden value is a gap with a visible mark: a small ``x`` on the axis labelled «c».
- Counts have whole-number axes (a step of at least 1, format ``0``, from 0).
- Rates are bars with their 95% interval as error bars (custom plus and minus).
- The year is charted beside the quarters where it is publishable (for counts a
  separate point, not joined to the quarters: a year of persons is not their sum).
- An indicator with nothing to show gets no chart (no empty frame).

The chart data are written in a small labelled table below the sheet's tables; the
charts read them from there (no formula, only numbers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.chart.data_source import NumDataSource, NumRef
from openpyxl.chart.error_bar import ErrorBars
from openpyxl.chart.label import DataLabelList
from openpyxl.chart.marker import Marker
from openpyxl.chart.shapes import GraphicalProperties
from openpyxl.chart.text import RichText
from openpyxl.drawing.line import LineProperties
from openpyxl.drawing.text import CharacterProperties, Paragraph, ParagraphProperties
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from lavoro_debole.exports.catalogue import TOTAL, indicator_info

HIDDEN_LABEL = "c"
CHART_ROWS = 16  # rows the charts take at the top of a sheet (row 5 to 20)
ANCHOR_COLUMNS = ("A", "E", "K")
_BLUE = "1F4E79"
_GREY = "595959"
_HEAD_FILL = PatternFill("solid", fgColor="F2F2F2")

#: a row of the writer: (indicator, period, breakdown, category, value, numerator,
#: denominator, ci_low, ci_high, suppressed)
Rows = dict[tuple, tuple]


@dataclass(frozen=True)
class Point:
    period: str
    value: float | None  # None: hidden or not computable
    hidden: bool
    ci_low: float | None = None
    ci_high: float | None = None


@dataclass(frozen=True)
class ChartPlan:
    """One chart: the indicator and the points charted (quarters, then the year)."""

    indicator: str
    kind: str
    points: tuple[Point, ...]

    @property
    def periods(self) -> tuple[str, ...]:
        return tuple(p.period for p in self.points)

    @property
    def is_rate(self) -> bool:
        return self.kind == "rate"


def _point(rows: Rows, indicator: str, period: str) -> Point:
    row = rows.get((indicator, period, TOTAL, TOTAL))
    if row is None:
        return Point(period, None, False)
    if row[9]:
        return Point(period, None, True)

    def num(x: object) -> float | None:
        return None if x is None or pd.isna(x) else float(x)

    return Point(period, num(row[4]), False, num(row[7]), num(row[8]))


def chart_plan(rows: Rows, periods: tuple[str, ...], headlines: tuple[str, ...]) -> list[ChartPlan]:
    """The charts a sheet gets: headline indicators with at least one value to show."""
    quarters = [p for p in periods if "-Q" in p]
    years = [p for p in periods if "-Q" not in p]
    plans = []
    for ind in headlines:
        info = indicator_info(ind)
        points = [_point(rows, ind, p) for p in quarters]
        points += [pt for pt in (_point(rows, ind, y) for y in years) if pt.value is not None]
        if len(quarters) < 2 or not any(pt.value is not None for pt in points):
            continue
        plans.append(ChartPlan(ind, info.kind, tuple(points)))
    return plans


def count_axis(top: float) -> tuple[int, int]:
    """(major unit, axis maximum) for counts up to ``top``: whole steps, 4-6 of them."""
    top = max(float(top), 1.0)
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if top / step <= 6:
            return step, step * max(1, math.ceil(top / step))
    step = 10 ** math.ceil(math.log10(top / 6))
    return step, step * math.ceil(top / step)


def _title(text: str):
    from lavoro_debole.exports.workbook import _chart_title

    return _chart_title(text)


def _hidden_labels() -> DataLabelList:
    """Labels that read «c» whatever the (zero) value of the marker series."""
    labels = DataLabelList()
    labels.showVal = True
    for flag in ("showLegendKey", "showCatName", "showSerName", "showPercent", "showBubbleSize"):
        setattr(labels, flag, False)
    labels.numFmt = f'"{HIDDEN_LABEL}"'
    labels.position = "t"
    props = CharacterProperties(sz=1000, b=True, solidFill="C00000")
    labels.txPr = RichText(p=[Paragraph(pPr=ParagraphProperties(defRPr=props), endParaRPr=props)])
    return labels


def _write_data(ws: Worksheet, r: int, plan: ChartPlan) -> dict[str, int]:
    """The chart's numbers from row ``r``: returns the row of each series (and 'head')."""
    from lavoro_debole.exports.workbook import period_label, put

    fmt = "0.0" if plan.is_rate else "#,##0"
    put(ws, r, 1, f"Grafico {plan.indicator}", font=Font(bold=True), fill=_HEAD_FILL)
    for j, pt in enumerate(plan.points):
        put(ws, r, 2 + j, period_label(pt.period), font=Font(bold=True), fill=_HEAD_FILL)
    where = {"head": r}
    series: list[tuple[str, str, list[float | None]]] = []
    quarter_pts = [pt if "-Q" in pt.period else None for pt in plan.points]
    if plan.is_rate:
        series.append(("value", "Valore (%)", [pt.value for pt in plan.points]))
        series.append(
            (
                "plus",
                "Ampiezza IC 95% sopra",
                [
                    None if pt.value is None or pt.ci_high is None else pt.ci_high - pt.value
                    for pt in plan.points
                ],
            )
        )
        series.append(
            (
                "minus",
                "Ampiezza IC 95% sotto",
                [
                    None if pt.value is None or pt.ci_low is None else pt.value - pt.ci_low
                    for pt in plan.points
                ],
            )
        )
    else:
        series.append(("value", "Trimestri", [pt.value if pt else None for pt in quarter_pts]))
        if any(pt is None for pt in quarter_pts):
            series.append(
                (
                    "year",
                    "Anno",
                    [
                        pt.value if q is None else None
                        for pt, q in zip(plan.points, quarter_pts, strict=True)
                    ],
                )
            )
    if any(pt.hidden for pt in plan.points):
        series.append(
            ("hidden", "Dato riservato (c)", [0 if pt.hidden else None for pt in plan.points])
        )
    for name, label, values in series:
        r += 1
        where[name] = r
        put(ws, r, 1, label, font=Font(color=_GREY))
        # the marker row reads «c» (a chart label linked to its cells shows that too)
        cell_fmt = f'"{HIDDEN_LABEL}"' if name == "hidden" else fmt
        for j, v in enumerate(values):
            put(ws, r, 2 + j, v, number_format=cell_fmt)
    return where


def _ref(ws: Worksheet, row: int, n: int) -> Reference:
    return Reference(ws, min_col=2, max_col=1 + n, min_row=row, max_row=row)


def _chart(ws: Worksheet, plan: ChartPlan, where: dict[str, int]):
    info = indicator_info(plan.indicator)
    n = len(plan.points)
    chart = BarChart() if plan.is_rate else LineChart()
    chart.title = _title(f"{plan.indicator} · {info.name}")
    chart.style = 2
    chart.height = 7
    chart.width = 13
    chart.legend = None
    chart.display_blanks = "gap"
    names = ["value"] + [s for s in ("year", "hidden") if s in where]
    for name in names:
        chart.add_data(_ref(ws, where[name], n), from_rows=True, titles_from_data=False)
    chart.set_categories(_ref(ws, where["head"], n))
    chart.y_axis.title = "%" if plan.is_rate else "numero"
    chart.y_axis.majorGridlines = None
    chart.y_axis.delete = False
    chart.x_axis.delete = False
    chart.y_axis.scaling.min = 0
    values = [pt.value for pt in plan.points if pt.value is not None]
    if plan.is_rate:
        chart.y_axis.scaling.max = 100
        chart.y_axis.majorUnit = 20
        chart.y_axis.number_format = "0"
        chart.overlap = 100
        chart.gapWidth = 80
        main = chart.series[0]
        main.errBars = ErrorBars(
            errDir="y",
            errBarType="both",
            errValType="cust",
            noEndCap=False,
            plus=NumDataSource(numRef=NumRef(f=str(_ref(ws, where["plus"], n)))),
            minus=NumDataSource(numRef=NumRef(f=str(_ref(ws, where["minus"], n)))),
            spPr=GraphicalProperties(ln=LineProperties(solidFill="404040", w=12700)),
        )
    else:
        unit, top = count_axis(max(values) if values else 1)
        chart.y_axis.majorUnit = unit
        chart.y_axis.scaling.max = top
        chart.y_axis.number_format = "0"
        main = chart.series[0]
        main.marker = Marker(symbol="circle", size=6)
        main.smooth = False
        if "year" in where:
            year = chart.series[names.index("year")]
            year.marker = Marker(symbol="diamond", size=9)
            year.marker.graphicalProperties = GraphicalProperties(
                solidFill=_BLUE, ln=LineProperties(solidFill=_BLUE)
            )
            year.graphicalProperties = GraphicalProperties(ln=LineProperties(noFill=True))
            year.smooth = False
    if "hidden" in where:
        mark = chart.series[names.index("hidden")]
        mark.dLbls = _hidden_labels()
        if plan.is_rate:
            mark.graphicalProperties = GraphicalProperties(solidFill="C00000")
        else:
            mark.marker = Marker(symbol="x", size=8)
            mark.marker.graphicalProperties = GraphicalProperties(
                solidFill="C00000", ln=LineProperties(solidFill="C00000")
            )
            mark.graphicalProperties = GraphicalProperties(ln=LineProperties(noFill=True))
            mark.smooth = False
    return chart


def add_charts(ws: Worksheet, plans: list[ChartPlan], data_row: int) -> int:
    """Write the charts' data from ``data_row`` and anchor the charts at row 5.

    Returns the next free row below the data."""
    from lavoro_debole.exports.workbook import put

    if not plans:
        return data_row
    put(ws, data_row, 1, "Dati dei grafici", font=Font(bold=True, color=_BLUE))
    put(
        ws,
        data_row + 1,
        1,
        "Totali per periodo; una cella vuota è un dato riservato («c») o non calcolabile.",
        font=Font(size=9, color=_GREY),
    )
    r = data_row + 2
    for n, plan in enumerate(plans):
        where = _write_data(ws, r, plan)
        ws.add_chart(_chart(ws, plan, where), f"{ANCHOR_COLUMNS[min(n, 2)]}5")
        r = max(where.values()) + 2
    return r
