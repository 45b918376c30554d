"""Disclosure control: primary and complementary suppression of the indicators.

Primary rule (``indicators.md``): counts of persons or of events about persons in
1..k-1 are hidden, zero is shown; counts of companies are shown; a rate is hidden when
its denominator is below k or its numerator or its rest (denominator - numerator) is
in 1..k-1; D6 is hidden when fewer than k persons make the median.

Complementary rule: further cells are hidden until the audit
(:mod:`lavoro_debole.exports.audit`) passes, i.e. until no hidden small figure can be
narrowed below k by linear programming over everything published. The search is
greedy and then pruned:

1. while the audit fails, for each failing quantity hide the cheapest published cell
   that shares a relation with it (or with the hidden cells it is tied to) -- the
   smallest value first (a rate costs its denominator), preferring cells in the same
   row or column, then categories over totals;
2. then try to show again every complementary cell, the largest first, keeping it
   shown when the audit still passes.

The result is therefore *irreducible*: showing any single complementary cell again
makes the audit fail. Hiding is computed over the whole table at once, so every
workbook cut out of it shows the same pattern (a reader holding two workbooks learns
nothing that one of them would not tell).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lavoro_debole.exports.audit import (
    AuditResult,
    HiddenComponents,
    audit_universe,
    primary_quantities,
)
from lavoro_debole.exports.catalogue import TOTAL
from lavoro_debole.exports.model import (
    KEY_COLUMNS,
    VALUE_COLUMNS,
    DisclosureError,
    Universe,
)

DEFAULT_K = 5
MIN_K = 3


def check_k(k: object, where: str = "k") -> int:
    """k as an int of at least 3, else a clear error (a bool is not a number here)."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise DisclosureError(f"{where} must be a whole number of at least {MIN_K}")
    if k < MIN_K:
        raise DisclosureError(
            f"{where} is {k}: the disclosure threshold may be raised but never set below {MIN_K}"
        )
    return int(k)


def primary_mask(frame: pd.DataFrame, kinds: np.ndarray, k: int) -> np.ndarray:
    """True for each row the primary rule hides (``frame`` as checked by the model)."""
    value = frame["value"].to_numpy(dtype=float)
    num = frame["numerator"].to_numpy(dtype=float)
    den = frame["denominator"].to_numpy(dtype=float)

    def small(x: np.ndarray) -> np.ndarray:
        return (x >= 1) & (x <= k - 1)

    with np.errstate(invalid="ignore"):
        count = (kinds == "count") & small(value)
        known = ~(np.isnan(num) | np.isnan(den))
        rate = (kinds == "rate") & (
            (known & ((den < k) | small(num) | small(den - num)))
            # a rate shown without its parts cannot be checked: hide it
            | (~known & ~np.isnan(value))
        )
    # D6: the number of persons making the median is the mart's ``median_persons``
    # (its numerator and denominator stay null, as indicators.md says); failing that,
    # the D4 cohort of the same period (the same persons); failing both, hide it.
    cohort = den.copy()
    if "median_persons" in frame.columns:
        persons = frame["median_persons"].to_numpy(dtype=float)
        cohort = np.where(np.isnan(cohort), persons, cohort)
    d4 = {
        (p, b, c): d
        for p, b, c, d in frame.loc[
            frame["indicator_id"] == "D4", ["period", "breakdown", "category", "denominator"]
        ].itertuples(index=False)
    }
    for i in np.flatnonzero((kinds == "median") & np.isnan(cohort)):
        r = frame.iloc[i]
        cohort[i] = d4.get((r["period"], r["breakdown"], r["category"]), np.nan)
    with np.errstate(invalid="ignore"):
        median = (kinds == "median") & ~np.isnan(value) & ~(cohort >= k)
    return count | rate | median


@dataclass(frozen=True)
class Protection:
    """The outcome of disclosure control over one indicator table."""

    universe: Universe
    k: int
    primary: np.ndarray
    suppressed: np.ndarray
    audit: AuditResult

    @property
    def n_primary(self) -> int:
        return int(self.primary.sum())

    @property
    def n_complementary(self) -> int:
        return int((self.suppressed & ~self.primary).sum())

    def published(self) -> pd.DataFrame:
        """The table as it may leave: a ``suppressed`` column, figures nulled where true."""
        return published_frame(self.universe.frame, self.suppressed)


def published_frame(frame: pd.DataFrame, suppressed: np.ndarray) -> pd.DataFrame:
    out = frame.copy()
    out["suppressed"] = np.asarray(suppressed, dtype=bool)
    out.loc[out["suppressed"], list(VALUE_COLUMNS)] = np.nan
    return out


def protect(
    frame: pd.DataFrame | Universe,
    k: int = DEFAULT_K,
    *,
    seed: np.ndarray | None = None,
    max_rounds: int = 10_000,
) -> Protection:
    """Hide what the rules require and what the audit needs, losing as little as we can.

    ``seed`` marks cells already hidden by an earlier publication (e.g. the k=5 mart
    when a funder asks for k=7): they stay hidden, so the two publications agree.
    """
    k = check_k(k)
    universe = frame if isinstance(frame, Universe) else Universe.from_frame(frame)
    n = len(universe.frame)
    primary = primary_mask(universe.frame, universe.kinds, k)
    fixed = primary | (np.zeros(n, bool) if seed is None else np.asarray(seed, bool))
    suppressible = np.zeros(n, bool)
    for row in universe.row_vars:
        suppressible[row] = universe.kinds[row] in ("count", "rate")
    is_total = (universe.frame["breakdown"] == TOTAL).to_numpy()
    cost = np.array([universe.cost(r) for r in range(n)])
    hidden = _complement(universe, k, fixed, suppressible, cost, is_total, max_rounds)
    final = audit_universe(universe, ~hidden, k)
    if not final.passed:  # pragma: no cover - pruning only keeps passing states
        raise DisclosureError(final.summary())
    return Protection(universe=universe, k=k, primary=primary, suppressed=hidden, audit=final)


def _complement(
    universe: Universe,
    k: int,
    fixed: np.ndarray,
    suppressible: np.ndarray,
    cost: np.ndarray,
    is_total: np.ndarray,
    max_rounds: int,
) -> np.ndarray:
    """Hide further ``suppressible`` cells until the audit passes, then show again
    what turns out not to be needed."""
    hidden = fixed.copy()
    _break_singletons(universe, hidden, suppressible, cost, is_total)
    for _ in range(max_rounds):
        result = audit_universe(universe, ~hidden, k)
        if result.passed:
            break
        comps = _components(universe, hidden)
        added = False
        stuck: list[int] = []
        for cell in result.failures:
            # the groups of hidden cells grow as we hide; a failure whose neighbours
            # were all hidden earlier in this round is looked at again next round
            choice = _cheapest_neighbour(
                universe, comps, hidden, suppressible, cost, is_total, cell.row
            )
            if choice is None:
                stuck.append(cell.row)
            elif not hidden[choice]:
                hidden[choice] = True
                added = True
        if not added:
            raise DisclosureError(
                f"{universe.where(stuck[0])}: no cell left to hide that would protect it"
            )
    else:  # pragma: no cover
        raise DisclosureError("complementary suppression did not converge")
    return _prune(universe, hidden, fixed, cost, is_total, k)


def _components(universe: Universe, hidden: np.ndarray) -> HiddenComponents:
    return HiddenComponents(universe, hidden[universe.var_row])


def _break_singletons(
    universe: Universe,
    hidden: np.ndarray,
    suppressible: np.ndarray,
    cost: np.ndarray,
    is_total: np.ndarray,
) -> None:
    """The classic first pass: no sum may hold exactly one hidden cell.

    A sum with one hidden cell gives it away, so the cheapest other published cell
    of that sum is hidden too, until no sum is left with a single hidden cell. It is
    only a necessary condition; the audit loop that follows does the rest, and the
    pruning undoes what turns out not to be needed.
    """
    changed = True
    while changed:
        changed = False
        hidden_var = hidden[universe.var_row]
        for form in universe.equalities:
            open_rows = {int(universe.var_row[v]) for v in form if hidden_var[v]}
            if len(open_rows) != 1:
                continue
            # A total is the figure a funder reads first: this heuristic pass never
            # hides one; where only a total could protect, the audit loop decides.
            candidates = [
                (cost[r], r)
                for r in {int(universe.var_row[v]) for v in form}
                if not hidden[r] and suppressible[r] and not is_total[r]
            ]
            if candidates:
                hidden[min(candidates)[-1]] = True
                hidden_var = hidden[universe.var_row]
                changed = True


def _cheapest_neighbour(
    universe: Universe,
    comps: HiddenComponents,
    hidden: np.ndarray,
    suppressible: np.ndarray,
    cost: np.ndarray,
    is_total: np.ndarray,
    row: int,
) -> int | None:
    """The published cell to hide next for the hidden cell at ``row``."""
    own = set(universe.row_vars[row])
    members = {m for v in own for m in comps.members[comps.find(v)]}
    best: tuple | None = None
    for v in members:
        for kind, idx in universe.var_constraints.get(v, ()):
            form = universe.equalities[idx] if kind == "eq" else universe.inequalities[idx]
            direct = bool(own & form.keys())
            for w in form:
                r = int(universe.var_row[w])
                if hidden[r] or not suppressible[r]:
                    continue
                key = (bool(is_total[r]), cost[r], not direct, r)
                if best is None or key < best:
                    best = key
    return None if best is None else int(best[-1])


def _prune(
    universe: Universe,
    hidden: np.ndarray,
    fixed: np.ndarray,
    cost: np.ndarray,
    is_total: np.ndarray,
    k: int,
) -> np.ndarray:
    """Show again every complementary cell the audit does not need: totals first (the
    figure a funder reads first), then the largest."""
    hidden = hidden.copy()
    targets = set(primary_quantities(universe, k))
    extra = [int(r) for r in np.flatnonzero(hidden & ~fixed)]
    for row in sorted(extra, key=lambda r: (not is_total[r], -cost[r], r)):
        comps = _components(universe, hidden)
        vars_ = universe.row_vars.get(row, ())
        near = {m for v in vars_ for m in comps.members[comps.find(v)]}
        rows = {int(universe.var_row[m]) for m in near} & targets
        hidden[row] = False
        if (
            rows
            and not audit_universe(
                universe, ~hidden, k, rows=rows, stop_at_first_failure=True
            ).passed
        ):
            hidden[row] = True
    return hidden


def key_frame(frame: pd.DataFrame) -> pd.MultiIndex:
    """The cells' keys, to line up a selection with a universe."""
    return pd.MultiIndex.from_frame(frame[list(KEY_COLUMNS)].astype(str))
