"""Indicators a workbook would show with nothing in them, and which periods would help.

When every total of an indicator is hidden (``c``) or not computable in all the
periods a profile shows, the workbook says so in the indicator's place and the steward
is told when the candidate is built, with the periods that would publish it: the year
(or the year to date) and the last four quarters together. Whether those would publish
it is worked out from the unprotected table with the primary rule of the profile's k
(exactly, from the protection, for a year row the mart already has).

Values-free: the messages name indicators and periods, never a figure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lavoro_debole.exports.catalogue import TOTAL, indicator_info
from lavoro_debole.exports.disclosure import Protection
from lavoro_debole.exports.profiles import parse_quarter

YES, NO, MAYBE = "sì", "no", "forse"


@dataclass(frozen=True)
class Remedy:
    """A period that is not in the workbook and whether it would publish the indicator."""

    label: str  # Italian, e.g. "l'anno 2024 (opzione year_to_date del profilo)"
    would_publish: str  # YES, NO or MAYBE


@dataclass(frozen=True)
class EmptyIndicator:
    """An indicator whose totals are all hidden or not computable in the workbook."""

    indicator_id: str
    name: str
    periods: tuple[str, ...]
    remedies: tuple[Remedy, ...]

    def message(self) -> str:
        """The steward's line (Italian, no figures)."""
        from lavoro_debole.exports.workbook import period_label

        shown = ", ".join(period_label(p) for p in self.periods)
        text = (
            f"Indicatore {self.indicator_id} ({self.name}): nessun dato pubblicabile nei "
            f"periodi della cartella ({shown}), ogni totale è riservato o non calcolabile."
        )
        helping = [r.label for r in self.remedies if r.would_publish == YES]
        perhaps = [r.label for r in self.remedies if r.would_publish == MAYBE]
        if helping:
            text += " Lo renderebbe pubblicabile: " + "; ".join(helping) + "."
        if perhaps:
            text += " Forse: " + "; ".join(perhaps) + "."
        failing = [r.label for r in self.remedies if r.would_publish == NO]
        if failing:
            text += " Non basterebbe: " + "; ".join(failing) + "."
        if not self.remedies:
            text += " Nessun altro periodo lo renderebbe pubblicabile."
        return text

    def reader_text(self) -> str:
        """What the workbook says in the indicator's place (plain Italian, no figures)."""
        return (
            "Nessun dato pubblicabile in questa cartella per questo indicatore: in tutti i "
            "periodi mostrati il totale riguarda troppo poche persone per essere pubblicato "
            "(«c») oppure non è calcolabile («–»)."
        )


def _publishes(kind: str, quarter_additive: bool, rows: pd.DataFrame, k: int) -> str | None:
    """Whether the quarters in ``rows`` taken together would pass the primary rule (None:
    the quarters cannot be taken together, as a rate on the last day of a period)."""
    if rows.empty:
        return NO
    if kind == "company":
        return YES
    if kind == "count":
        values = rows["value"].fillna(0).to_numpy(dtype=float)
        low = values.sum() if quarter_additive else values.max()
        high = values.sum()
        if low >= k:
            return YES
        return NO if high < k else MAYBE
    if kind == "median":
        n = rows["denominator"]
        if "median_persons" in rows.columns:
            n = n.fillna(rows["median_persons"])
        n = n.fillna(0).to_numpy(dtype=float)
        if n.max() >= k:
            return YES
        return NO if n.sum() < k else MAYBE
    if kind == "rate" and quarter_additive:
        num = float(rows["numerator"].fillna(0).sum())
        den = float(rows["denominator"].fillna(0).sum())

        def small(x: float) -> bool:
            return 1 <= x <= k - 1

        return NO if den < k or small(num) or small(den - num) else YES
    return None  # a rate of a stock (end of period) has no meaning over several quarters


def _quarters_back(quarter: str, n: int) -> list[str]:
    year, q = parse_quarter(quarter)
    out = []
    for back in range(n):
        y, i = divmod((year * 4 + q - 1) - back, 4)
        out.append(f"{y}-Q{i + 1}")
    return out[::-1]


def empty_indicators(
    protection: Protection,
    shown: np.ndarray,
    indicators: tuple[str, ...],
    quarter: str,
    periods: list[str],
) -> list[EmptyIndicator]:
    """The profile's indicators with no publishable total in ``periods``, with remedies."""
    frame = protection.universe.frame
    suppressed = np.asarray(protection.suppressed, dtype=bool)
    k = protection.k
    ind = frame["indicator_id"].astype(str).to_numpy()
    total = (frame["breakdown"].astype(str) == TOTAL).to_numpy() & (
        frame["category"].astype(str) == TOTAL
    ).to_numpy()
    period = frame["period"].astype(str).to_numpy()
    value = frame["value"].to_numpy(dtype=float)
    year, q = parse_quarter(quarter)
    out = []
    for indicator in indicators:
        if indicator.startswith("Q"):
            continue
        mine = shown & total & (ind == indicator)
        if not mine.any():
            continue
        visible = mine & ~suppressed & ~np.isnan(value)
        if visible.any():
            continue
        info = indicator_info(indicator)
        remedies: list[Remedy] = []
        year_row = total & (ind == indicator) & (period == str(year))
        if q == 4 and year_row.any() and str(year) not in periods:
            ok = (~suppressed[year_row] & ~np.isnan(value[year_row])).any()
            remedies.append(
                Remedy(f"l'anno {year} (opzione «year_to_date» del profilo)", YES if ok else NO)
            )
        elif q > 1:  # (in the first quarter the year to date is the quarter)
            ytd = [f"{year}-Q{i}" for i in range(1, q + 1)]
            rows = frame[total & (ind == indicator) & np.isin(period, ytd)]
            verdict = _publishes(info.kind, info.quarter_additive, rows, k)
            if verdict is not None:
                remedies.append(
                    Remedy(
                        f"l'anno fino al {q}° trimestre {year} insieme (da T1 a T{q} {year})",
                        verdict,
                    )
                )
        if q < 4:  # at Q4 the last four quarters are the year
            last4 = _quarters_back(quarter, 4)
            rows = frame[total & (ind == indicator) & np.isin(period, last4)]
            first = last4[0].partition("-Q")[0]
            verdict = _publishes(info.kind, info.quarter_additive, rows, k)
            if verdict is not None:
                remedies.append(
                    Remedy(
                        f"gli ultimi quattro trimestri insieme (da T{last4[0][-1]} {first} "
                        f"a T{q} {year})",
                        verdict,
                    )
                )
        out.append(EmptyIndicator(indicator, info.name, tuple(periods), tuple(remedies)))
    return out
