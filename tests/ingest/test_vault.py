"""The vault: rejected rows in their own encrypted file, written before the warehouse."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from lavoro_debole.ingest.pipeline import ingest_feed
from lavoro_debole.ingest.store import ensure_tables, replace_rejected_rows
from lavoro_debole.ingest.vault import VaultError, attach_vault, open_vault
from lavoro_debole.schemas import FEEDS
from tests.factories import KEY, PLANTED_CF, VAULT_KEY
from tests.ingest.test_pipeline import cases_file

FILE = "UdP_Casalpusterlengo_casi_2024.xlsx"


def _ingest(data_dir: Path) -> None:
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"))
    attach_vault(con, data_dir / "vault.duckdb", VAULT_KEY)
    try:
        ingest_feed(
            con, "servizi_sociali", data_dir / "inbox", key=KEY, feedback_dir=data_dir / "fb"
        )
    finally:
        con.close()


def _vault_rows(data_dir: Path) -> list[tuple]:
    with open_vault(data_dir / "vault.duckdb", VAULT_KEY) as con:
        return con.execute(
            "select file_name, row_number, column_name from vault.rejected_rows order by all"
        ).fetchall()


def test_rejected_rows_go_to_the_vault_and_never_to_the_warehouse(tmp_path: Path):
    cases_file(tmp_path)
    _ingest(tmp_path)
    assert len(_vault_rows(tmp_path)) == 4
    warehouse = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    tables = warehouse.execute("select table_name from duckdb_tables()").fetchall()
    warehouse.close()
    assert ("rejected_rows",) not in tables
    for path in tmp_path.glob("*.duckdb*"):
        assert PLANTED_CF.encode() not in path.read_bytes(), path.name


def test_a_crash_between_the_vault_and_the_warehouse_leaves_nothing_doubled(tmp_path: Path):
    """The vault's commit comes first; if the warehouse's never comes, the rerun of the
    file replaces the vault rows of that file instead of adding to them."""
    cases_file(tmp_path)
    _ingest(tmp_path)
    expected = _vault_rows(tmp_path)
    # The warehouse as it would be had the process died before its commit.
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("delete from raw.servizi_sociali")
    con.execute("delete from ops.ingest_files")
    con.close()
    _ingest(tmp_path)
    assert _vault_rows(tmp_path) == expected


def test_an_ingest_without_the_vault_refuses_to_record(tmp_path: Path):
    cases_file(tmp_path)
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    with pytest.raises(VaultError, match="deposito riservato"):
        ingest_feed(
            con, "servizi_sociali", tmp_path / "inbox", key=KEY, feedback_dir=tmp_path / "fb"
        )
    con.close()


def test_an_old_warehouses_rejected_rows_move_into_the_vault(tmp_path: Path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("create schema ops")
    con.execute(
        "create table ops.rejected_rows (feed varchar not null, file_sha256 varchar not null, "
        "file_name varchar not null, sheet varchar, row_number integer not null, "
        "column_name varchar, severity varchar not null, reason varchar not null, value varchar)"
    )
    con.execute(
        "insert into ops.rejected_rows values "
        "('servizi_sociali', 'abc', 'vecchio.xlsx', 'Casi', 7, 'C.F.', 'error', 'motivo', ?)",
        [PLANTED_CF],
    )
    attach_vault(con, tmp_path / "vault.duckdb", VAULT_KEY)
    ensure_tables(con, FEEDS["servizi_sociali"].entities)
    assert con.execute(
        "select count(*) from duckdb_tables() where table_name = 'rejected_rows'"
    ).fetchone() == (1,)
    con.close()
    assert _vault_rows(tmp_path) == [("vecchio.xlsx", 7, "C.F.")]


def test_replace_rejected_rows_needs_the_vault(tmp_path: Path):
    con = duckdb.connect()
    with pytest.raises(VaultError):
        replace_rejected_rows(con, "abc", None)  # type: ignore[arg-type]
    con.close()
