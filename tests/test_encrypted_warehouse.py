"""`lavoro run` with LAVORO_WAREHOUSE_KEY (issue 10 §5): the warehouse encrypted at rest.

One run on a generated inbox: ingest, dbt build, published indicators, funder workbooks
and the analysts' copy all work on the encrypted warehouse; its file holds none of the
values it stores in clear (a plain copy of the same warehouse does); it opens neither
without the key nor with another one, and `lavoro run` then stops with one line and the
exit code of a settings error (2), naming no key.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from lavoro_debole.ingest.warehouse_db import is_encrypted, open_warehouse
from lavoro_debole.synthetic import generate_inbox

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LAVORO = Path(sys.executable).parent / "lavoro"
KEY = "cifrato-test-pseudonym-key-0123456789abcdef"
VAULT_KEY = "cifrato-test-vault-key-0123456789abcdef012"
WAREHOUSE_KEY = "cifrato-test-warehouse-key-0123456789abcdef"
WRONG_KEY = "una-chiave-sbagliata-del-magazzino-0123456789"


def _env(data_dir: Path, **extra: str | None) -> dict[str, str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LAVORO_", "DAGSTER_"))},
        "LAVORO_DATA_DIR": str(data_dir),
        "LAVORO_PSEUDONYM_KEY": KEY,
        "LAVORO_VAULT_KEY": VAULT_KEY,
        "LAVORO_WAREHOUSE_KEY": WAREHOUSE_KEY,
        "LAVORO_CUTOFF": "2025-12-31",
    }
    for name, value in extra.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _run(data_dir: Path, **extra: str | None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LAVORO), "run"],
        env=_env(data_dir, **extra),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def encrypted_run(tmp_path_factory: pytest.TempPathFactory):
    data_dir = tmp_path_factory.mktemp("cifrato") / "dati"
    generate_inbox(data_dir, persons=20, seed=11)
    return data_dir, _run(data_dir)


def _warehouse(data_dir: Path) -> duckdb.DuckDBPyConnection:
    return open_warehouse(data_dir / "warehouse.duckdb", read_only=True, key=WAREHOUSE_KEY.encode())


def test_the_run_completes_on_the_encrypted_warehouse(encrypted_run):
    data_dir, completed = encrypted_run
    # 3: the generated inbox plants files that fail their checks (as test_end_to_end.py)
    assert completed.returncode == 3, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert "Esito: completato" in completed.stdout
    assert is_encrypted(data_dir / "warehouse.duckdb") is True
    con = _warehouse(data_dir)
    try:
        files = con.execute("select count(*) from ops.ingest_files").fetchone()[0]
        indicators = con.execute("select count(*) from marts.indicator_values").fetchone()[0]
        persons = con.execute("select count(*) from intermediate.int_persons_resolved").fetchone()[
            0
        ]
    finally:
        con.close()
    assert files > 0 and indicators > 0 and persons > 0
    # the summary read the encrypted warehouse too
    assert f"{indicators} righe in marts.indicator_values" in completed.stdout
    # the funders' workbooks were built from it
    assert list((data_dir / "exports").rglob("*.xlsx"))


def test_the_analysts_copy_is_plain_and_built_from_the_encrypted_warehouse(encrypted_run):
    data_dir, _ = encrypted_run
    copy = data_dir.parent / "dati-analisi" / "analytics.duckdb"
    assert is_encrypted(copy) is False
    analysts = duckdb.connect(str(copy), read_only=True)  # no key: as the analysts open it
    con = _warehouse(data_dir)
    try:
        published = analysts.execute(
            "select count(*) from intermediate.int_persons_resolved"
        ).fetchone()[0]
        expected = con.execute("select count(*) from intermediate.int_persons_resolved").fetchone()[
            0
        ]
    finally:
        analysts.close()
        con.close()
    assert published == expected > 0
    listed = subprocess.run(
        [str(LAVORO), "analisi", "-c", "select count(*) from marts.indicator_values"],
        env=_env(data_dir, LAVORO_WAREHOUSE_KEY=None),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr


def _stored_values(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Values the warehouse stores: pseudonyms, file names, indicator codes, table names."""
    values = {
        r[0]
        for r in con.execute(
            "select person_id from intermediate.int_persons_resolved "
            "union select file_name from ops.ingest_files "
            "union select distinct indicator_name from marts.indicator_values "
            "union select table_name from duckdb_tables() where length(table_name) >= 12"
        ).fetchall()
        if r[0] is not None and len(r[0]) >= 8
    }
    assert len(values) > 20
    return values


def test_the_warehouse_file_holds_nothing_in_clear_and_a_plain_copy_does(
    encrypted_run, tmp_path: Path
):
    data_dir, _ = encrypted_run
    con = _warehouse(data_dir)
    try:
        values = _stored_values(con)
        plain = tmp_path / "in_chiaro.duckdb"
        con.execute(f"attach '{plain}' as in_chiaro")
        con.execute("copy from database warehouse to in_chiaro")
        con.execute("detach in_chiaro")
    finally:
        con.close()
    control = plain.read_bytes()
    assert [v for v in values if v.encode() in control]  # the scan finds them in clear
    files = [p for p in data_dir.iterdir() if p.name.startswith("warehouse.duckdb")]
    spilled = data_dir / ".duckdb_tmp"
    files += [p for p in spilled.rglob("*") if p.is_file()] if spilled.is_dir() else []
    stored = b"".join(p.read_bytes() for p in files)
    assert [v for v in values if v.encode() in stored or v.encode("utf-16-le") in stored] == []


def test_no_file_of_the_run_and_no_line_it_printed_holds_the_key(encrypted_run):
    data_dir, completed = encrypted_run
    assert WAREHOUSE_KEY not in completed.stdout + completed.stderr
    written = [
        *data_dir.rglob("*"),
        *(data_dir.parent / "dati-analisi").rglob("*"),  # the analysts' copy attached it
        *(PROJECT_ROOT / "dbt_project").rglob("*.log"),
    ]
    holding = [p.name for p in written if p.is_file() and WAREHOUSE_KEY.encode() in p.read_bytes()]
    assert holding == []


def test_the_warehouse_opens_neither_without_its_key_nor_with_another(encrypted_run):
    data_dir, _ = encrypted_run
    path = data_dir / "warehouse.duckdb"
    with pytest.raises(duckdb.Error):
        duckdb.connect(str(path), read_only=True)
    con = duckdb.connect()
    try:
        with pytest.raises(duckdb.Error):
            con.execute(f"attach '{path}' as w (encryption_key '{WRONG_KEY}', read_only)")
    finally:
        con.close()


@pytest.mark.parametrize(
    ("warehouse_key", "said"),
    [(None, "è cifrato"), (WRONG_KEY, "chiave errata")],
    ids=["senza_chiave", "chiave_errata"],
)
def test_lavoro_run_without_the_key_or_with_another_stops_with_one_line(
    encrypted_run, warehouse_key, said
):
    data_dir, _ = encrypted_run
    before = (data_dir / "warehouse.duckdb").read_bytes()
    completed = _run(data_dir, LAVORO_WAREHOUSE_KEY=warehouse_key)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 2, output[-3000:]
    assert "Traceback" not in output
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and said in lines[0] and "LAVORO_WAREHOUSE_KEY" in lines[0], lines
    for key in (WAREHOUSE_KEY, WRONG_KEY):
        assert key not in output and key[:16] not in output
    assert (data_dir / "warehouse.duckdb").read_bytes() == before  # nothing was written


def test_a_key_set_on_a_plain_warehouse_stops_with_one_line(tmp_path: Path):
    data_dir = tmp_path / "dati"
    (data_dir / "inbox").mkdir(parents=True)
    open_warehouse(data_dir / "warehouse.duckdb").close()  # a warehouse made without a key
    completed = _run(data_dir)
    assert completed.returncode == 2, (completed.stdout + completed.stderr)[-3000:]
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and "non è cifrato" in lines[0], lines
    assert WAREHOUSE_KEY not in completed.stdout + completed.stderr
