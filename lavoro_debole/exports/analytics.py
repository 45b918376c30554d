"""The analysts' copy: ``analytics.duckdb`` with the pseudonymised models and marts only.

One DuckDB file takes one writer and, while it is open for writing, no reader; so
analysts never touch the live warehouse. The copy is written to a temporary file and
moved into place in one step: an analyst with the old file open keeps reading it,
and nobody ever sees a half-built one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from lavoro_debole.exports.atomic import (
    DiskFullError,
    is_disk_full,
    replace_atomically,
    temp_path_for,
)

PUBLISHED_SCHEMAS = ("staging", "intermediate", "marts", "reference")
"""Never ``raw`` (row lineage), never ``ops`` (the rejected rows keep raw values)."""


@dataclass(frozen=True)
class AnalyticsCopy:
    path: Path
    tables: int


def publish_analytics(warehouse_path: Path, target: Path) -> AnalyticsCopy:
    """Copy the published schemas of the warehouse into ``target``, atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp_name = str(temp_path_for(target))  # DuckDB must create the file itself
    copied = 0
    try:
        con = duckdb.connect(temp_name)
        try:
            quoted = str(warehouse_path).replace("'", "''")  # ATTACH takes no parameters
            con.execute(f"attach '{quoted}' as warehouse (read_only)")
            tables = con.execute(
                """
                select table_schema, table_name from information_schema.tables
                where table_catalog = 'warehouse' and table_schema in ?
                order by table_schema, table_name
                """,
                [list(PUBLISHED_SCHEMAS)],
            ).fetchall()
            for schema in sorted({schema for schema, _ in tables}):
                con.execute(f'create schema if not exists "{schema}"')
            for schema, table in tables:
                con.execute(
                    f'create table "{schema}"."{table}" as '
                    f'select * from warehouse."{schema}"."{table}"'
                )
                copied += 1
            con.execute("detach warehouse")
            con.execute("checkpoint")
        finally:
            con.close()
        replace_atomically(Path(temp_name), target)
    except BaseException as exc:
        Path(temp_name).unlink(missing_ok=True)
        Path(temp_name + ".wal").unlink(missing_ok=True)
        if is_disk_full(exc) and not isinstance(exc, DiskFullError):
            raise DiskFullError() from None
        raise
    return AnalyticsCopy(target, copied)
