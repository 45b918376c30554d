"""A file refused as a whole gets its feedback workbook too: the reason and what to do."""

from __future__ import annotations

from pathlib import Path

import duckdb
import openpyxl
import pytest

from lavoro_debole.ingest.pipeline import ingest_feed
from lavoro_debole.ingest.vault import attach_vault
from tests.factories import CF_MARIO, KEY, VAULT_KEY, d, write_xlsx


@pytest.fixture
def con(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    attach_vault(connection, tmp_path / "vault.duckdb", VAULT_KEY)
    yield connection
    connection.close()


def _feedback_of(con, name: str) -> tuple[str, str]:
    return con.execute(
        "select feedback_file, error from ops.ingest_files where file_name = ?", [name]
    ).fetchone()


def test_a_refused_file_gets_a_workbook_with_its_reason_and_what_to_do(con, tmp_path: Path):
    inbox = tmp_path / "inbox" / "servizi_sociali"
    # no recognisable header; a damaged workbook; a missing mandatory column
    write_xlsx(inbox / "UdP_Lodi_casi_2024.xlsx", {"Casi": [["Elenco"], [CF_MARIO, "x"]]})
    inbox.joinpath("UdP_Lodi_casi_2024_S1.xlsx").write_bytes(b"PK\x03\x04 non un file")
    write_xlsx(
        inbox / "UdP_Lodi_casi_2025.xlsx",
        {
            "Casi": [
                ["Codice Fiscale", "Posizione giuridica", "Data chiusura", "Note"],
                [CF_MARIO, "Detenuto", d("01/02/2024"), ""],
            ]
        },
    )
    outcomes = ingest_feed(
        con, "servizi_sociali", tmp_path / "inbox", key=KEY, feedback_dir=tmp_path / "feedback"
    )
    assert {o.status for o in outcomes} == {"rejected"}
    for outcome in outcomes:
        feedback, error = _feedback_of(con, outcome.file_name)
        assert feedback and feedback == outcome.feedback_file
        workbook = openpyxl.load_workbook(tmp_path / "feedback" / "servizi_sociali" / feedback)
        texts = [c.value for row in workbook.active.iter_rows() for c in row if c.value]
        assert texts[0] == f"File non caricato: {outcome.file_name}"
        assert error in texts  # the refusal's own message, in Italian
        assert any(t.startswith("Cosa fare:") for t in texts)
        assert not any(CF_MARIO in t for t in texts)  # nothing of the file's cells
    reasons = {o.file_name: o.error for o in outcomes}
    assert "intestazione" in reasons["UdP_Lodi_casi_2024.xlsx"]
    assert "danneggiato" in reasons["UdP_Lodi_casi_2024_S1.xlsx"]
    assert "manca la colonna obbligatoria" in reasons["UdP_Lodi_casi_2025.xlsx"]
