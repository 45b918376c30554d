"""The partner's feedback workbook: which rows of their file were not loaded, and why.

It is one of the two places (with ``ops.rejected_rows``) that keep raw values, so
that the partner can find and fix the row; it lives under ``feedback/<feed>/`` in
the data directory, never in the exports.
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from lavoro_debole.ingest.atomic import atomic_write

HEADERS = ("Foglio", "Riga", "Colonna", "Valore inviato", "Problema", "Gravità")
SEVERITY_LABELS = {"error": "Riga scartata", "warning": "Valore ignorato (riga caricata)"}
WIDTHS = (16, 8, 28, 30, 70, 28)


def feedback_path(feed_dir: Path, file_name: str, sha256: str) -> Path:
    stem = Path(file_name).name.rsplit(".", 1)[0]
    return feed_dir / f"{stem}__scarti_{sha256[:8]}.xlsx"


def write_feedback_workbook(
    feed_dir: Path, file_name: str, sha256: str, problems: list[dict[str, object]]
) -> Path:
    """Write the workbook for one partner file and return its path.

    Every cell is typed as a string so that a partner's value such as ``=1+1`` is
    shown, never evaluated.
    """
    feed_dir.mkdir(parents=True, exist_ok=True)
    target = feedback_path(feed_dir, file_name, sha256)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Righe da correggere"
    sheet.append([f"Righe non caricate del file: {Path(file_name).name}"])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append(
        [
            "Correggere le righe indicate e inviare di nuovo il file intero. "
            "Le righe non elencate sono state caricate."
        ]
    )
    sheet.append([])
    sheet.append(list(HEADERS))
    for cell in sheet[4]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor="1F4E78")
    for problem in problems:
        values = (
            problem.get("sheet") or "",
            str(problem["row_number"]),
            problem.get("column_name") or "",
            "" if problem.get("value") is None else str(problem["value"]),
            problem["reason"],
            SEVERITY_LABELS.get(str(problem["severity"]), str(problem["severity"])),
        )
        sheet.append(list(values))
        for cell in sheet[sheet.max_row]:
            cell.data_type = "s"
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for index, width in enumerate(WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A5"
    return atomic_write(target, workbook.save)
