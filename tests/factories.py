"""Small hand-made partner files for tests: real xlsx and csv files, synthetic persons.

Each helper writes exactly the rows the test gives it, so a test can count by hand
what the ingest must load, reject and skip.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import duckdb
import openpyxl
from codicefiscale import codicefiscale

from lavoro_debole.exports.analytics import DERIVED, MONTH, PUBLISHED

KEY = b"test-key-for-pseudonyms-0123456789abcdef"
VAULT_KEY = b"test-key-for-the-vault-0123456789abcdef0"


def make_cf(surname: str, name: str, sex: str, birthdate: str, place: str) -> str:
    """A valid codice fiscale for a fictitious person (birthdate dd/mm/yyyy)."""
    return codicefiscale.encode(
        lastname=surname, firstname=name, gender=sex, birthdate=birthdate, birthplace=place
    )


CF_MARIO = make_cf("Rossi", "Mario", "M", "01/01/1980", "Lodi")  # RSSMRA80A01E648Q
CF_ANNA = make_cf("Bianchi", "Anna", "F", "15/03/1992", "Marocco")  # born abroad, female
CF_LUCA = make_cf("Verdi", "Luca", "M", "05/05/2001", "Lodi")
CF_SARA = make_cf("Neri", "Sara", "F", "09/11/1988", "Casalpusterlengo")
PLANTED_CF = make_cf("Quintavalle", "Zebedeo", "M", "20/07/1975", "Codogno")
PLANTED_NAME = "Zebedeo Quintavalle"


def wrong_check(cf: str) -> str:
    """The same CF with a wrong check character."""
    last = "A" if cf[-1] != "A" else "B"
    return cf[:-1] + last


def write_xlsx(
    path: Path,
    sheets: dict[str, Sequence[Sequence[object]]],
    *,
    hidden: Sequence[str] = (),
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(list(row))
        if name in hidden:
            sheet.sheet_state = "hidden"
    workbook.save(path)
    return path


def write_csv(path: Path, rows: Sequence[Sequence[object]], *, encoding: str = "cp1252") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\r\n".join(";".join("" if v is None else str(v) for v in row) for row in rows)
    path.write_bytes((text + "\r\n").encode(encoding))
    return path


def d(text: str) -> dt.date:
    """A real spreadsheet date from dd/mm/yyyy."""
    return dt.datetime.strptime(text, "%d/%m/%Y").date()


def create_published_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The warehouse tables the analysts' copy is made of, empty (dates as dates, the
    rest as text): enough for ``publish_analytics`` without building the models."""
    for table in PUBLISHED:
        columns = [*PUBLISHED[table], *(["birth_date"] if table in DERIVED else [])]
        types = {
            name: "date"
            if name.endswith("_date") or PUBLISHED[table].get(name) == MONTH
            else "varchar"
            for name in columns
        }
        con.execute(f"create schema if not exists {table.split('.')[0]}")
        con.execute(f"create table {table} ({', '.join(f'{n} {t}' for n, t in types.items())})")
