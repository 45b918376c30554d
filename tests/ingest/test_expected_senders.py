"""The steward's list of expected senders and the overdue files it makes visible."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from lavoro_debole.ingest.expected_senders import (
    EXPECTED_FILES_TABLE,
    ExpectedSender,
    ReferenceListError,
    overdue_files,
    read_expected_senders,
)
from lavoro_debole.schemas import FEEDS

HEADER = "flusso;mittente;cadenza;giorni_concessi;attivo_dal;attivo_al\n"


def _write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "mittenti_attesi.csv"
    path.write_text(header + body, encoding="utf-8")
    return path


def test_a_well_formed_list_is_read_exactly(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "sportello;Sportello di ascolto;Mensile;15;01/04/2024;\n"
        "\n"
        "servizi_sociali;UdP Lodi;trimestrale;30;;2025-06-30\n",
    )
    assert read_expected_senders(path, list(FEEDS)) == [
        ExpectedSender("sportello", "Sportello di ascolto", "mensile", 15, dt.date(2024, 4, 1)),
        ExpectedSender(
            "servizi_sociali", "UdP Lodi", "trimestrale", 30, None, dt.date(2025, 6, 30)
        ),
    ]


def test_the_date_columns_may_be_absent(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "cfp;CFP;semestrale;45\n", header="flusso;mittente;cadenza;giorni_concessi\n"
    )
    assert read_expected_senders(path, list(FEEDS)) == [
        ExpectedSender("cfp", "CFP", "semestrale", 45)
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("sportelo;Desk;mensile;15;;\n", "riga 2, colonna flusso: flusso sconosciuto"),
        ("sportello;Desk;ogni tanto;15;;\n", "riga 2, colonna cadenza: cadenza non prevista"),
        ("sportello;Desk;mensile;quindici;;\n", "riga 2, colonna giorni_concessi"),
        ("sportello;Desk;mensile;400;;\n", "riga 2, colonna giorni_concessi"),
        ("sportello;;mensile;15;;\n", "riga 2, colonna mittente: mittente vuoto"),
        ("sportello;Desk;mensile;15;31/02/2024;\n", "riga 2, colonna attivo_dal: data non valida"),
        ("sportello;Desk;mensile;15;2024-05-01;2024-04-01\n", "colonna attivo_al"),
        ("cfp;CFP;semestrale;45;;\ncfp;CFP;annuale;45;;\n", "riga 3, colonna mittente: mittente"),
    ],
)
def test_a_wrong_row_refuses_the_list_naming_row_and_column(
    tmp_path: Path, body: str, message: str
) -> None:
    path = _write(tmp_path, body)
    with pytest.raises(ReferenceListError, match=message) as refused:
        read_expected_senders(path, list(FEEDS))
    assert str(refused.value).startswith("mittenti_attesi.csv, riga")


def test_a_list_without_its_header_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "sportello;Desk;mensile;15\n", header="feed;sender;cadence\n")
    with pytest.raises(ReferenceListError, match="riga 1: mancano le colonne flusso"):
        read_expected_senders(path, list(FEEDS))


def test_a_list_not_in_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mittenti_attesi.csv"
    path.write_bytes((HEADER + "cfp;Società;semestrale;45;;\n").encode("cp1252"))
    with pytest.raises(ReferenceListError, match="UTF-8"):
        read_expected_senders(path, list(FEEDS))


def test_overdue_files_are_those_missing_the_day_after_their_due_date(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema intermediate")
    con.execute(
        f"create table {EXPECTED_FILES_TABLE} (period varchar, feed varchar, sender varchar,"
        " slot_start date, slot_end date, due_date date, is_received boolean)"
    )
    con.executemany(
        f"insert into {EXPECTED_FILES_TABLE} values (?, ?, ?, ?, ?, ?, ?)",
        [
            # the same half-year owed in the quarter and in the year: listed once
            (
                "2025-Q3",
                "servizi_sociali",
                "UdP Lodi",
                "2025-07-01",
                "2025-12-31",
                "2026-01-30",
                False,
            ),
            (
                "2025",
                "servizi_sociali",
                "UdP Lodi",
                "2025-07-01",
                "2025-12-31",
                "2026-01-30",
                False,
            ),
            ("2025-Q4", "sportello", "Desk", "2025-12-01", "2025-12-31", "2026-01-15", False),
            ("2025-Q4", "sportello", "Desk", "2025-11-01", "2025-11-30", "2025-12-15", True),
        ],
    )
    assert overdue_files(con, dt.date(2026, 1, 15)) == []  # due today: not yet late
    late = overdue_files(con, dt.date(2026, 1, 16))
    assert [(o.feed, o.sender, o.due_date) for o in late] == [
        ("sportello", "Desk", dt.date(2026, 1, 15))
    ]
    assert late[0].describe() == (
        "Desk (sportello): manca il file del periodo 01/12/2025–31/12/2025, "
        "atteso entro il 15/01/2026"
    )
    assert [o.sender for o in overdue_files(con, dt.date(2026, 1, 31))] == ["UdP Lodi", "Desk"]
    con.close()
