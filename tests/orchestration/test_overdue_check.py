"""The check file_in_ritardo: one line per sender, naming it and the latest missing file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from lavoro_debole.ingest.expected_senders import EXPECTED_FILES_TABLE
from lavoro_debole.orchestration.checks import overdue_expected_files
from lavoro_debole.orchestration.resources import WarehouseResource
from tests.factories import KEY


def test_the_check_names_each_late_sender_once_with_its_latest_missing_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("LAVORO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LAVORO_PSEUDONYM_KEY", KEY.decode())
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("create schema intermediate")
    con.execute(
        f"create table {EXPECTED_FILES_TABLE} (period varchar, feed varchar, sender varchar,"
        " slot_start date, slot_end date, due_date date, is_received boolean)"
    )
    today = dt.date.today()
    long_ago, lately, soon = (today - dt.timedelta(days=n) for n in (400, 10, -5))
    con.executemany(
        f"insert into {EXPECTED_FILES_TABLE} values (?, ?, ?, ?, ?, ?, ?)",
        [
            ("p", "sportello", "Desk", long_ago, long_ago, long_ago, False),
            ("p", "sportello", "Desk", lately, lately, lately, False),
            ("p", "cfp", "CFP", lately, lately, lately, True),
            ("p", "imprese", "Rete", soon, soon, soon, False),  # not due yet
        ],
    )
    con.close()
    result = overdue_expected_files(warehouse=WarehouseResource())
    assert result.passed is False
    lines = [line for line in result.description.splitlines() if line.startswith("- ")]
    assert lines == [
        f"- Desk (sportello): 2 file mancanti; il più recente: manca il file del periodo "
        f"{lately:%d/%m/%Y}–{lately:%d/%m/%Y}, atteso entro il {lately:%d/%m/%Y}"
    ]
    assert result.metadata["file_in_ritardo"].value == 2
