"""Parse the partners' cell values: Italian dates, numbers, yes/no and free text.

Every parser takes a pandas object Series of raw cells (str, int, float, bool, date,
datetime or None, as :mod:`lavoro_debole.ingest.readers` gives them) and returns the
parsed values together with an ``invalid`` mask, so that the caller can reject the
row with a reason instead of silently losing the value. "No value" tokens (blank,
``n.d.``, ``nd``, ``-``, Excel errors) give a null that is *not* invalid.

Speed: a column of 100,000s of rows holds far fewer distinct values (dates,
vocabulary), so each parser factorises the column and parses each distinct value
once, then spreads the results back with a vectorised ``take``.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pandas as pd

EXCEL_ERROR_TOKENS = frozenset(
    {
        "#N/D",
        "#N/A",
        "#VALORE!",
        "#VALUE!",
        "#REF!",
        "#RIF!",
        "#DIV/0!",
        "#NOME?",
        "#NAME?",
        "#NUM!",
        "#NULL!",
        "#NULLO!",
        "#SPILL!",
        "#CALC!",
        "#GETTING_DATA",
    }
)
_LIBREOFFICE_ERROR = re.compile(r"^Err:\d{3}$")
ERROR_FIRST_CHARS = frozenset(
    "#E" + "".join(chr(code) for code in range(0x3100) if chr(code).isspace())
)
"""Every character an error value can start with: ``#``, ``E`` (``Err:``) or what
``str.strip`` removes."""
NO_VALUE_TOKENS = frozenset({"", "n.d.", "n.d", "nd", "-"})

_SPACES = re.compile(r"\s+")
_NBSP = str.maketrans({"\xa0": " ", "\u202f": " ", "\u2007": " ", "\u2009": " "})
EXCEL_EPOCH = dt.date(1899, 12, 30)
MAX_EXCEL_SERIAL = 2958465  # 31/12/9999

T = TypeVar("T")


def is_error_token(text: str) -> bool:
    """True for a spreadsheet error value such as ``#N/D`` or ``Err:502`` (LibreOffice)."""
    if not text or text[0] not in ERROR_FIRST_CHARS:
        return False  # the common case, decided without stripping (rows can number 100,000s)
    stripped = text.strip()
    return stripped.upper() in EXCEL_ERROR_TOKENS or bool(_LIBREOFFICE_ERROR.match(stripped))


def _squash(text: str) -> str:
    """NBSP to space, trim, collapse whitespace runs.

    ``str.split`` splits on exactly what ``\\s`` matches and what ``strip`` removes,
    NBSP and its kin included.
    """
    return " ".join(text.split())


def _is_no_value_text(squashed: str) -> bool:
    return squashed.casefold() in NO_VALUE_TOKENS or is_error_token(squashed)


def normalise_token(text: str) -> str:
    """Fold a header or vocabulary value so that spelling habits do not matter.

    Case, accents, line breaks, NBSP, dots and apostrophes are dropped
    (``C.F.`` -> ``cf``, ``all'esame`` -> ``allesame``); any other punctuation becomes
    a space (``ex-detenuto`` -> ``ex detenuto``), then spaces are collapsed.
    """
    decomposed = unicodedata.normalize("NFKD", str(text).translate(_NBSP))
    out: list[str] = []
    for char in decomposed:
        if unicodedata.combining(char):
            continue
        if char.isalnum():
            out.append(char)
        elif char in ".'’`´":
            continue
        else:
            out.append(" ")
    return _SPACES.sub(" ", "".join(out).casefold()).strip()


# --- shared machinery ------------------------------------------------------------------


class _BoolKey:
    """Stands for a bool during factorising, which would otherwise merge True with 1."""

    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = value

    def __hash__(self) -> int:
        return hash(("bool", self.value))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _BoolKey) and other.value == self.value


_TRUE_KEY, _FALSE_KEY = _BoolKey(True), _BoolKey(False)
# What pandas' infer_dtype says of a column that holds no bool (a C pass, no Python
# call per cell); any other answer ("mixed", "boolean", ...) means: look for bools.
_NO_BOOL_KINDS = frozenset(
    {"empty", "string", "integer", "floating", "mixed-integer-float", "date", "datetime", "time"}
)


def _map_distinct(
    values: pd.Series, parse: Callable[[object], tuple[T, bool]]
) -> tuple[list[T], np.ndarray, np.ndarray]:
    """Parse each distinct non-null value once.

    Returns (parsed distinct values, their invalid flags, codes into them with -1 for
    nulls).
    """
    raw = values.to_numpy(dtype=object, copy=True)
    if pd.api.types.infer_dtype(raw, skipna=True) not in _NO_BOOL_KINDS:
        for position in np.flatnonzero([type(v) is bool or isinstance(v, np.bool_) for v in raw]):
            raw[position] = _TRUE_KEY if raw[position] else _FALSE_KEY
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    parsed: list[T] = []
    invalid = np.zeros(len(uniques), dtype=bool)
    for index, unique in enumerate(uniques):
        original = unique.value if isinstance(unique, _BoolKey) else unique
        result, bad = parse(original)
        parsed.append(result)
        invalid[index] = bad
    return parsed, invalid, codes


def _spread_objects(
    values: pd.Series, parse: Callable[[object], tuple[object, bool]]
) -> tuple[pd.Series, pd.Series]:
    parsed, invalid, codes = _map_distinct(values, parse)
    table = np.empty(len(parsed) + 1, dtype=object)
    table[: len(parsed)] = parsed
    table[-1] = None
    result = pd.Series(table[codes], index=values.index, dtype=object)
    mask = pd.Series(np.append(invalid, False)[codes], index=values.index, dtype=bool)
    return result, mask


# --- text ------------------------------------------------------------------------------


def _format_number(value: float) -> str:
    if value.is_integer():
        return str(int(value))
    return f"{value:.15g}"


def _text_of(value: object) -> tuple[str | None, bool]:
    if isinstance(value, str):
        squashed = _squash(value)
        return (None if _is_no_value_text(squashed) else squashed), False
    if isinstance(value, bool | np.bool_):
        return ("VERO" if value else "FALSO"), False
    if isinstance(value, int | np.integer):
        return str(int(value)), False
    if isinstance(value, float | np.floating):
        return _format_number(float(value)), False
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.strftime("%d/%m/%Y"), False
        return value.strftime("%d/%m/%Y %H:%M:%S" if value.second else "%d/%m/%Y %H:%M"), False
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y"), False
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S" if value.second else "%H:%M"), False
    return _text_of(str(value))


def clean_text_value(value: object) -> str | None:
    """:func:`clean_text` of one cell (None for a null cell)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return _text_of(value)[0]


def clean_text(values: pd.Series) -> pd.Series:
    """Text as the partner meant it: trimmed, NBSP and inner runs folded, no-value -> None.

    Numbers and dates typed into a text column are rendered the way the partner sees
    them (``1609822300000001``, not ``1.6098223e+15``; dates as dd/mm/yyyy).
    """
    result, _ = _spread_objects(values, _text_of)
    return result


def map_distinct(values: pd.Series, function: Callable[[object], object]) -> pd.Series:
    """``values.map(function)`` computed once per distinct non-null cell (``True`` and
    ``1`` kept apart); null cells give None."""
    result, _ = _spread_objects(values, lambda value: (function(value), False))
    return result


def clean_text_then(values: pd.Series, function: Callable[[str], object]) -> pd.Series:
    """:func:`clean_text`, then ``function`` of each non-null text (a CF's normal form,
    a vocabulary's canonical value), both done once per distinct cell."""

    def then(value: object) -> object:
        text = _text_of(value)[0]
        return None if text is None else function(text)

    return map_distinct(values, then)


# --- dates -----------------------------------------------------------------------------

_TIME_PART = r"(?:[ T]+\d{1,2}[:.]\d{2}(?:[:.]\d{2}(?:[.,]\d+)?)?)?"
_DAY_FIRST = re.compile(r"^(\d{1,2})([/.\-])(\d{1,2})\2(\d{4}|\d{2})" + _TIME_PART + r"$")
_YEAR_FIRST = re.compile(r"^(\d{4})([/\-.])(\d{1,2})\2(\d{1,2})" + _TIME_PART + r"Z?$")
_SERIAL_TEXT = re.compile(r"^(\d{1,7})(?:[.,]0+)?$")


def excel_serial_to_date(serial: int) -> dt.date | None:
    """Excel's day count from 1899-12-30 (which absorbs Excel's 1900 leap-year bug)."""
    if 1 <= serial <= MAX_EXCEL_SERIAL:
        return EXCEL_EPOCH + dt.timedelta(days=serial)
    return None


def _make_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _date_parser(today: dt.date) -> Callable[[object], tuple[dt.date | None, bool]]:
    pivot = today.year % 100 + 1

    def parse(value: object) -> tuple[dt.date | None, bool]:
        if isinstance(value, dt.datetime):
            return value.date(), False
        if isinstance(value, dt.date):
            return value, False
        if isinstance(value, bool | np.bool_):
            return None, True
        if isinstance(value, int | float | np.integer | np.floating):
            number = float(value)
            if not number.is_integer():
                return None, True
            day = excel_serial_to_date(int(number))
            return day, day is None
        text = _squash(str(value))
        if _is_no_value_text(text):
            return None, False
        if match := _DAY_FIRST.match(text):
            day_text, _, month_text, year_text = match.groups()
            year = int(year_text)
            if len(year_text) == 2:
                year += 2000 if year <= pivot else 1900
            day = _make_date(year, int(month_text), int(day_text))
            return day, day is None
        if match := _YEAR_FIRST.match(text):
            year_text, _, month_text, day_text = match.groups()
            day = _make_date(int(year_text), int(month_text), int(day_text))
            return day, day is None
        if match := _SERIAL_TEXT.match(text):
            day = excel_serial_to_date(int(match.group(1)))
            return day, day is None
        return None, True

    return parse


def parse_dates(values: pd.Series, *, today: dt.date | None = None) -> tuple[pd.Series, pd.Series]:
    """Parse a date column into ``datetime.date`` objects (None when absent).

    ``today`` fixes the two-digit-year pivot (yy -> 20yy when yy <= this year's yy + 1)
    so that tests and re-runs are reproducible.
    """
    return _spread_objects(values, _date_parser(today or dt.date.today()))


# --- numbers ---------------------------------------------------------------------------

_CURRENCY = re.compile(r"(?i)€|\beur(?:o)?\b")
_IT_GROUPED = re.compile(r"^\d{1,3}(?:\.\d{3})+(?:,\d+)?$")
_IT_PLAIN = re.compile(r"^\d*,\d+$|^\d+,?$")
_EN_GROUPED = re.compile(r"^\d{1,3}(?:,\d{3})+\.\d+$")
_DOT_DECIMAL = re.compile(r"^\d*\.\d+$")


def _number_of_text(text: str) -> float | None:
    compact = _CURRENCY.sub("", text).translate(_NBSP).replace(" ", "").replace("\u2212", "-")
    sign = 1.0
    if compact[:1] in "+-" and compact:
        sign = -1.0 if compact[0] == "-" else 1.0
        compact = compact[1:]
    if not compact:
        return None
    if _IT_GROUPED.match(compact):
        return sign * float(compact.replace(".", "").replace(",", "."))
    if _IT_PLAIN.match(compact):
        return sign * float(compact.rstrip(",").replace(",", "."))
    if _EN_GROUPED.match(compact):
        return sign * float(compact.replace(",", ""))
    if _DOT_DECIMAL.match(compact):
        return sign * float(compact)
    return None


def _parse_number(value: object) -> tuple[float, bool]:
    if isinstance(value, bool | np.bool_):
        return np.nan, True
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value), False
    if isinstance(value, dt.date | dt.time):
        return np.nan, True
    text = _squash(str(value))
    if _is_no_value_text(text):
        return np.nan, False
    number = _number_of_text(text)
    return (np.nan, True) if number is None else (number, False)


def parse_numbers(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse Italian-written numbers (``1.150,50``, ``€ 500,00``, ``32,5``) to float64.

    A dot alone is a thousands separator when it groups three digits (``1.150`` is
    1150), else a decimal point (``32.5``).
    """
    parsed, invalid, codes = _map_distinct(values, _parse_number)
    table = np.append(np.asarray(parsed, dtype="float64"), np.nan)
    result = pd.Series(table[codes], index=values.index, dtype="float64")
    mask = pd.Series(np.append(invalid, False)[codes], index=values.index, dtype=bool)
    return result, mask


# --- yes / no --------------------------------------------------------------------------

YES_TOKENS = frozenset({"si", "s", "x", "1", "vero", "true", "yes", "y"})
NO_TOKENS = frozenset({"no", "n", "0", "falso", "false"})


def _parse_yes_no(value: object) -> tuple[bool | None, bool]:
    if isinstance(value, bool | np.bool_):
        return bool(value), False
    if isinstance(value, int | float | np.integer | np.floating):
        if value == 1:
            return True, False
        if value == 0:
            return False, False
        return None, True
    if isinstance(value, dt.date | dt.time):
        return None, True
    text = _squash(str(value))
    if _is_no_value_text(text):
        return None, False
    token = normalise_token(text)
    if token in YES_TOKENS:
        return True, False
    if token in NO_TOKENS:
        return False, False
    return None, True


def parse_yes_no(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse ``Sì``/``SI``/``X``/``1``/``Vero`` and ``No``/``0``/``Falso`` to True/False."""
    return _spread_objects(values, _parse_yes_no)


# --- values that cannot be stored or shown ---------------------------------------------

MAX_TEXT_CHARS = 1000
"""The longest text a stored cell may hold; a longer one is a partner's mistake (a
whole letter pasted into a cell) or a hostile file, and is refused with a reason."""
MAX_SHOWN_CHARS = 1000
"""The longest value kept in ``ops.rejected_rows`` and the feedback workbook."""

_CONTROL_CHARS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_NONCHARACTERS = "\ufdd0-\ufdef\ufffe\uffff" + "".join(
    f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(1, 17)
)
_ODD_UNICODE = "\ud800-\udfff" + _NONCHARACTERS + "\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[{_CONTROL_CHARS}]")
_ODD = re.compile(f"[{_ODD_UNICODE}]")
_UNSHOWABLE = re.compile(f"[{_CONTROL_CHARS}{_ODD_UNICODE}]")
"""Control characters (tab, line feed and carriage return apart: Excel refuses the
rest, openpyxl's ``ILLEGAL_CHARACTERS_RE`` and more), lone surrogates (a broken
decoder), noncharacters such as U+FFFE (not allowed in XML) and the bidirectional
overrides and isolates that make a text display other than it reads."""
_UNSHOWABLE_IN_NAME = re.compile(f"[\t\n\r{_CONTROL_CHARS}{_ODD_UNICODE}]")


def unusable_text(text: str) -> str | None:
    """Why a text cell cannot be stored as sent (a :data:`REASONS` key), or None."""
    if len(text) > MAX_TEXT_CHARS:
        return "text_too_long"
    if _CONTROL.search(text) is not None:
        return "control_characters"
    if _ODD.search(text) is not None:
        return "unicode_invalid"
    return None


def unusable_cells(values: pd.Series) -> pd.Series:
    """For each cell, why it cannot be stored (a reason key) or None; text cells only,
    each distinct text judged once."""
    raw = values.to_numpy(dtype=object)
    kinds = np.full(len(raw), None, dtype=object)
    if len(raw) == 0 or pd.api.types.infer_dtype(raw, skipna=True) in _NO_TEXT_KINDS:
        return pd.Series(kinds, index=values.index, dtype=object)
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    texts = [unique for unique in uniques if type(unique) is str]
    # The common case in one C pass: no distinct text too long or holding a bad character
    # (line feed joins them: it is allowed, so it cannot make a match of its own).
    if not texts or (
        max(map(len, texts)) <= MAX_TEXT_CHARS and _UNSHOWABLE.search("\n".join(texts)) is None
    ):
        return pd.Series(kinds, index=values.index, dtype=object)
    verdicts = np.full(len(uniques) + 1, None, dtype=object)  # the last slot: a null
    for index, unique in enumerate(uniques):
        if isinstance(unique, str):
            verdicts[index] = unusable_text(unique)
    return pd.Series(verdicts[codes], index=values.index, dtype=object)


_NO_TEXT_KINDS = frozenset(
    {"empty", "integer", "floating", "mixed-integer-float", "boolean", "date", "datetime", "time"}
)


def _visible_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def visible_text(text: str, limit: int | None = MAX_SHOWN_CHARS) -> str:
    """The text with every character Excel, XML or a terminal cannot take shown as a
    visible escape (``\\x07``, ``\\ufffe``, ``\\u202e``) and, past ``limit`` characters,
    cut with a mark: safe in a workbook cell, a VARCHAR and a log line."""
    if limit is not None and len(text) > limit:
        text = text[:limit] + f"… [troncato: {len(text):,} caratteri]".replace(",", ".")
    if _UNSHOWABLE.search(text) is None:
        return text
    return _UNSHOWABLE.sub(_visible_escape, text)


def safe_file_name(name: str) -> str:
    """A file name as it is stored and shown: always valid UTF-8, one line.

    Bytes of a non-UTF-8 name (Python holds them as surrogate escapes) become ``\\xHH``
    and control, bidirectional and other unshowable characters become their visible
    escapes, so the same file gives the same stored name on every run; an ordinary
    name is unchanged.
    """
    try:
        raw = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = name.encode("utf-8", "surrogatepass")
    text = raw.decode("utf-8", "backslashreplace")
    return _UNSHOWABLE_IN_NAME.sub(_visible_escape, text)
