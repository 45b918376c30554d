"""The vocabulary every feed schema is written in.

A feed module declares, for each entity it carries (a sheet shape), the columns the
partners send under their many spellings, what kind of value each holds, what is
mandatory, and the closed vocabularies with their variants. From that declaration
this module builds the Pandera schema that validates the *parsed* rows: the ingest
reads and parses cells (Italian dates, numbers, yes/no), the schema judges them.

Check errors are machine keys (``missing``, ``cf_invalid``, ...) that
:data:`REASONS` turns into plain Italian for the partner.
"""

from __future__ import annotations

import datetime as dt
import re
import string
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal, Protocol

import numpy as np
import pandas as pd
import pandera.pandas as pa
from stdnum.it import codicefiscale as stdnum_cf
from stdnum.it import iva as stdnum_iva

Kind = Literal[
    "text",  # free text kept (open vocabulary)
    "label",  # open vocabulary: trimmed, first letter upper-cased
    "vocab",  # closed vocabulary: must map to a canonical value
    "multi",  # several closed-vocabulary items in one cell
    "cf",  # codice fiscale of a person: pseudonymised at the door
    "piva",  # partita IVA of a company
    "employer_code",  # P.IVA or, for a sole trader, a CF (pseudonymised)
    "date",
    "number",
    "integer",
    "yesno",
    "drop",  # personal or useless: recognised (so the header is found) and never stored
    "rownum",  # the partner's row counter (N.): not data, not stored
]

Severity = Literal["error", "warning"]

REASONS: dict[str, str] = {
    "missing": "campo obbligatorio vuoto",
    "cf_invalid": "codice fiscale non valido (lunghezza, struttura o carattere di controllo)",
    "piva_invalid": "partita IVA non valida (11 cifre con cifra di controllo corretta)",
    "employer_invalid": (
        "codice datore non valido: serve una partita IVA (11 cifre) o un codice fiscale valido"
    ),
    "date_invalid": "data non valida o inesistente (formato atteso gg/mm/aaaa)",
    "number_invalid": "numero non valido",
    "negative": "valore negativo non ammesso",
    "yesno_invalid": "valore non riconosciuto: scrivere Sì o No",
    "vocabulary": "valore non previsto",
    "date_order": "data precedente alla data di inizio",
    "code_format": "codice non nel formato atteso",
    "control_characters": (
        "il valore contiene caratteri di controllo invisibili (mostrati come \\x..): "
        "riscriverlo senza"
    ),
    "unicode_invalid": (
        "il valore contiene caratteri non validi o che invertono la direzione del testo "
        "(mostrati come \\u...): riscriverlo senza"
    ),
    "text_too_long": "testo troppo lungo: al massimo 1.000 caratteri per cella",
    "integer_out_of_range": "numero fuori dall'intervallo ammesso per questa colonna",
}

NO_VALUE_TOKENS = frozenset({"", "nd", "n d", "-", "--", "/"})
_ALPHA = string.ascii_uppercase


@lru_cache(maxsize=1 << 16)
def fold(text: str) -> str:
    """Fold text for matching: case, accents, punctuation and spacing do not matter."""
    text = unicodedata.normalize("NFKD", str(text))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"[^0-9a-zA-Z]+", " ", text.casefold())
    return re.sub(r"\s+", " ", text).strip()


# The same rules as python-stdnum (``stdnum.it.codicefiscale`` / ``stdnum.it.iva``),
# computed directly for the common, already clean value: stdnum first "cleans" every
# value character by character, which costs more than the check itself. Anything not
# plainly clean (lower case, separators, odd characters) still goes through stdnum.
_CF_STRUCTURE = re.compile(
    r"[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]"
)
_CF_DIGITS = {
    **{c: n for n, c in enumerate("0123456789")},
    **{c: n for n, c in enumerate("LMNPQRSTUV")},
}
_CF_MONTHS = {c: n + 1 for n, c in enumerate("ABCDEHLMPRST")}
_CF_EVEN = {**{c: n for n, c in enumerate("0123456789")}, **{c: n for n, c in enumerate(_ALPHA)}}
# fmt: off
_CF_ODD_VALUES = (
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
)
# fmt: on
_CF_ODD = {
    **{c: _CF_ODD_VALUES[n] for n, c in enumerate("0123456789")},
    **{c: _CF_ODD_VALUES[n] for n, c in enumerate(_ALPHA)},
}
_ASCII_DIGITS = re.compile(r"[0-9]+")


def _clean_cf_is_valid(value: str) -> bool:
    """stdnum's verdict on a 16-character CF that already has the right structure."""
    code = sum(_CF_ODD[c] for c in value[0:15:2]) + sum(_CF_EVEN[c] for c in value[1:15:2])
    if _ALPHA[code % 26] != value[15]:
        return False
    day = (_CF_DIGITS[value[9]] * 10 + _CF_DIGITS[value[10]]) % 40
    year = _CF_DIGITS[value[6]] * 10 + _CF_DIGITS[value[7]] + 1900
    if year < 1920:
        year += 100
    try:
        dt.date(year, _CF_MONTHS[value[8]], day)
    except ValueError:
        return False
    return True


def _clean_piva_is_valid(value: str) -> bool:
    """stdnum's verdict on 11 ASCII digits (province code, then Luhn)."""
    if int(value[0:7]) == 0:
        return False
    province = value[7:10]
    if not ("001" <= province <= "100" or province in ("120", "121", "888", "999")):
        return False
    digits = [int(c) for c in reversed(value)]
    total = sum(digits[::2]) + sum(sum(divmod(d * 2, 10)) for d in digits[1::2])
    return total % 10 == 0


@lru_cache(maxsize=1 << 18)
def is_valid_cf(value: str) -> bool:
    """A normalised codice fiscale: 16 characters, right structure and check character.

    stdnum also accepts 11-digit temporary codes; a person's CF here is 16 characters.
    Cached: cumulative extracts repeat the same persons file after file.
    """
    if len(value) != 16:
        return False
    if _CF_STRUCTURE.fullmatch(value):
        return _clean_cf_is_valid(value)
    return stdnum_cf.is_valid(value)


@lru_cache(maxsize=1 << 16)
def is_valid_piva(value: str) -> bool:
    if len(value) != 11 or not value.isdigit():
        return False
    if _ASCII_DIGITS.fullmatch(value):
        return _clean_piva_is_valid(value)
    return stdnum_iva.is_valid(value)


def normalise_cf(value: object) -> str | None:
    """Remove every space (ordinary or non-breaking) and upper-case, as indicators.md says."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    # str.split() splits on every Unicode space, NBSP included.
    text = "".join(str(value).split()).upper()
    return text or None


def normalise_piva(value: object) -> str | None:
    """Spaces, dots and an ``IT`` prefix are habits, not errors; integral floats lose '.0'."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = f"{int(value):011d}"
    elif isinstance(value, int):
        value = f"{value:011d}"
    text = re.sub(r"[\s.\-]+", "", str(value).replace("\u00a0", " ")).upper()
    if text.startswith("IT") and len(text) == 13:
        text = text[2:]
    return text or None


@dataclass(frozen=True)
class Column:
    """One column as the partners send it and as the warehouse stores it."""

    name: str
    headers: tuple[str, ...]
    kind: Kind = "text"
    required: bool = False
    vocabulary: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Closed vocabulary: canonical -> extra variants (the canonical spelling always matches)."""
    non_negative: bool = False
    pattern: str | None = None
    """A regular expression the cleaned text must start with (``code_format`` otherwise)."""
    on_invalid: Severity = "error"
    """``warning``: an invalid value is dropped and the row still loads (the desk's optional CF)."""
    description: str = ""

    def variants_index(self) -> dict[str, str]:
        """Folded spelling -> canonical value, for closed vocabularies."""
        index: dict[str, str] = {}
        for canonical, variants in self.vocabulary.items():
            for spelling in (canonical, *variants):
                index[fold(spelling)] = canonical
        return index

    @property
    def stored(self) -> bool:
        return self.kind not in ("drop", "rownum")


@dataclass(frozen=True)
class DateOrder:
    """``end`` may not precede ``start`` within a row."""

    start: str
    end: str


@dataclass(frozen=True)
class Entity:
    """One shape of sheet a feed sends, loaded into ``raw.<table>``."""

    table: str
    columns: tuple[Column, ...]
    date_orders: tuple[DateOrder, ...] = ()
    context_columns: tuple[str, ...] = ()
    """Columns filled from the file rather than a cell (district, cooperative name)."""
    derived_columns: Mapping[str, str] = field(default_factory=dict)
    """Columns computed from validated values by :attr:`derive`: name -> SQL type."""
    derive: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    description: str = ""

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def header_variants(self) -> dict[str, tuple[str, ...]]:
        return {col.name: col.headers for col in self.columns}

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def pandera_schema(self) -> pa.DataFrameSchema:
        return build_pandera_schema(self)


class SenderLike(Protocol):
    """What a feed's context hook may read of a listed sender (``ingest.senders.Sender``).

    Declared here so that a feed module states its rules without importing the ingest.
    """

    @property
    def sender_id(self) -> str: ...
    @property
    def display_name(self) -> str: ...
    @property
    def district(self) -> str | None: ...
    @property
    def consortium(self) -> str | None: ...


class ContextRefused(Exception):
    """A file whose sender cannot fill the feed's context columns; the message (Italian,
    naming the senders' list to extend, never a cell value) is shown as the refusal."""


ContextHook = Callable[[SenderLike, Sequence[SenderLike]], Mapping[str, str]]
"""(the file's sender, every listed sender of the feed) -> values of context columns.

The ingest calls it once per file, after finding the sender in the senders' list; a
returned column fills that column wherever the file leaves it empty.
"""


@dataclass(frozen=True)
class Feed:
    name: str
    entities: tuple[Entity, ...]
    description: str = ""
    label: str = ""
    """What the steward reads in the Dagster UI for the feed's asset (Italian)."""
    context: ContextHook | None = None
    """How a file's sender fills the columns no cell holds (the district of a case, the
    cooperative of a single cooperative's file); None: nothing to fill."""
    sender_column: str | None = None
    """A column whose cells name senders of the list (a consortium file's cooperatives):
    each cell must name a listed member this file's sender sends, else the row is rejected."""


def _check(fn, key: str) -> pa.Check:
    return pa.Check(fn, name=key, error=key)


def _each_distinct(test: Callable[[object], bool]) -> Callable[[pd.Series], pd.Series]:
    """An element-wise check run once per distinct value, then spread back to the rows.

    A CF or code column repeats the same values across 100,000s of rows.
    """

    def check(values: pd.Series) -> pd.Series:
        codes, uniques = pd.factorize(values.to_numpy(dtype=object), use_na_sentinel=True)
        verdicts = np.ones(len(uniques) + 1, dtype=bool)  # the last slot: a null passes
        verdicts[: len(uniques)] = [bool(test(value)) for value in uniques]
        return pd.Series(verdicts[codes], index=values.index)

    return check


def _column_checks(col: Column) -> list[pa.Check]:
    checks: list[pa.Check] = []
    if col.kind == "cf":
        checks.append(_check(_each_distinct(is_valid_cf), "cf_invalid"))
    elif col.kind == "piva":
        checks.append(_check(_each_distinct(is_valid_piva), "piva_invalid"))
    elif col.kind == "employer_code":
        checks.append(
            _check(_each_distinct(lambda v: is_valid_piva(v) or is_valid_cf(v)), "employer_invalid")
        )
    elif col.kind == "vocab":
        allowed = list(col.vocabulary)
        checks.append(_check(lambda s, allowed=allowed: s.isin(allowed), "vocabulary"))
    elif col.kind == "multi":
        allowed = set(col.vocabulary)
        checks.append(
            _check(
                _each_distinct(
                    lambda v, allowed=allowed: all(item in allowed for item in str(v).split(","))
                ),
                "vocabulary",
            )
        )
    if col.pattern is not None:
        pattern = re.compile(col.pattern)
        checks.append(
            _check(_each_distinct(lambda v, p=pattern: p.match(str(v)) is not None), "code_format")
        )
    if col.kind in ("number", "integer") and col.non_negative:
        checks.append(_check(lambda s: s >= 0, "negative"))
    return checks


def _in_order(frame: pd.DataFrame, order: DateOrder) -> pd.Series:
    """True where the end is blank, the start is blank, or the end is not before the start."""
    if order.start not in frame or order.end not in frame:
        return pd.Series(True, index=frame.index)
    start, end = frame[order.start], frame[order.end]
    return end.isna() | start.isna() | (end >= start)


def build_pandera_schema(entity: Entity) -> pa.DataFrameSchema:
    """The Pandera schema of an entity's parsed rows (one column per stored field)."""
    columns = {
        col.name: pa.Column(
            None,
            nullable=not (col.required or col.name in entity.context_columns),
            checks=_column_checks(col),
            required=False,
        )
        for col in entity.columns
        if col.stored
    }
    for name in entity.context_columns:
        columns.setdefault(name, pa.Column(None, nullable=False, required=False))
    frame_checks = [
        pa.Check(
            lambda df, o=order: _in_order(df, o),
            name=f"date_order:{order.end}:{order.start}",
            error=f"date_order:{order.end}:{order.start}",
        )
        for order in entity.date_orders
    ]
    return pa.DataFrameSchema(columns, checks=frame_checks, coerce=False, strict=False)


def vocab(*values: str) -> dict[str, tuple[str, ...]]:
    """A closed vocabulary with no variants beyond case, accents and spacing."""
    return {value: () for value in values}
