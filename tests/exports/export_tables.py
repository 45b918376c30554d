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


#: Categories used by the synthetic mart (a few per breakdown, as in indicators.md).
CATEGORIES: dict[str, tuple[str, ...]] = {
    "sesso": ("M", "F"),
    "fascia_eta": ("<18", "18-24", "25-34", "35-44", "45-54", "55+"),
    "cittadinanza": ("italiana", "straniera", "non indicata"),
    "posizione_giuridica": ("in carcere", "misura alternativa", "ex detenuto", "non indicata"),
    "distretto": ("Lodi", "Casalpusterlengo", "Sant'Angelo Lodigiano", "non indicata"),
    "tipo_contratto": ("tempo indeterminato", "tempo determinato", "apprendistato", "altro"),
    "tipo_datore": ("cooperativa sociale", "impresa"),
    "agevolazione_193": ("sì", "no"),
    "tipo_contratto_coop": ("Indeterminato", "Determinato", "Socio lavoratore"),
    "tipo_utente": ("Detenuto", "Familiare", "Operatore"),
    "richiesta": ("Lavoro", "Formazione", "Casa"),
    "inviato_a": ("Sert", "Caritas", "Nessuno"),
    "area": ("Ristorazione", "Logistica"),
    "sede": ("Lodi", "Codogno"),
    "tipo": ("Tirocinio extracurricolare", "Borsa lavoro"),
    "mansione": ("Pulizie", "Manutenzione verde"),
    "associazione": ("Confcommercio", "Confartigianato"),
    "ateco_sezione": ("C", "G", "I"),
    "forme_disponibili": ("Tirocinio", "Assunzione"),
}


def synthetic_mart(
    seed: int, year: int = 2024, indicators: tuple[str, ...] | None = None, scale: int = 12
) -> pd.DataFrame:
    """A small consistent marts.indicator_values: quarters and the year, every breakdown.

    Units (persons, events, companies) are drawn per quarter with random categories, so
    additive breakdowns add up and quarter-additive indicators add up to the year; the
    year of a distinct-person count is drawn on its own (no sum holds).
    """
    from lavoro_debole.exports.catalogue import INDICATORS

    rng = np.random.default_rng(seed)
    quarters = [f"{year}-Q{q}" for q in range(1, 5)]
    records: list[dict] = []

    def draw(n: int, bds: tuple[str, ...]) -> list[dict[str, str]]:
        return [{bd: str(rng.choice(CATEGORIES[bd])) for bd in bds} for _ in range(n)]

    for info in INDICATORS.values():
        if indicators is not None and info.id not in indicators:
            continue
        if info.kind in ("quality",) and info.id != "Q2":
            continue
        units: dict[str, list[dict]] = {}
        for q in quarters:
            n = int(rng.integers(0, scale + 1))
            units[q] = draw(n, info.breakdowns)
            for u in units[q]:
                u["_ok"] = bool(rng.random() < 0.6)
        if info.quarter_additive:
            units[str(year)] = [u for q in quarters for u in units[q]]
        else:
            units[str(year)] = draw(int(rng.integers(scale, 3 * scale)), info.breakdowns)
            for u in units[str(year)]:
                u["_ok"] = bool(rng.random() < 0.6)
        for period, us in units.items():
            cells = [("totale", "totale", us)]
            for bd in info.breakdowns:
                cells += [(bd, c, [u for u in us if u[bd] == c]) for c in CATEGORIES[bd]]
            for bd, cat, members in cells:
                if info.kind == "rate":
                    ok = sum(u["_ok"] for u in members)
                    records.append(rate(info.id, period, bd, cat, ok, len(members)))
                elif info.kind == "median":
                    n = len(members)
                    records.append(row(info.id, period, bd, cat, 30.0 + n if n else None, None, n))
                elif info.id == "Q2":
                    records.append(row("Q2", period, bd, cat, len(members)))
                else:
                    records.append(row(info.id, period, bd, cat, len(members)))
    frame = pd.DataFrame(records, columns=list(REQUIRED_COLUMNS))
    # Q3's denominator is A1's total, as the definitions say
    if indicators is None or "Q3" in indicators:
        a1 = frame[(frame["indicator_id"] == "A1") & (frame["breakdown"] == "totale")]
        for _, r in a1.iterrows():
            den = int(r["value"])
            num = int(rng.integers(0, den + 1))
            mask = (frame["indicator_id"] == "Q3") & (frame["period"] == r["period"])
            frame = frame[~mask]
            frame = pd.concat(
                [frame, pd.DataFrame([rate("Q3", r["period"], "totale", "totale", num, den)])],
                ignore_index=True,
            )
    return frame
