"""read_file on real files written by the fixtures, and on the shared samples."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import openpyxl
import pytest

from lavoro_debole.ingest.readers import (
    OLE2_SIGNATURE,
    Sheet,
    UnreadableFileError,
    detect_separator,
    read_file,
)

CF_ONE = "RSSMRA80A01F205X"  # as written by the conftest fixtures
CF_TWO = "BNCLRA85M41E648K"


def _by_name(sheets: list[Sheet]) -> dict[str | None, Sheet]:
    return {sheet.name: sheet for sheet in sheets}


# --- xlsx ------------------------------------------------------------------------------


def test_xlsx_keeps_title_rows_so_the_header_is_sheet_row_4(co_like_xlsx: Path) -> None:
    sheet = _by_name(read_file(co_like_xlsx))["Estrazione"]
    assert sheet.hidden is False
    assert len(sheet.rows) == 7  # up to the total row
    assert all(len(row) == 5 for row in sheet.rows)
    # merged A1:D1: the value sits in A1 only
    assert sheet.rows[0] == ["PROVINCIA DI LODI - Centro per l'Impiego", None, None, None, None]
    assert sheet.rows[1][0] == "Estrazione al 30/09/2024"
    assert sheet.rows[2] == [None] * 5
    assert sheet.rows[3][0] == "Codice\nFiscale"
    assert sheet.rows[6][0] == "Totale record: 2"


def test_xlsx_cell_types(co_like_xlsx: Path) -> None:
    sheet = _by_name(read_file(co_like_xlsx))["Estrazione"]
    first, second = sheet.rows[4], sheet.rows[5]
    assert first == [CF_ONE, dt.date(2024, 3, 17), 32.5, 3, None]
    assert type(first[3]) is int  # 3.0 in the file, an int for us
    # text is kept exactly as typed: no trimming here
    assert second[0] == " " + CF_TWO.lower() + "\xa0"
    assert second[1:3] == ["01/04/2024", "20"]
    assert second[4] is None  # "#VALORE!" typed as text


def test_xlsx_hidden_and_empty_sheets(co_like_xlsx: Path) -> None:
    sheets = _by_name(read_file(co_like_xlsx))
    assert [name for name in sheets] == ["Estrazione", "Appoggio", "Foglio1"]
    assert sheets["Appoggio"].hidden is True
    assert sheets["Appoggio"].rows == [["scratch"]]
    assert sheets["Foglio1"].rows == []
    assert sheets["Foglio1"].hidden is False


def test_xlsx_leading_empty_rows_and_columns_are_kept(offset_xlsx: Path) -> None:
    (sheet,) = read_file(offset_xlsx)
    assert len(sheet.rows) == 4
    assert sheet.rows[0] == [None] * 5
    assert sheet.rows[2][:4] == [None, None, "CF", "Data"]  # C3, D3
    assert sheet.rows[3][2:] == [CF_ONE, dt.datetime(2024, 5, 1, 10, 30), "14:45"]


def test_xlsx_formulas_give_their_cached_values(formula_xlsx: Path) -> None:
    (sheet,) = read_file(formula_xlsx)
    assert sheet.name == "Calcoli"
    # 1+2 -> 3, 10/4 -> 2.5, 1/0 -> #DIV/0! -> None, "a"&"b" -> "ab"; row 2 only held #N/D
    assert sheet.rows == [[3, 2.5, None, "ab"]]


# --- xls and ods -----------------------------------------------------------------------


def test_xls_dates_numbers_merged_title_hidden_sheet(legacy_xls: Path) -> None:
    sheets = _by_name(read_file(legacy_xls))
    casi = sheets["Casi"]
    assert casi.rows[0] == ["Ufficio di Piano di Casalpusterlengo", None, None]
    assert casi.rows[1] == [None, None, None]
    assert casi.rows[2] == ["Cod. Fiscale", "Data presa in carico", "Ore"]
    assert casi.rows[3] == [CF_ONE, dt.date(2024, 2, 29), 12.5]
    assert casi.rows[4] == [CF_TWO, dt.date(2023, 12, 31), 7]
    assert sheets["Nascosto"].hidden is True


def test_ods_float_date_string_formula_and_hidden_sheet(district_ods: Path) -> None:
    sheets = _by_name(read_file(district_ods))
    casi = sheets["Casi 2025"]
    assert casi.hidden is False
    assert casi.rows[1] == [None] * 4
    assert casi.rows[2] == ["C.F.", "Data presa in carico", "Ore", "Totale ore"]
    assert casi.rows[3] == [CF_ONE, dt.date(2025, 1, 15), 12, 24]
    assert casi.rows[4] == [CF_TWO, "15/02/2025", 7.5, 15]
    assert sheets["Appunti"].hidden is True


# --- csv -------------------------------------------------------------------------------


def test_csv_cp1252_crlf_semicolon_with_quoted_newline(desk_csv_cp1252: Path) -> None:
    (sheet,) = read_file(desk_csv_cp1252)
    assert sheet.name is None
    assert sheet.hidden is False
    assert sheet.rows[0] == ["ID contatto", "Data", "Modalità", "Importo", "Note"]
    assert sheet.rows[1] == ["1097", "08/04/2024", "Telefono", "€ 500,00", None]
    # one record over two physical lines: records, not lines, are counted
    assert sheet.rows[2][4] == "prima riga\r\nseconda riga; con punto e virgola"
    assert sheet.rows[3] == [None] * 5  # ";;;;" is a blank record, still counted
    assert sheet.rows[4] == ["1099", "11/04/2024", "Email", None, "è tornato"]
    assert len(sheet.rows) == 5


def test_csv_utf8_bom_comma_separator(csv_utf8_bom: Path) -> None:
    (sheet,) = read_file(csv_utf8_bom)
    assert sheet.rows == [
        ["Codice fiscale", "Nazionalità", "Ore"],  # no BOM glued to the first header
        [CF_ONE, "Italiana", "32,5"],
        [None, "Marocchina", None],  # "#N/D" is an error value
    ]


def test_csv_ragged_rows_padded_and_trailing_blank_lines_dropped(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_bytes(b"\r\na;b;c\r\n1;2\r\n1;2;3;4\r\n\r\n\r\n")
    (sheet,) = read_file(path)
    assert sheet.rows == [
        [None, None, None, None],  # leading blank line kept: rows[1] is record 2
        ["a", "b", "c", None],
        ["1", "2", None, None],
        ["1", "2", "3", "4"],
    ]


def test_csv_utf16_tab_separated_unicode_text_export(tmp_path: Path) -> None:
    # Excel's "Testo Unicode" export: UTF-16 LE with BOM, tab-separated
    path = tmp_path / "export.txt"
    path.write_bytes("CF\tCittà\r\nX\tSant'Angelo\r\n".encode("utf-16"))
    (sheet,) = read_file(path)
    assert sheet.rows == [["CF", "Città"], ["X", "Sant'Angelo"]]


def test_csv_plain_utf8_without_bom(tmp_path: Path) -> None:
    path = tmp_path / "utf8.csv"
    path.write_bytes("Nazionalità;Importo\nRomena;€ 5\n".encode())
    (sheet,) = read_file(path)
    assert sheet.rows == [["Nazionalità", "Importo"], ["Romena", "€ 5"]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a;b;c\n1;2,5;3\n", ";"),
        ("a,b,c\n1,2,3\n", ","),
        ("a\tb\tc\n1\t2,5\t3\n", "\t"),
        ('a;b\n"x, y";1,5\n"p, q, r";2\n', ";"),
    ],
)
def test_detect_separator(text: str, expected: str) -> None:
    assert detect_separator(text) == expected


# --- files that lie about their format, and broken files ------------------------------


def test_xlsx_that_is_really_a_csv(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    path.write_bytes("CF;Data;Città\r\nX;01/01/2024;Lodi\r\n".encode("cp1252"))
    (sheet,) = read_file(path)
    assert sheet.rows == [["CF", "Data", "Città"], ["X", "01/01/2024", "Lodi"]]


def test_xls_that_is_really_html(tmp_path: Path) -> None:
    path = tmp_path / "estrazione.xls"
    path.write_text(
        "<html><head><meta charset='utf-8'></head><body><table>"
        "<tr><th colspan='2'>Estrazione al 30/09/2024</th></tr>"
        "<tr><td>CF</td><td>Nazionalit&agrave;</td></tr>"
        "<tr><td> X </td><td>#N/D</td></tr>"
        "</table></body></html>",
        encoding="utf-8",
    )
    (sheet,) = read_file(path)
    assert sheet.rows == [
        ["Estrazione al 30/09/2024", None],
        ["CF", "Nazionalità"],
        ["X", None],
    ]


def test_xls_that_is_really_an_xlsx(tmp_path: Path, co_like_xlsx: Path) -> None:
    path = tmp_path / "vecchio.xls"
    shutil.copy(co_like_xlsx, path)
    sheets = _by_name(read_file(path))
    assert sheets["Estrazione"].rows[4][0] == CF_ONE


def test_zero_byte_file_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "vuoto.xlsx"
    path.write_bytes(b"")
    with pytest.raises(UnreadableFileError, match=r"^file vuoto$"):
        read_file(path)


def test_csv_with_only_blank_lines_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "vuoto.csv"
    path.write_bytes(b";;;\r\n\r\n")
    with pytest.raises(UnreadableFileError, match=r"^file vuoto$"):
        read_file(path)


def test_workbook_without_any_cell_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "vuoto.xlsx"
    openpyxl.Workbook().save(path)
    with pytest.raises(UnreadableFileError, match=r"^file vuoto$"):
        read_file(path)


def test_truncated_xlsx_is_corrupt(tmp_path: Path, co_like_xlsx: Path) -> None:
    path = tmp_path / "rotto.xlsx"
    path.write_bytes(co_like_xlsx.read_bytes()[:1500])
    with pytest.raises(UnreadableFileError, match="danneggiato"):
        read_file(path)


def test_binary_garbage_is_not_a_csv(tmp_path: Path) -> None:
    path = tmp_path / "rotto.xlsx"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(UnreadableFileError, match="formato non riconosciuto"):
        read_file(path)


def test_ole2_without_a_workbook_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "rotto.xls"
    path.write_bytes(OLE2_SIGNATURE + b"\x00" * 1000)
    with pytest.raises(UnreadableFileError, match="danneggiato"):
        read_file(path)


def test_encrypted_xlsx_is_password_protected(tmp_path: Path) -> None:
    # An encrypted .xlsx is an OLE2 container whose directory names an EncryptedPackage
    # stream; this stand-in carries only the signature and that directory name.
    path = tmp_path / "protetto.xlsx"
    path.write_bytes(OLE2_SIGNATURE + b"\x00" * 504 + "EncryptedPackage".encode("utf-16-le"))
    with pytest.raises(UnreadableFileError, match="protetto da password"):
        read_file(path)


# --- the shared samples ----------------------------------------------------------------


def test_sample_co_extract(samples_dir: Path) -> None:
    (sheet,) = read_file(samples_dir / "CO_Provincia_Lodi_estrazione_20251231.xlsx")
    assert sheet.name == "Estrazione"
    assert sheet.rows[2][0] == "Estrazione al 31/12/2025"
    assert sheet.rows[3][0] == "Codice Comunicazione"  # header on sheet row 4
    assert sheet.rows[3][2] == "Codice Fiscale Lavoratore"
    first = sheet.rows[4]
    assert first[0] == "1609822300000001"
    assert first[4] == dt.date(2023, 3, 17)  # Data Evento
    assert first[13] == 20 and type(first[13]) is int  # Ore Settimanali Medie
    assert sheet.rows[-1][0] == "Totale record: 127"
    assert sheet.rows[-2][13] == 32.5
    assert len(sheet.rows) == 132


def test_sample_district_ods(samples_dir: Path) -> None:
    (sheet,) = read_file(samples_dir / "UdP_SantAngeloLodigiano_casi_2025.ods")
    assert sheet.name == "Casi 2025"
    assert sheet.rows[2][0] == "C.F."  # header on sheet row 3
    assert sheet.rows[3][4] == dt.date(1989, 12, 10)  # Data di nascita
    assert sheet.rows[3][1] == "Basile\xa0"  # NBSP kept for clean_text to fold
    assert sheet.rows[6][0] == "  brrymn92a42f205g "
    assert sheet.rows[-1][0] == "Totale record: 8"


def test_sample_desk_csv(samples_dir: Path) -> None:
    (sheet,) = read_file(samples_dir / "sportello_contatti_2024_04.csv")
    assert sheet.rows[0][:4] == ["ID contatto", "Data", "Ora", "Modalità"]  # cp1252 à
    assert sheet.rows[1][:3] == ["1097", "08/04/2024", "14:45"]
    assert len(sheet.rows[0]) == 15
