"""Calendar quarters, the one period arithmetic of every room.

A quarter is written ``2025-Q3`` everywhere (``indicators.md``, the Dagster partitions,
``marts.indicator_values``, the funders' profiles). Each room used to work out starts,
ends and the previous quarter by hand (``(month - 1) // 3``, ``split("-Q")``); a slip in
one of them moves a workbook by a quarter without any error, so they all use this one.
No Dagster, no DuckDB: plain dates.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


@dataclass(frozen=True, order=True)
class Quarter:
    """A calendar quarter: ``Quarter(2025, 3)`` is July to September 2025.

    Ordered by time (the fields compare as ``(year, q)``), hashable, immutable.
    """

    year: int
    q: int

    def __post_init__(self) -> None:
        if not 1 <= self.q <= 4:
            raise ValueError(f"a quarter is 1 to 4, not {self.q}")
        if not 1 <= self.year <= 9999:
            raise ValueError(f"year {self.year} is outside the calendar of datetime")

    @classmethod
    def parse(cls, text: str) -> Quarter:
        """``'2025-Q3'`` -> ``Quarter(2025, 3)``; anything else is a ``ValueError``."""
        match = _QUARTER.match(str(text))
        if not match:
            raise ValueError(f"a quarter is written like 2025-Q3, not {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, day: dt.date) -> Quarter:
        """The quarter ``day`` falls in."""
        return cls(day.year, (day.month - 1) // 3 + 1)

    @classmethod
    def last_complete(cls, today: dt.date) -> Quarter:
        """The last quarter that ended before ``today`` (on 1 April: the first quarter;
        on 31 March: the previous year's fourth). The default cut-off date is its end,
        as in ``dbt_project/macros/cutoff.sql``."""
        return cls.of(today).previous()

    @staticmethod
    def range(first: Quarter, last: Quarter) -> list[Quarter]:
        """Every quarter from ``first`` to ``last``, both included, in time order (empty
        when ``last`` comes before ``first``)."""
        return [Quarter._from_index(i) for i in range(first._index(), last._index() + 1)]

    @classmethod
    def of_year(cls, year: int) -> list[Quarter]:
        """The four quarters of ``year``."""
        return [cls(year, q) for q in range(1, 5)]

    @property
    def start(self) -> dt.date:
        """Its first day."""
        return dt.date(self.year, 3 * self.q - 2, 1)

    @property
    def end(self) -> dt.date:
        """Its last day."""
        if self.q == 4:
            return dt.date(self.year, 12, 31)
        return dt.date(self.year, 3 * self.q + 1, 1) - dt.timedelta(days=1)

    def previous(self) -> Quarter:
        return Quarter._from_index(self._index() - 1)

    def next(self) -> Quarter:
        return Quarter._from_index(self._index() + 1)

    def __str__(self) -> str:
        return f"{self.year}-Q{self.q}"

    def _index(self) -> int:
        return self.year * 4 + self.q - 1

    @staticmethod
    def _from_index(index: int) -> Quarter:
        year, q = divmod(index, 4)
        return Quarter(year, q + 1)


def is_quarter(period: str) -> bool:
    """True for a quarter label (``2025-Q3``), False for a year (``2025``) or anything else."""
    return _QUARTER.match(str(period)) is not None
