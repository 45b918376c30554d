"""Personal values where none is expected: CF-, phone- and e-mail-shaped text, names.

Two uses. :func:`mask_personal` hides the CF-, phone- and e-mail-shaped parts of a
file or sheet name before it is logged, put in Dagster metadata or a check, or
printed. :func:`personal_kind` and :func:`names_in` screen the cells of the label and
free-text columns that are kept (``Mansione``, ``Inviato a``, ``ID contatto``): a cell
that holds such a value is never stored past the door.

The shapes are chosen to catch what a partner types by mistake and to leave alone the
codes the feeds really carry (``SP-2024-0012``, ``A.02.00``, ``56.10.11``, dates,
P.IVAs, UNILAV codes):

- a CF: the 16-character structure (omocodia included), in any case, with spaces
  anywhere; at least one real digit in its seven numeric places, or a correct check
  character (so that no run of ordinary words can look like one);
- a phone: an Italian mobile (``3`` and 9–10 digits) or landline (``0`` then a
  non-zero digit, 8–11 digits), optionally after ``+39``/``0039``, with spaces, dots,
  dashes or slashes between the digits; not a date (``01/03/2024``, ``01032024``) and
  not a valid P.IVA;
- an e-mail address.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from functools import lru_cache

from lavoro_debole.schemas import fold, is_valid_cf, is_valid_piva

_DIGIT = "[0-9LMNPQRSTUVlmnpqrstuv]"
_CF_PARTS = (
    ["[A-Za-z]"] * 6
    + [_DIGIT] * 2
    + ["[ABCDEHLMPRSTabcdehlmprst]"]
    + [_DIGIT] * 2
    + ["[A-Za-z]"]
    + [_DIGIT] * 3
    + ["[A-Za-z]"]
)
_CF_SHAPE = re.compile(r"[ \t\u00a0]*".join(_CF_PARTS))
_NUMERIC_PLACES = (6, 7, 9, 10, 12, 13, 14)

_SEP = r"[ \t\u00a0./\-]*"
_PHONE_SHAPE = re.compile(
    r"(?<![0-9])(?:(?:\+|00)" + _SEP + r"39" + _SEP + r")?[03](?:" + _SEP + r"[0-9]){5,10}(?![0-9])"
)
_DATE_SHAPE = re.compile(
    r"(?<![0-9])(?<![0-9][./\-])(?:[0-9]{1,2}[./\-][0-9]{1,2}[./\-](?:[0-9]{4}|[0-9]{2})|[0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"(?![0-9]|[./\-][0-9])"
)
_EMAIL_SHAPE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")

CF = "codice fiscale"
PHONE = "numero di telefono"
EMAIL = "indirizzo e-mail"
NAME = "nome della persona della riga"

MASKS = {CF: "[CF]", PHONE: "[telefono]", EMAIL: "[e-mail]"}


def _is_cf(match: str) -> bool:
    code = "".join(match.split()).upper()
    if any(code[i].isdigit() for i in _NUMERIC_PLACES):
        return True
    return is_valid_cf(code)


def _looks_like_date(digits: str) -> bool:
    for fmt in ("%d%m%Y", "%Y%m%d"):
        try:
            day = dt.datetime.strptime(digits, fmt)
        except ValueError:
            continue
        if 1900 <= day.year <= 2100:
            return True
    return False


def _is_phone(match: str) -> bool:
    digits = re.sub(r"[^0-9]", "", match)
    prefixed = match.lstrip().startswith(("+", "00"))
    if prefixed:
        digits = digits[4:] if digits.startswith("0039") else digits[2:]
    if len(digits) == 8 and _looks_like_date(digits):
        return False
    if re.fullmatch(r"3[0-9]{8,9}", digits):
        return True
    if re.fullmatch(r"0[1-9][0-9]{6,9}", digits):
        return not (len(digits) == 11 and is_valid_piva(digits))
    return False


def _spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of every personal-looking part of ``text``, left to right."""
    spans: list[tuple[int, int, str]] = []
    for m in _EMAIL_SHAPE.finditer(text):
        spans.append((m.start(), m.end(), EMAIL))
    for m in _CF_SHAPE.finditer(text):
        if _is_cf(m.group()):
            spans.append((m.start(), m.end(), CF))
    # Dates are not phones: blank them out (same length, so the positions hold).
    undated = _DATE_SHAPE.sub(lambda m: " " * len(m.group()), text)
    for m in _PHONE_SHAPE.finditer(undated):
        if _is_phone(m.group()):
            spans.append((m.start(), m.end(), PHONE))
    spans.sort()
    merged: list[tuple[int, int, str]] = []
    for start, end, kind in spans:
        if merged and start < merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), last[2])
        else:
            merged.append((start, end, kind))
    return merged


_CF_FLAT = re.compile("".join(_CF_PARTS))
_PHONE_HINT = re.compile(r"(?:^|[^0-9])[+03]")


@lru_cache(maxsize=1 << 16)
def personal_kind(text: str) -> str | None:
    """What personal value ``text`` holds (``codice fiscale``, ...), or None.

    The same shapes as :func:`mask_personal`, tested cheaply first (a column of
    100,000 distinct codes is screened in a fraction of a second): an e-mail needs an
    ``@``, a phone at least 8 digits, a CF 16 characters once spaces are removed.
    """
    if len(text) < 6:
        return None
    if text.isdigit():  # ids and codes: a phone only if the whole run is one
        return PHONE if len(text) <= 14 and _is_phone(text) else None
    if "@" in text and _EMAIL_SHAPE.search(text):
        return EMAIL
    squashed = "".join(text.split())
    if len(squashed) >= 16 and any(_is_cf(m.group()) for m in _CF_FLAT.finditer(squashed)):
        return CF
    if _PHONE_HINT.search(text) and sum(map(text.count, "0123456789")) >= 8:
        undated = _DATE_SHAPE.sub(lambda m: " " * len(m.group()), text)
        if any(_is_phone(m.group()) for m in _PHONE_SHAPE.finditer(undated)):
            return PHONE
    return None


def mask_personal(text: object) -> str:
    """``text`` with its CF-, phone- and e-mail-shaped parts replaced by a placeholder.

    For file and sheet names on their way to a log, Dagster or the terminal; the value
    stored in ``ops.ingest_files`` is the name as received.
    """
    text = "" if text is None else str(text)
    spans = _spans(text)
    if not spans:
        return text
    out, at = [], 0
    for start, end, kind in spans:
        out.append(text[at:start])
        out.append(MASKS[kind])
        at = end
    out.append(text[at:])
    return "".join(out)


_PARTICLES = frozenset({"de", "di", "da", "del", "della", "dei", "la", "lo", "le", "el", "al"})


def name_tokens(cells: Iterable[object]) -> frozenset[str]:
    """The folded words of a person's name cells (particles and initials left out)."""
    tokens: set[str] = set()
    for cell in cells:
        if cell is None or isinstance(cell, bool | int | float):
            continue
        tokens.update(t for t in fold(str(cell)).split() if len(t) >= 3 and t not in _PARTICLES)
    return frozenset(tokens)


def names_in(text: str, names: frozenset[str]) -> bool:
    """True when ``text`` names the person: two words of the name's (surname and name).

    One word alone is not enough (``Verde``, ``Casa``, ``Gino`` are words and names
    alike), so a one-word name is never matched: false positives would reject good rows.
    """
    if len(names) < 2:
        return False
    words = set(fold(text).split())
    return len(words & names) >= 2
