"""Helpers that turn records into the sheets partners send: periods, layouts, messy values."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from lavoro_debole.periods import Quarter
from lavoro_debole.synthetic.workbook import Cell, Problem, SheetSpec

NBSP = "\u00a0"


@dataclass
class Rec:
    """One row to write: values by canonical column, its record key, its planted problems."""

    values: dict[str, Cell]
    key: tuple | None = None
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # canonical, kind, sev
    kind: str = "data"


@dataclass
class FileSpec:
    """One partner file before it is written."""

    feed: str
    name: str
    fmt: str
    sender: str
    reference: date | None
    received: date
    sheets: list[SheetSpec] = field(default_factory=list)
    csv_encoding: str = "cp1252"
    csv_date_format: str = "%d/%m/%Y"
    status: str = "loaded"
    raw: bytes | None = None
    duplicate_of: str | None = None
    note: str = ""


def planted(base: Rec, *changes: tuple[str, Cell, str, str]) -> Rec:
    """A copy of ``base`` with wrong values: (canonical column, value, kind, severity)."""
    values = dict(base.values)
    problems = []
    for canonical, value, kind, severity in changes:
        values[canonical] = value
        problems.append((canonical, kind, severity))
    return Rec(values, base.key, problems)


def insert_spread(records: list[Rec], extra: Sequence[Rec], rng: random.Random) -> None:
    """Insert ``extra`` rows at random places among ``records`` (in place)."""
    for rec in extra:
        records.insert(rng.randrange(len(records) + 1), rec)


def table(
    name: str,
    layout: Sequence[tuple[str, str]],
    records: Sequence[Rec],
    entity: str,
    titles: Sequence[str] = (),
    total: str | None = None,
    transform: Callable[[str, Cell], Cell] | None = None,
    merge_titles: bool = True,
) -> SheetSpec:
    """A data sheet: title rows, the header, the records, an optional closing total row.

    ``total`` may hold ``{n}``, replaced by the number of data rows.
    """
    sheet = SheetSpec(name)
    width = len(layout)
    for title in titles:
        idx = sheet.add("title", [title] if title else [])
        if title and merge_titles and width > 1:
            sheet.merges.append((idx, 0, idx, width - 1))
    sheet.add("header", [header for _, header in layout])
    header_by_canonical = {canonical: header for canonical, header in layout}
    data_rows = 0
    for rec in records:
        cells: list[Cell] = []
        for canonical, _ in layout:
            value = rec.values.get(canonical)
            if transform is not None and value is not None:
                value = transform(canonical, value)
            cells.append(value)
        if rec.kind != "data":
            sheet.add(rec.kind, cells)
            continue
        idx = sheet.add("data", cells)
        data_rows += 1
        if rec.key is not None:
            sheet.keys[idx] = (entity, rec.key)
        for canonical, kind, severity in rec.problems:
            sheet.problems.setdefault(idx, []).append(
                Problem(header_by_canonical[canonical], canonical, kind, severity)
            )
    if total is not None:
        sheet.add("total", [total.format(n=data_rows)])
    return sheet


# ------------------------------------------------------------------------- periods


def periods(start: date, until: date, months: int) -> Iterator[tuple[date, date]]:
    """Calendar periods of ``months`` months (1, 3, 6, 12) that begin on or before ``until``
    and end on or after ``start``: (first day, last day)."""
    first = date(start.year, 1 + ((start.month - 1) // months) * months, 1)
    while first <= until:
        month = first.month - 1 + months
        nxt = date(first.year + month // 12, month % 12 + 1, 1)
        last = nxt - timedelta(days=1)
        if last >= start:
            yield first, last
        first = nxt


def quarter_label(first: date) -> str:
    quarter = Quarter.of(first)
    return f"{quarter.year}_T{quarter.q}"


def semester_label(first: date) -> str:
    return f"{first.year}_S{1 if first.month <= 6 else 2}"


def it_date(value: date) -> str:
    return value.strftime("%d/%m/%Y")


# --------------------------------------------------------------------- messy values


def messy_cf(cf: str, rng: random.Random, rate: float) -> str:
    """A CF as partners type it: lower case, with spaces, padded; still the same CF."""
    if rng.random() >= rate:
        return cf
    style = rng.randrange(4)
    if style == 0:
        return cf.lower()
    if style == 1:
        return f"{cf[:3]} {cf[3:6]} {cf[6:11]} {cf[11:]}"
    if style == 2:
        return f"  {cf.lower()} "
    return cf + NBSP


def messy_text(text: str, rng: random.Random, rate: float) -> str:
    """Trailing spaces, non-breaking spaces, odd case: the same value after trimming/folding."""
    if not text or rng.random() >= rate:
        return text
    style = rng.randrange(3)
    if style == 0:
        return text + " "
    if style == 1:
        return text + NBSP
    return text.upper()


def short_date(value: date) -> str:
    """``d/m/yy``."""
    return f"{value.day}/{value.month}/{value.year % 100:02d}"


def euro(amount: float) -> str:
    """``€ 1.150,00``."""
    whole, cents = f"{amount:,.2f}".split(".")
    return f"€ {whole.replace(',', '.')},{cents}"


def comma_number(value: float) -> str:
    """``32,5``."""
    text = f"{value:g}"
    return text.replace(".", ",")
