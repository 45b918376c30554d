"""The partner's feedback workbook, written row after row (openpyxl write-only mode).

What the partner sees is checked cell by cell on the saved file, read back with
openpyxl: the title, the instructions, the styled header, widths, frozen panes,
every value typed as text (a formula is shown, never evaluated) and characters
Excel refuses shown as visible escapes. Its speed is in
``benchmarks/feedback_benchmark.py``, not here.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pytest

from lavoro_debole.ingest import atomic
from lavoro_debole.ingest.feedback import (
    HEADERS,
    SEVERITY_LABELS,
    WIDTHS,
    feedback_path,
    write_feedback_workbook,
)

SHA = "0123456789abcdef" * 4


def problem(row: int, value: object, severity: str = "error") -> dict[str, object]:
    return {
        "sheet": "Contatti",
        "row_number": row,
        "column_name": "Tipo utente",
        "severity": severity,
        "reason": "valore non previsto",
        "value": value,
    }


def test_the_workbook_shows_what_the_partner_needs(tmp_path: Path) -> None:
    problems = [
        problem(5, "In vacanza"),
        problem(6, "=1+1"),
        problem(7, "@SUM(A1:A2)"),
        problem(8, None, "warning"),
        problem(9, "Detenuto\x07\x00"),
        problem(10, "a\u202eb\ufffe"),
        problem(11, 1980),
    ]
    path = write_feedback_workbook(tmp_path / "sportello", "contatti_2024.csv", SHA, problems)
    assert path == tmp_path / "sportello" / "contatti_2024__scarti_01234567.xlsx"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left

    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["Righe da correggere"]
    sheet = workbook.active
    assert sheet["A1"].value == "Righe non caricate del file: contatti_2024.csv"
    assert sheet["A1"].font.b and sheet["A1"].font.sz == 13
    assert sheet["A2"].value.startswith("Correggere le righe indicate")
    assert sheet["A3"].value is None
    header = [c.value for c in sheet[4]]
    assert header == list(HEADERS)
    for cell in sheet[4]:
        assert cell.font.b and cell.font.color.rgb == "00FFFFFF"
        assert cell.fill.fill_type == "solid" and cell.fill.fgColor.rgb == "001F4E78"
    assert sheet.freeze_panes == "A5"
    assert [sheet.column_dimensions[letter].width for letter in "ABCDEF"] == list(WIDTHS)

    rows = list(sheet.iter_rows(min_row=5))
    assert [tuple(c.value for c in row) for row in rows] == [
        ("Contatti", "5", "Tipo utente", "In vacanza", "valore non previsto", "Riga scartata"),
        ("Contatti", "6", "Tipo utente", "=1+1", "valore non previsto", "Riga scartata"),
        ("Contatti", "7", "Tipo utente", "@SUM(A1:A2)", "valore non previsto", "Riga scartata"),
        ("Contatti", "8", "Tipo utente", None, "valore non previsto", SEVERITY_LABELS["warning"]),
        ("Contatti", "9", "Tipo utente", "Detenuto\\x07\\x00", "valore non previsto",
         "Riga scartata"),
        ("Contatti", "10", "Tipo utente", "a\\u202eb\\ufffe", "valore non previsto",
         "Riga scartata"),
        ("Contatti", "11", "Tipo utente", "1980", "valore non previsto", "Riga scartata"),
    ]  # fmt: skip
    for row in rows:
        for cell in row:
            if cell.value is not None:
                assert cell.data_type == "s"
                assert cell.alignment.wrap_text and cell.alignment.vertical == "top"
    # No formula anywhere in the file itself (what Excel would evaluate).
    with zipfile.ZipFile(path) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml and "<f " not in xml


def test_a_file_name_too_long_for_the_filesystem_is_cut_to_255_bytes(tmp_path: Path) -> None:
    for stem in ("x" * 250, "è" * 200, "🙂" * 80):
        target = feedback_path(tmp_path, f"sub/{stem}.xlsx", SHA)
        assert len(target.name.encode("utf-8")) <= 255
        assert target.name.endswith("__scarti_01234567.xlsx")
        assert stem.startswith(target.name.removesuffix("__scarti_01234567.xlsx"))
        path = write_feedback_workbook(tmp_path, f"{stem}.xlsx", SHA, [problem(5, "x")])
        assert path == target and path.is_file()


@pytest.mark.parametrize(
    ("file_name", "expected"),
    [
        ("contatti\nfebbraio.csv", "contatti_febbraio__scarti_01234567.xlsx"),
        ("a\u202ecod.exe.csv", "a_cod.exe__scarti_01234567.xlsx"),
        ("..csv", "file__scarti_01234567.xlsx"),
        ('dati: "gennaio" | febbraio?.xlsx', "dati_ _gennaio_ _ febbraio___scarti_01234567.xlsx"),
    ],
)
def test_feedback_names_hold_no_control_or_reserved_characters(
    tmp_path: Path, file_name: str, expected: str
) -> None:
    assert feedback_path(tmp_path, file_name, SHA).name == expected


def test_many_rows_are_all_written_in_order(tmp_path: Path) -> None:
    problems = [problem(5 + i, f"valore {i}") for i in range(5000)]
    path = write_feedback_workbook(tmp_path, "grande.xlsx", SHA, iter(problems))
    sheet = openpyxl.load_workbook(path, read_only=True).active
    values = [row[3] for row in sheet.iter_rows(min_row=5, values_only=True)]
    assert values == [f"valore {i}" for i in range(5000)]


def test_a_failed_save_leaves_no_partial_file(tmp_path: Path, monkeypatch) -> None:
    """The workbook is saved beside its name, then renamed: when that fails (a full
    disk), the half-written temporary file is removed and no workbook appears."""
    written: list[Path] = []

    def full(source, target):
        written.append(Path(source))
        assert Path(source).stat().st_size > 0
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", full)
    with pytest.raises(OSError):
        write_feedback_workbook(tmp_path, "contatti.csv", SHA, [problem(5, "x")])
    assert len(written) == 1 and written[0].parent == tmp_path
    assert list(tmp_path.iterdir()) == []
