"""Pseudonymisation at the door: a codice fiscale becomes a keyed pseudonym.

HMAC-SHA256 with a secret kept outside the repository: without the key nobody can
recompute a pseudonym from a CF, and the same CF always gives the same pseudonym, so
a person links across feeds. What the indicators need from the CF (sex, birth date,
born abroad) is decoded here, and the CF itself is never stored.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

import pandas as pd

OMOCODIA_DIGITS = str.maketrans("LMNPQRSTUV", "0123456789")
OMOCODIA_POSITIONS = (6, 7, 9, 10, 12, 13, 14)
MONTH_LETTERS = "ABCDEHLMPRST"
PERSON_COLUMNS = (
    "person_id",
    "person_sex",
    "person_birth_yy",
    "person_birth_month",
    "person_birth_day",
    "person_born_abroad",
)


def pseudonym(cf: str, key: bytes) -> str:
    """The keyed pseudonym of a normalised CF (64 hex characters)."""
    return hmac.digest(key, cf.encode("ascii"), hashlib.sha256).hex()


@lru_cache(maxsize=1 << 18)
def _person(cf: str, key: bytes) -> tuple[str, str, int, int, int, bool]:
    """Cached: cumulative extracts and yearly files repeat the same persons."""
    return (pseudonym(cf, key), *decode_cf(cf))


def decode_cf(cf: str) -> tuple[str, int, int, int, bool]:
    """(sex, two-digit year, month, day, born abroad) of a valid, normalised CF.

    Omocodic letters are turned back into digits first: an omocodic CF is another
    person, but its birth date is read the same way.
    """
    chars = list(cf)
    for position in OMOCODIA_POSITIONS:
        chars[position] = chars[position].translate(OMOCODIA_DIGITS)
    plain = "".join(chars)
    day = int(plain[9:11])
    sex = "F" if day > 40 else "M"
    return sex, int(plain[6:8]), MONTH_LETTERS.index(plain[8]) + 1, day % 40, plain[11] == "Z"


def person_columns(cfs: pd.Series, key: bytes) -> pd.DataFrame:
    """The person columns of ``docs/raw-tables.md`` for a Series of valid CFs (or nulls)."""
    rows = []
    for cf in cfs:
        if cf is None or (isinstance(cf, float) and pd.isna(cf)):
            rows.append((None, None, None, None, None, None))
        else:
            rows.append(_person(cf, key))
    frame = pd.DataFrame(rows, columns=list(PERSON_COLUMNS), index=cfs.index)
    for column in ("person_birth_yy", "person_birth_month", "person_birth_day"):
        frame[column] = frame[column].astype("Int16")
    frame["person_born_abroad"] = frame["person_born_abroad"].astype("boolean")
    return frame


def employer_columns(codes: pd.Series, key: bytes) -> pd.DataFrame:
    """A P.IVA stays as it is (company data); a sole trader's CF becomes ``cf:<pseudonym>``."""
    values, kinds = [], []
    for code in codes:
        if code is None or (isinstance(code, float) and pd.isna(code)):
            values.append(None)
            kinds.append(None)
        elif len(code) == 11 and code.isdigit():
            values.append(code)
            kinds.append("piva")
        else:
            values.append("cf:" + pseudonym(code, key))
            kinds.append("cf")
    return pd.DataFrame({"employer_code": values, "employer_code_kind": kinds}, index=codes.index)
