"""Properties of suppression on random small tables (hypothesis, bounded examples).

"Never more than needed" is checked two ways:

* irreducible: showing again any single complementary cell makes the audit fail;
* within a margin of the optimum: on tables small enough to search exhaustively
  (2x2 and 2x3 with their margins), the information lost by complementary
  suppression (sum of the values hidden beyond the primary cells) is at most
  ``MARGIN`` times the least loss any suppression passing the audit achieves.
"""

from __future__ import annotations

import itertools

import numpy as np
from export_tables import two_way
from hypothesis import given, settings
from hypothesis import strategies as st

from lavoro_debole.exports.audit import audit_universe
from lavoro_debole.exports.disclosure import protect
from lavoro_debole.exports.model import Universe

MARGIN = 1.5


@st.composite
def tables(draw: st.DrawFn, max_rows: int = 4, max_cols: int = 4) -> tuple[list[list[int]], int]:
    rows = draw(st.integers(2, max_rows))
    cols = draw(st.integers(2, max_cols))
    values = draw(
        st.lists(
            st.lists(st.integers(0, 15), min_size=cols, max_size=cols),
            min_size=rows,
            max_size=rows,
        )
    )
    return values, draw(st.integers(3, 6))


def _universe(values: list[list[int]]) -> Universe:
    rows = [f"riga {i}" for i in range(len(values))]
    cols = [f"colonna {j}" for j in range(len(values[0]))]
    frame, sums, _ = two_way(values, rows, cols)
    return Universe.from_frame(frame, extra_sums=sums)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(tables())
def test_suppression_passes_the_audit_and_is_irreducible(table) -> None:
    values, k = table
    universe = _universe(values)
    protection = protect(universe, k)
    assert protection.audit.passed
    # the audit covers every primary cell and nothing but them
    assert {c.row for c in protection.audit.cells} == set(np.flatnonzero(protection.primary))
    for row in np.flatnonzero(protection.suppressed & ~protection.primary):
        shown = protection.suppressed.copy()
        shown[row] = False
        assert not audit_universe(universe, ~shown, k).passed
    if not protection.primary.any():
        assert not protection.suppressed.any()


@settings(max_examples=20, deadline=None, derandomize=True)
@given(tables(max_rows=2, max_cols=3))
def test_loss_within_margin_of_the_exhaustive_optimum(table) -> None:
    values, k = table
    universe = _universe(values)
    protection = protect(universe, k)
    primary = protection.primary
    cost = np.array([universe.cost(r) for r in range(len(universe.frame))])
    loss = cost[protection.suppressed & ~primary].sum()
    others = [r for r in range(len(cost)) if not primary[r]]
    candidates = sorted(
        (s for n in range(len(others) + 1) for s in itertools.combinations(others, n)),
        key=lambda s: (cost[list(s)].sum(), len(s)),
    )
    for subset in candidates:
        hidden = primary.copy()
        hidden[list(subset)] = True
        if audit_universe(universe, ~hidden, k).passed:
            best = cost[list(subset)].sum()
            break
    assert loss <= MARGIN * best
