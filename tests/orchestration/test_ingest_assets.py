"""The ingest assets materialised by Dagster in process, with their checks and metadata."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from lavoro_debole.orchestration.ingest_assets import (
    build_ingest_asset,
    ingest_files_log,
    reference_cooperative_sociali,
)
from lavoro_debole.orchestration.resources import WarehouseResource
from lavoro_debole.schemas import FEEDS
from tests.factories import CF_ANNA, CF_MARIO, KEY, VAULT_KEY, d, write_xlsx, wrong_check

HEADER = ["Codice Fiscale", "Posizione giuridica", "Data presa in carico", "Data chiusura", "Note"]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAVORO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LAVORO_PSEUDONYM_KEY", KEY.decode())
    monkeypatch.setenv("LAVORO_VAULT_KEY", VAULT_KEY.decode())
    monkeypatch.setenv("LAVORO_CUTOFF", "2024-12-31")
    return tmp_path


def materialize(*assets):
    return dg.materialize(
        list(assets),
        resources={"warehouse": WarehouseResource()},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def test_ingest_asset_reports_counts_and_fails_the_rejection_check(data_dir: Path):
    rows = [
        ["Ufficio di Piano di Lodi"],
        HEADER,
        [CF_MARIO, "Detenuto", d("01/02/2024"), None, "note riservate"],
        [CF_ANNA, "Semilibero", d("01/03/2024"), None, ""],
        [wrong_check(CF_MARIO), "Detenuto", d("01/04/2024"), None, ""],
        ["Totale"],
    ]
    write_xlsx(data_dir / "inbox" / "servizi_sociali" / "UdP_Lodi_casi_2024.xlsx", {"Casi": rows})
    result = materialize(build_ingest_asset(FEEDS["servizi_sociali"]))
    assert result.success

    [materialization] = result.asset_materializations_for_node("ingest_servizi_sociali")
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    assert metadata["File elaborati in questa esecuzione"] == 1
    assert metadata["Righe caricate"] == 2
    assert metadata["Righe scartate"] == 1
    assert metadata["Righe saltate (titoli, intestazioni, vuote, totali)"] == 3
    assert "UdP_Lodi_casi_2024__scarti_" in metadata["Riepiloghi nuovi per i partner"]

    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["righe_scartate"].passed is False  # 1 of 3 rows > 10%
    assert "1 righe scartate su 3" in checks["righe_scartate"].description
    assert checks["conservazione_righe"].passed is True
    for evaluation in checks.values():
        assert CF_MARIO not in (evaluation.description or "")


def test_conservation_check_fails_when_rows_go_missing(data_dir: Path):
    write_xlsx(
        data_dir / "inbox" / "servizi_sociali" / "UdP_Lodi_casi_2024.xlsx",
        {"Casi": [HEADER, [CF_MARIO, "Detenuto", d("01/02/2024"), None, ""]]},
    )
    asset = build_ingest_asset(FEEDS["servizi_sociali"])
    assert materialize(asset).success
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"))
    con.execute("delete from raw.servizi_sociali")
    con.close()
    # A new file triggers a new materialisation; the lost row of the first is noticed.
    write_xlsx(
        data_dir / "inbox" / "servizi_sociali" / "UdP_Lodi_casi_2024_T4.xlsx",
        {"Casi": [HEADER, [CF_ANNA, "Detenuto", d("01/02/2024"), None, ""]]},
    )
    result = materialize(asset)
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["conservazione_righe"].passed is False
    assert "UdP_Lodi_casi_2024.xlsx" in checks["conservazione_righe"].description


def test_reference_list_and_ingest_log(data_dir: Path):
    (data_dir / "reference").mkdir()
    (data_dir / "reference" / "cooperative_sociali.csv").write_text(
        "ragione_sociale;partita_iva\nCoop Alfa;01397160985\n", encoding="utf-8"
    )
    result = materialize(reference_cooperative_sociali, ingest_files_log)
    assert result.success
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    assert con.execute("select * from raw.reference_cooperative_sociali").fetchall() == [
        ("Coop Alfa", "01397160985")
    ]


def test_file_names_are_masked_in_metadata_checks_and_logs(data_dir: Path):
    """A file named after a person with their CF and phone: Dagster shows it masked."""
    name = f"UdP_Lodi_Rossi_{CF_MARIO}_347 1234567.xlsx"
    rows = [
        HEADER,
        [CF_MARIO, "Detenuto", d("01/02/2024"), None, ""],
        [wrong_check(CF_ANNA), "Detenuto", d("01/04/2024"), None, ""],
    ]
    write_xlsx(data_dir / "inbox" / "servizi_sociali" / name, {"Casi": rows})
    (data_dir / "inbox" / "servizi_sociali" / "collegamento.xlsx").symlink_to(
        data_dir / "inbox" / "servizi_sociali" / name
    )
    result = materialize(build_ingest_asset(FEEDS["servizi_sociali"]))
    assert result.success
    [materialization] = result.asset_materializations_for_node("ingest_servizi_sociali")
    shown = [str(v.value) for v in materialization.metadata.values()]
    shown += [e.description or "" for e in result.get_asset_check_evaluations()]
    shown += [str(event) for event in result.all_events]
    text = "\n".join(shown)
    assert "UdP_Lodi_Rossi_[CF]_[telefono].xlsx" in text
    assert "collegamento simbolico" in text
    for value in (CF_MARIO, "347 1234567", "3471234567"):
        assert value not in text
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    # The name as received stays the steward's key in ops; raw has it masked.
    assert con.execute("select file_name from ops.ingest_files order by 1").fetchall() == [
        (name,),
        ("collegamento.xlsx",),
    ]
    assert con.execute("select distinct file_name from raw.servizi_sociali").fetchall() == [
        ("UdP_Lodi_Rossi_[CF]_[telefono].xlsx",)
    ]


def test_the_ingest_asset_reads_the_stewards_senders_list(data_dir: Path):
    (data_dir / "reference").mkdir()
    (data_dir / "reference" / "senders.csv").write_text(
        "feed;sender_id;display_name;spellings;district;consortium\n"
        "servizi_sociali;udp_lodi;Ufficio di Piano di Lodi;Distretto Lodigiano;Lodi;\n",
        encoding="utf-8",
    )
    rows = [HEADER, [CF_MARIO, "Detenuto", d("01/02/2024"), None, ""]]
    write_xlsx(
        data_dir / "inbox" / "servizi_sociali" / "Distretto_Lodigiano_2024.xlsx", {"Casi": rows}
    )
    result = materialize(build_ingest_asset(FEEDS["servizi_sociali"]))
    assert result.success
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    assert con.execute("select sender, status from ops.ingest_files").fetchall() == [
        ("Ufficio di Piano di Lodi", "loaded")
    ]


def test_an_open_problem_stays_red_until_the_same_sender_replaces_the_file(data_dir: Path):
    bad = [
        ["Ufficio di Piano di Lodi"],
        HEADER,
        [CF_MARIO, "Detenuto", d("01/02/2024"), None, ""],
        [wrong_check(CF_ANNA), "Detenuto", d("01/04/2024"), None, ""],
    ]
    inbox = data_dir / "inbox" / "servizi_sociali"
    write_xlsx(inbox / "UdP_Lodi_casi_2024_S1.xlsx", {"Casi": bad})
    asset = build_ingest_asset(FEEDS["servizi_sociali"])

    def check():
        result = materialize(asset)
        assert result.success
        return {e.check_name: e for e in result.get_asset_check_evaluations()}["righe_scartate"]

    first = check()
    assert first.passed is False
    assert "UdP_Lodi_casi_2024_S1.xlsx: 1 righe scartate su 2" in first.description
    assert "arrivato in questa esecuzione" in first.description
    # a run with nothing new: still red, naming the same file
    again = check()
    assert again.passed is False
    assert "UdP_Lodi_casi_2024_S1.xlsx: 1 righe scartate su 2" in again.description
    assert "arrivato in questa esecuzione" not in again.description
    # another sender's file (Casalpusterlengo) replaces nothing of Lodi's
    good = [HEADER, [CF_MARIO, "Detenuto", d("01/02/2024"), None, ""]]
    write_xlsx(
        inbox / "UdP_Casalpusterlengo_casi_2024_S1.xlsx",
        {"Casi": [["Ufficio di Piano di Casalpusterlengo"], *good]},
    )
    assert check().passed is False
    # Lodi's corrected file for the same half-year: green
    write_xlsx(
        inbox / "UdP_Lodi_casi_2024_S1_rettifica.xlsx",
        {"Casi": [["Ufficio di Piano di Lodi"], *good]},
    )
    fixed = check()
    assert fixed.passed is True, fixed.description
