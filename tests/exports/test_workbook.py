"""The funder workbook: reloaded cell by cell, scanned for anything unsafe."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import duckdb
import numpy as np
import openpyxl
import pandas as pd
import pytest
from export_tables import PERIOD, rate, row, synthetic_mart

from lavoro_debole.exports.catalogue import indicator_info
from lavoro_debole.exports.names import category_label
from lavoro_debole.exports.profiles import profile_from_dict
from lavoro_debole.exports.publish import (
    AuditFailedError,
    build_funder_export,
    protect_for,
    publish_indicators,
    workbook_selection,
)
from lavoro_debole.exports.workbook import period_label

PLANTED = {
    "Pulizie": '=HYPERLINK("http://evil.example","clic")',
    "Manutenzione verde": "@SUM(1+1)",
    "Confcommercio": "+39 0371 000",
    "Confartigianato": "-1",
}
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
CUTOFF = dt.date(2024, 12, 31)
GENERATED = dt.datetime(2025, 1, 15, 9, 30)


def _profile(**overrides) -> object:
    data = {
        "name": "prova",
        "title": "=Fondazione di prova",
        "recipients": ["a@example.org"],
        "indicators": "all",
        "breakdowns": "all",
        "periods": ["quarter", "year_to_date"],
        "k": 5,
    } | overrides
    return profile_from_dict(data)


@pytest.fixture(scope="module")
def mart() -> pd.DataFrame:
    frame = synthetic_mart(7, scale=20)
    frame["category"] = frame["category"].replace(PLANTED)
    # Q1 as the mart has it: owed files received (numerator) of those owed, per sender,
    # and beside it those received in time; a sender that owes nothing this quarter
    q1 = [
        row("Q1", "2024-Q4", "totale", "totale", 100 * 3 / 5, 3, 5),
        row("Q1", "2024-Q4", "fonte_mittente", "provincia_co|Provincia di Lodi", 100, 1, 1),
        row("Q1", "2024-Q4", "fonte_mittente", "cooperative|=cmd", 0, 0, 1),
        row("Q1", "2024-Q4", "fonte_mittente", "sportello|Sportello", 100 * 2 / 3, 2, 3),
        row("Q1", "2024-Q4", "fonte_mittente", "cfp|CFP", None, 0, 0),
        row("Q1", "2024-Q4", "puntualita", "provincia_co|Provincia di Lodi", 100, 1, 1),
        row("Q1", "2024-Q4", "puntualita", "cooperative|=cmd", 0, 0, 1),
        row("Q1", "2024-Q4", "puntualita", "sportello|Sportello", 100 / 3, 1, 3),
        row("Q1", "2024-Q4", "puntualita", "cfp|CFP", None, 0, 0),
    ]
    return pd.concat([frame, pd.DataFrame(q1)], ignore_index=True)


@pytest.fixture(scope="module")
def protection(mart: pd.DataFrame):
    return protect_for(mart, 5)


@pytest.fixture(scope="module")
def export(mart: pd.DataFrame, protection, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("exports")
    return build_funder_export(
        mart, _profile(), "2024-Q4", CUTOFF, out, generated_at=GENERATED, protection=protection
    )


def test_every_published_figure_is_in_its_cell(export, protection) -> None:
    published = protection.published()
    periods = ["2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4", "2024"]
    shown = published[workbook_selection(published, _profile(), periods)]
    wb = openpyxl.load_workbook(export.path)
    checked = 0
    for r in shown.itertuples(index=False):
        kind = indicator_info(r.indicator_id).kind
        if kind == "quality" and r.indicator_id == "Q1":
            continue
        fields = ["value", "numerator", "denominator", "ci_low", "ci_high"]
        for fld in fields if kind == "rate" else ["value"]:
            sheet, coord = export.layout.cells[
                (r.indicator_id, r.period, r.breakdown, r.category, fld)
            ]
            got = wb[sheet][coord].value
            expected = getattr(r, fld)
            if r.suppressed:
                assert got == "c", (sheet, coord)
            elif pd.isna(expected):
                assert got in ("–", "n.o."), (sheet, coord)
            elif fld in ("numerator", "denominator") or kind in ("count", "company"):
                assert got == int(expected), (sheet, coord)
            else:
                assert got == pytest.approx(expected), (sheet, coord)
            checked += 1
    assert checked == len(export.layout.cells)
    assert export.cells_suppressed == int(shown["suppressed"].sum()) > 0


def test_sheets_cover_and_print_setup(export) -> None:
    wb = openpyxl.load_workbook(export.path)
    assert wb.sheetnames == [
        "Copertina",
        "A Raggiungimento",
        "B Formazione",
        "C Tirocini",
        "D Lavoro",
        "E Cooperative",
        "F Imprese",
        "Note",
        "Dati",
    ]
    cover = wb["Copertina"]
    assert cover["A1"].value == "Il lavoro debole – Rete provinciale di Lodi"
    facts = {cover.cell(r, 1).value: cover.cell(r, 2).value for r in range(4, 10)}
    assert facts["Finanziatore"] == "=Fondazione di prova"
    assert facts["Periodo di riferimento"] == "4° trimestre 2024 (ottobre–dicembre)"
    assert facts["Periodi mostrati"] == "T1 2024, T2 2024, T3 2024, T4 2024, Anno 2024"
    assert facts["Dati aggiornati al"] == dt.datetime(2024, 12, 31)
    assert facts["Prodotto il"] == dt.datetime(2025, 1, 15)
    cover_text = [c.value for line in cover.iter_rows() for c in line if c.value]
    assert "=cmd" in cover_text and "mancante" in cover_text
    # the list of partners is Q1 of the quarter, with display names and numbers
    header = next(r for r in range(1, cover.max_row + 1) if cover.cell(r, 3).value == "File attesi")
    partners = {
        cover.cell(r, 2).value: tuple(cover.cell(r, c).value for c in (1, 3, 4, 5, 6))
        for r in range(header + 1, header + 5)
    }
    assert partners == {
        "CFP": ("Formazione professionale (CFP)", 0, 0, "nessun file dovuto", None),
        "=cmd": ("Inserimenti in cooperativa sociale", 1, 0, "mancante", "0 su 1 in tempo"),
        "Provincia di Lodi": (
            "Comunicazioni obbligatorie (Provincia di Lodi)",
            1,
            1,
            "completo",
            "1 su 1 in tempo",
        ),
        "Sportello": ("Sportello di ascolto", 3, 2, "parziale (2 su 3)", "1 su 3 in tempo"),
    }
    assert cover.cell(header + 1, 3).data_type == "n"
    for ws in wb.worksheets:
        assert ws.sheet_state == "visible"
        assert ws.page_setup.orientation in ("landscape", "portrait")
        assert ws.sheet_properties.pageSetUpPr.fitToPage
    lavoro = wb["D Lavoro"]
    assert lavoro.page_setup.orientation == "landscape"
    assert lavoro.freeze_panes == "C4"
    assert lavoro.print_title_rows == "$1:$3"
    assert len(lavoro._charts) == 2
    assert export.layout.charts == 8  # A1, A3, B1, C1, D1, D3, E1, F1


def test_no_formula_no_external_link_no_hidden_sheet(export) -> None:
    typed: dict[str, set[str]] = {}  # text of each cell -> cell types it was written with
    with zipfile.ZipFile(export.path) as z:
        names = z.namelist()
        assert not [n for n in names if "externalLink" in n or n.endswith(".bin")]
        workbook_xml = z.read("xl/workbook.xml").decode()
        assert "hidden" not in workbook_xml.lower()
        for name in names:
            text = z.read(name).decode("utf-8", errors="replace")
            assert 'TargetMode="External"' not in text, name
            if not name.startswith("xl/worksheets/sheet"):
                continue
            root = ElementTree.fromstring(text)
            assert not root.findall(f".//{MAIN}f"), name  # no formula element at all
            for cell in root.iter(f"{MAIN}c"):
                content = "".join(t.text or "" for t in cell.iter(f"{MAIN}t"))
                typed.setdefault(content, set()).add(cell.get("t", "n"))
    for planted in PLANTED.values():
        assert typed[planted] == {"inlineStr"}, planted
    assert typed["=Fondazione di prova"] == {"inlineStr"}
    wb = openpyxl.load_workbook(export.path)
    found = {
        c.value: c.data_type
        for ws in wb.worksheets
        for line in ws.iter_rows()
        for c in line
        if c.value in PLANTED.values()
    }
    assert set(found) == set(PLANTED.values())
    assert set(found.values()) == {"s"}


def test_refuses_to_write_when_the_audit_fails(
    mart: pd.DataFrame, protection, tmp_path: Path
) -> None:
    weakened = dataclasses.replace(protection, suppressed=protection.primary.copy())
    with pytest.raises(AuditFailedError) as err:
        build_funder_export(mart, _profile(), "2024-Q4", CUTOFF, tmp_path, protection=weakened)
    assert "audit failed" in str(err.value) and "prova 2024-Q4" in str(err.value)
    assert not list(tmp_path.iterdir())


def test_higher_k_hides_a_superset(tmp_path: Path) -> None:
    mart = synthetic_mart(5, indicators=("A1", "A3", "D1", "D3", "Q3"), scale=20)
    base = protect_for(mart, 5)
    strict = protect_for(mart, 7)
    assert strict.audit.passed
    assert not (base.suppressed & ~strict.suppressed).any()
    result = build_funder_export(
        mart, _profile(k=7), "2024-Q4", CUTOFF, tmp_path, protection=strict
    )
    assert result.k == 7 and result.audit.passed


def test_publish_writes_and_replaces_the_table() -> None:
    frame = pd.DataFrame(
        [
            row("A1", PERIOD, "totale", "totale", 20),
            row("A1", PERIOD, "sesso", "M", 18),
            row("A1", PERIOD, "sesso", "F", 2),
            rate("D3", PERIOD, "totale", "totale", 6, 12),
            row("F1", PERIOD, "totale", "totale", 3),
        ]
    )
    con = duckdb.connect()
    con.execute("create schema marts")
    con.register("v", frame)
    con.execute("create table marts.indicator_values as select * from v")
    for _ in range(2):
        publish_indicators(con)
    out = con.execute(
        "select indicator_id, category, value, numerator, suppressed "
        "from marts.indicator_published order by indicator_id, category"
    ).fetchall()
    assert out == [
        ("A1", "F", None, None, True),
        ("A1", "M", None, None, True),
        ("A1", "totale", 20.0, None, False),
        ("D3", "totale", 50.0, 6.0, False),
        ("F1", "totale", 3.0, None, False),
    ]
    types = dict(
        con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'indicator_published'"
        ).fetchall()
    )
    assert types["suppressed"] == "BOOLEAN" and types["value"] == "DOUBLE"


def test_export_reads_the_warehouse_connection(tmp_path: Path) -> None:
    frame = synthetic_mart(11, indicators=("A1", "D3", "Q3"), scale=15)
    con = duckdb.connect()
    con.execute("create schema marts")
    con.register("v", frame)
    con.execute("create table marts.indicator_values as select * from v")
    profile = _profile(indicators=["A1", "D*"], periods=["quarter"])
    result = build_funder_export(con, profile, "2024-Q2", CUTOFF, tmp_path, generated_at=GENERATED)
    assert result.path == tmp_path / "lavoro_debole_prova_2024-Q2.xlsx"
    assert result.path.exists() and len(result.sha256) == 64
    assert openpyxl.load_workbook(result.path).sheetnames == [
        "Copertina",
        "A Raggiungimento",
        "D Lavoro",
        "Note",
        "Dati",
    ]
    assert list(tmp_path.iterdir()) == [result.path]  # no temporary file left behind
    assert not np.isnan(result.cells_shown)


def test_the_same_table_is_protected_once_and_a_changed_one_anew() -> None:
    mart = synthetic_mart(11, indicators=("A1", "A3"), scale=20)
    first = protect_for(mart, 5)
    assert protect_for(mart.copy(), 5) is first  # same content, read again
    strict = protect_for(mart, 7)
    assert strict is protect_for(mart, 7) and strict is not first
    assert not (first.suppressed & ~strict.suppressed).any()
    with pytest.raises(ValueError):
        first.suppressed[0] = True  # shared by every caller: read-only
    changed = mart.copy()
    total = changed.index[(changed["indicator_id"] == "A1") & (changed["breakdown"] == "totale")][0]
    changed.loc[total, "value"] += 1
    again = protect_for(changed, 5)
    assert again is not first
    key = tuple(mart.loc[total, ["indicator_id", "period", "breakdown", "category"]])
    seen = again.universe.frame.set_index(["indicator_id", "period", "breakdown", "category"])
    assert seen.loc[key, "value"] == mart.loc[total, "value"] + 1


def test_the_data_sheet_holds_every_shown_cell_as_a_filterable_table(export, protection) -> None:
    published = protection.published()
    periods = ["2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4", "2024"]
    shown = published[workbook_selection(published, _profile(), periods)]
    wb = openpyxl.load_workbook(export.path)
    ws = wb["Dati"]
    assert list(ws.tables) == ["Dati"]
    table = ws.tables["Dati"]
    assert table.ref == f"A1:L{len(shown) + 1}"
    header = [c.value for c in ws[1]]
    assert header[:6] == [
        "Codice",
        "Indicatore",
        "Periodo",
        "Disaggregazione",
        "Categoria",
        "Valore",
    ]
    assert header[11] == "Codice categoria"
    assert len(list(ws.iter_rows(min_row=2, values_only=True))) == len(shown)
    for cell in shown.itertuples(index=False):
        candidates = [
            r
            for r in ws.iter_rows(min_row=2, values_only=True)
            if r[0] == cell.indicator_id
            and r[2] == period_label(cell.period)
            and r[11] == cell.category
            and (r[3] == "Totale") == (cell.breakdown == "totale")
        ]
        # the name the visible sheets show, beside the code
        assert {r[4] for r in candidates} == {category_label(cell.breakdown, cell.category)}
        assert candidates, (cell.indicator_id, cell.period, cell.breakdown, cell.category)
        values = {r[5] for r in candidates}
        if cell.suppressed:
            assert "c" in values
        elif pd.notna(cell.value):
            kind = indicator_info(cell.indicator_id).kind
            expected = (
                round(cell.value, 1)
                if kind == "rate" or pd.notna(cell.denominator)
                else round(cell.value)
            )
            assert expected in values, (cell.indicator_id, cell.period, cell.category, values)
