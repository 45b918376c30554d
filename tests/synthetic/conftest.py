"""Fixtures and an independent reader for the synthetic inbox tests.

The reader below re-implements, from docs/validation-rules.md, just enough of the door's
row rules (header detection, blank, total and data rows) to recount what the generator
wrote without trusting the generator's own bookkeeping.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook, SheetVisibleEnum

from lavoro_debole.synthetic import Manifest, generate_inbox

# Known headers per feed, as sources.md lists them (with their listed variants).
KNOWN_HEADERS: dict[str, list[str]] = {
    "provincia_co": [
        "Codice Comunicazione", "Codice Fiscale Lavoratore", "Tipo Comunicazione", "Data Evento",
        "Data Inizio Rapporto", "Data Fine Prevista", "Tipologia Contrattuale",
        "Codice Fiscale Datore", "Denominazione Datore", "Settore ATECO", "Comune Sede di Lavoro",
        "Tipo Orario", "Ore Settimanali Medie", "Qualifica Professionale", "Agevolazione",
        "Motivo Cessazione",
    ],
    "provincia_tirocini": [
        "N.", "Cognome e Nome", "Codice Fiscale", "Tipo", "Soggetto promotore",
        "Azienda ospitante", "P.IVA azienda", "Data avvio", "Data fine prevista",
        "Data fine effettiva", "Esito", "Indennità mensile (€)", "Note",
    ],
    "servizi_sociali": [
        "Codice Fiscale", "Cod. Fiscale", "C.F.", "CF", "Cognome", "Nome", "Data di nascita",
        "Nato il", "Sesso", "Cittadinanza", "Comune di residenza", "Posizione giuridica",
        "Istituto", "Fine pena", "Data presa in carico", "Data chiusura", "Motivo chiusura",
        "Bisogni", "Assistente sociale", "Note",
    ],
    "cfp": [
        "Codice corso", "Titolo", "Area professionale", "Sede", "Tipo", "Data inizio",
        "Data fine", "Ore previste", "Finanziamento", "Codice fiscale allievo", "Allievo",
        "Data iscrizione", "Ore frequentate", "Esito", "Data ritiro",
    ],
    "cooperative": [
        "Cooperativa", "C.F. lavoratore", "Codice Fiscale", "CF", "Data assunzione",
        "Data cessazione", "Tipo contratto", "Ore settimanali", "Mansione",
        "Svantaggio L.381/91", "Retribuzione lorda mensile",
    ],
    "sportello": [
        "ID contatto", "Data", "Ora", "Modalità", "Tipo utente", "Codice fiscale", "Cognome",
        "Nome", "Anno nascita", "Sesso", "Nazionalità", "Richiesta principale", "Inviato a",
        "Operatore", "Note",
    ],
    "imprese": [
        "Ragione sociale", "Partita IVA", "Associazione", "Settore ATECO", "Comune",
        "Dipendenti", "Data contatto", "Canale", "Disponibilità", "Forme disponibili",
        "Conosce L.193/2000", "Referente", "Telefono", "Email", "Note",
    ],
}  # fmt: skip

ERROR_VALUES = {"#N/D", "#N/A", "#VALORE!", "#VALUE!", "#REF!", "#DIV/0!"}


def fold(text: object) -> str:
    """Header normalisation: case, accents, spaces, line breaks, dots and punctuation."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]+", "", ascii_only.lower())


def is_blank_value(value: object) -> bool:
    if value is None:
        return True
    text = str(value).replace("\u00a0", " ").strip()
    return text == "" or text in ERROR_VALUES


@dataclass
class ReadSheet:
    name: str | None
    rows: list[list[object]]
    header_index: int | None
    data_rows: list[int]  # 0-based indices
    skipped: int

    def header(self) -> list[str]:
        assert self.header_index is not None
        return [str(v) for v in self.rows[self.header_index]]

    def cell(self, row_number: int, column: str) -> object:
        """The value under the header ``column`` in the 1-based row ``row_number``."""
        col = self.header().index(column)
        row = self.rows[row_number - 1]
        return row[col] if col < len(row) else ""


def decode_csv(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    return data.decode("cp1252")


def classify(name: str | None, rows: list[list[object]], feed: str) -> ReadSheet:
    """Find the header among the first 30 rows and sort the rows below it."""
    known = {fold(h) for h in KNOWN_HEADERS[feed]}
    last = len(rows)
    while last and all(is_blank_value(v) for v in rows[last - 1]):
        last -= 1
    rows = rows[:last]
    header_index = None
    for i, row in enumerate(rows[:30]):
        if sum(1 for v in row if not is_blank_value(v) and fold(v) in known) >= 3:
            header_index = i
            break
    if header_index is None:
        return ReadSheet(name, rows, None, [], 0)
    header = [fold(v) for v in rows[header_index]]
    number_col = header.index("n") if "n" in header else None
    data_rows: list[int] = []
    skipped = header_index + 1
    for i in range(header_index + 1, len(rows)):
        filled = [j for j, v in enumerate(rows[i]) if not is_blank_value(v)]
        is_total = bool(filled) and str(rows[i][filled[0]]).strip().lower().startswith("totale")
        if not filled or filled == [number_col] or is_total:
            skipped += 1
        else:
            data_rows.append(i)
    return ReadSheet(name, rows, header_index, data_rows, skipped)


def read_file(path: Path, feed: str) -> tuple[list[ReadSheet], list[str]]:
    """Every visible sheet with a header, and the names of the sheets ignored."""
    if path.suffix == ".csv":
        text = decode_csv(path.read_bytes())
        rows = [list(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=";")]
        return [classify(None, rows, feed)], []
    workbook = CalamineWorkbook.from_path(str(path))
    read: list[ReadSheet] = []
    ignored: list[str] = []
    for meta in workbook.sheets_metadata:
        if meta.visible != SheetVisibleEnum.Visible:
            ignored.append(meta.name)
            continue
        rows = workbook.get_sheet_by_name(meta.name).to_python(skip_empty_area=False)
        sheet = classify(meta.name, [list(r) for r in rows], feed)
        if sheet.header_index is None:
            ignored.append(meta.name)
        else:
            read.append(sheet)
    return read, ignored


def as_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


@pytest.fixture(scope="session")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    """The default small inbox (40 persons, seed 1), generated once per session."""
    data_dir = tmp_path_factory.mktemp("synthetic40")
    manifest = generate_inbox(data_dir, persons=40, seed=1)
    return data_dir, manifest
