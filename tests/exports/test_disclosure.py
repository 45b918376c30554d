"""Disclosure control on tables whose right answer was worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from export_tables import PERIOD, rate, row, synthetic_mart, two_way

from lavoro_debole.exports.audit import audit_universe
from lavoro_debole.exports.disclosure import check_k, primary_mask, protect
from lavoro_debole.exports.model import DisclosureError, Universe

ROWS = ["Lodi", "Casalpusterlengo", "Sant'Angelo Lodigiano"]
COLS = ["Indeterminato", "Determinato", "Tirocinio"]
ISSUE_TABLE = [[12, 9, 7], [2, 11, 6], [8, 5, 1]]


def _hidden_keys(protection, keys) -> set[tuple[int, int]]:
    index = protection.universe.index()
    return {pos for pos, key in keys.items() if protection.suppressed[index[key]]}


def test_issue_example_margins_are_as_stated() -> None:
    frame, _, keys = two_way(ISSUE_TABLE, ROWS, COLS)
    by_key = frame.set_index(["indicator_id", "period", "breakdown", "category"])["value"]
    assert [by_key[keys[(i, -1)]] for i in range(3)] == [28, 19, 14]
    assert [by_key[keys[(-1, j)]] for j in range(3)] == [22, 25, 14]
    assert by_key[keys[(-1, -1)]] == 61


def test_issue_example_primaries_alone_fail_the_audit() -> None:
    frame, sums, keys = two_way(ISSUE_TABLE, ROWS, COLS)
    universe = Universe.from_frame(frame, extra_sums=sums)
    primary = primary_mask(universe.frame, universe.kinds, 3)
    index = universe.index()
    assert {pos for pos, key in keys.items() if primary[index[key]]} == {(1, 0), (2, 2)}

    result = audit_universe(universe, ~primary, 3)
    assert not result.passed
    # each is recomputable from its row total: the attacker's range is a single point
    ranges = {(c.category, c.low, c.high) for c in result.cells}
    assert ranges == {
        ("Casalpusterlengo | Indeterminato", 2.0, 2.0),
        ("Sant'Angelo Lodigiano | Tirocinio", 1.0, 1.0),
    }
    assert "2.0" not in result.summary() and "Casalpusterlengo" in result.summary()


def test_issue_example_complementary_suppression_protects_both() -> None:
    frame, sums, keys = two_way(ISSUE_TABLE, ROWS, COLS)
    protection = protect(Universe.from_frame(frame, extra_sums=sums), k=3)
    # the cheapest protection is the rectangle 2, 6 / 8, 1 (by hand: 6 is the
    # smallest neighbour of 2, 8 the smallest that breaks column Indeterminato)
    assert _hidden_keys(protection, keys) == {(1, 0), (1, 2), (2, 0), (2, 2)}
    assert protection.n_primary == 2 and protection.n_complementary == 2
    assert protection.audit.passed
    # by hand: x = Casal/Indet, y = 8 - x, z = 10 - x, w = x - 1 >= 0  ->  x in [1, 8]
    ranges = {c.category: (c.low, c.high) for c in protection.audit.cells}
    assert ranges["Casalpusterlengo | Indeterminato"] == pytest.approx((1.0, 8.0))
    assert ranges["Sant'Angelo Lodigiano | Tirocinio"] == pytest.approx((0.0, 7.0))

    published = protection.published()
    assert published["suppressed"].sum() == 4
    assert published.loc[published["suppressed"], "value"].isna().all()


def test_count_rules_zero_published_small_hidden_companies_published() -> None:
    frame = pd.DataFrame(
        [
            row("A1", PERIOD, "totale", "totale", 0),
            row("A3", PERIOD, "totale", "totale", 4),
            row("A4", PERIOD, "totale", "totale", 5),
            row("F1", PERIOD, "totale", "totale", 1),
            row("Q2", PERIOD, "totale", "totale", 2),
        ]
    )
    protection = protect(frame, k=5)
    hidden = dict(
        zip(protection.universe.frame["indicator_id"], protection.suppressed, strict=True)
    )
    assert hidden == {"A1": False, "A3": True, "A4": False, "F1": False, "Q2": False}


@pytest.mark.parametrize(
    ("num", "den", "hidden"),
    [
        (0, 0, True),  # denominator below k
        (2, 4, True),  # denominator below k
        (0, 5, False),  # 0 of 5: nothing small
        (5, 5, False),  # 5 of 5: nothing small
        (1, 9, True),  # numerator small
        (8, 9, True),  # rest small
        (4, 9, True),  # numerator small (k=5)
        (5, 10, False),
    ],
)
def test_rate_rule(num: int, den: int, hidden: bool) -> None:
    protection = protect(pd.DataFrame([rate("D3", PERIOD, "totale", "totale", num, den)]), k=5)
    assert bool(protection.suppressed[0]) is hidden


def test_rate_not_yet_observable_is_not_suppressed() -> None:
    protection = protect(pd.DataFrame([row("D4", PERIOD, "totale", "totale", None)]), k=5)
    assert not protection.suppressed[0]


@pytest.mark.parametrize(
    ("d6_den", "d4_den", "hidden"),
    [(4, None, True), (5, None, False), (None, 7, False), (None, 3, True), (None, None, True)],
)
def test_median_rule(d6_den: int | None, d4_den: int | None, hidden: bool) -> None:
    rows = [row("D6", PERIOD, "totale", "totale", 41.5, None, d6_den)]
    if d4_den is not None:
        rows.append(row("D4", PERIOD, "totale", "totale", None, None, d4_den))
        rows[-1]["numerator"] = 0.0
        rows[-1]["value"] = 0.0
    protection = protect(pd.DataFrame(rows), k=5)
    frame = protection.universe.frame
    d6 = int(np.flatnonzero(frame["indicator_id"] == "D6")[0])
    assert bool(protection.suppressed[d6]) is hidden


def test_sex_breakdown_protected_through_the_other_category() -> None:
    # F = 2 is small; M = 18 is recomputable from the total unless hidden too.
    frame = pd.DataFrame(
        [
            row("A1", PERIOD, "totale", "totale", 20),
            row("A1", PERIOD, "sesso", "M", 18),
            row("A1", PERIOD, "sesso", "F", 2),
        ]
    )
    protection = protect(frame, k=5)
    hidden = set(protection.universe.frame.loc[protection.suppressed, "category"])
    assert hidden == {"M", "F"}  # the total (20) costs more than M (18)
    assert protection.audit.cells[0].high == pytest.approx(20.0)


def test_quarters_add_up_to_the_year_for_event_counts() -> None:
    # D1: Q1..Q4 = 10, 3, 7, 6 with year 26. Hiding Q2 alone lets 26-10-7-6 = 3 through.
    rows = [
        row("D1", f"2024-Q{q}", "totale", "totale", v)
        for q, v in zip(range(1, 5), [10, 3, 7, 6], strict=True)
    ]
    rows.append(row("D1", "2024", "totale", "totale", 26))
    protection = protect(pd.DataFrame(rows), k=5)
    hidden = set(protection.universe.frame.loc[protection.suppressed, "period"])
    assert hidden == {"2024-Q2", "2024-Q4"}  # 6 is the cheapest other term
    # A1 is a distinct-person count: quarters do not add up, nothing else is hidden
    rows = [
        row("A1", f"2024-Q{q}", "totale", "totale", v)
        for q, v in zip(range(1, 5), [10, 3, 7, 6], strict=True)
    ]
    rows.append(row("A1", "2024", "totale", "totale", 26))
    protection = protect(pd.DataFrame(rows), k=5)
    assert set(protection.universe.frame.loc[protection.suppressed, "period"]) == {"2024-Q2"}


def test_rate_hidden_when_its_denominator_would_reveal_a_hidden_count() -> None:
    # Q3's denominator is A1's total. A1 total 4 is small; Q3 4 of 4 is hidden by the
    # rate rule too. A1 total 12 with a small category: hiding A1's total as a
    # complement must not be undone by Q3's published denominator.
    frame = pd.DataFrame(
        [
            row("A1", PERIOD, "totale", "totale", 12),
            row("A1", PERIOD, "sesso", "M", 10),
            row("A1", PERIOD, "sesso", "F", 2),
            row("A1", PERIOD, "fascia_eta", "18-24", 6),
            row("A1", PERIOD, "fascia_eta", "25-34", 6),
            rate("Q3", PERIOD, "totale", "totale", 6, 12),
        ]
    )
    protection = protect(frame, k=5)
    hidden = protection.universe.frame.loc[protection.suppressed, ["indicator_id", "category"]]
    assert set(map(tuple, hidden.to_numpy())) == {("A1", "M"), ("A1", "F")}
    assert protection.audit.passed


@pytest.mark.parametrize("bad", [2, 0, -1, True, 4.5, "5"])
def test_k_below_three_or_not_whole_is_refused(bad: object) -> None:
    with pytest.raises(DisclosureError, match="k"):
        check_k(bad)
    frame = pd.DataFrame([row("A1", PERIOD, "totale", "totale", 3)])
    with pytest.raises(DisclosureError):
        protect(frame, k=bad)  # type: ignore[arg-type]


def test_errors_name_the_cell_not_the_value() -> None:
    frame = pd.DataFrame([row("D3", PERIOD, "sesso", "F", 50.0, 7, 3)])
    with pytest.raises(DisclosureError) as err:
        protect(frame)
    assert "D3 2024-Q3 sesso/F" in str(err.value) and "7" not in str(err.value)


@pytest.mark.parametrize(("persons", "hidden"), [(4, True), (5, False), (0, True)])
def test_median_rule_reads_the_marts_median_persons(persons: int, hidden: bool) -> None:
    """D6 keeps null numerator and denominator; the mart says how many make the median."""
    d6 = row("D6", PERIOD, "totale", "totale", 41.5)
    d6["median_persons"] = float(persons)
    protection = protect(pd.DataFrame([d6]), k=5)
    assert bool(protection.suppressed[0]) is hidden


@pytest.mark.parametrize("seed", [2, 4, 5])
def test_a_persons_total_is_never_hidden_to_protect_its_categories(seed: int) -> None:
    """A1 is a count of distinct persons: its categories can protect each other, so its
    total (the headline figure, and its chart) is hidden only when it is small itself.
    These seeds once hid it as a complement through Q3's identity with A1's total."""
    protection = protect(synthetic_mart(seed=seed, year=2024, scale=12), k=5)
    frame = protection.universe.frame
    a1_total = ((frame["indicator_id"] == "A1") & (frame["breakdown"] == "totale")).to_numpy()
    assert not (a1_total & protection.suppressed & ~protection.primary).any()
    assert protection.audit.passed
