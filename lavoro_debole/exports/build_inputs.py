"""What a step last built from: content hashes of its inputs, kept in ``ops.build_inputs``.

A step (the dbt build, the published indicators, a funder's workbook of a quarter, the
analysts' copy) records, after it succeeded, one digest per input: the contents of each
warehouse table it reads, the files it reads (profiles, the dbt project), the settings
that shape it and the code that computes it. The next run computes the same digests and
does the step again only when one of them differs, or when nothing is recorded (first
run, a rebuilt or recovered warehouse: a new file has no ``ops.build_inputs``).

A table's digest is its columns (names and types) and the sum of the hashes of its rows:
the order in which a parallel build wrote them does not matter, a row repeated counts
twice. DuckDB's ``hash`` may change between DuckDB versions; the DuckDB version is part of
:func:`code_version`, so a new DuckDB means one full rebuild.

No digest is a value: a hash of a whole table, never of a cell, and nothing here is
logged. Digests only ever leave as "unchanged" or "changed".
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import importlib.metadata
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb

PACKAGE_DIR = Path(__file__).resolve().parent.parent
LIBRARIES = ("duckdb", "dbt-core", "dbt-duckdb", "openpyxl", "pandas", "highspy", "scipy")
"""Libraries whose version changes what a step computes or writes."""

BUILD_INPUTS_DDL = """
create table if not exists ops.build_inputs (
    step varchar primary key,
    inputs json not null,
    built_at timestamp not null
)
"""


def _sha(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def digest(value: object) -> str:
    """A digest of a JSON-able value (settings, a list of digests)."""
    return _sha(json.dumps(value, sort_keys=True, default=str))


def files_digest(paths: Iterable[Path], root: Path | None = None) -> str:
    """The names (relative to ``root``) and bytes of files, in name order."""
    h = hashlib.sha256()
    for path in sorted(paths):
        name = str(path.relative_to(root)) if root is not None else str(path)
        h.update(name.encode("utf-8") + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def file_digest(path: Path) -> str | None:
    """sha256 of one file, None when it does not exist."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


@functools.cache
def code_version() -> str:
    """This package's Python code and the versions of the libraries that compute with it."""
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    sources = [p for p in PACKAGE_DIR.rglob("*.py") if "__pycache__" not in p.parts]
    return digest({"libraries": versions, "code": files_digest(sources, PACKAGE_DIR)})


def table_digest(con: duckdb.DuckDBPyConnection, table: str) -> str | None:
    """The contents of ``schema.table`` in any row order; None when it does not exist."""
    schema, name = table.split(".")
    columns = con.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, name],
    ).fetchall()
    if not columns:
        return None
    quoted = f'"{schema.replace(chr(34), "")}"."{name.replace(chr(34), "")}"'
    rows, total = con.execute(
        f"select count(*), coalesce(sum(hash(t)::hugeint), 0) from {quoted} as t"
    ).fetchone()
    return digest({"columns": columns, "rows": int(rows), "sum": str(total)})


def tables_digest(con: duckdb.DuckDBPyConnection, tables: Iterable[str]) -> dict[str, str | None]:
    return {table: table_digest(con, table) for table in sorted(set(tables))}


def existing_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """``schema.table`` of every table and view of the warehouse."""
    return {
        f"{schema}.{name}"
        for schema, name in con.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
    }


def recorded_inputs(con: duckdb.DuckDBPyConnection, step: str) -> dict[str, object] | None:
    """What ``step`` was last built from, None when it never was (or before this table)."""
    try:
        row = con.execute("select inputs from ops.build_inputs where step = ?", [step]).fetchone()
    except duckdb.CatalogException:
        return None
    return json.loads(row[0]) if row else None


def record_inputs(con: duckdb.DuckDBPyConnection, step: str, inputs: Mapping[str, object]) -> None:
    """After ``step`` succeeded: what it was built from."""
    con.execute("create schema if not exists ops")
    con.execute(BUILD_INPUTS_DDL)
    con.execute(
        "insert or replace into ops.build_inputs (step, inputs, built_at) values (?, ?, ?)",
        [step, json.dumps(dict(inputs), sort_keys=True, default=str), dt.datetime.now()],
    )


def unchanged(recorded: Mapping[str, object] | None, current: Mapping[str, object]) -> bool:
    """True only when something was recorded and every input is the same."""
    return recorded is not None and dict(recorded) == dict(current)
