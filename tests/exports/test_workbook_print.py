"""The funder workbook printed: rendered by LibreOffice to PDF and read page by page.

Needs ``soffice`` (Debian: libreoffice-calc-nogui) and ``pdftotext`` (poppler-utils);
skipped without them unless ``LAVORO_REQUIRE_LIBREOFFICE=1`` (``.ci/run`` sets it after
installing them), where a missing one fails the test.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest
from export_tables import synthetic_mart

from lavoro_debole.exports.profiles import profile_from_dict
from lavoro_debole.exports.publish import build_funder_export, protect_for
from lavoro_debole.exports.workbook import PROGRAMME

#: a table's title ("D1 · Avviamenti al lavoro", "Grafico D1") or its column headings
HEADING = re.compile(r"^\s*(?:(Grafico [A-F]\d|[A-FQ]\d) · |(Grafico [A-F]\d)\b|Disaggregazione)")
LAST_LINES = 3  # no table starts among the last lines above the footer


def _tools() -> tuple[str, str]:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    pdftotext = shutil.which("pdftotext")
    if soffice and pdftotext:
        return soffice, pdftotext
    advice = (
        "LibreOffice and poppler are missing: apt-get install -y libreoffice-calc-nogui "
        "poppler-utils fonts-crosextra-carlito"
    )
    if os.environ.get("LAVORO_REQUIRE_LIBREOFFICE", "").strip().lower() not in ("", "0", "no"):
        pytest.fail(f"{advice} (required here: LAVORO_REQUIRE_LIBREOFFICE).", pytrace=False)
    pytest.skip(advice)


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    soffice, pdftotext = _tools()
    out = tmp_path_factory.mktemp("print")
    mart = synthetic_mart(7, scale=20)
    profile = profile_from_dict(
        {
            "name": "stampa",
            "title": "Fondazione di prova",
            "recipients": ["a@example.org"],
            "indicators": "all",
            "breakdowns": "all",
            "periods": ["quarter", "year_to_date"],
            "k": 5,
        }
    )
    result = build_funder_export(
        mart,
        profile,
        "2024-Q4",
        dt.date(2024, 12, 31),
        out,
        generated_at=dt.datetime(2025, 1, 15),
        protection=protect_for(mart, 5),
    )
    profile_dir = out / "lo-profile"
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={profile_dir.as_uri()}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(out),
            str(result.path),
        ],
        check=True,
        capture_output=True,
        timeout=240,
    )
    pdf = result.path.with_suffix(".pdf")
    text = subprocess.run(
        [pdftotext, "-layout", str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    pages = text.split("\f")
    if pages and not pages[-1].strip():
        pages.pop()
    return result.path, pages


def test_every_page_has_its_whole_footer(printed) -> None:
    _, pages = printed
    assert 10 <= len(pages) <= 45  # a sheet per family, the notes, the data: no runaway
    for number, page in enumerate(pages, start=1):
        lines = [line for line in page.splitlines() if line.strip()]
        footer = lines[-1]
        assert PROGRAMME in footer, number
        assert re.search(rf"\b{number} / {len(pages)}\b", footer), (number, footer)


def _table_rows(path: Path) -> dict[str, int]:
    """Rows of each table of the indicator sheets (title to the last row), by its code
    ("D1", or "Grafico D1" for a chart's numbers), read from the workbook."""
    wb = openpyxl.load_workbook(path)
    rows: dict[str, int] = {}
    for ws in wb.worksheets[1:7]:
        for r in range(4, ws.max_row + 1):
            match = re.match(r"^(Grafico [A-F]\d|[A-F]\d)\b", str(ws.cell(r, 1).value or ""))
            if not match:
                continue
            end = r + 1  # a table ends at the first empty row
            while any(ws.cell(end, c).value is not None for c in range(1, 9)):
                end += 1
            rows[match.group(1)] = end - r
    return rows


def test_no_table_starts_at_the_bottom_of_a_page(printed) -> None:
    path, pages = printed
    rows = _table_rows(path)
    assert {"A1", "D3", "Grafico D1"} <= set(rows)
    checked = 0
    for number, page in enumerate(pages, start=1):
        lines = [line for line in page.splitlines() if line.strip()][:-1]  # no footer
        for i, line in enumerate(lines):
            match = HEADING.match(line)
            if not match:
                continue
            left = len(lines) - i  # this line and those below it on the page
            code = match.group(1) or match.group(2)
            need = 2 if code is None else min(rows.get(code, 0), LAST_LINES + 1)
            # a heading in the last lines is fine only when its whole table is there
            assert left >= need, (number, line.strip()[:40], left, need)
            checked += 1
    assert checked >= 20


def test_a_table_that_fits_on_a_page_is_not_split(printed) -> None:
    path, pages = printed
    rows = _table_rows(path)
    seen = 0
    for page in pages:
        lines = [line for line in page.splitlines() if line.strip()][:-1]
        for i, line in enumerate(lines):
            match = re.match(r"^\s*([A-F]\d) · ", line)
            # a table's title has its column headings below (a chart's title has not)
            following = " ".join(lines[i + 1 : i + 3])
            if not match or "Disaggregazione" not in following:
                continue
            if rows.get(match.group(1), 99) <= 30:
                # a table shorter than a page: all its rows below its title on this page
                assert len(lines) - i >= rows[match.group(1)], (match.group(1), page[:80])
                seen += 1
    assert seen >= 10
