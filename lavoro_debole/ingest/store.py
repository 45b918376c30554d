"""The warehouse's door-side tables: ``raw.<entity>``, ``ops.ingest_files``, and the vault's
``vault.rejected_rows`` (the raw values, in their own encrypted file: see ``vault.py``).

Table shapes are derived from the schemas, so adding a column to a feed module is
enough to store it. Each file is written in one transaction: a crash never leaves
half a file behind, and re-running the ingest picks the file up again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import duckdb
import pandas as pd

from lavoro_debole.ingest import vault
from lavoro_debole.schemas import Entity

LINEAGE_COLUMNS: dict[str, str] = {
    "file_sha256": "VARCHAR NOT NULL",
    "file_name": "VARCHAR NOT NULL",
    "sheet": "VARCHAR",
    "row_number": "INTEGER NOT NULL",
    "reference_date": "DATE",
    "received_seq": "INTEGER NOT NULL",
    "sender": "VARCHAR",
}
PERSON_COLUMN_TYPES: dict[str, str] = {
    "person_id": "VARCHAR",
    "person_sex": "VARCHAR",
    "person_birth_yy": "SMALLINT",
    "person_birth_month": "SMALLINT",
    "person_birth_day": "SMALLINT",
    "person_born_abroad": "BOOLEAN",
}
KIND_TYPES = {
    "date": "DATE",
    "number": "DOUBLE",
    "integer": "INTEGER",
    "yesno": "BOOLEAN",
}

INGEST_FILES_DDL = """
create table if not exists ops.ingest_files (
    file_sha256 varchar not null,
    feed varchar not null,
    file_name varchar not null,
    sender varchar,
    status varchar not null,
    rows_data integer not null,
    rows_loaded integer not null,
    rows_rejected integer not null,
    rows_warned integer not null,
    rows_skipped integer not null,
    error varchar,
    reference_date date,
    coverage_start date,
    coverage_end date,
    received_seq integer not null,
    received_at timestamp not null,
    sheets_read varchar,
    sheets_ignored varchar,
    feedback_file varchar,
    file_modified_at timestamp
)
"""
INGEST_FILES_MIGRATIONS = (
    # a log written before the file's arrival time was recorded (Q1's timeliness)
    "alter table ops.ingest_files add column if not exists file_modified_at timestamp",
)
REJECTED_ROWS_DDL = """
create table if not exists vault.rejected_rows (
    feed varchar not null,
    file_sha256 varchar not null,
    file_name varchar not null,
    sheet varchar,
    row_number integer not null,
    column_name varchar,
    severity varchar not null,
    reason varchar not null,
    value varchar
)
"""
REFERENCE_DDL = (
    """
create table if not exists raw.reference_cooperative_sociali (
    ragione_sociale varchar,
    partita_iva varchar
)
""",
    """
create table if not exists raw.reference_expected_senders (
    flusso varchar,
    mittente varchar,
    cadenza varchar,
    giorni_concessi integer,
    attivo_dal date,
    attivo_al date
)
""",
)


def raw_columns(entity: Entity) -> dict[str, str]:
    """Column name -> SQL type of ``raw.<entity.table>``, in a stable order."""
    columns = dict(LINEAGE_COLUMNS)
    for name in entity.context_columns:
        columns[name] = "VARCHAR"
    for col in entity.columns:
        if not col.stored:
            continue
        if col.kind == "cf":
            columns.update(PERSON_COLUMN_TYPES)
        elif col.kind == "employer_code":
            columns["employer_code"] = "VARCHAR"
            columns["employer_code_kind"] = "VARCHAR"
        else:
            columns[col.name] = KIND_TYPES.get(col.kind, "VARCHAR")
    columns.update(entity.derived_columns)
    return columns


def ensure_tables(con: duckdb.DuckDBPyConnection, entities: Iterable[Entity]) -> None:
    """The door-side tables, and the vault's when the vault is attached (the ingest
    attaches it; :func:`replace_rejected_rows` refuses to run without it)."""
    con.execute("create schema if not exists raw")
    con.execute("create schema if not exists ops")
    con.execute(INGEST_FILES_DDL)
    for migration in INGEST_FILES_MIGRATIONS:
        con.execute(migration)
    if vault.is_attached(con):
        ensure_vault_tables(con)
    for ddl in REFERENCE_DDL:
        con.execute(ddl)
    for entity in entities:
        body = ",\n    ".join(
            f'"{name}" {sql_type}' for name, sql_type in raw_columns(entity).items()
        )
        con.execute(f"create table if not exists raw.{entity.table} (\n    {body}\n)")


def ensure_vault_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``vault.rejected_rows`` and move into it any ``ops.rejected_rows`` an earlier
    version kept in the warehouse (vault first, then the warehouse's copy is dropped)."""
    con.execute(REJECTED_ROWS_DDL)
    old = con.execute(
        "select 1 from duckdb_tables() where database_name = current_database() "
        "and schema_name = 'ops' and table_name = 'rejected_rows'"
    ).fetchone()
    if old is None:
        return
    con.execute(
        "insert into vault.rejected_rows select * from ops.rejected_rows "
        "where file_sha256 not in (select file_sha256 from vault.rejected_rows)"
    )
    con.execute("drop table ops.rejected_rows")
    con.execute("checkpoint")


def replace_rejected_rows(
    con: duckdb.DuckDBPyConnection, file_sha256: str, rows: pd.DataFrame
) -> None:
    """The file's rejected rows in the vault, in a transaction of their own: any rows of the
    same file left by an interrupted earlier run are replaced, not doubled."""
    if not vault.is_attached(con):
        raise vault.VaultError(
            "Il deposito riservato (vault.duckdb) non è collegato: le righe scartate "
            "non vanno mai nel magazzino."
        )
    con.execute("begin transaction")
    try:
        con.execute("delete from vault.rejected_rows where file_sha256 = ?", [file_sha256])
        append_frame(con, "vault.rejected_rows", rows)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


@contextmanager
def one_checkpoint(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Write a batch of files to the WAL and checkpoint once, at the end.

    DuckDB checkpoints whenever the WAL passes 16 MiB; during an ingest of many files
    that rewrites the growing tables' last row groups again and again. Each file's
    transaction is still durable in the WAL when it commits.
    """
    previous = con.execute("select current_setting('checkpoint_threshold')").fetchone()[0]
    con.execute("set checkpoint_threshold = '1GiB'")
    try:
        yield
    finally:
        con.execute(f"set checkpoint_threshold = '{previous}'")
        con.execute("checkpoint")


def append_frame(con: duckdb.DuckDBPyConnection, table: str, incoming: pd.DataFrame) -> None:
    """Insert a DataFrame by column name (missing columns become null).

    DuckDB reads the local DataFrame ``incoming`` by its name (a replacement scan):
    ``register`` would cost ~15 ms per call, whatever the frame's size.
    """
    if incoming.empty:
        return
    columns = ", ".join(f'"{c}"' for c in incoming.columns)
    con.execute(f"insert into {table} ({columns}) select {columns} from incoming")


def known_file(con: duckdb.DuckDBPyConnection, feed: str, file_name: str, sha256: str) -> bool:
    """True when this exact file (name and content) was already processed."""
    row = con.execute(
        "select 1 from ops.ingest_files where feed = ? and file_name = ? and file_sha256 = ?",
        [feed, file_name, sha256],
    ).fetchone()
    return row is not None


def known_content(con: duckdb.DuckDBPyConnection, sha256: str) -> tuple[str, str | None] | None:
    """(name, sender) under which the same bytes were already received, if any."""
    row = con.execute(
        "select file_name, sender from ops.ingest_files "
        "where file_sha256 = ? and status <> 'duplicate' order by received_seq limit 1",
        [sha256],
    ).fetchone()
    return None if row is None else (row[0], row[1])


def next_received_seq(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("select coalesce(max(received_seq), 0) + 1 from ops.ingest_files").fetchone()
    return int(row[0])


def set_feedback(
    con: duckdb.DuckDBPyConnection,
    sha256: str,
    received_seq: int,
    feedback_file: str | None,
    error: str | None = None,
) -> None:
    """Note, once the file is recorded, its feedback workbook (or why it is missing)."""
    con.execute(
        "update ops.ingest_files set feedback_file = ?, error = coalesce(?, error) "
        "where file_sha256 = ? and received_seq = ?",
        [feedback_file, error, sha256, received_seq],
    )


def replace_reference(con: duckdb.DuckDBPyConnection, rows: list[tuple[str, str]]) -> None:
    """The steward's list of type-B social cooperatives (empty: dbt uses its default seed)."""
    con.execute("delete from raw.reference_cooperative_sociali")
    if rows:
        con.executemany("insert into raw.reference_cooperative_sociali values (?, ?)", rows)


def replace_expected_senders(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    """The steward's list of expected senders (empty: dbt uses its default seed)."""
    con.execute("begin transaction")
    try:
        con.execute("delete from raw.reference_expected_senders")
        if rows:
            con.executemany(
                "insert into raw.reference_expected_senders values (?, ?, ?, ?, ?, ?)", rows
            )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
