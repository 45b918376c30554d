"""An in-memory sheet model and byte-for-byte deterministic writers for it.

The generator describes every partner file as sheets of rows of cells, each row tagged
with what the door's rules will make of it (title, header, blank, total, data), so that
the expected counts of the manifest come from the same description as the bytes.

The xlsx and ods writers write the OpenXML / OpenDocument parts themselves. This is
faster than openpyxl or odfpy (the 100,000-person inbox has millions of cells), gives
identical bytes for identical input (fixed zip timestamps, no creation dates), and can
store what those libraries cannot: the cached value of a formula, and an Excel error
value (``#N/A``) as a real error cell. ``.xls`` goes through xlwt.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from xml.sax.saxutils import escape

ZIP_TIME = (2020, 1, 1, 0, 0, 0)
EXCEL_EPOCH = date(1899, 12, 30)
MAX_XLS_ROWS = 65_000


@dataclass(frozen=True)
class Formula:
    """A formula cell; ``cached`` is what a reader sees (the value Excel last computed)."""

    expression: str
    cached: float | int | str


@dataclass(frozen=True)
class ExcelError:
    """An Excel error value such as ``#N/A`` (shown ``#N/D`` by Italian Excel)."""

    code: str = "#N/A"


Cell = str | int | float | date | Formula | ExcelError | None

ROW_KINDS = ("title", "header", "blank", "total", "data")


@dataclass
class Problem:
    """A value planted wrong on purpose, as the ingest should report it."""

    column: str
    canonical_column: str
    kind: str
    severity: str = "error"


@dataclass
class SheetSpec:
    """One sheet: rows of cells plus what each row is.

    ``counted`` is False for hidden or scratch sheets, which the door ignores.
    ``keys`` maps a data-row index to (entity, key) for the distinct-record counts.
    """

    name: str
    rows: list[list[Cell]] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    hidden: bool = False
    counted: bool = True
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)
    header_index: int | None = None
    problems: dict[int, list[Problem]] = field(default_factory=dict)
    keys: dict[int, tuple[str, tuple]] = field(default_factory=dict)

    def add(self, kind: str, cells: Sequence[Cell]) -> int:
        """Append a row and return its 0-based index."""
        assert kind in ROW_KINDS, kind
        if kind == "header":
            self.header_index = len(self.rows)
        self.rows.append(list(cells))
        self.kinds.append(kind)
        return len(self.rows) - 1

    def header(self) -> list[Cell]:
        assert self.header_index is not None
        return self.rows[self.header_index]


# ---------------------------------------------------------------------------- xlsx


def _col_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def excel_serial(value: date) -> int | float:
    if isinstance(value, datetime):
        delta = value - datetime(1899, 12, 30)
        return delta.days + delta.seconds / 86400
    return (value - EXCEL_EPOCH).days


def _num(value: float | int) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)


def _xlsx_text(text: str) -> str:
    return f'<is><t xml:space="preserve">{escape(text)}</t></is>'


def _xlsx_cell(ref: str, value: Cell, bold: bool) -> str:
    style = ' s="2"' if bold else ""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return f'<c r="{ref}" t="inlineStr"{style}>{_xlsx_text(value)}</c>'
    if isinstance(value, bool):
        raise TypeError("booleans are written as text by partners")
    if isinstance(value, int | float):
        return f'<c r="{ref}"{style}><v>{_num(value)}</v></c>'
    if isinstance(value, date):
        return f'<c r="{ref}" s="1"><v>{_num(excel_serial(value))}</v></c>'
    if isinstance(value, Formula):
        expr = escape(value.expression.lstrip("="))
        if isinstance(value.cached, str):
            return f'<c r="{ref}" t="str"><f>{expr}</f><v>{escape(value.cached)}</v></c>'
        return f'<c r="{ref}"><f>{expr}</f><v>{_num(value.cached)}</v></c>'
    if isinstance(value, ExcelError):
        return f'<c r="{ref}" t="e"><f>NA()</f><v>{escape(value.code)}</v></c>'
    raise TypeError(f"unsupported cell type {type(value).__name__}")


_XLSX_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="dd/mm/yyyy"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def _sheet_xml(sheet: SheetSpec) -> str:
    parts = [_XML_DECL, f'<worksheet xmlns="{_MAIN_NS}"><sheetData>']
    for r, row in enumerate(sheet.rows, start=1):
        bold = sheet.kinds[r - 1] in ("header", "title") if sheet.kinds else False
        cells = "".join(_xlsx_cell(f"{_col_letter(c)}{r}", v, bold) for c, v in enumerate(row))
        if cells:
            parts.append(f'<row r="{r}">{cells}</row>')
    parts.append("</sheetData>")
    if sheet.merges:
        refs = "".join(
            f'<mergeCell ref="{_col_letter(c1)}{r1 + 1}:{_col_letter(c2)}{r2 + 1}"/>'
            for r1, c1, r2, c2 in sheet.merges
        )
        parts.append(f'<mergeCells count="{len(sheet.merges)}">{refs}</mergeCells>')
    parts.append("</worksheet>")
    return "".join(parts)


def _zip_write(
    archive: zipfile.ZipFile, name: str, data: str | bytes, stored: bool = False
) -> None:
    info = zipfile.ZipInfo(name, ZIP_TIME)
    info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


def xlsx_bytes(sheets: Sequence[SheetSpec]) -> bytes:
    """An xlsx workbook with inline strings, date styles, merges and hidden sheets."""
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    content_types = (
        f'{_XML_DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/'
        'vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        f"{overrides}</Types>"
    )
    root_rels = (
        f'{_XML_DECL}<Relationships xmlns="{_PKG_REL_NS}"><Relationship Id="rId1" '
        f'Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    )
    sheet_entries = "".join(
        f'<sheet name="{escape(s.name)}" sheetId="{i}"'
        f'{" state=" + chr(34) + "hidden" + chr(34) if s.hidden else ""} r:id="rId{i}"/>'
        for i, s in enumerate(sheets, start=1)
    )
    workbook = (
        f'{_XML_DECL}<workbook xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}">'
        f"<sheets>{sheet_entries}</sheets></workbook>"
    )
    sheet_rels = "".join(
        f'<Relationship Id="rId{i}" Type="{_REL_NS}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    workbook_rels = (
        f'{_XML_DECL}<Relationships xmlns="{_PKG_REL_NS}">{sheet_rels}'
        f'<Relationship Id="rId{len(sheets) + 1}" Type="{_REL_NS}/styles" '
        'Target="styles.xml"/></Relationships>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        _zip_write(archive, "[Content_Types].xml", content_types)
        _zip_write(archive, "_rels/.rels", root_rels)
        _zip_write(archive, "xl/workbook.xml", workbook)
        _zip_write(archive, "xl/_rels/workbook.xml.rels", workbook_rels)
        _zip_write(archive, "xl/styles.xml", _XLSX_STYLES)
        for i, sheet in enumerate(sheets, start=1):
            _zip_write(archive, f"xl/worksheets/sheet{i}.xml", _sheet_xml(sheet))
    return buffer.getvalue()


# ----------------------------------------------------------------------------- ods

_ODS_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:number="urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0" '
    'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" '
    'xmlns:of="urn:oasis:names:tc:opendocument:xmlns:of:1.2"'
)


def _ods_cell(value: Cell, spanned: int = 1) -> str:
    span = f' table:number-columns-spanned="{spanned}" table:number-rows-spanned="1"'
    span = span if spanned > 1 else ""
    if value is None or value == "":
        return f"<table:table-cell{span}/>"
    if isinstance(value, ExcelError):
        value = "#N/D"  # what LibreOffice in Italian shows and a copy-paste leaves behind
    if isinstance(value, str):
        return (
            f'<table:table-cell office:value-type="string"{span}>'
            f"<text:p>{escape(value)}</text:p></table:table-cell>"
        )
    if isinstance(value, int | float):
        return (
            f'<table:table-cell office:value-type="float" office:value="{_num(value)}"{span}>'
            f"<text:p>{_num(value)}</text:p></table:table-cell>"
        )
    if isinstance(value, date):
        iso = value.isoformat()
        shown = value.strftime("%d/%m/%Y")
        return (
            f'<table:table-cell table:style-name="ce1" office:value-type="date" '
            f'office:date-value="{iso}"{span}><text:p>{shown}</text:p></table:table-cell>'
        )
    if isinstance(value, Formula):
        expr = escape("of:=" + value.expression.lstrip("="))
        if isinstance(value.cached, str):
            return (
                f'<table:table-cell table:formula="{expr}" office:value-type="string" '
                f'office:string-value="{escape(value.cached)}">'
                f"<text:p>{escape(value.cached)}</text:p></table:table-cell>"
            )
        return (
            f'<table:table-cell table:formula="{expr}" office:value-type="float" '
            f'office:value="{_num(value.cached)}"><text:p>{_num(value.cached)}</text:p>'
            "</table:table-cell>"
        )
    raise TypeError(f"unsupported cell type {type(value).__name__}")


def _ods_table(sheet: SheetSpec) -> str:
    style = ' table:style-name="ta2"' if sheet.hidden else ' table:style-name="ta1"'
    parts = [f'<table:table table:name="{escape(sheet.name)}"{style}>']
    width = max((len(r) for r in sheet.rows), default=1)
    parts.append(f'<table:table-column table:number-columns-repeated="{width}"/>')
    merges = {(r1, c1): (c2 - c1 + 1) for r1, c1, r2, c2 in sheet.merges if r1 == r2}
    for r, row in enumerate(sheet.rows):
        cells: list[str] = []
        c = 0
        while c < len(row):
            spanned = merges.get((r, c), 1)
            cells.append(_ods_cell(row[c], spanned))
            if spanned > 1:
                cells.append("<table:covered-table-cell/>" * (spanned - 1))
            c += spanned
        if not cells:
            cells.append("<table:table-cell/>")
        parts.append(f"<table:table-row>{''.join(cells)}</table:table-row>")
    parts.append("</table:table>")
    return "".join(parts)


def ods_bytes(sheets: Sequence[SheetSpec]) -> bytes:
    """An OpenDocument spreadsheet; a hidden sheet is a table whose style says display=false."""
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-content {_ODS_NS} '
        'office:version="1.2"><office:automatic-styles>'
        '<number:date-style style:name="N37"><number:day number:style="long"/>'
        '<number:text>/</number:text><number:month number:style="long"/>'
        '<number:text>/</number:text><number:year number:style="long"/></number:date-style>'
        '<style:style style:name="ce1" style:family="table-cell" style:data-style-name="N37"/>'
        '<style:style style:name="ta1" style:family="table" style:master-page-name="Default">'
        '<style:table-properties table:display="true"/></style:style>'
        '<style:style style:name="ta2" style:family="table" style:master-page-name="Default">'
        '<style:table-properties table:display="false"/></style:style>'
        "</office:automatic-styles><office:body><office:spreadsheet>"
        + "".join(_ods_table(s) for s in sheets)
        + "</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<manifest:manifest xmlns:manifest='
        '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:version="1.2" manifest:media-type='
        '"application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        _zip_write(archive, "mimetype", "application/vnd.oasis.opendocument.spreadsheet", True)
        _zip_write(archive, "content.xml", content)
        _zip_write(archive, "META-INF/manifest.xml", manifest)
    return buffer.getvalue()


# ----------------------------------------------------------------------------- xls


def xls_bytes(sheets: Sequence[SheetSpec]) -> bytes:
    """A legacy Excel 97-2003 workbook (xlwt); formulas are written as their cached value."""
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    date_style = xlwt.easyxf(num_format_str="DD/MM/YYYY")
    bold = xlwt.easyxf("font: bold on")
    for spec in sheets:
        if len(spec.rows) > MAX_XLS_ROWS:
            raise ValueError(f"sheet {spec.name} has too many rows for .xls")
        sheet = book.add_sheet(spec.name, cell_overwrite_ok=True)
        if spec.hidden:
            sheet.visibility = 1
        merged_starts = {(r1, c1): (r2, c2) for r1, c1, r2, c2 in spec.merges}
        for r, row in enumerate(spec.rows):
            is_title = spec.kinds[r] in ("title", "header")
            for c, value in enumerate(row):
                if isinstance(value, Formula):
                    value = value.cached
                elif isinstance(value, ExcelError):
                    value = "#N/D"
                if (r, c) in merged_starts:
                    r2, c2 = merged_starts[(r, c)]
                    sheet.write_merge(r, r2, c, c2, value, bold)
                    continue
                if value is None or value == "":
                    continue
                if isinstance(value, date):
                    sheet.write(r, c, value, date_style)
                elif is_title:
                    sheet.write(r, c, value, bold)
                else:
                    sheet.write(r, c, value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# ----------------------------------------------------------------------------- csv


def csv_bytes(
    rows: Sequence[Sequence[Cell]],
    encoding: str,
    render: dict[type, object] | None = None,
    date_format: str = "%d/%m/%Y",
) -> bytes:
    """A ``;``-separated CSV with CRLF line ends; ``encoding`` 'utf-8-sig' adds the BOM."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    for row in rows:
        texts: list[str] = []
        for value in row:
            if value is None:
                texts.append("")
            elif isinstance(value, date):
                texts.append(value.strftime(date_format))
            elif isinstance(value, float):
                texts.append(_num(value).replace(".", ","))
            elif isinstance(value, ExcelError):
                texts.append("#N/D")
            elif isinstance(value, Formula):
                texts.append(str(value.cached))
            else:
                texts.append(str(value))
        writer.writerow(texts)
    return out.getvalue().encode(encoding)


def write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
