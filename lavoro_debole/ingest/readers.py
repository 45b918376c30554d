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
import zlib
from collections import Counter
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import python_calamine as pc

from lavoro_debole.ingest.values import ERROR_FIRST_CHARS, is_error_token

Cell = str | int | float | bool | dt.date | dt.datetime | None

ZIP_SIGNATURE = b"PK\x03\x04"
OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"
CSV_SEPARATORS = (";", ",", "\t")
_SNIFF_CHARS = 64 * 1024
_SNIFF_ROWS = 50


_MB = 1024 * 1024


@dataclass(frozen=True)
class ReadLimits:
    """Every limit on reading one file, in one place.

    Each is far above what a partner's real file reaches and far below what a hostile
    or broken one asks for. The yardstick is the national benchmark inbox
    (``lavoro_debole.synthetic.generate_inbox(persons=200_000)``, see
    ``benchmarks/ingest_benchmark.py``): its largest file is the CO extract; at 100,000
    persons it is 14.5 MB on disk and 2.4 million cells in one sheet, at 200,000
    about twice that (~30 MB, ~5 million cells).

    - ``max_file_bytes`` (200 MB on disk): ten times that largest file; a workbook of
      Excel's full 1,048,576 rows of a typical extract is ~100 MB.
    - ``max_entry_bytes`` (1 GiB uncompressed per zip entry) and ``max_ratio`` (200:1,
      looked at for entries expanding beyond ``ratio_floor_bytes``, 16 MB): sheet XML
      compresses 5-20:1; deflate reaches ~1,000:1 only on repeated filler, which is
      what a zip bomb is. Both are read from the zip's central directory, before any
      byte is inflated. ``max_entries`` (10,000) bounds the directory itself.
    - ``max_rows`` (2,000,000): above Excel's and LibreOffice's 1,048,576 rows, so only
      a CSV can reach it; ``max_columns`` (16,384): Excel's own last column, XFD.
    - ``max_cells`` (30,000,000 per sheet): six times the benchmark's largest sheet;
      a sheet of Excel's full width and height would be 17,179,869,184. The grid keeps
      sheet row numbers (``rows[i]`` is row ``i + 1``), so a sheet's cells are counted
      from A1 to its last used cell: a single cell at ``XFD1048576`` counts as the
      whole sheet, and is refused instead of allocated.
    - ``max_line_bytes`` (1 MB per CSV line) and ``max_field_chars`` (131,072
      characters per CSV field, the csv module's own default): a real line is a few
      hundred bytes.
    - ``memory_mb`` (2,048) and ``timeout_s`` (120): the reader worker's address-space
      limit and the wall time one file may take there (settings
      ``LAVORO_READER_MEMORY_MB`` and ``LAVORO_READER_TIMEOUT_S``; see
      :mod:`lavoro_debole.ingest.reader_worker`). Measured: the worker reading the
      2.4-million-cell extract peaks at 690 MB of address space (595 MB resident), so
      ~1.4 GB at 200,000 persons; 2 GiB leaves a margin, and with the main process
      (under 1 GiB at 100,000 persons) a run over any inbox stays within 3 GiB. The
      cell limit is the first line (a precise reason, nothing allocated); the memory
      limit catches what no declared size reveals. 120 s is ~10x the slowest real
      file on a loaded 2-core machine.
    """

    max_file_bytes: int = 200 * _MB
    max_entry_bytes: int = 1024 * _MB
    max_ratio: float = 200.0
    ratio_floor_bytes: int = 16 * _MB
    max_entries: int = 10_000
    max_rows: int = 2_000_000
    max_columns: int = 16_384
    max_cells: int = 30_000_000
    max_line_bytes: int = 1 * _MB
    max_field_chars: int = 131_072
    memory_mb: int = 2048
    timeout_s: float = 120.0


DEFAULT_LIMITS = ReadLimits()


def _n(number: float) -> str:
    """A number the Italian way: 17.179.869.184."""
    return f"{number:,.0f}".replace(",", ".")


def _size(count: int) -> str:
    """Bytes as MB from 1 MB up, else as bytes: '1.100 MB', '2.048 byte'."""
    return f"{_n(count / _MB)} MB" if count >= _MB else f"{_n(count)} byte"


@dataclass(frozen=True)
class Sheet:
    """One sheet of a workbook (or the whole of a CSV), as a grid of cells.

    ``rows[i]`` is the sheet's physical row ``i + 1``; every row has the same width.
    ``notes`` are warnings about the reading (no values), e.g. NUL bytes removed.
    """

    name: str | None
    rows: list[list[Cell]]
    hidden: bool
    notes: tuple[str, ...] = ()


class UnreadableFileError(Exception):
    """The file cannot be read at all; the message says why in plain Italian words.

    The message never contains a cell value, so it can be logged and stored.
    """


def read_file(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> list[Sheet]:
    """Read every sheet of a partner file, recognising its format from its content.

    Raises :class:`UnreadableFileError` for an empty, corrupt, password-protected or
    unsupported file, and for one over any of ``limits`` (checked before the bytes
    are parsed wherever the format allows it).
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > limits.max_file_bytes:
            raise UnreadableFileError(
                f"file rifiutato: il file è di {_size(size)}, oltre il limite di "
                f"{_size(limits.max_file_bytes)}"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFileError(
            f"file non leggibile: {exc.strerror or 'errore di sistema'}"
        ) from None
    if not data:
        raise UnreadableFileError("file vuoto")

    if data.startswith(ZIP_SIGNATURE):
        sheets = _read_zip_workbook(data, limits)
    elif data.startswith(OLE2_SIGNATURE):
        if _is_encrypted_ooxml(data) or _is_encrypted_xls(data):
            raise UnreadableFileError("file protetto da password")
        sheets = _read_with_calamine(data, "xls", limits)
    else:
        # HTML or CSV is told from the head; a CSV's lines are measured on the bytes,
        # before the whole file is decoded (a 150 MB line never becomes text).
        head = _head_text(data)
        is_html = _looks_like_html(head)
        if not is_html and not _looks_like_xml(head) and _decode_text(data[:_SNIFF_CHARS]):
            _check_csv_bytes(data, limits)  # (a binary head is refused just below)
        decoded = _decode_text(data)
        if decoded is None:
            raise UnreadableFileError(
                "formato non riconosciuto: non è un foglio di calcolo né un CSV"
            )
        text, nuls = decoded
        notes = (
            (
                f"il file conteneva {_n(nuls)} caratteri NUL (byte zero), "
                "rimossi prima della lettura",
            )
            if nuls
            else ()
        )
        del data
        if is_html:
            sheets = _read_html(text, limits)
        elif _looks_like_xml(text):
            raise UnreadableFileError(
                "formato non supportato (XML): salvare il file come .xlsx, .ods o .csv"
            )
        else:
            sheets = [_read_csv_text(text, limits)]
        if notes:
            sheets = [Sheet(s.name, s.rows, s.hidden, s.notes + notes) for s in sheets]

    if not any(sheet.rows for sheet in sheets):
        raise UnreadableFileError("file vuoto")
    return sheets


# --- workbooks ------------------------------------------------------------------------


def _read_zip_workbook(data: bytes, limits: ReadLimits = DEFAULT_LIMITS) -> list[Sheet]:
    """Tell .ods from .xlsx inside a zip, check its declared sizes, then read it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            _check_zip_directory(archive, limits)
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
            if kind == "xlsx" and "xl/workbook.bin" in names and "xl/workbook.xml" not in names:
                raise UnreadableFileError(
                    "formato non supportato (.xlsb): salvare il file come .xlsx"
                )
            if kind == "ods":
                if _is_encrypted_ods(archive, names):
                    raise UnreadableFileError("file protetto da password")
                if "content.xml" in names:
                    _check_ods_repeats(archive.read("content.xml"), limits)
            else:
                _check_xlsx_dimensions(archive, names, limits)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, OSError):
        raise UnreadableFileError("file danneggiato: archivio zip non leggibile") from None
    except NotImplementedError:  # a compression method zipfile does not know
        raise UnreadableFileError("file danneggiato: archivio zip non leggibile") from None
    return _read_with_calamine(data, kind, limits)


def _check_zip_directory(archive: zipfile.ZipFile, limits: ReadLimits) -> None:
    """Sizes and ratios of every entry, from the central directory: nothing inflated."""
    entries = archive.infolist()
    if len(entries) > limits.max_entries:
        raise UnreadableFileError(
            f"file rifiutato: l'archivio contiene {_n(len(entries))} parti, oltre il limite "
            f"di {_n(limits.max_entries)}"
        )
    for entry in entries:
        if entry.file_size > limits.max_entry_bytes:
            raise UnreadableFileError(
                f"file rifiutato: una parte dell'archivio si espande a "
                f"{_size(entry.file_size)}, oltre il limite di {_size(limits.max_entry_bytes)}"
            )
        if entry.file_size > limits.ratio_floor_bytes:
            ratio = entry.file_size / max(entry.compress_size, 1)
            if ratio > limits.max_ratio:
                raise UnreadableFileError(
                    f"file rifiutato: una parte dell'archivio è compressa {_n(ratio)}:1, "
                    f"oltre il limite di {_n(limits.max_ratio)}:1 (sospetta bomba zip)"
                )


def _is_encrypted_ods(archive: zipfile.ZipFile, names: set[str]) -> bool:
    """A password-protected .ods lists ``manifest:encryption-data`` in its manifest."""
    if "META-INF/manifest.xml" not in names:
        return False
    with archive.open("META-INF/manifest.xml") as handle:
        manifest = handle.read(4 * _MB)
    return b"encryption-data" in manifest


_CELL_REF = re.compile(r"\$?([A-Z]{1,3})\$?([0-9]{1,7})")


def _cell_position(ref: str) -> tuple[int, int] | None:
    """``'XFD1048576'`` -> (1048576, 16384): 1-based row and column."""
    match = _CELL_REF.fullmatch(ref.strip().upper())
    if match is None:
        return None
    column = 0
    for letter in match.group(1):
        column = column * 26 + ord(letter) - 64
    return int(match.group(2)), column


def _check_extent(sheet_name: str, rows: int, columns: int, limits: ReadLimits, verb: str) -> None:
    """Refuse a sheet whose grid from A1 to its last cell is over a limit."""
    where = f"il foglio {sheet_name!r}"
    cells = rows * columns
    if cells > limits.max_cells:
        raise UnreadableFileError(
            f"file rifiutato: {where} {verb} {_n(cells)} celle (fino alla riga {_n(rows)}, "
            f"colonna {_n(columns)}), oltre il limite di {_n(limits.max_cells)}"
        )
    if rows > limits.max_rows:
        raise UnreadableFileError(
            f"file rifiutato: {where} {verb} {_n(rows)} righe, oltre il limite di "
            f"{_n(limits.max_rows)}"
        )
    if columns > limits.max_columns:
        raise UnreadableFileError(
            f"file rifiutato: {where} {verb} {_n(columns)} colonne, oltre il limite di "
            f"{_n(limits.max_columns)}"
        )


_XML_ATTR = re.compile(rb'([\w:]+)\s*=\s*"([^"]*)"')


def _attrs(tag: bytes) -> dict[bytes, str]:
    return {
        key.split(b":")[-1]: unescape(value.decode("utf-8", "replace"))
        for key, value in _XML_ATTR.findall(tag)
    }


def _check_xlsx_dimensions(archive: zipfile.ZipFile, names: set[str], limits: ReadLimits) -> None:
    """The ``<dimension ref=...>`` each worksheet declares, from the head of its XML."""
    if "xl/workbook.xml" not in names:
        return
    with archive.open("xl/workbook.xml") as handle:
        workbook = handle.read(16 * _MB)
    targets: dict[str, str] = {}
    if "xl/_rels/workbook.xml.rels" in names:
        with archive.open("xl/_rels/workbook.xml.rels") as handle:
            rels = handle.read(16 * _MB)
        for tag in re.findall(rb"<Relationship\b[^>]*>", rels):
            attrs = _attrs(tag)
            target = attrs.get(b"Target", "")
            target = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            targets[attrs.get(b"Id", "")] = target
    for tag in re.findall(rb"<(?:\w+:)?sheet\b[^>]*>", workbook):
        attrs = _attrs(tag)
        part = targets.get(attrs.get(b"id", ""))
        if part is None or part not in names:
            continue
        with archive.open(part) as handle:
            head = handle.read(8192)
        found = re.search(rb"<(?:\w+:)?dimension\b[^>]*\bref\s*=\s*\"([^\"]*)\"", head)
        if found is None:
            continue
        last = found.group(1).decode("ascii", "replace").split(":")[-1]
        position = _cell_position(last)
        if position is not None:
            _check_extent(attrs.get(b"name", "?"), *position, limits, "dichiara")


_ODS_REPEAT = re.compile(rb'table:number-(rows|columns)-repeated="(\d+)"')
_ODS_CELL = re.compile(rb"<table:(?:covered-)?table-cell\b[^>]*>")
_ODS_REPEAT_FLOOR = 256


def _ods_cell_is_empty(tag: bytes, content: bytes, end: int) -> bool:
    """A cell element is empty when it has no value type and no text after it."""
    if b"value-type" in tag:
        return False
    if tag.endswith(b"/>"):
        return True
    close = content.find(b"table-cell>", end)
    return b"<text:" not in content[end:close]


def _check_ods_repeats(content: bytes, limits: ReadLimits) -> None:
    """``number-columns-repeated`` / ``number-rows-repeated`` expansions that land on data.

    LibreOffice writes huge repeats for the empty cells and rows after the data (they
    cost nothing); a repeated cell or row *with* content is expanded cell by cell by
    any reader, so its expansion counts against the limits. Only repeats above a few
    hundred are looked at, so a real file costs one scan of its XML.
    """
    for match in _ODS_REPEAT.finditer(content):
        count = int(match.group(2))
        if count <= _ODS_REPEAT_FLOOR:
            continue
        start = content.rfind(b"<", 0, match.start())
        end = content.find(b">", match.end()) + 1
        tag = content[start:end]
        table = content.rfind(b"<table:table ", 0, start)
        name = "?"
        if table >= 0:
            name = _attrs(content[table : content.find(b">", table) + 1]).get(b"name", "?")
        if match.group(1) == b"columns":
            if not tag.startswith(b"<table:table-column") and not _ods_cell_is_empty(
                tag, content, end
            ):
                _check_extent(name, 1, count, limits, "ripete una cella piena su")
            continue
        if tag.endswith(b"/>"):
            continue
        close = content.find(b"</table:table-row>", end)
        body = content[end : close if close >= 0 else len(content)]
        width = position = 0
        for cell in _ODS_CELL.finditer(body):
            repeat = _attrs(cell.group(0)).get(b"number-columns-repeated", "1")
            position += int(repeat) if repeat.isdigit() else 1
            if not _ods_cell_is_empty(cell.group(0), body, cell.end()):
                width = position
        if width:
            _check_extent(name, count, width, limits, "ripete righe piene per")


def _is_encrypted_ooxml(data: bytes) -> bool:
    """An encrypted .xlsx is an OLE2 container holding an ``EncryptedPackage`` stream."""
    return "EncryptedPackage".encode("utf-16-le") in data


_BIFF8_BOF = re.compile(rb"\x09\x08[\x08\x10]\x00\x00\x06\x05\x00", re.DOTALL)
_FILEPASS = 0x002F
_WRITEPROTECT = 0x0086


def _is_encrypted_xls(data: bytes) -> bool:
    """A password-protected .xls has a FILEPASS record in its workbook globals.

    The globals begin with a BIFF8 BOF record (workbook type); FILEPASS, when present,
    is the record right after it, or after a WRITEPROTECT record ([MS-XLS] 2.1.7.20.1).
    """
    for found in _BIFF8_BOF.finditer(data, 512):
        position = found.end() + (found.group(0)[2] - 4)  # the BOF's own data
        for _ in range(2):
            if position + 4 > len(data):
                break
            kind = data[position] | data[position + 1] << 8
            if kind == _FILEPASS:
                return True
            if kind != _WRITEPROTECT:
                break
            position += 4 + (data[position + 2] | data[position + 3] << 8)
    return False


def _read_with_calamine(data: bytes, kind: str, limits: ReadLimits = DEFAULT_LIMITS) -> list[Sheet]:
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
                sheet = workbook.get_sheet_by_name(metadata.name)
            except pc.PasswordError:
                raise UnreadableFileError("file protetto da password") from None
            except Exception:
                raise UnreadableFileError(
                    f"file danneggiato: il foglio {metadata.name!r} non si legge"
                ) from None
            end = sheet.end
            if end is not None:
                # The grid starts at A1 (sheet row numbers are kept): count from there.
                _check_extent(metadata.name, end[0] + 1, end[1] + 1, limits, "occupa")
            try:
                raw_rows = sheet.to_python(skip_empty_area=False)
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


def _decode_text(data: bytes) -> tuple[str, int] | None:
    """Decode a text file: BOMs first, then UTF-8, then Windows-1252.

    Returns the text and how many NUL characters were removed from it, or None when
    the bytes are clearly binary (a corrupt or unknown format). cp1252, not latin-1,
    because partners' € signs are byte 0x80.

    NUL bytes: a text file saved by a careless tool (or cut and pasted from one) can
    hold a few anywhere, and the csv module refuses a line with one. A file is taken
    as binary only when it *looks* binary: NULs or other control characters in more
    than 1% of its first 64 KiB, or NULs in more than 1% of the whole. Otherwise the
    NULs are removed (nothing else of the file is lost: a NUL is never data in a CSV)
    and the count is returned, to be noted on the file's record.
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
    if control > len(sample) // 100 + 1:
        return None
    nuls = text.count("\x00")
    if nuls:
        if nuls > len(text) // 100 + 1:
            return None
        text = text.replace("\x00", "")
    return text, nuls


def _head_text(data: bytes) -> str:
    """The first 64 KiB as text, enough to tell HTML and XML from a CSV."""
    head = data[:_SNIFF_CHARS]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", errors="replace")
    return head.decode("utf-8", errors="replace")


_SCAN_CHUNK = 16 * _MB


def _check_csv_bytes(data: bytes, limits: ReadLimits) -> None:
    """Line length and an upper bound of the cells, on the bytes: nothing parsed yet.

    Newlines are found 16 MB at a time, so the scan needs ~8 bytes per line, not one
    per byte of the file.
    """
    view = np.frombuffer(data, dtype=np.uint8)
    newlines = np.concatenate(
        [
            np.flatnonzero(view[start : start + _SCAN_CHUNK] == 10) + start
            for start in range(0, max(len(view), 1), _SCAN_CHUNK)
        ]
    )
    bounds = np.concatenate(([-1], newlines, [len(data)]))
    longest = int(np.diff(bounds).max()) - 1
    if longest > limits.max_line_bytes:
        line = int(np.argmax(np.diff(bounds))) + 1
        raise UnreadableFileError(
            f"file rifiutato: la riga {_n(line)} del CSV è lunga {_n(longest)} byte, oltre il "
            f"limite di {_n(limits.max_line_bytes)}"
        )
    if len(newlines) + 1 > limits.max_rows:
        raise UnreadableFileError(
            f"file rifiutato: il CSV ha {_n(len(newlines) + 1)} righe, oltre il limite di "
            f"{_n(limits.max_rows)}"
        )
    separators = max(data.count(sep.encode()) for sep in CSV_SEPARATORS)
    if separators + len(newlines) + 1 > limits.max_cells:
        raise UnreadableFileError(
            f"file rifiutato: il CSV ha fino a {_n(separators + len(newlines) + 1)} celle, oltre "
            f"il limite di {_n(limits.max_cells)}"
        )


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


def _read_csv_text(text: str, limits: ReadLimits = DEFAULT_LIMITS) -> Sheet:
    separator = detect_separator(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    maybe_error = ERROR_FIRST_CHARS
    previous_limit = csv.field_size_limit(limits.max_field_chars)
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
        if "field larger" in str(exc):
            raise UnreadableFileError(
                f"file rifiutato: alla riga {reader.line_num} del CSV un campo supera "
                f"{_n(limits.max_field_chars)} caratteri"
            ) from None
        raise UnreadableFileError(
            f"CSV non leggibile alla riga {reader.line_num}: virgolette non chiuse"
            if "EOF" in str(exc)
            else f"CSV non leggibile alla riga {reader.line_num}"
        ) from None
    finally:
        csv.field_size_limit(previous_limit)
    width = max(map(len, rows), default=0)
    _check_extent("(csv)", len(rows), width, limits, "occupa")
    return Sheet(name=None, rows=_tidy_grid(rows), hidden=False)


# --- HTML disguised as a spreadsheet --------------------------------------------------


class _TableCollector(HTMLParser):
    """Collect the cells of every ``<tr>`` of an HTML page, honouring ``colspan``."""

    def __init__(self, limits: ReadLimits = DEFAULT_LIMITS) -> None:
        super().__init__(convert_charrefs=True)
        self.limits = limits
        self.cells = 0
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
        self.cells += self._colspan
        if len(self._row) + self._colspan > self.limits.max_columns:
            raise UnreadableFileError(
                f"file rifiutato: la riga {_n(len(self.rows) + 1)} della tabella HTML ha più "
                f"di {_n(self.limits.max_columns)} colonne"
            )
        if self.cells > self.limits.max_cells:
            raise UnreadableFileError(
                f"file rifiutato: la tabella HTML ha più di {_n(self.limits.max_cells)} celle"
            )
        self._row.append(value)
        self._row.extend([None] * (self._colspan - 1))
        self._cell = None
        self._colspan = 1

    def _close_row(self) -> None:
        self._close_cell()
        if self._row is not None:
            if len(self.rows) >= self.limits.max_rows:
                raise UnreadableFileError(
                    f"file rifiutato: la tabella HTML ha più di {_n(self.limits.max_rows)} righe"
                )
            self.rows.append(self._row)
            self._row = None

    def close(self) -> None:
        super().close()
        self._close_row()


def _read_html(text: str, limits: ReadLimits = DEFAULT_LIMITS) -> list[Sheet]:
    collector = _TableCollector(limits)
    collector.feed(text)
    collector.close()
    rows = collector.rows
    # Padding ragged rows to one width makes rows x width cells: count those too.
    width = max(map(len, rows), default=0)
    _check_extent("(html)", len(rows), width, limits, "occupa")
    return [Sheet(name=None, rows=_tidy_grid(rows), hidden=False)]
