"""The steward's manual job "aggiorna_magazzino", run by Dagster in process on a
generated inbox: everything is rebuilt, no quarter is asked for, no workbook written."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from lavoro_debole.synthetic import generate_inbox

pytestmark = pytest.mark.slow


def test_the_warehouse_job_loads_builds_and_publishes_without_workbooks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    manifest = generate_inbox(tmp_path, persons=12, seed=5)
    monkeypatch.setenv("LAVORO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LAVORO_PSEUDONYM_KEY", "warehouse-job-test-key-0123456789abcdef")
    monkeypatch.setenv("LAVORO_VAULT_KEY", "warehouse-job-vault-key-0123456789abcdef")
    monkeypatch.setenv("LAVORO_CUTOFF", "2025-12-31")
    from lavoro_debole.orchestration.definitions import defs

    job = defs.resolve_job_def("aggiorna_magazzino")
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success

    loaded = sum(f.rows_loaded for f in manifest.files if f.status == "loaded")
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    try:
        assert con.execute(
            "select sum(rows_loaded) from ops.ingest_files where status = 'loaded'"
        ).fetchone() == (loaded,)
        assert con.execute("select count(*) from marts.indicator_published").fetchone()[0] > 0
    finally:
        con.close()
    assert (tmp_path.parent / f"{tmp_path.name}-analisi" / "analytics.duckdb").is_file()
    assert not (tmp_path / "analytics.duckdb").exists()
    assert (tmp_path / "vault.duckdb").is_file()
    assert not list(tmp_path.glob("exports/**/*.xlsx"))
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "marts/indicator_values" in materialized
    assert not any(key.startswith("exports/") for key in materialized)
