"""The one opener of the warehouse: plain without a key, encrypted at rest with one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from lavoro_debole.faults import WarehouseBusyError, connect_waiting
from lavoro_debole.ingest.warehouse_db import (
    WarehouseKeyError,
    catalog_name,
    is_encrypted,
    open_warehouse,
)
from lavoro_debole.settings import SettingsError

KEY = b"chiave-del-magazzino-0123456789abcdef01"
OTHER_KEY = b"altra-chiave-del-magazzino-0123456789ab"
MARK = "VALORE-RICONOSCIBILE-7f3a9c"


def _fill(con: duckdb.DuckDBPyConnection) -> None:
    """What the ingest and dbt write, with unqualified names as the project's SQL uses."""
    con.execute("create schema raw; create schema ops; create schema marts")
    con.execute(f"create table raw.servizi_sociali as select '{MARK}' as person_id, 1 as n")
    con.execute("create table ops.ingest_files as select 'UdP.xlsx' as file_name")
    con.execute("create table main.t as select 42 as v")
    con.execute("create table marts.indicator_values as select * from raw.servizi_sociali")
    con.execute("checkpoint")


def test_with_a_key_the_file_is_encrypted_and_every_unqualified_query_works(tmp_path: Path):
    path = tmp_path / "warehouse.duckdb"
    con = open_warehouse(path, key=KEY)
    _fill(con)
    assert con.execute("select current_database()").fetchone() == ("warehouse",)
    con.close()

    assert is_encrypted(path) is True
    assert not Path(str(path) + ".wal").exists()
    data = path.read_bytes()
    assert MARK.encode() not in data
    assert b"indicator_values" not in data and b"ingest_files" not in data

    again = open_warehouse(path, read_only=True, key=KEY)
    try:
        assert again.execute("select person_id from marts.indicator_values").fetchall() == [(MARK,)]
        assert again.execute("select v from main.t").fetchall() == [(42,)]
        # the catalog is named as when the file is opened directly
        assert again.execute(
            "select count(*) from duckdb_tables() where database_name = 'warehouse'"
        ).fetchone() == (4,)
    finally:
        again.close()


def test_the_same_content_in_a_plain_file_is_found_by_the_byte_scan(tmp_path: Path):
    """The scan above can fail: without a key the very same values are there in clear."""
    path = tmp_path / "warehouse.duckdb"
    con = open_warehouse(path)
    _fill(con)
    con.close()
    assert is_encrypted(path) is False
    data = path.read_bytes()
    assert MARK.encode() in data and b"indicator_values" in data


def test_a_missing_wrong_or_unneeded_key_is_a_settings_error_naming_no_key(tmp_path: Path):
    encrypted = tmp_path / "warehouse.duckdb"
    open_warehouse(encrypted, key=KEY).close()
    plain = tmp_path / "plain" / "warehouse.duckdb"
    plain.parent.mkdir()
    open_warehouse(plain).close()

    with pytest.raises(duckdb.Error):
        duckdb.connect(str(encrypted), read_only=True)  # DuckDB itself refuses it
    cases = {
        "senza": (lambda: open_warehouse(encrypted, read_only=True), "è cifrato"),
        "errata": (
            lambda: open_warehouse(encrypted, read_only=True, key=OTHER_KEY),
            "chiave errata",
        ),
        "errata_scrittura": (lambda: open_warehouse(encrypted, key=OTHER_KEY), "chiave errata"),
        "superflua": (lambda: open_warehouse(plain, key=KEY), "non è cifrato"),
    }
    for name, (opener, said) in cases.items():
        with pytest.raises(WarehouseKeyError) as caught:
            opener()
        message = str(caught.value)
        assert isinstance(caught.value, SettingsError), name
        assert said in message and "LAVORO_WAREHOUSE_KEY" in message, (name, message)
        assert "warehouse.duckdb" in message, name
        for key in (KEY, OTHER_KEY):
            assert key.decode() not in message and key.decode()[:12] not in message, name
        assert caught.value.__cause__ is None and caught.value.__suppress_context__, name
    # the file was left as it was: the right key still opens it
    con = open_warehouse(encrypted, read_only=True, key=KEY)
    con.close()


def test_catalog_name_is_the_one_duckdb_gives_a_file_opened_directly(tmp_path: Path):
    for name in ("warehouse.duckdb", "old.warehouse.duckdb", ".hidden.duckdb"):
        path = tmp_path / name
        con = duckdb.connect(str(path))
        assert con.execute("select current_database()").fetchone() == (catalog_name(path),)
        con.close()


HOLDER = """
import sys, time
from pathlib import Path
from lavoro_debole.ingest.warehouse_db import open_warehouse
con = open_warehouse(Path(sys.argv[1]), key=sys.argv[2].encode())
print("held", flush=True)
time.sleep(60)
"""


def test_another_process_holding_the_encrypted_warehouse_is_still_told_apart(tmp_path: Path):
    """A lock is not a key problem: connect_waiting waits, then says the file is in use."""
    path = tmp_path / "warehouse.duckdb"
    open_warehouse(path, key=KEY).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), KEY.decode()],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(WarehouseBusyError) as caught:
            connect_waiting(path, 0.5, poll_s=0.1, key=KEY)
        assert f"processo {holder.pid}" in str(caught.value)
        assert KEY.decode() not in str(caught.value)
    finally:
        holder.kill()
        holder.wait()
    con = connect_waiting(path, 5, key=KEY)
    con.close()
