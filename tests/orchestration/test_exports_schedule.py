"""The quarterly schedule builds each funder's workbook and delivers it by SMTP.

A real SMTP server (aiosmtpd) listens on localhost; the run goes through Dagster in
process, on a warehouse whose mart is a small synthetic one (no dbt needed here).
"""

from __future__ import annotations

import datetime as dt
import email
import socket
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from aiosmtpd.controller import Controller

from lavoro_debole.orchestration.export_assets import (
    export_assets,
    indicator_published,
    previous_quarter,
    quarterly_exports,
    quarterly_job,
)
from lavoro_debole.orchestration.resources import WarehouseResource
from tests.exports.export_tables import synthetic_mart
from tests.factories import KEY, VAULT_KEY


class Recorder:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("LAVORO_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("LAVORO_SMTP_PORT", str(port))
    monkeypatch.setenv("LAVORO_SMTP_TLS", "none")
    monkeypatch.setenv("LAVORO_SMTP_FROM", "osservatorio@example.org")
    yield recorder
    controller.stop()


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAVORO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LAVORO_PSEUDONYM_KEY", KEY.decode())
    monkeypatch.setenv("LAVORO_VAULT_KEY", VAULT_KEY.decode())
    monkeypatch.setenv("LAVORO_CUTOFF", "2024-12-31")
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    mart = synthetic_mart(seed=3, year=2024, scale=10)
    con.execute("create schema marts; create schema ops")
    con.register("mart", mart)
    con.execute("create table marts.indicator_values as select * from mart")
    con.execute(
        "create table ops.ingest_files (feed varchar, sender varchar, status varchar, "
        "coverage_start date, coverage_end date)"
    )
    con.execute(
        "insert into ops.ingest_files values "
        "('sportello', 'Sportello', 'loaded', '2024-10-01', '2024-10-31'), "
        "('provincia_co', 'Provincia', 'loaded', null, '2024-12-31')"
    )
    con.close()
    return tmp_path


def test_schedule_asks_for_the_quarter_just_ended_and_adds_it():
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("trimestri", ["2024-Q3"])
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=dt.datetime(2025, 1, 15, 7, 0)
        )
        request = quarterly_exports(context)
        assert request.partition_key == "2024-Q4"
        # Known to Dagster even if the sensor never ran since the quarter ended.
        assert instance.get_dynamic_partitions("trimestri") == ["2024-Q3", "2024-Q4"]
        assert quarterly_exports(context).partition_key == "2024-Q4"
        assert instance.get_dynamic_partitions("trimestri") == ["2024-Q3", "2024-Q4"]
    assert previous_quarter(dt.date(2025, 7, 15)) == "2025-Q2"


def _instance_with_quarter(quarter: str = "2024-Q4") -> dg.DagsterInstance:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("trimestri", [quarter])
    return instance


def test_scheduled_run_writes_and_delivers_each_workbook_once(warehouse: Path, smtp):
    instance = _instance_with_quarter()
    defs = dg.Definitions(
        assets=[indicator_published, *export_assets],
        jobs=[quarterly_job],
        resources={"warehouse": WarehouseResource()},
    )
    job = defs.resolve_job_def("invio_trimestrale")
    scheduled = {"dagster/schedule_name": "quarterly_exports"}  # as the daemon tags it
    result = job.execute_in_process(instance=instance, partition_key="2024-Q4", tags=scheduled)
    assert result.success

    workbooks = sorted((warehouse / "exports").rglob("*.xlsx"))
    assert [p.name for p in workbooks] == [
        "lavoro_debole_cassa_ammende_2024-Q4.xlsx",
        "lavoro_debole_regione_lombardia_2024-Q4.xlsx",
    ]
    assert len(smtp.messages) == 2
    attachments = {}
    for message in smtp.messages:
        for part in message.walk():
            if part.get_filename():
                attachments[part.get_filename()] = part.get_payload(decode=True)
    for path in workbooks:
        assert attachments[path.name] == path.read_bytes()

    checks = {
        (e.asset_key.to_user_string(), e.check_name): e.passed
        for e in result.get_asset_check_evaluations()
    }
    assert checks == {
        ("exports/cassa_ammende", "audit_riservatezza"): True,
        ("exports/regione_lombardia", "audit_riservatezza"): True,
    }

    # The same partition again: not sent twice, recorded as skipped.
    again = job.execute_in_process(instance=instance, partition_key="2024-Q4", tags=scheduled)
    assert again.success
    assert len(smtp.messages) == 2
    # A manual run (Materialize all) rewrites the workbooks and sends nothing.
    assert job.execute_in_process(instance=instance, partition_key="2024-Q4").success
    assert len(smtp.messages) == 2
    # Forced by the steward: sent again.
    forced = job.execute_in_process(
        instance=instance, partition_key="2024-Q4", tags={"lavoro/reinvia": "si"}
    )
    assert forced.success and len(smtp.messages) == 4

    con = duckdb.connect(str(warehouse / "warehouse.duckdb"), read_only=True)
    statuses = con.execute(
        "select profile, status, count(*) from ops.deliveries group by 1, 2 order by 1, 2"
    ).fetchall()
    assert statuses == [
        ("cassa_ammende", "sent", 2),
        ("cassa_ammende", "skipped", 1),
        ("regione_lombardia", "sent", 2),
        ("regione_lombardia", "skipped", 1),
    ]


def test_without_smtp_the_workbook_is_written_and_delivery_skipped(warehouse: Path):
    result = dg.materialize(
        [indicator_published, *export_assets],
        tags={"dagster/schedule_name": "quarterly_exports"},
        selection=[a.key for a in export_assets],
        partition_key="2024-Q4",
        resources={"warehouse": WarehouseResource()},
        instance=_instance_with_quarter(),
    )
    assert result.success
    metadata = {
        m.asset_key.to_user_string(): {k: v.value for k, v in m.metadata.items()}
        for m in result.get_asset_materialization_events()
        for m in [m.event_specific_data.materialization]
    }
    for profile in ("cassa_ammende", "regione_lombardia"):
        assert metadata[f"exports/{profile}"]["Consegna"] == "non spedita"
        assert "posta non configurata" in metadata[f"exports/{profile}"]["Dettaglio consegna"]
        assert Path(metadata[f"exports/{profile}"]["File scritto"]).is_file()
