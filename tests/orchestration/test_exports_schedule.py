"""The quarterly schedule builds each funder's candidate release; approved, it is mailed once.

A real SMTP server (aiosmtpd) listens on localhost; the runs go through Dagster in
process, on a warehouse whose mart is a small synthetic one (no dbt needed here).
"""

from __future__ import annotations

import datetime as dt
import email
import hashlib
import socket
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from aiosmtpd.controller import Controller

from lavoro_debole.orchestration.export_assets import (
    approval_job,
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
        "coverage_start date, coverage_end date, received_seq integer)"
    )
    con.execute(
        "insert into ops.ingest_files values "
        "('sportello', 'Sportello', 'loaded', '2024-10-01', '2024-10-31', 1), "
        "('provincia_co', 'Provincia', 'loaded', null, '2024-12-31', 2)"
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


def _releases(warehouse: Path) -> list[tuple]:
    con = duckdb.connect(str(warehouse / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(
            "select profile, release_seq, status, approved_by, cells_revised, sha256,"
            " workbook_path from ops.releases order by profile, release_seq"
        ).fetchall()
    finally:
        con.close()


def _attachments(messages) -> dict[str, bytes]:
    found = {}
    for message in messages:
        for part in message.walk():
            if part.get_filename():
                found[part.get_filename()] = part.get_payload(decode=True)
    return found


def test_the_schedule_builds_candidates_and_only_an_approved_release_is_mailed_once(
    warehouse: Path, smtp
):
    instance = _instance_with_quarter()
    defs = dg.Definitions(
        assets=[indicator_published, *export_assets],
        jobs=[quarterly_job, approval_job],
        resources={"warehouse": WarehouseResource()},
    )
    job = defs.resolve_job_def("invio_trimestrale")
    approve = defs.resolve_job_def("approva_rilascio")
    scheduled = {"dagster/schedule_name": "quarterly_exports"}  # as the daemon tags it
    result = job.execute_in_process(instance=instance, partition_key="2024-Q4", tags=scheduled)
    assert result.success
    checks = {
        (e.asset_key.to_user_string(), e.check_name): e.passed
        for e in result.get_asset_check_evaluations()
    }
    assert checks == {
        ("exports/cassa_ammende", "audit_riservatezza"): True,
        ("exports/regione_lombardia", "audit_riservatezza"): True,
    }
    # a candidate is built in exports/<profile>/<quarter>/1/ and nothing is mailed
    workbooks = sorted((warehouse / "exports").rglob("*.xlsx"))
    assert [p.relative_to(warehouse / "exports").as_posix() for p in workbooks] == [
        "cassa_ammende/2024-Q4/1/lavoro_debole_cassa_ammende_2024-Q4.xlsx",
        "regione_lombardia/2024-Q4/1/lavoro_debole_regione_lombardia_2024-Q4.xlsx",
    ]
    assert smtp.messages == []
    assert [r[:3] for r in _releases(warehouse)] == [
        ("cassa_ammende", 1, "candidate"),
        ("regione_lombardia", 1, "candidate"),
    ]
    # built again before approval: the candidate is replaced, same number, still no mail
    assert job.execute_in_process(instance=instance, partition_key="2024-Q4").success
    assert [r[:3] for r in _releases(warehouse)] == [
        ("cassa_ammende", 1, "candidate"),
        ("regione_lombardia", 1, "candidate"),
    ]
    assert len(sorted((warehouse / "exports").rglob("*.xlsx"))) == 2
    assert smtp.messages == []

    # approval without the approver's name is refused and sends nothing
    refused = approve.execute_in_process(
        instance=instance, tags={"lavoro/trimestre": "2024-Q4"}, raise_on_error=False
    )
    assert not refused.success and smtp.messages == []
    approval = {"lavoro/trimestre": "2024-Q4", "lavoro/approvato_da": "Maria Referente"}
    assert approve.execute_in_process(instance=instance, tags=approval).success
    sent = _releases(warehouse)
    assert [r[:4] for r in sent] == [
        ("cassa_ammende", 1, "sent", "Maria Referente"),
        ("regione_lombardia", 1, "sent", "Maria Referente"),
    ]
    assert len(smtp.messages) == 2
    attachments = _attachments(smtp.messages)
    for *_, sha, path in sent:
        assert attachments[Path(path).name] == Path(path).read_bytes()
        assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == sha

    # approving again: nothing is waiting, nothing is mailed
    again = approve.execute_in_process(instance=instance, tags=approval, raise_on_error=False)
    assert not again.success and len(smtp.messages) == 2
    # the schedule again on unchanged data: no new candidate, the sent files untouched
    assert job.execute_in_process(
        instance=instance, partition_key="2024-Q4", tags=scheduled
    ).success
    assert _releases(warehouse) == sent
    for *_, sha, path in sent:
        assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == sha

    # a late file changes a figure of the quarter: release 2, revised, approved, mailed;
    # release 1 stays on disk as it was sent, superseded
    con = duckdb.connect(str(warehouse / "warehouse.duckdb"))
    con.execute(
        "update marts.indicator_values set value = value + 7 where indicator_id = 'A1'"
        " and period = '2024-Q4' and breakdown = 'totale'"
    )
    con.execute("insert into ops.ingest_files values ('sportello', 'S', 'loaded', null, null, 3)")
    con.close()
    assert job.execute_in_process(instance=instance, partition_key="2024-Q4").success
    rebuilt = _releases(warehouse)
    assert [r[:3] for r in rebuilt] == [
        ("cassa_ammende", 1, "sent"),
        ("cassa_ammende", 2, "candidate"),
        ("regione_lombardia", 1, "sent"),
        ("regione_lombardia", 2, "candidate"),
    ]
    assert all(r[4] >= 1 for r in rebuilt if r[1] == 2)
    assert approve.execute_in_process(instance=instance, tags=approval).success
    assert [r[:3] for r in _releases(warehouse)] == [
        ("cassa_ammende", 1, "superseded"),
        ("cassa_ammende", 2, "sent"),
        ("regione_lombardia", 1, "superseded"),
        ("regione_lombardia", 2, "sent"),
    ]
    assert len(smtp.messages) == 4
    for *_, sha, path in sent:
        assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == sha


def test_without_smtp_an_approved_release_waits_to_be_mailed(warehouse: Path):
    instance = _instance_with_quarter()
    result = dg.materialize(
        [indicator_published, *export_assets],
        tags={"dagster/schedule_name": "quarterly_exports"},
        selection=[a.key for a in export_assets],
        partition_key="2024-Q4",
        resources={"warehouse": WarehouseResource()},
        instance=instance,
    )
    assert result.success
    metadata = {
        m.asset_key.to_user_string(): {k: v.value for k, v in m.metadata.items()}
        for m in result.get_asset_materialization_events()
        for m in [m.event_specific_data.materialization]
    }
    for profile in ("cassa_ammende", "regione_lombardia"):
        assert metadata[f"exports/{profile}"]["Stato"] == "candidato (da approvare)"
        assert Path(metadata[f"exports/{profile}"]["File"]).is_file()
    approval = {"lavoro/trimestre": "2024-Q4", "lavoro/approvato_da": "Maria Referente"}
    defs = dg.Definitions(jobs=[approval_job], resources={"warehouse": WarehouseResource()})
    assert (
        defs.resolve_job_def("approva_rilascio")
        .execute_in_process(instance=instance, tags=approval)
        .success
    )
    assert [r[2] for r in _releases(warehouse)] == ["approved", "approved"]
    con = duckdb.connect(str(warehouse / "warehouse.duckdb"), read_only=True)
    messages = [r[0] for r in con.execute("select message from ops.deliveries").fetchall()]
    con.close()
    assert len(messages) == 2 and all("posta non configurata" in m for m in messages)
