"""Read any partner file into plain rows of cells, exactly as the partner sees them.

Partners send ``.xlsx``, ``.xls``, ``.ods`` and ``.csv`` files, and sometimes a file
whose extension lies (an ``.xls`` that is really an ``.xlsx`` or an HTML table saved
by a web application). The format is therefore recognised from the file's first
bytes, not from its name. Everything downstream (header detection, parsing,
validation) works on :class:`Sheet` rows, so this module is the only place that
knows about file formats.

Row numbers matter: the feedback sent back to a partner says "sheet X, row N", so
``Sheet.rows[i]`` is always the sheet's row ``i + 1`` (leading empty rows and
columns are kept). No cell value ever appears in an exception message: these files
hold criminal-conviction data.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import python_calamine as pc

from lavoro_debole.ingest.values import ERROR_FIRST_CHARS, is_error_token

Cell = str | int | float | bool | dt.date | dt.datetime | None

ZIP_SIGNATURE = b"PK\x03\x04"
OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"
CSV_SEPARATORS = (";", ",", "\t")
_SNIFF_CHARS = 64 * 1024
_SNIFF_ROWS = 50


@dataclass(frozen=True)
class Sheet:
    """One sheet of a workbook (or the whole of a CSV), as a grid of cells.

    ``rows[i]`` is the sheet's physical row ``i + 1``; every row has the same width.
    """

    name: str | None
    rows: list[list[Cell]]
    hidden: bool


class UnreadableFileError(Exception):
    """The file cannot be read at all; the message says why in plain Italian words.

    The message never contains a cell value, so it can be logged and stored.
    """


def read_file(path: Path) -> list[Sheet]:
    """Read every sheet of a partner file, recognising its format from its content.

    Raises :class:`UnreadableFileError` for an empty, corrupt, password-protected or
    unsupported file.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFileError(
            f"file non leggibile: {exc.strerror or 'errore di sistema'}"
        ) from None
    if not data:
        raise UnreadableFileError("file vuoto")

    if data.startswith(ZIP_SIGNATURE):
        sheets = _read_zip_workbook(data)
    elif data.startswith(OLE2_SIGNATURE):
        if _is_encrypted_ooxml(data):
            raise UnreadableFileError("file protetto da password")
        sheets = _read_with_calamine(data, "xls")
    else:
        text = _decode_text(data)
        if text is None:
            raise UnreadableFileError(
                "formato non riconosciuto: non è un foglio di calcolo né un CSV"
            )
        if _looks_like_html(text):
            sheets = _read_html(text)
        elif _looks_like_xml(text):
            raise UnreadableFileError(
                "formato non supportato (XML): salvare il file come .xlsx, .ods o .csv"
            )
        else:
            sheets = [_read_csv_text(text)]

    if not any(sheet.rows for sheet in sheets):
        raise UnreadableFileError("file vuoto")
    return sheets


# --- workbooks ------------------------------------------------------------------------


def _read_zip_workbook(data: bytes) -> list[Sheet]:
    """Tell .ods from .xlsx inside a zip, then read it with calamine."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names and archive.read("mimetype").strip() == ODS_MIMETYPE:
                kind = "ods"
            elif "xl/workbook.xml" in names or "xl/workbook.bin" in names:
                kind = "xlsx"
            elif "content.xml" in names:
                kind = "ods"
            else:
                raise UnreadableFileError(
                    "formato non supportato: archivio zip che non è un foglio di calcolo"
                )
    except zipfile.BadZipFile:
        raise UnreadableFileError("file danneggiato: archivio zip non leggibile") from None
    if kind == "xlsx" and "xl/workbook.bin" in names and "xl/workbook.xml" not in names:
        raise UnreadableFileError("formato non supportato (.xlsb): salvare il file come .xlsx")
    return _read_with_calamine(data, kind)


def _is_encrypted_ooxml(data: bytes) -> bool:
    """An encrypted .xlsx is an OLE2 container holding an ``EncryptedPackage`` stream."""
    return "EncryptedPackage".encode("utf-16-le") in data


def _read_with_calamine(data: bytes, kind: str) -> list[Sheet]:
    try:
        workbook = pc.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except pc.PasswordError:
        raise UnreadableFileError("file protetto da password") from None
    except Exception:  # calamine raises many kinds of errors for a broken file
        raise UnreadableFileError(f"file danneggiato: il file .{kind} non si apre") from None

    sheets: list[Sheet] = []
    with workbook:
        for metadata in workbook.sheets_metadata:
            if metadata.typ not in (pc.SheetTypeEnum.WorkSheet, pc.SheetTypeEnum.MacroSheet):
                continue  # chart and dialog sheets hold no rows
            try:
                raw_rows = workbook.get_sheet_by_name(metadata.name).to_python(
                    skip_empty_area=False
                )
            except pc.PasswordError:
                raise UnreadableFileError("file protetto da password") from None
            except Exception:
                raise UnreadableFileError(
                    f"file danneggiato: il foglio {metadata.name!r} non si legge"
                ) from None
            rows = _tidy_grid([_workbook_row(row) for row in raw_rows])
            hidden = metadata.visible != pc.SheetVisibleEnum.Visible
            sheets.append(Sheet(name=metadata.name, rows=rows, hidden=hidden))
    return sheets


def _workbook_cell(value: object) -> Cell:
    """Turn a calamine value into a :data:`Cell`.

    calamine gives ``''`` for blank and error cells, floats for whole numbers in
    .xlsx/.ods, ``time`` for time-only cells and ``timedelta`` for durations.
    """
    if isinstance(value, str):
        if value == "" or is_error_token(value):
            return None
        return value
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        return int(value) if value.is_integer() else value
    if isinstance(value, int | dt.date):
        return value  # datetime is a date subclass: kept as is
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S" if value.second else "%H:%M")
    if isinstance(value, dt.timedelta):
        minutes, seconds = divmod(int(value.total_seconds()), 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours}:{minutes:02d}:{seconds:02d}" if seconds else f"{hours}:{minutes:02d}"
    return None if value is None else str(value)


_ERROR_FIRST_CHARS = frozenset("#E \t\xa0")
_KEPT_TYPES = frozenset({int, bool, dt.date, dt.datetime})


def _workbook_row(row: list[object]) -> list[Cell]:
    """Convert one row in place (calamine's own fresh list), touching only the cells
    that change: rows can number 100,000s and most cells are kept as they are."""
    for index, value in enumerate(row):
        kind = type(value)
        if kind is str:
            text: str = value  # type: ignore[assignment]
            if text and text[0] not in _ERROR_FIRST_CHARS:
                continue
            if not text or is_error_token(text):
                row[index] = None
        elif kind is float:
            number: float = value  # type: ignore[assignment]
            row[index] = int(number) if number.is_integer() else _workbook_cell(number)
        elif kind not in _KEPT_TYPES:
            row[index] = _workbook_cell(value)
    return row  # type: ignore[return-value]


def _is_blank(cell: Cell) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _last_filled(row: list[Cell]) -> int:
    """Index of the row's last non-blank cell, -1 when all are blank."""
    for col in range(len(row) - 1, -1, -1):
        if not _is_blank(row[col]):
            return col
    return -1


def _tidy_grid(rows: list[list[Cell]]) -> list[list[Cell]]:
    """Cut trailing blank rows and columns, and pad ragged rows to one width.

    The rows are the reader's own lists: rows already of the right width are kept
    as they are, not copied.
    """
    if not rows:
        return []
    widest = max(map(len, rows))
    if widest and any(len(row) == widest and not _is_blank(row[-1]) for row in rows):
        # Common case (a full last column): the width is the widest row's, and only
        # the trailing blank rows need finding.
        last_row = len(rows) - 1
        while last_row >= 0 and _last_filled(rows[last_row]) < 0:
            last_row -= 1
        return [
            row if len(row) == widest else row + [None] * (widest - len(row))
            for row in rows[: last_row + 1]
        ]
    last_row = -1
    width = 0
    for index, row in enumerate(rows):
        for col in range(len(row) - 1, -1, -1):
            if not _is_blank(row[col]):
                last_row = index
                width = max(width, col + 1)
                break
    tidy: list[list[Cell]] = []
    for row in rows[: last_row + 1]:
        cells = row[:width]
        if len(cells) < width:
            cells = cells + [None] * (width - len(cells))
        tidy.append(cells)
    return tidy


# --- text files -----------------------------------------------------------------------


def _decode_text(data: bytes) -> str | None:
    """Decode a text file: BOMs first, then UTF-8, then Windows-1252.

    Returns None when the bytes are clearly binary (a corrupt or unknown format).
    cp1252, not latin-1, because partners' € signs are byte 0x80.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        text = data[3:].decode("utf-8", errors="replace")
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16", errors="replace")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("cp1252", errors="replace")
    sample = text[:_SNIFF_CHARS]
    control = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\r\n\f")
    if "\x00" in sample or control > len(sample) // 100 + 1:
        return None
    return text


def _looks_like_html(text: str) -> bool:
    head = text[:4096].lstrip().lower()
    return head.startswith(("<!doctype html", "<html", "<table", "<meta")) or (
        head.startswith("<") and "<table" in text[:_SNIFF_CHARS].lower()
    )


def _looks_like_xml(text: str) -> bool:
    return text[:1024].lstrip().startswith("<?xml")


def detect_separator(text: str) -> str:
    """Pick the separator among ``;``, ``,`` and tab that splits the first rows evenly.

    The winner is the one giving the same number (> 1) of fields on most rows, then
    the most fields; ``;`` wins ties because it is what Italian Excel writes.
    """
    sample = text[:_SNIFF_CHARS]
    truncated = len(text) > _SNIFF_CHARS
    best = (-1.0, 0, 0)
    best_sep = ";"
    for rank, separator in enumerate(reversed(CSV_SEPARATORS)):
        try:
            records = list(csv.reader(io.StringIO(sample, newline=""), delimiter=separator))
        except csv.Error:
            continue
        if truncated and len(records) > 1:
            records = records[:-1]
        counts = [len(record) for record in records[:_SNIFF_ROWS] if record]
        if not counts:
            continue
        modal_count, modal_rows = Counter(counts).most_common(1)[0]
        if modal_count < 2:
            continue
        score = (modal_rows / len(counts), modal_count, rank)
        if score > best:
            best, best_sep = score, separator
    return best_sep


def _csv_cell(field: str) -> Cell:
    return None if field == "" or is_error_token(field) else field


def _read_csv_text(text: str) -> Sheet:
    separator = detect_separator(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    maybe_error = ERROR_FIRST_CHARS
    try:
        # _csv_cell inlined: only a field starting like an error value is looked at twice.
        rows: list[list[Cell]] = [
            [
                field
                if field and (field[0] not in maybe_error or not is_error_token(field))
                else None
                for field in record
            ]
            for record in reader
        ]
    except csv.Error as exc:
        raise UnreadableFileError(
            f"CSV non leggibile alla riga {reader.line_num}: virgolette non chiuse"
            if "EOF" in str(exc)
            else f"CSV non leggibile alla riga {reader.line_num}"
        ) from None
    return Sheet(name=None, rows=_tidy_grid(rows), hidden=False)


# --- HTML disguised as a spreadsheet --------------------------------------------------


class _TableCollector(HTMLParser):
    """Collect the cells of every ``<tr>`` of an HTML page, honouring ``colspan``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[Cell]] = []
        self._row: list[Cell] | None = None
        self._cell: list[str] | None = None
        self._colspan = 1

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self._close_row()
            self._row = []
        elif tag in ("td", "th"):
            self._close_cell()
            if self._row is None:
                self._row = []
            self._cell = []
            span = dict(attrs).get("colspan") or "1"
            self._colspan = int(span) if span.isdigit() and 0 < int(span) < 1000 else 1
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._close_cell()
        elif tag in ("tr", "table"):
            self._close_row()

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def _close_cell(self) -> None:
        if self._cell is None or self._row is None:
            return
        text = re.sub(r"[ \t\r\n]+", " ", "".join(self._cell)).strip()
        value: Cell = None if text == "" or is_error_token(text) else text
        self._row.append(value)
        self._row.extend([None] * (self._colspan - 1))
        self._cell = None
        self._colspan = 1

    def _close_row(self) -> None:
        self._close_cell()
        if self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def close(self) -> None:
        super().close()
        self._close_row()


def _read_html(text: str) -> list[Sheet]:
    collector = _TableCollector()
    collector.feed(text)
    collector.close()
    return [Sheet(name=None, rows=_tidy_grid(collector.rows), hidden=False)]
