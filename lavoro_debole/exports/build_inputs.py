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


def query_digest(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """The rows of a query (written by this module, no parameters) in any order."""
    try:
        rows, total = con.execute(
            f"select count(*), coalesce(sum(hash(q)::hugeint), 0) from ({sql}) as q"
        ).fetchone()
    except duckdb.CatalogException:
        rows, total = 0, 0  # not created yet: no rows, as once it is created empty
    return digest({"rows": int(rows), "sum": str(total)})


RELEASED_SQL = """
select profile, quarter, release_seq, status, sha256, received_seq
from ops.releases where status <> 'candidate'
"""
RELEASED_CELLS_SQL = """
select c.* from ops.release_cells as c
inner join ops.releases as r using (profile, quarter, release_seq)
where r.status <> 'candidate'
"""
"""Every release approved, sent or superseded, and its cells: what a new candidate is
compared with and protected against (a candidate of its own is what the step writes)."""


def export_step(profile: str, quarter: str) -> str:
    return f"export/{profile}/{quarter}"


def export_inputs(
    con: duckdb.DuckDBPyConnection,
    profile: object,
    quarter: str,
    cutoff: dt.date,
) -> dict[str, object]:
    """What a funder's workbook of a quarter is built from."""
    source = getattr(profile, "source", None)
    profile_digest = file_digest(source) if source is not None else None
    return {
        "indicator_values": table_digest(con, "marts.indicator_values"),
        "ingest_files": table_digest(con, "ops.ingest_files"),
        "released": query_digest(con, RELEASED_SQL),
        "released_cells": query_digest(con, RELEASED_CELLS_SQL),
        "profile": profile_digest or digest(repr(profile)),
        "quarter": quarter,
        "cutoff": cutoff.isoformat(),
        "code": code_version(),
    }


PUBLISHED_STEP = "indicator_published"


def published_inputs(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """What ``marts.indicator_published`` is computed from, and the table itself (so that
    a table replaced or dropped by hand is computed again)."""
    return {
        "indicator_values": table_digest(con, "marts.indicator_values"),
        "indicator_published": table_digest(con, "marts.indicator_published"),
        "code": code_version(),
    }


ANALYTICS_STEP = "analytics"


def analytics_inputs(
    con: duckdb.DuckDBPyConnection,
    tables: Iterable[str],
    *,
    pseudonym_key: bytes,
    cutoff: dt.date,
    files: Iterable[Path],
) -> dict[str, object]:
    """What the analysts' copy is made of: the tables it copies, the key it re-keys with
    (by a fingerprint, never the key), the cut-off, the code, and the files it wrote."""
    fingerprint = hashlib.sha256(b"lavoro/build_inputs/" + pseudonym_key).hexdigest()
    return {
        "tables": tables_digest(con, tables),
        "key": fingerprint,
        "cutoff": cutoff.isoformat(),
        "code": code_version(),
        "files": {str(p): file_digest(p) for p in sorted(files)},
    }
