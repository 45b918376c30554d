"""Fixtures that write small real partner files (xlsx, xls, ods, csv) with synthetic data.

Each file reproduces one reading habit of sources.md; the tests assert on cells whose
values and positions are written here by hand.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import openpyxl
import pytest
import xlwt
from odf.opendocument import OpenDocumentSpreadsheet
from odf.style import Style, TableProperties
from odf.table import Table, TableCell, TableRow
from odf.text import P

# ../shared beside the project (CI lays it out the same way).
SAMPLES_DIR = Path(__file__).resolve().parents[3] / "shared" / "samples"

# Synthetic codici fiscali (valid structure, fictitious persons).
CF_ONE = "RSSMRA80A01F205X"
CF_TWO = "BNCLRA85M41E648K"


@pytest.fixture
def co_like_xlsx(tmp_path: Path) -> Path:
    """CO-style workbook: merged title rows, header on row 4, total row, hidden and empty sheets.

    Sheet "Estrazione":
      row 1  A1:D1 merged title
      row 2  "Estrazione al 30/09/2024"
      row 3  blank
      row 4  header, with a line break inside "Codice\\nFiscale"
      row 5  data: date cells, a float hours value, an integral float, an error cell
      row 6  data with text dates and an NBSP-padded name
      row 7  "Totale record: 2"
    """
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Estrazione"
    sheet["A1"] = "PROVINCIA DI LODI - Centro per l'Impiego"
    sheet.merge_cells("A1:D1")
    sheet["A2"] = "Estrazione al 30/09/2024"
    sheet.append([])  # keeps row 3 blank
    for col, header in enumerate(
        ["Codice\nFiscale", "Data Evento", "Ore Settimanali", "Livello", "Esito"], start=1
    ):
        sheet.cell(row=4, column=col, value=header)
    sheet.cell(row=5, column=1, value=CF_ONE)
    sheet.cell(row=5, column=2, value=dt.date(2024, 3, 17))
    sheet.cell(row=5, column=3, value=32.5)
    sheet.cell(row=5, column=4, value=3.0)
    sheet.cell(row=5, column=5, value="#N/A")  # openpyxl stores it as an error cell
    sheet.cell(row=6, column=1, value=" " + CF_TWO.lower() + "\xa0")
    sheet.cell(row=6, column=2, value="01/04/2024")
    sheet.cell(row=6, column=3, value="20")
    sheet.cell(row=6, column=5, value="#VALORE!")
    sheet.cell(row=7, column=1, value="Totale record: 2")

    hidden = workbook.create_sheet("Appoggio")
    hidden["A1"] = "scratch"
    hidden.sheet_state = "hidden"
    workbook.create_sheet("Foglio1")
    path = tmp_path / "co_2024_T3.xlsx"
    workbook.save(path)
    return path


@pytest.fixture
def offset_xlsx(tmp_path: Path) -> Path:
    """Data starting at C3: two leading empty rows and two leading empty columns."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Dati"
    sheet["C3"] = "CF"
    sheet["D3"] = "Data"
    sheet["C4"] = CF_ONE
    sheet["D4"] = dt.datetime(2024, 5, 1, 10, 30)
    sheet["E4"] = dt.time(14, 45)
    path = tmp_path / "offset.xlsx"
    workbook.save(path)
    return path


_CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml"
 ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml"
 ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>
</Types>"""
_ROOT_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Target="xl/workbook.xml"
 Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/>
</Relationships>"""
_WORKBOOK = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"
 xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
<sheets><sheet name="Calcoli" sheetId="1" r:id="rId1"/></sheets>
</workbook>"""
_WORKBOOK_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Target="worksheets/sheet1.xml"
 Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"/>
</Relationships>"""
# A1 = 1+2 cached 3; B1 = 10/4 cached 2.5; C1 = 1/0 cached #DIV/0!;
# D1 = "a"&"b" cached "ab"; A2 = #N/D typed as text by a partner.
_SHEET = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
<sheetData>
<row r="1">
<c r="A1"><f>1+2</f><v>3</v></c>
<c r="B1"><f>10/4</f><v>2.5</v></c>
<c r="C1" t="e"><f>1/0</f><v>#DIV/0!</v></c>
<c r="D1" t="str"><f>"a"&amp;"b"</f><v>ab</v></c>
</row>
<row r="2"><c r="A2" t="inlineStr"><is><t>#N/D</t></is></c></row>
</sheetData>
</worksheet>"""


@pytest.fixture
def formula_xlsx(tmp_path: Path) -> Path:
    """An xlsx written as Excel writes it: formulas with their cached values (<v>)."""
    path = tmp_path / "formule.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        archive.writestr("xl/worksheets/sheet1.xml", _SHEET)
    return path


@pytest.fixture
def legacy_xls(tmp_path: Path) -> Path:
    """Excel 97-2003 file: merged title, header on row 3, date cells, hidden sheet."""
    workbook = xlwt.Workbook()
    sheet = workbook.add_sheet("Casi")
    date_style = xlwt.easyxf(num_format_str="DD/MM/YYYY")
    sheet.write_merge(0, 0, 0, 2, "Ufficio di Piano di Casalpusterlengo")
    sheet.write(2, 0, "Cod. Fiscale")
    sheet.write(2, 1, "Data presa in carico")
    sheet.write(2, 2, "Ore")
    sheet.write(3, 0, CF_ONE)
    sheet.write(3, 1, dt.date(2024, 2, 29), date_style)
    sheet.write(3, 2, 12.5)
    sheet.write(4, 0, CF_TWO)
    sheet.write(4, 1, dt.date(2023, 12, 31), date_style)
    sheet.write(4, 2, 7)
    hidden = workbook.add_sheet("Nascosto")
    hidden.write(0, 0, "scratch")
    hidden.visibility = 1
    path = tmp_path / "casi_2024.xls"
    workbook.save(str(path))
    return path


def _ods_cell(value: object = None, *, formula: str | None = None) -> TableCell:
    if value is None:
        return TableCell()
    if isinstance(value, dt.date):
        cell = TableCell(valuetype="date", datevalue=value.isoformat())
        cell.addElement(P(text=value.strftime("%d/%m/%Y")))
    elif isinstance(value, int | float):
        cell = TableCell(valuetype="float", value=str(value))
        if formula:
            cell.setAttribute("formula", formula)
        cell.addElement(P(text=str(value)))
    else:
        cell = TableCell(valuetype="string")
        cell.addElement(P(text=str(value)))
    return cell


@pytest.fixture
def district_ods(tmp_path: Path) -> Path:
    """LibreOffice file: title row, blank row, header row 3; float, date, string, formula."""
    document = OpenDocumentSpreadsheet()
    hidden_style = Style(name="ta_hidden", family="table")
    hidden_style.addElement(TableProperties(display="false"))
    document.automaticstyles.addElement(hidden_style)

    table = Table(name="Casi 2025")
    grid: list[list[tuple[object, str | None]]] = [
        [("Ufficio di Piano di Sant'Angelo Lodigiano", None)],
        [],
        [("C.F.", None), ("Data presa in carico", None), ("Ore", None), ("Totale ore", None)],
        [(CF_ONE, None), (dt.date(2025, 1, 15), None), (12.0, None), (24.0, "of:=[.C4]*2")],
        [(CF_TWO, None), ("15/02/2025", None), (7.5, None), (15.0, "of:=[.C5]*2")],
    ]
    for cells in grid:
        row = TableRow()
        for value, formula in cells:
            row.addElement(_ods_cell(value, formula=formula))
        if not cells:
            row.addElement(TableCell())
        table.addElement(row)
    document.spreadsheet.addElement(table)

    scratch = Table(name="Appunti", stylename=hidden_style)
    row = TableRow()
    row.addElement(_ods_cell("scratch"))
    scratch.addElement(row)
    document.spreadsheet.addElement(scratch)

    path = tmp_path / "UdP_SantAngelo_casi_2025.ods"
    document.save(str(path))
    return path


@pytest.fixture
def desk_csv_cp1252(tmp_path: Path) -> Path:
    """The desk's export: ';', Windows-1252 (€, à, è), CRLF, a quoted note with a newline."""
    text = (
        "ID contatto;Data;Modalità;Importo;Note\r\n"
        "1097;08/04/2024;Telefono;€ 500,00;\r\n"
        '1098;10/04/2024;Di persona;1.150,50;"prima riga\r\nseconda riga; con punto e virgola"\r\n'
        ";;;;\r\n"
        "1099;11/04/2024;Email;;è tornato\r\n"
    )
    path = tmp_path / "sportello_contatti_2024_04.csv"
    path.write_bytes(text.encode("cp1252"))
    return path


@pytest.fixture
def csv_utf8_bom(tmp_path: Path) -> Path:
    """UTF-8 with BOM, comma separator, LF line ends, decimal commas inside quotes."""
    text = 'Codice fiscale,Nazionalità,Ore\n"' + CF_ONE + '",Italiana,"32,5"\n,Marocchina,#N/D\n'
    path = tmp_path / "contatti_utf8.csv"
    path.write_bytes(text.encode("utf-8-sig"))
    return path


@pytest.fixture
def samples_dir() -> Path:
    if not SAMPLES_DIR.is_dir():
        pytest.skip("shared samples not available")
    return SAMPLES_DIR
