"""A funder's targets (``obiettivi:``) and baselines (``baseline:``), as plain data.

A profile may say, per indicator, the value it aims at for a quarter or a year and the
value it starts from. The workbook shows, per target: baseline, target, actual (the
published total of that period) and the share of the way reached,

* with a baseline: (actual − baseline) / (target − baseline) × 100;
* without one: actual / target × 100.

The share reached is a function of the actual: it is hidden together with it (``c``)
and never computed from a hidden value, whatever the frame holds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lavoro_debole.exports.catalogue import TOTAL, indicator_info
from lavoro_debole.exports.headline import (
    HIDDEN,
    MISSING,
    NOT_COMPUTABLE,
    SHOWN,
    CellRow,
    Figure,
    displayed,
    figure,
)

NOT_DUE = "not_due"  # the period has not ended by the reporting quarter
_PERIOD = re.compile(r"^\d{4}(-Q[1-4])?$")
ENTRY_FIELDS = ("indicatore", "periodo", "valore")


class TargetError(ValueError):
    """An ``obiettivi:``/``baseline:`` entry is wrong; the message says which and why."""


@dataclass(frozen=True)
class Target:
    indicator_id: str
    period: str  # '2025-Q2' or '2025'
    value: float


@dataclass(frozen=True)
class Baseline:
    indicator_id: str
    period: str
    value: float


@dataclass(frozen=True)
class TargetRow:
    """One line of the sheet Obiettivi."""

    target: Target
    baseline: Baseline | None
    actual: Figure
    reached: float | None  # % of the way reached; None unless the actual is shown

    @property
    def state(self) -> str:
        return self.actual.state


def period_end_key(period: str) -> tuple[int, int]:
    """(year, last quarter) of a period: '2025' ends with its fourth quarter."""
    if "-Q" in period:
        year, q = period.split("-Q")
        return int(year), int(q)
    return int(period), 4


def _entries(
    raw: object, field: str, source: str, received: Sequence[str]
) -> list[tuple[str, str, float]]:
    def fail(i: int | None, why: str) -> TargetError:
        where = f"voce {i}: " if i is not None else ""
        return TargetError(f"{source}: campo '{field}': {where}{why}")

    if raw is None:
        return []
    if not isinstance(raw, list):
        raise fail(None, "deve essere un elenco di voci con indicatore, periodo e valore")
    out = []
    seen: set[tuple[str, str]] = set()
    for i, entry in enumerate(raw, start=1):
        if not isinstance(entry, dict):
            raise fail(i, "deve avere i campi indicatore, periodo e valore")
        unknown = sorted(str(k) for k in entry if k not in ENTRY_FIELDS)
        if unknown:
            raise fail(i, f"campo sconosciuto '{unknown[0]}' (ammessi: {', '.join(ENTRY_FIELDS)})")
        missing = [k for k in ENTRY_FIELDS if k not in entry]
        if missing:
            raise fail(i, f"manca il campo '{missing[0]}'")
        ind = entry["indicatore"]
        if not isinstance(ind, str):
            raise fail(i, "l'indicatore deve essere un codice come A1")
        ind = ind.strip()
        try:
            info = indicator_info(ind)
        except KeyError:
            info = None
        if info is None or ind.startswith("Q"):
            raise fail(i, f"indicatore '{ind}' sconosciuto (codici da A1 a F4)")
        if ind not in received:
            raise fail(i, f"l'indicatore {ind} non è tra quelli che il profilo riceve")
        period = entry["periodo"]
        if isinstance(period, bool) or not isinstance(period, int | str):
            raise fail(i, "il periodo deve essere un trimestre (2025-Q2) o un anno (2025)")
        period = str(period).strip()
        if not _PERIOD.match(period):
            raise fail(
                i, f"periodo '{period}' non valido: scrivere 2025-Q2 (trimestre) o 2025 (anno)"
            )
        value = entry["valore"]
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not math.isfinite(value):
            raise fail(i, "il valore deve essere un numero (ad esempio 40 o 35.5)")
        if value < 0:
            raise fail(i, "il valore non può essere negativo")
        if info.kind == "rate" and value > 100:
            raise fail(i, f"{ind} è una percentuale: il valore va da 0 a 100")
        if (ind, period) in seen:
            raise fail(i, f"{ind} {period} compare due volte")
        seen.add((ind, period))
        out.append((ind, period, float(value)))
    return out


def parse_targets(
    obiettivi: object, baseline: object, source: str, received: Sequence[str]
) -> tuple[tuple[Target, ...], tuple[Baseline, ...]]:
    """Validate a profile's ``obiettivi:`` and ``baseline:``; errors in Italian."""
    targets = tuple(Target(*e) for e in _entries(obiettivi, "obiettivi", source, received))
    baselines = tuple(Baseline(*e) for e in _entries(baseline, "baseline", source, received))
    by_ind: dict[str, Baseline] = {}
    for i, b in enumerate(baselines, start=1):
        if b.indicator_id in by_ind:
            raise TargetError(
                f"{source}: campo 'baseline': voce {i}: {b.indicator_id} ha già una baseline "
                "(al più una per indicatore)"
            )
        by_ind[b.indicator_id] = b
    for i, t in enumerate(targets, start=1):
        b = by_ind.get(t.indicator_id)
        if b is not None and b.value == t.value:
            raise TargetError(
                f"{source}: campo 'obiettivi': voce {i}: il valore obiettivo di "
                f"{t.indicator_id} è uguale alla sua baseline"
            )
        if b is None and t.value == 0:
            raise TargetError(
                f"{source}: campo 'obiettivi': voce {i}: un obiettivo 0 senza baseline non "
                "permette di calcolare la percentuale raggiunta"
            )
    return targets, baselines


def target_keys(targets: Sequence[Target], quarter: str) -> list[tuple[str, str, str, str]]:
    """The cells the sheet Obiettivi shows (actuals of periods ended by the quarter)."""
    now = period_end_key(quarter)
    return [
        (t.indicator_id, t.period, TOTAL, TOTAL) for t in targets if period_end_key(t.period) <= now
    ]


def reached(actual: float, target: float, baseline: float | None) -> float:
    """% of the way from the baseline (or from 0) to the target, one decimal."""
    start = 0.0 if baseline is None else baseline
    return round(100.0 * (actual - start) / (target - start), 1)


def target_rows(
    rows: Mapping[tuple, CellRow],
    targets: Sequence[Target],
    baselines: Sequence[Baseline],
    quarter: str,
) -> list[TargetRow]:
    """Target, baseline, actual and % reached; the last hidden with the actual."""
    by_ind = {b.indicator_id: b for b in baselines}
    now = period_end_key(quarter)
    out = []
    for t in targets:
        base = by_ind.get(t.indicator_id)
        if period_end_key(t.period) > now:
            out.append(TargetRow(t, base, Figure(t.period, NOT_DUE), None))
            continue
        actual = figure(rows, t.indicator_id, t.period)
        share = None
        if actual.state == SHOWN and actual.value is not None:
            shown = displayed(actual.value, indicator_info(t.indicator_id).kind)
            share = reached(shown, t.value, None if base is None else base.value)
        out.append(TargetRow(t, base, actual, share))
    return out


__all__ = [
    "HIDDEN",
    "MISSING",
    "NOT_COMPUTABLE",
    "NOT_DUE",
    "Baseline",
    "Target",
    "TargetError",
    "TargetRow",
    "parse_targets",
    "reached",
    "target_keys",
    "target_rows",
]
