"""The cover's headline figures, as plain data (no openpyxl here).

For the reporting quarter and each headline indicator the profile receives: its total
for the quarter, for the previous quarter and for the same quarter a year before, and
the two changes (absolute for counts and days, percentage points for rates). Rates
carry their 95% interval and whether each change is larger than the uncertainty.

Disclosure control has already run: the input is the published table (a
``suppressed`` column). The rules, whatever values the frame still holds:

* a cell hidden in the tables is hidden here (its value is never read);
* a change is shown only when both of its ends are shown: the reader can then compute
  it from the two shown values, so it reveals nothing the tables do not. A change with
  a hidden end is hidden (``c``), whatever the other end.

Every figure is the published cell's own value; a change is the difference of the two
values as the workbook displays them (whole numbers for counts, one decimal for rates
and days), so that a reader who subtracts the shown figures finds the shown change.

"Larger than the uncertainty" (rates only): the 95% interval of the difference of the
two proportions by Newcombe's hybrid score method (method 10 of Newcombe 1998), built
from the two Wilson intervals the workbook shows, does not contain 0. The two periods
share persons, so the samples are not independent: the judgement is indicative.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from lavoro_debole.exports.catalogue import TOTAL, indicator_info

#: the headline indicators when a profile does not list its own ``in_evidenza``
DEFAULT_HEADLINE = ("A1", "A2", "B1", "C2", "D1", "D3", "E1", "F2")

SHOWN = "shown"
HIDDEN = "hidden"  # 'c'
NOT_COMPUTABLE = "not_computable"  # '–': the mart has the cell, without a value
NOT_YET = "not_yet"  # 'n.o.': D4/D5 not yet observable
MISSING = "missing"  # 'n.d.': the warehouse has no such period (before the data began)

#: (value, numerator, denominator, ci_low, ci_high, suppressed) of a total cell
CellRow = tuple[object, object, object, object, object, object]

NOTE_LINES = (
    "In copertina, per gli indicatori principali: il valore del trimestre, quello del "
    "trimestre precedente e quello dello stesso trimestre dell'anno prima, e le "
    "variazioni (in numero per i conteggi e i giorni, in punti percentuali, p.p., per "
    "le percentuali). La variazione è la differenza tra i due valori come sono mostrati.",
    "Una variazione è mostrata solo se entrambi i valori sono pubblicati; se uno dei due "
    "è riservato anche la variazione è riservata («c»). «n.d.»: il periodo non è nei dati.",
    "«Oltre l'incertezza» (solo percentuali): «Sì» quando l'intervallo di confidenza al "
    "95% della differenza tra le due percentuali (metodo di Newcombe, costruito dai due "
    "intervalli di Wilson mostrati) non contiene lo zero, «No» altrimenti. I due periodi "
    "riguardano in parte le stesse persone: il giudizio è indicativo.",
)


@dataclass(frozen=True)
class Figure:
    """One end of a comparison: a published total, or why it is not shown."""

    period: str
    state: str  # SHOWN, HIDDEN, NOT_COMPUTABLE, NOT_YET, MISSING
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None

    @property
    def shown(self) -> bool:
        return self.state == SHOWN


@dataclass(frozen=True)
class Change:
    """The change of the quarter against an earlier period."""

    against: str  # the earlier period
    state: str  # SHOWN, or the state of the end that keeps it from being shown
    value: float | None = None
    #: rates only: the change is larger than the uncertainty (None when not judged)
    beyond_uncertainty: bool | None = None


@dataclass(frozen=True)
class Headline:
    indicator_id: str
    name: str
    kind: str  # 'count', 'company', 'rate', 'median'
    current: Figure
    previous_quarter: Figure
    previous_year: Figure
    change_quarter: Change
    change_year: Change


def comparison_periods(quarter: str) -> tuple[str, str]:
    """The previous quarter and the same quarter of the previous year."""
    year, q = (int(x) for x in quarter.split("-Q"))
    prev = f"{year}-Q{q - 1}" if q > 1 else f"{year - 1}-Q4"
    return prev, f"{year - 1}-Q{q}"


def headline_indicators(received: Sequence[str], wanted: Sequence[str] | None) -> list[str]:
    """The profile's own list, or the default one, limited to what the profile receives."""
    chosen = wanted if wanted else DEFAULT_HEADLINE
    return [i for i in chosen if i in received]


def headline_keys(indicators: Iterable[str], quarter: str) -> list[tuple[str, str, str, str]]:
    """Every cell the cover shows (the totals of three periods), for the audit's selection."""
    periods = (quarter, *comparison_periods(quarter))
    return [(i, p, TOTAL, TOTAL) for i in indicators for p in periods]


def _number(x: object) -> float | None:
    if x is None:
        return None
    try:
        if pd.isna(x):
            return None
    except (TypeError, ValueError):
        return None
    return float(x)


def figure(rows: Mapping[tuple, CellRow], indicator: str, period: str) -> Figure:
    """A published total as the cover shows it; a hidden one never carries its value."""
    row = rows.get((indicator, period, TOTAL, TOTAL))
    if row is None:
        return Figure(period, MISSING)
    if bool(row[5]):
        return Figure(period, HIDDEN)
    value = _number(row[0])
    if value is None:
        not_yet = indicator in ("D4", "D5") and _number(row[2]) is None
        return Figure(period, NOT_YET if not_yet else NOT_COMPUTABLE)
    kind = indicator_info(indicator).kind
    if kind == "rate":
        return Figure(period, SHOWN, value, _number(row[3]), _number(row[4]))
    return Figure(period, SHOWN, value)


def displayed(value: float, kind: str) -> float:
    return float(round(value)) if kind in ("count", "company") else round(value, 1)


def newcombe(now: Figure, then: Figure) -> tuple[float, float] | None:
    """95% interval (percentage points) of now − then, from the two Wilson intervals."""
    if None in (now.value, now.ci_low, now.ci_high, then.value, then.ci_low, then.ci_high):
        return None
    p1, l1, u1 = now.value, now.ci_low, now.ci_high
    p2, l2, u2 = then.value, then.ci_low, then.ci_high
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return low, high


def change(now: Figure, then: Figure, kind: str) -> Change:
    """The change now − then, shown only when both ends are shown."""
    if not (now.shown and then.shown):
        # the end that keeps it hidden: a hidden end wins over any other reason
        states = (now.state, then.state)
        state = HIDDEN if HIDDEN in states else next(s for s in states if s != SHOWN)
        return Change(then.period, state)
    assert now.value is not None and then.value is not None
    value = displayed(now.value, kind) - displayed(then.value, kind)
    value = float(round(value)) if kind in ("count", "company") else round(value, 1)
    beyond = None
    if kind == "rate":
        interval = newcombe(now, then)
        if interval is not None:
            beyond = interval[0] > 0 or interval[1] < 0
    return Change(then.period, SHOWN, value, beyond)


def headlines(
    rows: Mapping[tuple, CellRow], indicators: Iterable[str], quarter: str
) -> list[Headline]:
    """The cover's headline figures. ``rows``: published cells by (indicator, period,
    breakdown, category) -> (value, numerator, denominator, ci_low, ci_high, suppressed)."""
    prev, year_ago = comparison_periods(quarter)
    out = []
    for ind in indicators:
        info = indicator_info(ind)
        now = figure(rows, ind, quarter)
        pq = figure(rows, ind, prev)
        py = figure(rows, ind, year_ago)
        out.append(
            Headline(
                indicator_id=ind,
                name=info.name,
                kind=info.kind,
                current=now,
                previous_quarter=pq,
                previous_year=py,
                change_quarter=change(now, pq, info.kind),
                change_year=change(now, py, info.kind),
            )
        )
    return out


def published_rows(published: pd.DataFrame) -> dict[tuple, CellRow]:
    """The total cells of a published table, in the shape :func:`headlines` reads."""
    totals = published[published["breakdown"].astype(str) == TOTAL]
    cols = ["value", "numerator", "denominator", "ci_low", "ci_high", "suppressed"]
    return {
        (str(r[0]), str(r[1]), TOTAL, TOTAL): tuple(r[2:])
        for r in totals[["indicator_id", "period", *cols]].itertuples(index=False, name=None)
    }
