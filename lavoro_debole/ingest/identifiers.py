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

import numpy as np
import pandas as pd

OMOCODIA_DIGITS = str.maketrans("LMNPQRSTUV", "0123456789")
OMOCODIA_POSITIONS = (6, 7, 9, 10, 12, 13, 14)
MONTH_LETTERS = "ABCDEHLMPRST"


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
    digits = OMOCODIA_DIGITS
    day = int(cf[9:11].translate(digits))
    sex = "F" if day > 40 else "M"
    year = int(cf[6:8].translate(digits))
    return sex, year, MONTH_LETTERS.index(cf[8]) + 1, day % 40, cf[11] == "Z"


def person_columns(cfs: pd.Series, key: bytes) -> pd.DataFrame:
    """The person columns of ``docs/raw-tables.md`` for a Series of valid CFs (or nulls)."""
    # Once per distinct CF (a person has many rows), then spread column by column with
    # a take; code -1 (a null CF) takes the extra last slot, left null.
    codes, uniques = pd.factorize(cfs.to_numpy(dtype=object), use_na_sentinel=True)
    people = [_person(cf, key) for cf in uniques]
    count = len(people)
    null = np.zeros(count + 1, dtype=bool)
    null[count] = True
    null = null[codes]
    ids, sexes, years, months, days, abroad = zip(*people, strict=True) if people else ((),) * 6

    def text(values: tuple[str, ...]) -> np.ndarray:
        table = np.empty(count + 1, dtype=object)
        table[:count] = values
        return table[codes]

    def small_int(values: tuple[int, ...]) -> pd.arrays.IntegerArray:
        table = np.zeros(count + 1, dtype=np.int16)
        table[:count] = values
        return pd.arrays.IntegerArray(table[codes], null.copy())

    flags = np.zeros(count + 1, dtype=bool)
    flags[:count] = abroad
    columns = {
        "person_id": text(ids),
        "person_sex": text(sexes),
        "person_birth_yy": small_int(years),
        "person_birth_month": small_int(months),
        "person_birth_day": small_int(days),
        "person_born_abroad": pd.arrays.BooleanArray(flags[codes], null.copy()),
    }
    return pd.DataFrame(columns, index=cfs.index)


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
