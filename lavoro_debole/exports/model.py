"""The linear model of a publication: cells, the unknowns behind them, and the sums
that link them.

Disclosure control and its audit reason about the same object: every figure of
``marts.indicator_values`` as a set of non-negative unknowns (one per count cell; two
per rate cell, its numerator ``n`` and the rest ``f = denominator - n``), and the
linear relations an attacker knows from the definitions:

* a breakdown adds up to its total (an equality), added only where the data do add
  up -- the definitions make most breakdowns additive, and where they do not (one
  person in two courses, one company in two associations) the relation is only
  "a category is at most the total" (an inequality);
* quarters add up to the year, for the indicators the catalogue marks as
  ``quarter_additive`` (events, and persons counted in one quarter only);
* identities between indicators: Q3's denominator is A1's total; D4 and D5 share
  their cohort.

Relations are added only when the data satisfy them, so the true values are always
a feasible point; a relation that the data happen to satisfy but an attacker cannot
know only makes the protection more cautious.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lavoro_debole.exports.catalogue import TOTAL, indicator_info
from lavoro_debole.periods import Quarter

KEY_COLUMNS = ("indicator_id", "period", "breakdown", "category")
VALUE_COLUMNS = ("value", "numerator", "denominator", "ci_low", "ci_high")
REQUIRED_COLUMNS = KEY_COLUMNS + VALUE_COLUMNS

#: (indicator_id, period, breakdown, category)
CellKey = tuple[str, str, str, str]

#: One linear form over unknowns: {unknown index: coefficient}.
Form = dict[int, float]


class DisclosureError(ValueError):
    """The indicators cannot be protected as they are; the message names the cell."""


@dataclass
class Universe:
    """Every cell of a long indicator table, with its unknowns and linking relations."""

    frame: pd.DataFrame
    kinds: np.ndarray
    var_row: np.ndarray  # unknown -> row of the frame
    var_value: np.ndarray  # unknown -> its true value
    row_vars: dict[int, tuple[int, ...]]
    equalities: list[Form] = field(default_factory=list)  # form == 0
    inequalities: list[Form] = field(default_factory=list)  # form <= 0
    var_constraints: dict[int, list[tuple[str, int]]] = field(default_factory=dict)
    #: attacker ranges already solved, by (hidden unknowns of the group, target form):
    #: the group fixes the programme, since everything around it is published
    range_cache: dict[tuple, tuple[float, float]] = field(default_factory=dict)
    #: the attacker's linear programme of each group of hidden unknowns, built once and
    #: re-solved per target (``lavoro_debole.exports.audit.AttackerProgramme``)
    programmes: dict[tuple[int, ...], object] = field(default_factory=dict)

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        extra_sums: Iterable[tuple[Sequence[CellKey], CellKey]] = (),
    ) -> Universe:
        """Build the model; the frame is re-indexed 0..n-1 in a stable order.

        ``extra_sums`` adds relations the long table cannot express ("these cells add
        up to that one", by key), e.g. the rows and columns of a two-way table.
        """
        df = check_frame(frame)
        kinds = np.array([indicator_info(i).kind for i in df["indicator_id"]], dtype=object)
        var_row: list[int] = []
        var_value: list[float] = []
        row_vars: dict[int, tuple[int, ...]] = {}
        values = df["value"].to_numpy(dtype=float)
        nums = df["numerator"].to_numpy(dtype=float)
        dens = df["denominator"].to_numpy(dtype=float)
        for row, kind in enumerate(kinds):
            if kind == "count" and not np.isnan(values[row]):
                if values[row] < 0:
                    raise DisclosureError(f"{_where(df, row)}: a count is negative")
                row_vars[row] = (len(var_row),)
                var_row.append(row)
                var_value.append(values[row])
            elif kind == "rate" and not (np.isnan(nums[row]) or np.isnan(dens[row])):
                if not 0 <= nums[row] <= dens[row]:
                    raise DisclosureError(f"{_where(df, row)}: numerator outside 0..denominator")
                row_vars[row] = (len(var_row), len(var_row) + 1)
                var_row += [row, row]
                var_value += [nums[row], dens[row] - nums[row]]
        universe = cls(
            frame=df,
            kinds=kinds,
            var_row=np.array(var_row, dtype=int),
            var_value=np.array(var_value, dtype=float),
            row_vars=row_vars,
        )
        universe._add_relations()
        index = universe.index()
        for parts, whole in extra_sums:
            rows = [index[tuple(p)] for p in parts]
            wrow = index[tuple(whole)]
            forms = [universe.quantity_forms(r) for r in (*rows, wrow)]
            for q in forms[-1]:
                if q != "rest" and all(q in f for f in forms):
                    universe._add_sum(
                        [f[q] for f in forms[:-1]], forms[-1][q], allow_inequality=False
                    )
        return universe

    def index(self) -> dict[CellKey, int]:
        """Row of each cell key (indicator_id, period, breakdown, category)."""
        cols = self.frame[list(KEY_COLUMNS)]
        return {tuple(r): i for i, r in enumerate(cols.itertuples(index=False))}

    # -- quantities -------------------------------------------------------------

    def quantity_forms(self, row: int) -> dict[str, Form]:
        """The linear forms of a cell's quantities, by name."""
        vars_ = self.row_vars.get(row)
        if vars_ is None:
            return {}
        if len(vars_) == 1:
            return {"value": {vars_[0]: 1.0}}
        n, f = vars_
        return {"num": {n: 1.0}, "rest": {f: 1.0}, "den": {n: 1.0, f: 1.0}}

    def form_value(self, form: Form) -> float:
        return float(sum(self.var_value[v] * c for v, c in form.items()))

    def cost(self, row: int) -> float:
        """Information lost by hiding a cell: its count, or its denominator."""
        forms = self.quantity_forms(row)
        if "value" in forms:
            return self.form_value(forms["value"])
        if "den" in forms:
            return self.form_value(forms["den"])
        return 0.0

    def where(self, row: int) -> str:
        return _where(self.frame, row)

    # -- relations --------------------------------------------------------------

    def _add(self, kind: str, form: Form) -> None:
        form = {v: c for v, c in form.items() if c != 0}
        if not form:
            return
        target = self.equalities if kind == "eq" else self.inequalities
        idx = len(target)
        target.append(form)
        for v in form:
            self.var_constraints.setdefault(v, []).append((kind, idx))

    def _add_sum(self, parts: list[Form], whole: Form, *, allow_inequality: bool) -> None:
        """parts add up to whole when the data say so; else each part <= whole."""
        total = sum(self.form_value(p) for p in parts)
        if abs(total - self.form_value(whole)) < 1e-9:
            form: Form = defaultdict(float)
            for p in parts:
                for v, c in p.items():
                    form[v] += c
            for v, c in whole.items():
                form[v] -= c
            self._add("eq", dict(form))
        elif allow_inequality:
            for p in parts:
                if self.form_value(p) <= self.form_value(whole) + 1e-9:
                    form = dict(p)
                    for v, c in whole.items():
                        form[v] = form.get(v, 0.0) - c
                    self._add("le", form)

    def _add_relations(self) -> None:
        df = self.frame
        index = self.index()
        summed = ("value", "num", "den")

        # a breakdown adds up to its total
        cats = df[df["breakdown"] != TOTAL]
        for (ind, period, _bd), group in cats.groupby(
            ["indicator_id", "period", "breakdown"], sort=True
        ):
            tot = index.get((ind, period, TOTAL, TOTAL))
            if tot is None or tot not in self.row_vars:
                continue
            rows = [r for r in group.index if r in self.row_vars]
            if len(rows) != len(group):
                continue
            for q in summed:
                whole = self.quantity_forms(tot).get(q)
                if whole is None:
                    continue
                parts = [self.quantity_forms(r)[q] for r in rows]
                self._add_sum(parts, whole, allow_inequality=True)

        # quarters add up to the year
        for (ind, bd, cat), group in df.groupby(
            ["indicator_id", "breakdown", "category"], sort=True
        ):
            if not indicator_info(ind).quarter_additive:
                continue
            periods = set(group["period"])
            for year in sorted(p for p in periods if len(p) == 4):
                quarters = [str(q) for q in Quarter.of_year(int(year))]
                rows = [index.get((ind, p, bd, cat)) for p in quarters]
                yrow = index[(ind, year, bd, cat)]
                if yrow not in self.row_vars or any(
                    r is None or r not in self.row_vars for r in rows
                ):
                    continue
                for q in summed:
                    whole = self.quantity_forms(yrow).get(q)
                    if whole is None:
                        continue
                    parts = [self.quantity_forms(r)[q] for r in rows if r is not None]
                    self._add_sum(parts, whole, allow_inequality=False)

        # identities between indicators
        for (ind, period, bd, cat), row in index.items():
            if row not in self.row_vars:
                continue
            if ind == "Q3" and bd == TOTAL:
                other = index.get(("A1", period, TOTAL, TOTAL))
                pair = ("den", "value")
            elif ind == "D5":
                other = index.get(("D4", period, bd, cat))
                pair = ("den", "den")
            else:
                continue
            if other is None or other not in self.row_vars:
                continue
            mine = self.quantity_forms(row)[pair[0]]
            theirs = self.quantity_forms(other)[pair[1]]
            self._add_sum([mine], theirs, allow_inequality=False)


def check_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with the contract's columns typed, sorted, one row per cell."""
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DisclosureError(f"indicator table lacks columns {missing}")
    df = frame.copy()
    for c in KEY_COLUMNS:
        df[c] = df[c].astype(str)
    for c in VALUE_COLUMNS:
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    dup = df.duplicated(list(KEY_COLUMNS))
    if dup.any():
        first = df[dup].iloc[0]
        raise DisclosureError(
            "indicator table has more than one row for "
            + "/".join(str(first[c]) for c in KEY_COLUMNS)
        )
    return df.sort_values(list(KEY_COLUMNS), kind="stable").reset_index(drop=True)


def _where(df: pd.DataFrame, row: int) -> str:
    r = df.iloc[row]
    return f"{r['indicator_id']} {r['period']} {r['breakdown']}/{r['category']}"
