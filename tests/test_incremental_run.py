"""An incremental `lavoro run` gives exactly what a full one gives (issue 14 §1).

On one generated inbox: (a) a full run without the desk's December file, (b) that file
added and a second, incremental run, against (c) a full run of the whole inbox in another
data directory. Every warehouse table (raw, staging, intermediate, marts, ops; timestamps,
file hashes of workbooks and paths aside) and every workbook cell must be the same. Then a
run with nothing new must change no table and no file of the exports or the analysts' copy.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import openpyxl
import pytest

from lavoro_debole.exports.build_inputs import table_digest
from lavoro_debole.synthetic import generate_inbox

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LAVORO = Path(sys.executable).parent / "lavoro"
LATE = Path("sportello") / "sportello_contatti_2025_12.csv"
SKIPPED_COLUMNS = {"workbook_path", "sha256", "inputs"}
"""Where a release's workbook lies and its bytes' hash (the file holds its build time)."""
SKIPPED_TABLES = {"ops.build_inputs"}
STAMP = re.compile(r"\d{2}/\d{2}/\d{4},? \d{2}:\d{2}|\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")


def _env(data_dir: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("LAVORO_")},
        "LAVORO_DATA_DIR": str(data_dir),
        "LAVORO_ANALYTICS_DIR": str(data_dir.parent / f"{data_dir.name}_analisi"),
        "LAVORO_PSEUDONYM_KEY": "incremental-test-key-0123456789abcdef01",
        "LAVORO_VAULT_KEY": "incremental-test-vault-0123456789abcdef0",
        "LAVORO_CUTOFF": "2025-12-31",
        "DAGSTER_HOME": str(data_dir / "dagster"),
    }


def _run(data_dir: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(LAVORO), "run"],
        env=_env(data_dir),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode in (0, 3), done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _tables(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, list[str]]:
    rows = con.execute(
        "select table_schema, table_name, column_name, data_type from information_schema.columns"
        " where table_catalog = ? order by table_schema, table_name, ordinal_position",
        [catalog],
    ).fetchall()
    tables: dict[str, list[str]] = {}
    for schema, table, column, kind in rows:
        if f"{schema}.{table}" in SKIPPED_TABLES:
            continue
        columns = tables.setdefault(f"{schema}.{table}", [])
        if not kind.startswith("TIMESTAMP") and column not in SKIPPED_COLUMNS:
            columns.append(f'"{column}"')
    return tables


def _differences(a: Path, b: Path) -> list[str]:
    con = duckdb.connect()
    con.execute(f"attach '{a}' as a (read_only)")
    con.execute(f"attach '{b}' as b (read_only)")
    left, right = _tables(con, "a"), _tables(con, "b")
    problems = [f"{t}: only in one warehouse" for t in sorted(set(left) ^ set(right))]
    for table in sorted(set(left) & set(right)):
        if left[table] != right[table]:
            problems.append(f"{table}: columns differ")
            continue
        cols = ", ".join(left[table])
        for x, y in (("a", "b"), ("b", "a")):
            extra = con.execute(
                f"select count(*) from (select {cols} from {x}.{table}"
                f" except all select {cols} from {y}.{table})"
            ).fetchone()[0]
            if extra:
                problems.append(f"{table}: {extra} rows of {x} not in {y}")
    con.close()
    return problems


def _cells(path: Path) -> dict[tuple[str, str], object]:
    book = openpyxl.load_workbook(path)
    cells = {}
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                value = cell.value
                if isinstance(value, dt.datetime):
                    continue  # the build time
                if isinstance(value, str) and STAMP.search(value):
                    value = STAMP.sub("<ora>", value)
                if value is not None:
                    cells[(sheet.title, cell.coordinate)] = value
    return cells


def _workbooks(data_dir: Path) -> dict[str, Path]:
    return {
        str(p.relative_to(data_dir / "exports")): p
        for p in sorted((data_dir / "exports").rglob("*.xlsx"))
    }


def _files(data_dir: Path) -> dict[str, tuple[int, str]]:
    """mtime and sha256 of every file of the exports and of the analysts' copy."""
    found = {}
    for root in (data_dir / "exports", data_dir.parent / f"{data_dir.name}_analisi"):
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            found[str(path)] = (
                path.stat().st_mtime_ns,
                hashlib.sha256(path.read_bytes()).hexdigest(),
            )
    return found


def _digests(warehouse: Path) -> dict[str, str | None]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = [
            f"{s}.{t}"
            for s, t in con.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        ]
        return {t: table_digest(con, t) for t in sorted(tables) if t not in SKIPPED_TABLES}
    finally:
        con.close()


def _built_by_last_dbt(data_dir: Path) -> set[str]:
    """The models and seeds dbt's last invocation built (its run_results.json)."""
    last = max((data_dir / "dbt" / "target").glob("*/run_results.json"), key=os.path.getmtime)
    results = json.loads(last.read_text(encoding="utf-8"))["results"]
    return {
        r["unique_id"].split(".")[-1]
        for r in results
        if r["unique_id"].split(".")[0] in ("model", "seed")
    }


def test_an_incremental_run_equals_a_full_one_and_nothing_new_changes_nothing(tmp_path: Path):
    source = tmp_path / "fonte"
    generate_inbox(source, persons=12, seed=11)
    assert (source / "inbox" / LATE).is_file()
    incremental, full = tmp_path / "incrementale", tmp_path / "completo"
    shutil.copytree(source / "inbox", incremental / "inbox")
    (incremental / "inbox" / LATE).unlink()
    shutil.copytree(source / "inbox", full / "inbox")

    _run(incremental)  # (a)
    shutil.copy2(source / "inbox" / LATE, incremental / "inbox" / LATE)
    second = _run(incremental)  # (b)
    # it was incremental: dbt built the desk's models, not the other feeds'
    assert "modelli e test (dbt): fatto, solo i modelli a valle dei dati nuovi" in second.stdout
    built = _built_by_last_dbt(incremental)
    assert {"stg_sportello__contacts", "int_persons_resolved", "indicator_values"} <= built
    assert not {"stg_cfp__courses", "stg_provincia_co__events", "int_trainings_dated"} & built
    assert "File nuovi: 1 " in second.stdout
    _run(full)  # (c)

    assert _differences(incremental / "warehouse.duckdb", full / "warehouse.duckdb") == []
    books_incremental, books_full = _workbooks(incremental), _workbooks(full)
    assert books_incremental and set(books_incremental) == set(books_full)
    for name, path in books_incremental.items():
        assert _cells(path) == _cells(books_full[name]), name

    # nothing new: no table, no workbook, no analysts' file changes
    tables, files = _digests(incremental / "warehouse.duckdb"), _files(incremental)
    assert any("analytics.duckdb" in name for name in files)
    third = _run(incremental)
    assert "File nuovi: 0 " in third.stdout
    assert "modelli e test (dbt): fatto, invariato" in third.stdout
    assert "Invariati, non rifatti" in third.stdout
    assert _digests(incremental / "warehouse.duckdb") == tables
    assert _files(incremental) == files
