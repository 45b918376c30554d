"""A funder's candidate with an indicator that has nothing publishable: the steward reads
it in the Dagster run (a warning and the materialisation's metadata), in Italian, with
the periods that would publish it; no figure appears in either."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from lavoro_debole.exports.profiles import profile_from_dict
from lavoro_debole.orchestration.export_assets import build_export_asset, indicator_published
from lavoro_debole.orchestration.resources import WarehouseResource
from lavoro_debole.orchestration.run import EMPTY_METADATA, RunReport, _collect
from tests.exports.export_tables import row, synthetic_mart
from tests.factories import KEY, VAULT_KEY

#: D1's quarters, all between 1 and k-1: hidden; the year (10) is published
D1 = {"2024-Q1": 2, "2024-Q2": 1, "2024-Q3": 3, "2024-Q4": 4, "2024": 10}


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAVORO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LAVORO_PSEUDONYM_KEY", KEY.decode())
    monkeypatch.setenv("LAVORO_VAULT_KEY", VAULT_KEY.decode())
    monkeypatch.setenv("LAVORO_CUTOFF", "2024-12-31")
    mart = synthetic_mart(seed=3, year=2024, scale=10)
    mart = mart[mart["indicator_id"] != "D1"]
    d1 = pd.DataFrame([row("D1", p, "totale", "totale", v) for p, v in D1.items()])
    mart = pd.concat([mart, d1], ignore_index=True)
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("create schema marts; create schema ops")
    con.register("mart", mart)
    con.execute("create table marts.indicator_values as select * from mart")
    con.execute(
        "create table ops.ingest_files (feed varchar, sender varchar, status varchar, "
        "coverage_start date, coverage_end date, received_seq integer)"
    )
    con.close()
    return tmp_path


def test_the_steward_is_told_in_the_run(warehouse: Path) -> None:
    profile = profile_from_dict(
        {
            "name": "prova_vuoto",
            "title": "Fondazione di prova",
            "recipients": ["a@example.org"],
            "indicators": ["A1", "D1"],
            "breakdowns": "all",
            "periods": ["quarter", "previous_four_quarters"],
            "k": 5,
        }
    )
    asset = build_export_asset(profile)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("trimestri", ["2024-Q4"])
    result = dg.materialize(
        [indicator_published, asset],
        selection=[asset.key],
        partition_key="2024-Q4",
        resources={"warehouse": WarehouseResource()},
        instance=instance,
    )
    assert result.success
    (materialization,) = [
        e.event_specific_data.materialization for e in result.get_asset_materialization_events()
    ]
    said = materialization.metadata["Indicatori senza dati pubblicabili"].value
    assert said.startswith("Indicatore D1 (Avviamenti al lavoro): nessun dato pubblicabile")
    assert "T1 2024, T2 2024, T3 2024, T4 2024" in said
    assert "Lo renderebbe pubblicabile: l'anno 2024 (opzione «year_to_date» del profilo)" in said
    warnings = [
        e.message
        for e in instance.all_logs(result.run_id)
        if e.level == 30 and "nessun dato pubblicabile" in (e.message or "")
    ]
    assert len(warnings) == 1 and "prova_vuoto 2024-Q4: Indicatore D1" in warnings[0]
    # names and periods only: no figure of D1 (2, 1, 3, 4 or 10) stands alone in the text
    for text in (said, warnings[0]):
        words = set(text.replace(",", " ").replace(".", " ").replace(")", " ").split())
        assert not {"1", "2", "3", "4", "10"} & words
    # and lavoro run's summary says the same, under the workbook's asset
    report = RunReport()
    _collect(result, report)
    lines = [line.strip() for line in said.splitlines() if line.strip()]
    assert report.empty == {asset.key.to_user_string(): lines}
    assert materialization.metadata.get(EMPTY_METADATA) is not None
