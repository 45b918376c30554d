"""Helpers that lay small hand-made tables out in the long shape of marts.indicator_values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lavoro_debole.exports.model import REQUIRED_COLUMNS

PERIOD = "2024-Q3"


def row(
    indicator: str,
    period: str,
    breakdown: str,
    category: str,
    value: float | None,
    numerator: float | None = None,
    denominator: float | None = None,
) -> dict:
    return {
        "indicator_id": indicator,
        "period": period,
        "breakdown": breakdown,
        "category": category,
        "value": np.nan if value is None else float(value),
        "numerator": np.nan if numerator is None else float(numerator),
        "denominator": np.nan if denominator is None else float(denominator),
        "ci_low": np.nan,
        "ci_high": np.nan,
    }


def rate(indicator: str, period: str, breakdown: str, category: str, num: int, den: int) -> dict:
    value = None if den == 0 else 100.0 * num / den
    out = row(indicator, period, breakdown, category, value, num, den)
    if den:
        out["ci_low"], out["ci_high"] = wilson(num, den)
    return out


def wilson(num: int, den: int, z: float = 1.959964) -> tuple[float, float]:
    p = num / den
    centre = (p + z * z / (2 * den)) / (1 + z * z / den)
    half = z * np.sqrt(p * (1 - p) / den + z * z / (4 * den * den)) / (1 + z * z / den)
    return 100 * (centre - half), 100 * (centre + half)


def two_way(
    values: list[list[int]], rows: list[str], cols: list[str], indicator: str = "D1"
) -> tuple[pd.DataFrame, list[tuple[list[tuple], tuple]], dict[tuple[int, int], tuple]]:
    """A rows x columns table with its margins, and the sums that link them.

    Interior cells are categories of breakdown ``celle``, row totals of ``righe``,
    column totals of ``colonne``: each breakdown adds up to the grand total.
    """
    records = []
    keys: dict[tuple[int, int], tuple] = {}
    arr = np.array(values)
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            key = (indicator, PERIOD, "celle", f"{r} | {c}")
            keys[(i, j)] = key
            records.append(row(*key, arr[i, j]))
        key = (indicator, PERIOD, "righe", r)
        keys[(i, -1)] = key
        records.append(row(*key, arr[i].sum()))
    for j, c in enumerate(cols):
        key = (indicator, PERIOD, "colonne", c)
        keys[(-1, j)] = key
        records.append(row(*key, arr[:, j].sum()))
    keys[(-1, -1)] = (indicator, PERIOD, "totale", "totale")
    records.append(row(*keys[(-1, -1)], arr.sum()))
    sums = [([keys[(i, j)] for j in range(len(cols))], keys[(i, -1)]) for i in range(len(rows))]
    sums += [([keys[(i, j)] for i in range(len(rows))], keys[(-1, j)]) for j in range(len(cols))]
    frame = pd.DataFrame(records, columns=list(REQUIRED_COLUMNS))
    return frame, sums, keys
