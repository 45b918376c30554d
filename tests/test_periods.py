"""The one quarter arithmetic (``lavoro_debole.periods``) and the dbt macro that must agree
with it on the default cut-off date."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import types

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lavoro_debole.periods import Quarter, is_quarter
from lavoro_debole.settings import DBT_PROJECT_DIR, last_complete_quarter_end, parse_cutoff

quarters = st.builds(Quarter, st.integers(1900, 2200), st.integers(1, 4))
days = st.dates(dt.date(1900, 1, 1), dt.date(2200, 12, 31))


# -- examples worked out by hand ---------------------------------------------------------


def test_parse_and_write():
    assert Quarter.parse("2025-Q3") == Quarter(2025, 3)
    assert str(Quarter(2025, 3)) == "2025-Q3"
    assert str(Quarter(987, 1)) == "987-Q1"  # never in the data; written as it is
    for bad in ("2025-Q5", "2025-Q0", "2025Q3", "2025-q3", "25-Q3", " 2025-Q3", "2025", ""):
        with pytest.raises(ValueError):
            Quarter.parse(bad)
    with pytest.raises(ValueError):
        Quarter(2025, 5)
    assert is_quarter("2025-Q4") and not is_quarter("2025") and not is_quarter("2025-Q9")


def test_start_end_previous_next():
    assert Quarter(2024, 1).start == dt.date(2024, 1, 1)
    assert Quarter(2024, 1).end == dt.date(2024, 3, 31)
    assert Quarter(2024, 2).end == dt.date(2024, 6, 30)
    assert Quarter(2024, 3).start == dt.date(2024, 7, 1)
    assert Quarter(2024, 3).end == dt.date(2024, 9, 30)
    assert Quarter(2024, 4).end == dt.date(2024, 12, 31)
    assert Quarter(2025, 1).previous() == Quarter(2024, 4)
    assert Quarter(2024, 4).next() == Quarter(2025, 1)
    assert Quarter(2024, 2).next() == Quarter(2024, 3)


def test_of_and_last_complete():
    assert Quarter.of(dt.date(2025, 3, 31)) == Quarter(2025, 1)
    assert Quarter.of(dt.date(2025, 4, 1)) == Quarter(2025, 2)
    assert Quarter.of(dt.date(2025, 12, 31)) == Quarter(2025, 4)
    assert Quarter.last_complete(dt.date(2025, 4, 1)) == Quarter(2025, 1)
    assert Quarter.last_complete(dt.date(2025, 3, 31)) == Quarter(2024, 4)
    assert Quarter.last_complete(dt.date(2026, 11, 26)) == Quarter(2026, 3)
    assert Quarter.last_complete(dt.date(2026, 1, 1)) == Quarter(2025, 4)


def test_range_and_order():
    assert [str(q) for q in Quarter.range(Quarter(2023, 3), Quarter(2024, 2))] == [
        "2023-Q3",
        "2023-Q4",
        "2024-Q1",
        "2024-Q2",
    ]
    assert Quarter.range(Quarter(2024, 2), Quarter(2024, 2)) == [Quarter(2024, 2)]
    assert Quarter.range(Quarter(2024, 2), Quarter(2024, 1)) == []
    assert Quarter(2023, 4) < Quarter(2024, 1) < Quarter(2024, 2)
    assert sorted([Quarter(2024, 1), Quarter(2023, 4), Quarter(2023, 1)]) == [
        Quarter(2023, 1),
        Quarter(2023, 4),
        Quarter(2024, 1),
    ]
    assert Quarter.of_year(2024) == Quarter.range(Quarter(2024, 1), Quarter(2024, 4))


# -- properties --------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(quarters)
def test_properties_of_one_quarter(q: Quarter):
    assert Quarter.parse(str(q)) == q
    assert q.next().previous() == q and q.previous().next() == q
    assert q.previous() < q < q.next()
    assert q.start <= q.end
    assert Quarter.of(q.start) == q and Quarter.of(q.end) == q
    assert q.next().start == q.end + dt.timedelta(days=1)  # no gap, no overlap
    assert 90 <= (q.end - q.start).days + 1 <= 92


@settings(max_examples=300, deadline=None)
@given(quarters, quarters)
def test_range_properties(a: Quarter, b: Quarter):
    span = Quarter.range(a, b)
    months = (b.year - a.year) * 12 + 3 * (b.q - a.q)  # worked out from the months
    assert len(span) == max(0, months // 3 + 1)
    assert span == sorted(set(span))
    if span:
        assert span[0] == a and span[-1] == b
        assert all(x.next() == y for x, y in itertools.pairwise(span))
    assert (a <= b) == bool(span)


@settings(max_examples=300, deadline=None)
@given(days)
def test_last_complete_ends_before_the_day(day: dt.date):
    last = Quarter.last_complete(day)
    assert last.end < day <= last.next().end
    assert last.next() == Quarter.of(day)
    assert last_complete_quarter_end(day) == last.end


# -- the dbt macro's default cut-off -----------------------------------------------------


class _Returned(Exception):
    def __init__(self, value: str) -> None:
        self.value = value


def _macro_default_cutoff(today: dt.date, cutoff_var: str = "") -> str:
    """Run ``macros/cutoff.sql``'s ``cutoff_value()`` as dbt does (its Jinja with dbt's
    ``var``, ``return`` and ``modules``), with the calendar's today set to ``today``."""

    class Date(dt.date):
        @classmethod
        def today(cls) -> Date:
            return cls(today.year, today.month, today.day)

    def returned(value: str) -> None:
        raise _Returned(value)

    def raise_compiler_error(message: str) -> None:
        raise AssertionError(message)

    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    env.globals.update(
        {
            "var": lambda name, default=None: cutoff_var if name == "cutoff" else default,
            "return": returned,
            "exceptions": types.SimpleNamespace(raise_compiler_error=raise_compiler_error),
            "modules": types.SimpleNamespace(
                datetime=types.SimpleNamespace(date=Date, timedelta=dt.timedelta), re=re
            ),
        }
    )
    source = (DBT_PROJECT_DIR / "macros" / "cutoff.sql").read_text(encoding="utf-8")
    macro = env.from_string(source).module.cutoff_value
    try:
        return str(macro()).strip()
    except _Returned as done:
        return done.value


@pytest.mark.parametrize(
    "today",
    [
        dt.date(2025, 1, 1),
        dt.date(2025, 3, 31),
        dt.date(2025, 4, 1),
        dt.date(2025, 6, 30),
        dt.date(2025, 7, 15),
        dt.date(2025, 10, 1),
        dt.date(2025, 12, 31),
        dt.date(2024, 2, 29),
        dt.date(2026, 12, 1),
    ],
)
def test_dbt_macro_default_cutoff_agrees_with_last_complete(today: dt.date):
    expected = Quarter.last_complete(today).end
    assert _macro_default_cutoff(today) == expected.isoformat()
    assert parse_cutoff(None, today=today) == expected
    assert parse_cutoff("", today=today) == expected


def test_dbt_macro_takes_a_given_cutoff_as_written():
    assert _macro_default_cutoff(dt.date(2025, 5, 5), "2024-12-31") == "2024-12-31"
