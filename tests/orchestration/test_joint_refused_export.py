"""An export whose joint audit fails (issue 12 §4) fails its Dagster asset with an Italian
message naming the tables to hold back, and writes nothing; in process, on a warehouse
whose mart is a small synthetic one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from lavoro_debole.exports.profiles import load_profiles
from lavoro_debole.exports.publish import build_funder_export
from lavoro_debole.exports.release_flow import build_candidate
from lavoro_debole.exports.releases import approve, record_candidate
from lavoro_debole.orchestration.export_assets import export_assets, indicator_published
from lavoro_debole.orchestration.resources import WarehouseResource
from tests.exports.export_tables import synthetic_mart
from tests.factories import KEY, VAULT_KEY

CUTOFF = dt.date(2024, 12, 31)


def _set_sex(con, period: str, total: int, men: int, women: int) -> None:
    for category, value in (("totale", total), ("M", men), ("F", women)):
        con.execute(
            "update marts.indicator_values set value = ? where indicator_id = 'A1'"
            " and period = ? and category = ? and breakdown in ('totale', 'sesso')",
            [value, period, category],
        )


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAVORO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LAVORO_PSEUDONYM_KEY", KEY.decode())
    monkeypatch.setenv("LAVORO_VAULT_KEY", VAULT_KEY.decode())
    monkeypatch.setenv("LAVORO_CUTOFF", "2024-12-31")
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("create schema marts; create schema ops")
    con.register("mart", synthetic_mart(seed=3, year=2024, scale=10))
    con.execute("create table marts.indicator_values as select * from mart")
    con.unregister("mart")
    con.execute("create table ops.ingest_files (feed varchar, status varchar, received_seq int)")
    con.execute("insert into ops.ingest_files values ('sportello', 'loaded', 1)")
    profiles = load_profiles()
    exports = tmp_path / "exports"
    # the region's 2024-Q3 release, approved: 20 persons in 2024-Q2, 12 men
    _set_sex(con, "2024-Q2", 20, 12, 8)
    build_candidate(con, profiles["regione_lombardia"], "2024-Q3", CUTOFF, exports)
    approve(con, "regione_lombardia", "2024-Q3", "Maria Referente")
    # a late file adds 2 men; the other funder's 2024-Q3 workbook was built on the new
    # data as workbooks were before the series was protected (alone) and approved
    _set_sex(con, "2024-Q2", 22, 14, 8)
    con.execute("insert into ops.ingest_files values ('sportello', 'loaded', 2)")
    alone = build_funder_export(
        con, profiles["cassa_ammende"], "2024-Q3", CUTOFF, tmp_path / "fuori"
    )
    record_candidate(
        con,
        profile="cassa_ammende",
        quarter="2024-Q3",
        release_seq=1,
        cells=alone.cells,
        workbook=alone.path,
        received_seq=2,
        built_at=dt.datetime(2024, 11, 1),
        truth=alone.truth,
    )
    approve(con, "cassa_ammende", "2024-Q3", "Maria Referente")
    con.close()
    return tmp_path


def test_a_refused_export_fails_its_asset_naming_the_tables(warehouse: Path):
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("trimestri", ["2024-Q4"])
    region = next(a for a in export_assets if a.key.path[-1] == "regione_lombardia")
    defs = dg.Definitions(
        assets=[indicator_published, region],
        resources={"warehouse": WarehouseResource()},
    )
    job = defs.resolve_implicit_global_asset_job_def()
    before = sorted(p.relative_to(warehouse) for p in (warehouse / "exports").rglob("*"))
    result = job.execute_in_process(
        instance=instance,
        partition_key="2024-Q4",
        asset_selection=[region.key],
        raise_on_error=False,
    )
    assert not result.success
    failures = [
        e.step_failure_data.user_failure_data.description
        for e in result.all_events
        if e.is_step_failure and e.step_failure_data.user_failure_data is not None
    ]
    assert len(failures) == 1
    message = failures[0]
    assert "cartella non scritta" in message and "tenere fuori le tabelle" in message
    assert "A1 2024-Q2 totale" in message and "A1 2024-Q2 per sesso" in message
    for value in ("12", "14", "20", "22"):
        assert value not in message.replace("2024", "")
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"audit_riservatezza": False}
    after = sorted(p.relative_to(warehouse) for p in (warehouse / "exports").rglob("*"))
    assert after == before
