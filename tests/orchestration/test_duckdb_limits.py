"""DuckDB runs under the memory limit of the settings, spilling under the data directory,
in the pipeline's own connections and in dbt's (issue 14 §2)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from lavoro_debole.orchestration.dbt import DbtResource
from lavoro_debole.orchestration.resources import WarehouseResource
from lavoro_debole.settings import SettingsError, load_settings
from tests.factories import KEY


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAVORO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LAVORO_PSEUDONYM_KEY", KEY.decode())
    monkeypatch.setenv("LAVORO_CUTOFF", "2025-12-31")
    monkeypatch.setenv("LAVORO_DUCKDB_MEMORY_LIMIT", "1GB")
    return tmp_path


def test_the_warehouse_connection_is_bounded_and_spills_in_the_data_directory(data_dir: Path):
    with WarehouseResource().connect() as con:
        limit, temp = con.execute(
            "select current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchone()
    assert limit == "953.6 MiB"  # DuckDB's spelling of 1 GB
    assert Path(temp) == data_dir / ".duckdb_tmp"


def test_dbt_runs_under_the_same_limit(data_dir: Path):
    duckdb.connect(str(data_dir / "warehouse.duckdb")).close()
    invocation = DbtResource().cli(["run-operation", "duckdb_settings_report"])
    lines = [
        event.raw_event.get("info", {}).get("msg", "") for event in invocation.stream_raw_events()
    ]
    [report] = [line for line in lines if line.startswith("duckdb: ")]
    assert report == f"duckdb: 953.6 MiB|{data_dir / '.duckdb_tmp'}"


def test_a_malformed_limit_is_a_settings_error():
    with pytest.raises(SettingsError, match="LAVORO_DUCKDB_MEMORY_LIMIT"):
        load_settings({"LAVORO_DUCKDB_MEMORY_LIMIT": "tanta"})
    assert load_settings({}).duckdb_memory_limit == "3GB"
