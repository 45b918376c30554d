"""The audit: what could an attacker deduce about each small figure we hide?

For every hidden quantity that the primary rule protects (a count, a rate's
numerator, its rest ``denominator - numerator`` or its denominator, when it lies in
1..k-1), the attacker solves two linear programmes over everything the publication
shows: published cells fixed at their values, hidden unknowns free but >= 0, and every
linking relation of :mod:`lavoro_debole.exports.model`. The smallest and largest
feasible values bound what they can learn.

How we read "the range must reach k or more": the feasible interval must be at least
k wide, ``max - min >= k``. Since ``min >= 0`` this implies ``max >= k`` (the attacker
cannot rule out that the cell is not small at all) and it also stops the cell being
pinned to a narrow window such as [3, 4]. Linear programming gives the continuous
relaxation, which can only be wider than what integers allow; for the tables
published here (sums of cells) the two coincide.

Results carry ranges (what the attacker could compute, nothing more) but their
messages only name cells, never values.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import highspy
import numpy as np

from lavoro_debole.exports.model import KEY_COLUMNS, DisclosureError, Form, Universe

TOLERANCE = 1e-7


class AuditFailedError(DisclosureError):
    """The workbook would let a reader narrow a protected figure below k: not written."""


@dataclass(frozen=True)
class AuditCell:
    """The attacker's range for one protected quantity of one hidden cell."""

    indicator_id: str
    period: str
    breakdown: str
    category: str
    quantity: str  # value | num | rest | den
    row: int  # position in the universe's frame
    low: float
    high: float  # inf when unbounded

    @property
    def width(self) -> float:
        return self.high - self.low

    def passes(self, k: int) -> bool:
        return self.width >= k - TOLERANCE

    def label(self) -> str:
        return (
            f"{self.indicator_id} {self.period} {self.breakdown}/{self.category} ({self.quantity})"
        )


@dataclass(frozen=True)
class AuditResult:
    """Outcome of an audit: passed when every protected quantity's range reaches k."""

    k: int
    cells: tuple[AuditCell, ...]

    @property
    def failures(self) -> tuple[AuditCell, ...]:
        return tuple(c for c in self.cells if not c.passes(self.k))

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        """One line for logs and Dagster metadata: counts and cell names, no values."""
        if self.passed:
            return (
                f"audit passed: {len(self.cells)} protected quantities, "
                f"every attacker range at least {self.k} wide"
            )
        names = ", ".join(c.label() for c in self.failures[:10])
        more = "" if len(self.failures) <= 10 else f" and {len(self.failures) - 10} more"
        return (
            f"audit failed: {len(self.failures)} of {len(self.cells)} protected quantities "
            f"could be narrowed below {self.k}: {names}{more}"
        )


def primary_quantities(universe: Universe, k: int) -> dict[int, dict[str, Form]]:
    """Per row, the quantities the primary rule protects (value in 1..k-1)."""
    out: dict[int, dict[str, Form]] = {}
    for row in universe.row_vars:
        if universe.kinds[row] not in ("count", "rate"):
            continue
        small = {
            name: form
            for name, form in universe.quantity_forms(row).items()
            if 1 - TOLERANCE <= universe.form_value(form) <= k - 1 + TOLERANCE
        }
        if small:
            out[row] = small
    return out


class HiddenComponents:
    """Connected groups of hidden unknowns: two share a group when a relation holds both."""

    def __init__(self, universe: Universe, hidden_var: np.ndarray) -> None:
        n = len(universe.var_row)
        parent = list(range(n))

        def find(a: int) -> int:
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            return a

        def union(a: int, b: int) -> None:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[rb] = ra

        for vars_ in universe.row_vars.values():
            if len(vars_) == 2 and hidden_var[vars_[0]]:
                union(vars_[0], vars_[1])
        for form in (*universe.equalities, *universe.inequalities):
            hidden = [v for v in form if hidden_var[v]]
            for v in hidden[1:]:
                union(hidden[0], v)
        self.find = find
        self.members: dict[int, list[int]] = {}
        for v in np.flatnonzero(hidden_var):
            self.members.setdefault(find(int(v)), []).append(int(v))


def determined_vars(universe: Universe, hidden_var: np.ndarray) -> np.ndarray:
    """Unknowns a reader can solve for by substitution alone (True for published ones).

    An equality with a single hidden unknown gives it away; knowing it may leave
    another equality with a single one, and so on. This is the cheap part of what the
    linear programme finds: a protected quantity made only of such unknowns fails
    without solving anything.
    """
    det = ~np.asarray(hidden_var, dtype=bool)
    eqs = universe.equalities
    open_count = [sum(1 for v in form if not det[v]) for form in eqs]
    queue = [i for i, c in enumerate(open_count) if c == 1]
    while queue:
        i = queue.pop()
        if open_count[i] != 1:
            continue
        v = next(v for v in eqs[i] if not det[v])
        det[v] = True
        for kind, j in universe.var_constraints.get(v, ()):
            if kind == "eq":
                open_count[j] -= 1
                if open_count[j] == 1:
                    queue.append(j)
    return det


_HIGHS_ANNOUNCED = False


def _new_highs() -> highspy.Highs:
    """A silent HiGHS instance. HiGHS prints its banner on the process's first instance,
    straight to file descriptor 1, whatever its options: that one is made with the
    descriptor pointed at /dev/null, so the steward's terminal stays clean."""
    global _HIGHS_ANNOUNCED
    if _HIGHS_ANNOUNCED:
        highs = highspy.Highs()
    else:
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "wb") as devnull:
                os.dup2(devnull.fileno(), 1)
                highs = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        _HIGHS_ANNOUNCED = True
    highs.setOptionValue("output_flag", False)
    return highs


class AttackerProgramme:
    """The attacker's linear programme for one group of linked hidden unknowns.

    Built once (HiGHS through ``highspy``: constraints, bounds and the published values
    on the right-hand side) and solved again for every target and direction by changing
    only the objective, so each further solve starts from the previous basis. ``None``
    as ``highs`` means the group is homogeneous: nothing published pins it, and every
    range is [0, inf).
    """

    def __init__(self, universe: Universe, members: list[int]) -> None:
        self.pos = {v: i for i, v in enumerate(members)}
        self.size = len(members)
        member_set = set(members)
        constraints: set[tuple[str, int]] = set()
        for v in members:
            constraints.update(universe.var_constraints.get(v, ()))
        inf = highspy.kHighsInf
        lower: list[float] = []
        upper: list[float] = []
        columns: list[list[tuple[int, float]]] = [[] for _ in members]
        homogeneous = True
        for row_index, (kind, idx) in enumerate(sorted(constraints)):
            form = universe.equalities[idx] if kind == "eq" else universe.inequalities[idx]
            rhs = 0.0
            for v, c in form.items():
                if v in member_set:
                    columns[self.pos[v]].append((row_index, c))
                else:
                    rhs -= c * universe.var_value[v]
            if abs(rhs) > TOLERANCE:
                homogeneous = False
            lower.append(rhs if kind == "eq" else -inf)
            upper.append(rhs)
        self.highs: highspy.Highs | None = None
        if homogeneous:
            return
        lp = highspy.HighsLp()
        lp.num_col_ = self.size
        lp.num_row_ = len(lower)
        lp.col_cost_ = np.zeros(self.size)
        lp.col_lower_ = np.zeros(self.size)
        lp.col_upper_ = np.full(self.size, inf)
        lp.row_lower_ = np.array(lower, dtype=float)
        lp.row_upper_ = np.array(upper, dtype=float)
        starts = [0]
        index: list[int] = []
        value: list[float] = []
        for column in columns:
            for r, c in column:
                index.append(r)
                value.append(c)
            starts.append(len(index))
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
        lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
        lp.a_matrix_.value_ = np.array(value, dtype=float)
        self.highs = _new_highs()
        self.highs.passModel(lp)

    def _solve(self, sense: highspy.ObjSense) -> float:
        assert self.highs is not None
        self.highs.changeObjectiveSense(sense)
        self.highs.run()
        status = self.highs.getModelStatus()
        if status == highspy.HighsModelStatus.kUnboundedOrInfeasible:
            # presolve could not tell which: ask the simplex without it
            self.highs.setOptionValue("presolve", "off")
            self.highs.run()
            status = self.highs.getModelStatus()
        if status == highspy.HighsModelStatus.kOptimal:
            return float(self.highs.getInfo().objective_function_value)
        if status == highspy.HighsModelStatus.kUnbounded:
            return float("-inf") if sense == highspy.ObjSense.kMinimize else float("inf")
        if status == highspy.HighsModelStatus.kInfeasible:
            raise DisclosureError("the published relations are inconsistent (infeasible audit)")
        raise DisclosureError(
            "audit linear programme did not solve: " + self.highs.modelStatusToString(status)
        )

    def range_of(self, target: Form) -> tuple[float, float]:
        """Min and max of ``target`` over what the published cells allow."""
        lo, hi = self.bounds_of(target)
        return max(lo, 0.0), hi

    def bounds_of(self, target: Form) -> tuple[float, float]:
        """Min and max of ``target`` as solved (a difference of two releases may be
        negative, so the minimum is not clipped at 0)."""
        if self.highs is None:
            # Hidden targets always have a positive true value; with nothing published
            # around them the feasible set is a cone through that point: [0, inf).
            return 0.0, float("inf")
        cost = np.zeros(self.size)
        for v, coef in target.items():
            cost[self.pos[v]] = coef
        self.highs.changeColsCost(self.size, np.arange(self.size, dtype=np.int32), cost)
        lo = self._solve(highspy.ObjSense.kMinimize)
        hi = self._solve(highspy.ObjSense.kMaximize)
        return lo, hi


def _attacker_range(universe: Universe, members: list[int], target: Form) -> tuple[float, float]:
    """Min and max of ``target`` over what the published cells allow (one programme per
    group of members, kept on the universe and re-solved for each target)."""
    group = tuple(members)
    programme = universe.programmes.get(group)
    if programme is None:
        programme = universe.programmes[group] = AttackerProgramme(universe, members)
    return programme.range_of(target)


def audit_universe(
    universe: Universe,
    visible: np.ndarray,
    k: int,
    rows: set[int] | None = None,
    *,
    stop_at_first_failure: bool = False,
) -> AuditResult:
    """Audit a publication: ``visible[row]`` is True where the reader sees the cell.

    Every hidden row the primary rule protects is checked (also rows the workbook
    does not show at all: a reader must not deduce them either). ``rows`` restricts
    the check to some rows and ``stop_at_first_failure`` returns as soon as one range
    is too narrow, for the suppression loop.
    """
    if k < 3:
        raise DisclosureError(f"k must be at least 3 (got {k})")
    visible = np.asarray(visible, dtype=bool)
    hidden_var = ~visible[universe.var_row] if len(universe.var_row) else np.zeros(0, bool)
    comps = HiddenComponents(universe, hidden_var)
    det = determined_vars(universe, hidden_var)
    keys = universe.frame[list(KEY_COLUMNS)].to_numpy(str)
    todo = [
        (row, name, form)
        for row, quantities in sorted(primary_quantities(universe, k).items())
        if not visible[row] and (rows is None or row in rows)
        for name, form in quantities.items()
    ]
    # what substitution alone reveals first: it needs no linear programme
    todo.sort(key=lambda t: not all(det[v] for v in t[2]))
    cells: list[AuditCell] = []
    for row, name, form in todo:
        if all(det[v] for v in form):
            lo = hi = universe.form_value(form)
        else:
            members = sorted({m for v in form for m in comps.members[comps.find(v)]})
            key = (tuple(members), tuple(sorted(form.items())))
            if key not in universe.range_cache:
                universe.range_cache[key] = _attacker_range(universe, members, form)
            lo, hi = universe.range_cache[key]
        cell = AuditCell(*(str(x) for x in keys[row]), name, row, lo, hi)
        cells.append(cell)
        if stop_at_first_failure and not cell.passes(k):
            break
    cells.sort(key=lambda c: (c.row, c.quantity))
    return AuditResult(k=k, cells=tuple(cells))
