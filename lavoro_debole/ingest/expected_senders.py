"""The steward's list of expected senders, and the files they owe that are overdue.

Q1 (indicators.md) judges completeness and timeliness against this list: for every
feed, who must send, how often (``mensile``, ``trimestrale``, ``semestrale``,
``annuale``, ``cumulativo``) and how many days after the period's end the file may
arrive. The project ships a default (the dbt seed ``expected_senders_default.csv``);
the steward's ``reference/mittenti_attesi.csv`` replaces it entirely. A list that
cannot be read exactly is refused with the row and column to fix: a guessed cadence
would make every Q1 figure wrong without anyone noticing.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb

EXPECTED_SENDERS_FILE = "mittenti_attesi.csv"
COLUMNS = ("flusso", "mittente", "cadenza", "giorni_concessi", "attivo_dal", "attivo_al")
CADENCES = ("mensile", "trimestrale", "semestrale", "annuale", "cumulativo")
MAX_DAYS_ALLOWED = 366
EXPECTED_FILES_TABLE = "intermediate.int_expected_files_by_period"


class ReferenceListError(ValueError):
    """The steward's list cannot be used; the message names the file, row and column."""


@dataclass(frozen=True)
class ExpectedSender:
    feed: str
    sender: str
    cadence: str
    days_allowed: int
    active_from: dt.date | None = None
    active_to: dt.date | None = None

    def as_row(self) -> tuple[str, str, str, int, dt.date | None, dt.date | None]:
        return (
            self.feed,
            self.sender,
            self.cadence,
            self.days_allowed,
            self.active_from,
            self.active_to,
        )


def _date(text: str, where: str) -> dt.date | None:
    text = text.strip()
    if not text:
        return None
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ReferenceListError(f"{where}: data non valida (scrivere gg/mm/aaaa o aaaa-mm-gg)")


def read_expected_senders(path: Path, feeds: list[str]) -> list[ExpectedSender]:
    """Every row of the steward's list, checked; raises :class:`ReferenceListError`.

    ``;``-separated, UTF-8 (with or without BOM), header ``flusso;mittente;cadenza;
    giorni_concessi;attivo_dal;attivo_al`` (the last two may be blank or absent).
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ReferenceListError(f"{path.name}: il file deve essere salvato in UTF-8") from None
    except OSError as exc:
        raise ReferenceListError(
            f"{path.name}: file non leggibile ({exc.strerror or 'errore di sistema'})"
        ) from None
    reader = csv.reader(text.splitlines(), delimiter=";")
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in COLUMNS[:4] if c not in header]
    if missing:
        raise ReferenceListError(
            f"{path.name}, riga 1: mancano le colonne {', '.join(missing)} "
            f"(intestazione attesa: {';'.join(COLUMNS)})"
        )
    senders: list[ExpectedSender] = []
    seen: set[tuple[str, str]] = set()
    for number, record in enumerate(reader, start=2):
        if not any(cell.strip() for cell in record):
            continue
        cells = dict(zip(header, (cell.strip() for cell in record), strict=False))

        def where(column: str, row: int = number) -> str:
            return f"{path.name}, riga {row}, colonna {column}"

        feed = cells.get("flusso", "")
        if feed not in feeds:
            raise ReferenceListError(f"{where('flusso')}: flusso sconosciuto ({', '.join(feeds)})")
        sender = cells.get("mittente", "")
        if not sender:
            raise ReferenceListError(f"{where('mittente')}: mittente vuoto")
        cadence = cells.get("cadenza", "").lower()
        if cadence not in CADENCES:
            raise ReferenceListError(
                f"{where('cadenza')}: cadenza non prevista (ammesse: {', '.join(CADENCES)})"
            )
        days_text = cells.get("giorni_concessi", "")
        if not days_text.isdigit() or int(days_text) > MAX_DAYS_ALLOWED:
            raise ReferenceListError(
                f"{where('giorni_concessi')}: serve un numero intero di giorni da 0 a "
                f"{MAX_DAYS_ALLOWED}"
            )
        active_from = _date(cells.get("attivo_dal", ""), where("attivo_dal"))
        active_to = _date(cells.get("attivo_al", ""), where("attivo_al"))
        if active_from and active_to and active_to < active_from:
            raise ReferenceListError(f"{where('attivo_al')}: data precedente ad attivo_dal")
        if (feed, sender) in seen:
            raise ReferenceListError(f"{where('mittente')}: mittente già elencato per {feed}")
        seen.add((feed, sender))
        senders.append(
            ExpectedSender(feed, sender, cadence, int(days_text), active_from, active_to)
        )
    return senders


@dataclass(frozen=True)
class OverdueFile:
    """A file an expected sender owes whose due date has passed without it."""

    feed: str
    sender: str
    slot_start: dt.date
    slot_end: dt.date
    due_date: dt.date

    def describe(self) -> str:
        return (
            f"{self.sender} ({self.feed}): manca il file del periodo "
            f"{self.slot_start:%d/%m/%Y}–{self.slot_end:%d/%m/%Y}, atteso entro il "
            f"{self.due_date:%d/%m/%Y}"
        )


def overdue_files(con: duckdb.DuckDBPyConnection, today: dt.date) -> list[OverdueFile]:
    """Owed files not received whose due date is before ``today`` (the day after it passes).

    Read from the model of expected files by period; a slot owed in several periods (a
    half-year in two quarters and the year) is listed once.
    """
    rows = con.execute(
        f"""
        select distinct feed, sender, slot_start, slot_end, due_date
        from {EXPECTED_FILES_TABLE}
        where not is_received and due_date < ?
        order by feed, sender, slot_start, slot_end
        """,
        [today],
    ).fetchall()
    return [OverdueFile(*row) for row in rows]
