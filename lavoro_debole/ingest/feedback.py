"""The partner's feedback workbook: which rows of their file were not loaded, and why.

It is one of the two places (with the vault's ``vault.rejected_rows``) that keep raw
values, so that the partner can find and fix the row; it lives under ``feedback/<feed>/`` in
the data directory, never in the exports.

Written in openpyxl's write-only mode, row after row (linear: 100,000 problems take
seconds), every text passed through :func:`~lavoro_debole.ingest.values.visible_text`
so that a character Excel or XML refuses is shown as a visible escape, never a crash.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from lavoro_debole.ingest.atomic import atomic_write
from lavoro_debole.ingest.values import visible_text

HEADERS = ("Foglio", "Riga", "Colonna", "Valore inviato", "Problema", "Gravità")
SEVERITY_LABELS = {"error": "Riga scartata", "warning": "Valore ignorato (riga caricata)"}
WIDTHS = (16, 8, 28, 30, 70, 28)
MAX_NAME_BYTES = 255
"""The longest file name (in bytes) of the usual filesystems (ext4, XFS, NTFS, APFS)."""
EXCEL_CELL_CHARS = 32_000
"""Under Excel's 32,767 characters per cell (the values come already cut shorter)."""
_UNSAFE_IN_NAME = re.compile(r"[\x00-\x1f\x7f\\/:*?\"<>|\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def feedback_path(feed_dir: Path, file_name: str, sha256: str) -> Path:
    """``<stem>__scarti_<sha8>.xlsx``, the stem made safe and cut to fit 255 bytes."""
    stem = Path(file_name).name.rsplit(".", 1)[0]
    stem = _UNSAFE_IN_NAME.sub("_", stem).strip(" .") or "file"
    suffix = f"__scarti_{sha256[:8]}.xlsx"
    budget = MAX_NAME_BYTES - len(suffix.encode("utf-8"))
    stem = stem.encode("utf-8")[:budget].decode("utf-8", "ignore")
    return feed_dir / f"{stem}{suffix}"


def _text_cell(sheet, value: str, style: dict | None = None) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=visible_text(value, EXCEL_CELL_CHARS))
    cell.data_type = "s"  # "=1+1" is shown, never evaluated
    for name, setting in (style or {}).items():
        setattr(cell, name, setting)
    return cell


def write_feedback_workbook(
    feed_dir: Path, file_name: str, sha256: str, problems: Iterable[dict[str, object]]
) -> Path:
    """Write the workbook for one partner file and return its path.

    Every cell is typed as a string so that a partner's value such as ``=1+1`` is
    shown, never evaluated. The workbook appears whole or not at all (written beside,
    then renamed).
    """
    feed_dir.mkdir(parents=True, exist_ok=True)
    target = feedback_path(feed_dir, file_name, sha256)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Righe da correggere")
    for index, width in enumerate(WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A5"
    sheet.append(
        [
            _text_cell(
                sheet,
                f"Righe non caricate del file: {Path(file_name).name}",
                {"font": Font(bold=True, size=13)},
            )
        ]
    )
    sheet.append(
        [
            _text_cell(
                sheet,
                "Correggere le righe indicate e inviare di nuovo il file intero. "
                "Le righe non elencate sono state caricate.",
            )
        ]
    )
    sheet.append([])
    header_style = {
        "font": Font(bold=True, color="FFFFFF"),
        "fill": PatternFill("solid", fgColor="1F4E78"),
    }
    sheet.append([_text_cell(sheet, header, header_style) for header in HEADERS])
    # One styled cell, its style given to each row's cell: assigning an Alignment to
    # every cell would look it up again 600,000 times.
    template = _text_cell(sheet, "", {"alignment": Alignment(wrap_text=True, vertical="top")})
    style = template._style
    for problem in problems:
        values = (
            problem.get("sheet") or "",
            str(problem["row_number"]),
            problem.get("column_name") or "",
            "" if problem.get("value") is None else str(problem["value"]),
            str(problem["reason"]),
            SEVERITY_LABELS.get(str(problem["severity"]), str(problem["severity"])),
        )
        row = []
        for value in values:
            cell = WriteOnlyCell(sheet)
            # Set as text directly: openpyxl's value setter would guess a type (and take
            # "=1+1" for a formula) at a cost paid 600,000 times.
            cell._value = visible_text(value, EXCEL_CELL_CHARS) if value else None
            cell.data_type = "s"
            cell._style = style  # shared, never changed: the writer only reads its id
            row.append(cell)
        sheet.append(row)
    return atomic_write(target, workbook.save)


REFUSAL_ADVICE = (
    "Cosa fare: controllare il file indicato e inviarlo di nuovo intero, nel formato "
    "abituale (.xlsx, .xls, .ods o .csv), senza password, con la riga delle intestazioni "
    "e le colonne obbligatorie; per un file troppo grande o danneggiato, esportarlo di "
    "nuovo dal programma che lo produce. Finché non arriva il file corretto, nessuna "
    "riga di questo file è nel magazzino."
)


def write_refusal_workbook(feed_dir: Path, file_name: str, sha256: str, reason: str) -> Path:
    """The workbook for a file refused as a whole: the reason, in Italian, and what to do.

    ``reason`` is the refusal's own message (file, sheet, row, column and limit, never a
    value), so this workbook holds no value of the file.
    """
    feed_dir.mkdir(parents=True, exist_ok=True)
    target = feedback_path(feed_dir, file_name, sha256)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("File rifiutato")
    sheet.column_dimensions["A"].width = 110
    wrap = {"alignment": Alignment(wrap_text=True, vertical="top")}
    sheet.append(
        [
            _text_cell(
                sheet,
                f"File non caricato: {Path(file_name).name}",
                {"font": Font(bold=True, size=13)},
            )
        ]
    )
    sheet.append([])
    sheet.append([_text_cell(sheet, "Motivo", {"font": Font(bold=True)})])
    sheet.append([_text_cell(sheet, reason, wrap)])
    sheet.append([])
    sheet.append([_text_cell(sheet, REFUSAL_ADVICE, wrap)])
    return atomic_write(target, workbook.save)
