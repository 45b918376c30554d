"""Work out which date and period a partner file covers, from its name or title rows.

Partners rarely state it in one place: the Province writes ``estrazione_20251231``
in the name and "Estrazione al 31/12/2025" in the title, a district office writes
``casi_2025``, a cooperative ``2024_T3`` or ``maggio 2024``. The reference date
orders cumulative and corrected re-sends; the period feeds indicator Q1 (coverage).

Only four-digit years 2000–2099 standing alone are read as years, and only valid
calendar dates as dates, so a P.IVA or a version number (``v2``) in a name is not
mistaken for a date.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePath


@dataclass(frozen=True)
class Coverage:
    """The date a file refers to and the period it covers (either end may be unknown)."""

    reference_date: dt.date | None
    start: dt.date | None
    end: dt.date | None


MONTHS = {
    "gennaio": 1,
    "febbraio": 2,
    "marzo": 3,
    "aprile": 4,
    "maggio": 5,
    "giugno": 6,
    "luglio": 7,
    "agosto": 8,
    "settembre": 9,
    "ottobre": 10,
    "novembre": 11,
    "dicembre": 12,
    "gen": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "mag": 5,
    "giu": 6,
    "lug": 7,
    "ago": 8,
    "set": 9,
    "sett": 9,
    "ott": 10,
    "nov": 11,
    "dic": 12,
}
ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4}

# Boundaries that treat "_" and letters properly: a number must not touch another
# digit, a word must not touch another letter.
_NO_DIGIT_BEFORE = r"(?<!\d)"
_NO_DIGIT_AFTER = r"(?!\d)"
_NO_LETTER_BEFORE = r"(?<![a-z])"
_NO_LETTER_AFTER = r"(?![a-z])"
_SEP = r"[ _\-.]*"
_YEAR = r"(20\d{2})"

_MONTH_WORD = "|".join(sorted(MONTHS, key=len, reverse=True))
_ROMAN_WORD = "iv|iii|ii|i"

_DATE_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # 31/12/2025, 31-12-2025, 31.12.2025, 31_12_2025
    (
        re.compile(_NO_DIGIT_BEFORE + r"(\d{1,2})([/\-._])(\d{1,2})\2(20\d{2})" + _NO_DIGIT_AFTER),
        "dmy",
    ),
    # 2025-12-31, 2025_12_31
    (
        re.compile(_NO_DIGIT_BEFORE + r"(20\d{2})([/\-._])(\d{1,2})\2(\d{1,2})" + _NO_DIGIT_AFTER),
        "ymd",
    ),
    # 20251231
    (re.compile(_NO_DIGIT_BEFORE + r"(20\d{2})(\d{2})(\d{2})" + _NO_DIGIT_AFTER), "ymd8"),
    # 31122025
    (re.compile(_NO_DIGIT_BEFORE + r"(\d{2})(\d{2})(20\d{2})" + _NO_DIGIT_AFTER), "dmy8"),
]

_EXTRACTION_WORDS = (
    r"(?:estrazione|estratto|estrazioni|situazione|aggiornat[oa]|aggiornamento|"
    r"data\s+estrazione|dati)"
)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.replace("\xa0", " "))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _make_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _find_dates(text: str) -> list[tuple[int, int, dt.date]]:
    """Every valid calendar date in the text, as (start, end, date), left to right."""
    found: list[tuple[int, int, dt.date]] = []
    taken: list[tuple[int, int]] = []
    for pattern, kind in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            if any(match.start() < end and start < match.end() for start, end in taken):
                continue
            groups = match.groups()
            if kind == "dmy":
                day = _make_date(int(groups[3]), int(groups[2]), int(groups[0]))
            elif kind == "ymd":
                day = _make_date(int(groups[0]), int(groups[2]), int(groups[3]))
            elif kind == "ymd8":
                day = _make_date(int(groups[0]), int(groups[1]), int(groups[2]))
            else:
                day = _make_date(int(groups[2]), int(groups[1]), int(groups[0]))
            if day is not None:
                found.append((match.start(), match.end(), day))
                taken.append((match.start(), match.end()))
    return sorted(found)


def _blank_out(text: str, spans: Iterable[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _period(start_month: int, months: int, year: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, start_month, 1), _month_end(year, start_month + months - 1)


_QUARTER_PATTERNS = [
    re.compile(_NO_DIGIT_BEFORE + _YEAR + _SEP + r"(?:t|q|trim)([1-4])" + _NO_DIGIT_AFTER),
    re.compile(_NO_LETTER_BEFORE + r"(?:t|q)([1-4])" + _SEP + _YEAR + _NO_DIGIT_AFTER),
    re.compile(
        _NO_DIGIT_BEFORE + r"([1-4])\s*(?:°|o|\^)?" + _SEP + r"trim(?:estre)?" + _SEP + _YEAR
    ),
    re.compile(_NO_LETTER_BEFORE + rf"({_ROMAN_WORD})" + _SEP + r"trim(?:estre)?" + _SEP + _YEAR),
]
_SEMESTER_PATTERNS = [
    re.compile(_NO_DIGIT_BEFORE + _YEAR + _SEP + r"(?:s|sem)([12])" + _NO_DIGIT_AFTER),
    re.compile(_NO_LETTER_BEFORE + r"(?:s|sem)([12])" + _SEP + _YEAR + _NO_DIGIT_AFTER),
    re.compile(_NO_DIGIT_BEFORE + r"([12])\s*(?:°|o|\^)?" + _SEP + r"sem(?:estre)?" + _SEP + _YEAR),
    re.compile(_NO_LETTER_BEFORE + r"(ii|i)" + _SEP + r"sem(?:estre)?" + _SEP + _YEAR),
]
_MONTH_NAME_PATTERNS = [
    re.compile(
        _NO_LETTER_BEFORE + rf"({_MONTH_WORD})" + _NO_LETTER_AFTER + _SEP + _YEAR + _NO_DIGIT_AFTER
    ),
    re.compile(_NO_DIGIT_BEFORE + _YEAR + _SEP + rf"({_MONTH_WORD})" + _NO_LETTER_AFTER),
]
_MONTH_NUMBER_PATTERNS = [
    re.compile(_NO_DIGIT_BEFORE + _YEAR + r"[ _\-.](0[1-9]|1[0-2])" + _NO_DIGIT_AFTER),
    re.compile(_NO_DIGIT_BEFORE + r"(0[1-9]|1[0-2])[ _\-.]" + _YEAR + _NO_DIGIT_AFTER),
]
_LONE_YEAR = re.compile(_NO_DIGIT_BEFORE + _YEAR + _NO_DIGIT_AFTER)


def _number_of(token: str) -> int:
    return ROMAN[token] if token in ROMAN else int(token)


def _find_period(text: str) -> tuple[dt.date, dt.date] | None:
    """The quarter, semester, month or year the (folded, date-free) text names."""
    for pattern in _QUARTER_PATTERNS:
        if match := pattern.search(text):
            year, number = _year_and_number(match.groups())
            return _period(3 * number - 2, 3, year)
    for pattern in _SEMESTER_PATTERNS:
        if match := pattern.search(text):
            year, number = _year_and_number(match.groups())
            return _period(6 * number - 5, 6, year)
    for pattern in _MONTH_NAME_PATTERNS:
        if match := pattern.search(text):
            first, second = match.groups()
            year, word = (int(second), first) if first in MONTHS else (int(first), second)
            return _period(MONTHS[word], 1, year)
    for pattern in _MONTH_NUMBER_PATTERNS:
        if match := pattern.search(text):
            year, number = _year_and_number(match.groups())
            return _period(number, 1, year)
    years = sorted({int(year) for year in _LONE_YEAR.findall(text)})
    if years:
        return dt.date(years[0], 1, 1), dt.date(years[-1], 12, 31)
    return None


def _year_and_number(groups: tuple[str, ...]) -> tuple[int, int]:
    """Tell the four-digit year from the period number in a two-group match."""
    first, second = groups
    if len(first) == 4 and first.isdigit():
        return int(first), _number_of(second)
    return int(second), _number_of(first)


_START_BEFORE = re.compile(r"(?<![a-z])(?:dal|da|inizio|decorrenza)[\W_]*$")
_REFERENCE_BEFORE = re.compile(_EXTRACTION_WORDS + r"[\W_]*(?:(?:al|del|il)[\W_]*)?$")
_END_BEFORE = re.compile(r"(?:(?<![a-z])(?:al|fino\s+al|a)|[-–])[\W_]*$")
_START_YEAR = re.compile(r"(?<![a-z])(?:dal|da)\s+(?:anno\s+)?" + _YEAR + _NO_DIGIT_AFTER)


def _coverage(text: str) -> Coverage | None:
    """Combine the dates and the period named in one text.

    A date after "dal" starts the period, after "estrazione"/"situazione al" is the
    reference date, after "al" or a dash ends it; a date with no such word is the end
    (a bare date in a file name), unless the next date ends a range it starts.
    """
    folded = _fold(text)
    dates = _find_dates(folded)
    labels: list[str] = []
    for position, _, _day in dates:
        before = folded[max(0, position - 40) : position]
        if _START_BEFORE.search(before):
            labels.append("start")
        elif _REFERENCE_BEFORE.search(before):
            labels.append("reference")
        elif _END_BEFORE.search(before):
            labels.append("end")
        else:
            labels.append("plain")
    for index in range(len(labels) - 1):
        if labels[index] == "plain" and labels[index + 1] == "end":
            labels[index] = "start"

    found: dict[str, dt.date] = {}
    for label, (_, _, day) in zip(labels, dates, strict=True):
        found.setdefault("end" if label == "plain" else label, day)
    start, end, reference = found.get("start"), found.get("end"), found.get("reference")

    rest = _blank_out(folded, [(s, e) for s, e, _ in dates])
    if start_year := _START_YEAR.search(rest):
        start = start or dt.date(int(start_year.group(1)), 1, 1)
        rest = _blank_out(rest, [start_year.span()])
    period = _find_period(rest) if start is None or end is None else None
    if period is not None:
        period_start, period_end = period
        start = start or period_start
        if end is None and (reference is None or period_end <= reference):
            end = period_end
    if reference is None and end is None and start is None:
        return None
    end = end or reference
    return Coverage(reference_date=reference or end, start=start, end=end)


def coverage_from_name(file_name: str) -> Coverage | None:
    """Read the reference date and period from a file name (path and extension ignored).

    ``estrazione_20251231`` -> 31/12/2025 with no start; ``2024_T3`` -> 1/7–30/9/2024;
    ``casi_2025`` -> 1/1–31/12/2025. A bare full date counts as the reference date.
    """
    stem = PurePath(file_name).name
    stem = re.sub(r"\.(xlsx|xlsm|xls|ods|csv|txt|html?)$", "", stem, flags=re.IGNORECASE)
    return _coverage(stem)


def coverage_from_title(title_cells: list[str]) -> Coverage | None:
    """Read the reference date and period from the title rows above the header.

    ``Estrazione al 30/09/2024`` -> 30/09/2024; ``dal 01/01/2023`` gives the start;
    ``anno 2025`` or ``III trimestre 2024`` give the period.
    """
    text = " | ".join(str(cell) for cell in title_cells if cell is not None and str(cell).strip())
    if not text:
        return None
    return _coverage(text)
