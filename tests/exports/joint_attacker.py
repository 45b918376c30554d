"""An attacker over several releases, written for the tests on its own (highspy directly,
nothing of ``lavoro_debole.exports.audit`` or ``joint``).

A release is what its reader holds: for every cell the workbook shows, either the
published figures or nothing (``c``); the test also knows the true figures at the time
each release was built (``truth``), which decide -- as the audit's rules say -- which
relations hold (a breakdown adds up to its total where the data do, else each category
is at most the total; quarters add up to the year for quarter-additive indicators)
and which figures are small. Releases built from the same data share their unknowns.
Between the newest data and each earlier state, every difference is bounded by its
sign. The attacker then minimises and maximises every hidden small figure and every
small difference of the newest release against each earlier one.
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np
import pandas as pd

from lavoro_debole.exports.catalogue import indicator_info

KEYS = ["indicator_id", "period", "breakdown", "category"]


@dataclass
class View:
    """One release: ``cells`` has KEYS, the true value/numerator/denominator, suppressed."""

    version: str  # releases with the same version were built from the same data
    cells: pd.DataFrame


@dataclass(frozen=True)
class Finding:
    what: str  # "cella" | "differenza"
    key: tuple[str, str, str, str]
    quantity: str
    low: float
    high: float

    @property
    def width(self) -> float:
        return self.high - self.low


def _quantities(kind: str) -> tuple[str, ...]:
    return ("value",) if kind == "count" else ("num", "den") if kind == "rate" else ()


def attack(views: list[View], newest: str, k: int) -> list[Finding]:
    """Every target's range: hidden small cells of every view, small differences of the
    ``newest`` version against every other version."""
    inf = highspy.kHighsInf
    col: dict[tuple, int] = {}
    lower: list[float] = []
    upper: list[float] = []
    truth_of: list[float] = []
    rows: list[tuple[dict[int, float], float, float]] = []  # (coefs, lo, hi)

    by_version: dict[str, pd.DataFrame] = {}
    hidden_keys: dict[str, set] = {}
    for view in views:
        cells = view.cells.copy()
        for c in KEYS:
            cells[c] = cells[c].astype(str)
        merged = by_version.get(view.version)
        hidden = {tuple(r) for r in cells.loc[cells["suppressed"].astype(bool), KEYS].to_numpy()}
        shown = {tuple(r) for r in cells.loc[~cells["suppressed"].astype(bool), KEYS].to_numpy()}
        if merged is None:
            by_version[view.version] = cells.drop_duplicates(KEYS)
            hidden_keys[view.version] = hidden
            hidden_keys[view.version + "/shown"] = shown
        else:
            by_version[view.version] = pd.concat([merged, cells]).drop_duplicates(KEYS)
            hidden_keys[view.version] |= hidden
            hidden_keys[view.version + "/shown"] |= shown
    for version, cells in by_version.items():
        hidden = hidden_keys[version] - hidden_keys[version + "/shown"]
        for r in cells.itertuples(index=False):
            key = (r.indicator_id, r.period, r.breakdown, r.category)
            kind = indicator_info(r.indicator_id).kind
            values = {"value": r.value, "num": r.numerator, "den": r.denominator}
            for q in _quantities(kind):
                if pd.isna(values[q]):
                    continue
                i = col[(version, key, q)] = len(lower)
                true = float(values[q])
                truth_of.append(true)
                if key in hidden:
                    lower.append(0.0)
                    upper.append(inf)
                else:
                    lower.append(true)
                    upper.append(true)
            if ("num" in _quantities(kind)) and (version, key, "num") in col:
                # a numerator is at most its denominator
                rows.append(
                    ({col[(version, key, "num")]: 1.0, col[(version, key, "den")]: -1.0}, -inf, 0.0)
                )
        _relations(version, cells, col, truth_of, rows)
    for version in by_version:
        if version == newest:
            continue
        for (v, key, q), i in list(col.items()):
            if v != newest or (version, key, q) not in col:
                continue
            j = col[(version, key, q)]
            d = truth_of[i] - truth_of[j]
            sign = 1.0 if d >= 0 else -1.0
            rows.append(({i: sign, j: -sign}, 0.0, inf))

    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    n = len(lower)
    highs.addVars(n, np.array(lower), np.array(upper))
    for coefs, lo, hi in rows:
        idx = np.array(list(coefs), dtype=np.int32)
        val = np.array(list(coefs.values()), dtype=float)
        highs.addRow(lo, hi, len(idx), idx, val)

    def solve(coefs: dict[int, float]) -> tuple[float, float]:
        out = []
        for sense in (highspy.ObjSense.kMinimize, highspy.ObjSense.kMaximize):
            cost = np.zeros(n)
            for i, c in coefs.items():
                cost[i] = c
            highs.changeColsCost(n, np.arange(n, dtype=np.int32), cost)
            highs.changeObjectiveSense(sense)
            highs.run()
            status = highs.getModelStatus()
            if status == highspy.HighsModelStatus.kOptimal:
                out.append(highs.getInfo().objective_function_value)
            elif status in (
                highspy.HighsModelStatus.kUnbounded,
                highspy.HighsModelStatus.kUnboundedOrInfeasible,
            ):
                out.append(-inf if sense == highspy.ObjSense.kMinimize else inf)
            else:
                raise AssertionError(f"attacker LP: {highs.modelStatusToString(status)}")
        return out[0], out[1]

    findings: list[Finding] = []
    small = lambda x: 1 - 1e-9 <= abs(x) <= k - 1 + 1e-9  # noqa: E731
    for (version, key, q), i in col.items():
        if lower[i] == upper[i]:
            continue
        targets = {q: {i: 1.0}}
        if q == "den":
            targets["rest"] = {i: 1.0, col[(version, key, "num")]: -1.0}
        for name, coefs in targets.items():
            true = sum(truth_of[j] * c for j, c in coefs.items())
            if small(true):
                lo, hi = solve(coefs)
                findings.append(Finding("cella", key, name, lo, hi))
    for (version, key, q), i in col.items():
        if version != newest:
            continue
        for other in by_version:
            j = col.get((other, key, q))
            if other == newest or j is None:
                continue
            if small(truth_of[i] - truth_of[j]):
                lo, hi = solve({i: 1.0, j: -1.0})
                findings.append(Finding("differenza", key, q, lo, hi))
    return findings


def _relations(version, cells, col, truth_of, rows) -> None:
    inf = highspy.kHighsInf
    index = {(r.indicator_id, r.period, r.breakdown, r.category) for r in cells.itertuples()}
    groups: dict[tuple, list] = {}
    for ind, period, bd, cat in index:
        if bd != "totale":
            groups.setdefault((ind, period, bd), []).append(cat)
    for (ind, period, bd), cats in groups.items():
        total = (ind, period, "totale", "totale")
        if total not in index:
            continue
        for q in ("value", "num", "den"):
            whole = col.get((version, total, q))
            parts = [col.get((version, (ind, period, bd, c), q)) for c in cats]
            if whole is None or any(p is None for p in parts):
                continue
            if abs(sum(truth_of[p] for p in parts) - truth_of[whole]) < 1e-9:
                coefs = {p: 1.0 for p in parts}
                coefs[whole] = coefs.get(whole, 0.0) - 1.0
                rows.append((coefs, 0.0, 0.0))
            else:
                for p in parts:
                    if truth_of[p] <= truth_of[whole] + 1e-9:
                        rows.append(({p: 1.0, whole: -1.0}, -inf, 0.0))
    for ind, period, bd, cat in index:
        if len(period) != 4 or not indicator_info(ind).quarter_additive:
            continue
        for q in ("value", "num", "den"):
            whole = col.get((version, (ind, period, bd, cat), q))
            parts = [col.get((version, (ind, f"{period}-Q{n}", bd, cat), q)) for n in (1, 2, 3, 4)]
            if whole is None or any(p is None for p in parts):
                continue
            if abs(sum(truth_of[p] for p in parts) - truth_of[whole]) < 1e-9:
                coefs = {p: 1.0 for p in parts}
                coefs[whole] = -1.0
                rows.append((coefs, 0.0, 0.0))
