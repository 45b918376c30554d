"""Releases in the exports room: candidates, approval, revisions, and `lavoro approva`."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest
from export_tables import synthetic_mart

from lavoro_debole.cli import main
from lavoro_debole.exports.profiles import profile_from_dict
from lavoro_debole.exports.release_flow import approve_and_send, build_candidate
from lavoro_debole.exports.releases import ReleaseError, release_cells, releases

CUTOFF = dt.date(2024, 12, 31)


def _profile():
    return profile_from_dict(
        {
            "name": "prova",
            "title": "Fondazione di prova",
            "recipients": ["a@example.org"],
            "indicators": "all",
            "breakdowns": "all",
            "periods": ["quarter", "year_to_date"],
            "k": 5,
        }
    )


@pytest.fixture
def warehouse(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    mart = synthetic_mart(seed=3, year=2024, scale=10)
    con.execute("create schema marts; create schema ops")
    con.register("mart", mart)
    con.execute("create table marts.indicator_values as select * from mart")
    con.unregister("mart")
    con.execute("create table ops.ingest_files (feed varchar, status varchar, received_seq int)")
    con.execute("insert into ops.ingest_files values ('sportello', 'loaded', 1)")
    yield con
    con.close()


def test_release_cells_mark_exactly_the_cells_shown_differently():
    shown = pd.DataFrame(
        {
            "indicator_id": ["A1", "A1", "A1", "B2"],
            "period": ["2024-Q3"] * 4,
            "breakdown": ["totale", "sesso", "sesso", "totale"],
            "category": ["totale", "M", "F", "totale"],
            "value": [12.0, None, 7.0, 50.0],
            "numerator": [None, None, None, 5.0],
            "denominator": [None, None, None, 10.0],
            "suppressed": [False, True, False, False],
        }
    )
    earlier = pd.DataFrame(
        {
            "indicator_id": ["A1", "A1", "A1", "B2"],
            "period": ["2024-Q3"] * 4,
            "breakdown": ["totale", "sesso", "sesso", "totale"],
            "category": ["totale", "M", "F", "totale"],
            "shown": [12.0, 5.0, None, 50.0],
            "numerator": [None, None, None, 4.0],
            "denominator": [None, None, None, 8.0],
            "suppressed": [False, False, True, False],
            "released_quarter": ["2024-Q3"] * 4,
            "released_seq": [1] * 4,
            "released_received_seq": [3] * 4,
        }
    )
    cells = release_cells(shown, earlier)
    # same value; hidden now but shown before; shown now but hidden before; same rate
    # value (50%) from another numerator and denominator
    assert cells["revised"].tolist() == [False, True, True, True]
    assert release_cells(shown, earlier.iloc[:0])["revised"].tolist() == [False] * 4


def test_a_revision_is_a_new_release_marked_r_with_its_reasons(warehouse, tmp_path: Path):
    profile = _profile()
    exports = tmp_path / "exports"
    first = build_candidate(warehouse, profile, "2024-Q3", CUTOFF, exports)
    assert first.is_new and first.release.release_seq == 1
    with pytest.raises(ReleaseError, match="nome"):
        approve_and_send(warehouse, profile, "2024-Q3", "  ", None)
    release, delivery = approve_and_send(warehouse, profile, "2024-Q3", "Maria Referente", None)
    assert (release.status, release.approved_by, delivery.status) == (
        "approved",
        "Maria Referente",
        "skipped",
    )
    sent_sha = hashlib.sha256(Path(release.workbook_path).read_bytes()).hexdigest()
    assert sent_sha == release.sha256

    # a late file for 2024-Q3 changes A1's total; the next quarter's release revises it
    warehouse.execute(
        "update marts.indicator_values set value = value + 9 where indicator_id = 'A1'"
        " and period = '2024-Q3' and breakdown = 'totale'"
    )
    warehouse.execute("insert into ops.ingest_files values ('servizi_sociali', 'loaded', 2)")
    second = build_candidate(warehouse, profile, "2024-Q4", CUTOFF, exports)
    assert second.export is not None
    revised = second.export.cells[second.export.cells["revised"]]
    assert set(
        zip(revised["indicator_id"], revised["period"], revised["breakdown"], strict=True)
    ) == {("A1", "2024-Q3", "totale")}
    wb = openpyxl.load_workbook(second.release.workbook_path)
    rows = [[c.value for c in row] for row in wb["Revisioni"].iter_rows(min_row=8)]
    assert len(rows) == 1 and rows[0][0] == "A1" and rows[0][4] == "Totale"
    # the reason names the partner's feed as the funder knows it, never an internal id
    assert "Prese in carico dei servizi sociali: 1 file" in rows[0][7]
    assert "servizi_sociali" not in rows[0][7] and "rilascio 1 del 2024-Q3" in rows[0][7]
    sheet, coordinate = second.export.layout.cells[("A1", "2024-Q3", "totale", "totale", "value")]
    cell = wb[sheet][coordinate]
    assert isinstance(cell.value, int | float) and cell.number_format.endswith('" r"')
    # the sent release of 2024-Q3 is untouched on disk
    assert hashlib.sha256(Path(release.workbook_path).read_bytes()).hexdigest() == sent_sha
    assert [(r.quarter, r.release_seq, r.status) for r in releases(warehouse, "prova")] == [
        ("2024-Q3", 1, "approved"),
        ("2024-Q4", 1, "candidate"),
    ]


def test_lavoro_approva(warehouse, tmp_path: Path, monkeypatch, capsys):
    build_candidate(warehouse, _profile(), "2024-Q4", CUTOFF, tmp_path / "exports")
    warehouse.close()
    monkeypatch.setenv("LAVORO_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LAVORO_SMTP_HOST", raising=False)
    monkeypatch.setattr(
        "lavoro_debole.exports.profiles.load_profiles", lambda *a, **k: {"prova": _profile()}
    )
    assert main(["approva", "2024-Q4"]) == 2
    assert main(["approva", "prova", "2024-Q9"]) == 2
    assert main(["approva", "prova", "2024-Q4", "--da", "Maria Referente"]) == 0
    assert "prova 2024-Q4 rilascio 1: approvato da Maria Referente" in capsys.readouterr().out
    assert main(["approva", "--tutti", "2024-Q4"]) == 1  # nothing is waiting any more
    assert "nessun rilascio candidato" in capsys.readouterr().out
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    assert con.execute("select status, approved_by from ops.releases").fetchall() == [
        ("approved", "Maria Referente")
    ]
    con.close()
