"""Key rotation: every pseudonym rebuilt from the inbox with a new key, nothing of the old left.

A pseudonym cannot be re-keyed without the CF it came from, and only the inbox holds
the CFs. So the rotation builds a fresh warehouse beside the old one, in a staging
data directory ``<data>/.ruota-chiave/`` whose inbox is the real one (hard links, or
copies keeping their times, so files are taken in the same order), through the same
ingest and the same Dagster assets as ``lavoro run``. Only when that build succeeded,
records the new key's fingerprint and holds every file the old warehouse had loaded,
is it moved into place with one rename; until then the old warehouse is not touched.

What the rebuild cannot remake is carried over from the old warehouse: when each file
was received (``received_at``, by which Q2 counts per period, and ``received_seq``, the
order of receipt) and every ``ops`` table the ingest does not write (``ops.deliveries``:
which quarters were sent). A carried table with a pseudonym column is refused.

Places holding pseudonyms in a data directory (a byte scan after a run): the warehouse
and the analysts' copy. Both are replaced, as is any other DuckDB file the rebuild writes
at the top of the data directory; the old warehouse's file and its ``.wal`` disappear
with the rename. Dagster's storage, the feedback workbooks and the funders'
workbooks hold none and are kept as they are (the workbooks are releases as sent).
Copies outside the data directory (backups of the warehouse, the analysts' own
extracts) are the operator's to delete; the command says so.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from lavoro_debole.ingest.keys import check_key, key_fingerprint, recorded_fingerprint
from lavoro_debole.ingest.warehouse_db import attach_warehouse, open_warehouse
from lavoro_debole.settings import Settings, SettingsError, default_analytics_dir

STAGING_NAME = ".ruota-chiave"
REBUILT_OPS = frozenset({"ingest_files", "rejected_rows", "warehouse_meta"})
"""The ``ops`` tables the ingest itself writes; every other ``ops`` table is carried over."""
PSEUDONYM_COLUMNS = frozenset({"person_id", "employer_code"})

Builder = Callable[[Settings, Callable[[], None]], bool]
"""Builds the warehouse of a data directory: ingest, then ``after_ingest()``, then the
rest (models, published indicators, analysts' copy); True when everything succeeded."""


class RotationError(Exception):
    """The rotation stopped; the old warehouse and key are still the valid ones."""


@dataclass(frozen=True)
class RotationReport:
    files: int
    persons: int
    carried_tables: tuple[str, ...]


def _wal(path: Path) -> Path:
    return Path(str(path) + ".wal")


def _connect(
    path: Path, *, read_only: bool = False, key: bytes | None = None
) -> duckdb.DuckDBPyConnection:
    try:
        return open_warehouse(path, read_only=read_only, key=key)
    except duckdb.IOException:
        raise RotationError(
            "il magazzino è in uso da un altro processo (l'interfaccia o un'elaborazione): "
            "chiuderlo e rilanciare `lavoro ruota-chiave`; nulla è stato cambiato"
        ) from None


def _attach_old(con: duckdb.DuckDBPyConnection, old_path: Path, key: bytes | None) -> None:
    quoted = str(old_path).replace("'", "''")  # ATTACH takes no parameters
    try:
        if key is not None:
            attach_warehouse(con, old_path, key, alias="old_warehouse", read_only=True)
        else:
            con.execute(f"attach '{quoted}' as old_warehouse (read_only)")
    except duckdb.IOException:
        raise RotationError(
            "il magazzino è in uso da un altro processo (l'interfaccia o un'elaborazione): "
            "chiuderlo e rilanciare `lavoro ruota-chiave`; nulla è stato cambiato"
        ) from None


def _state(con: duckdb.DuckDBPyConnection) -> tuple[tuple[str, int], ...]:
    """Rows per ``ops`` table: if it changes during the rotation, something wrote meanwhile."""
    tables = con.execute(
        "select table_name from duckdb_tables() where schema_name = 'ops' order by table_name"
    ).fetchall()
    return tuple(
        (name, int(con.execute(f'select count(*) from ops."{name}"').fetchone()[0]))
        for (name,) in tables
    )


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:
        shutil.copy2(source, target, follow_symlinks=False)


def prepare_staging(settings: Settings, staging: Path) -> None:
    """A data directory with the same inbox and reference lists, and nothing else."""
    if staging.exists() or staging.is_symlink():
        remove_staging(staging)  # left by a rotation that was killed
    staging.mkdir(mode=0o700)
    if settings.inbox_dir.is_dir():
        # Symlinks stay symlinks (the ingest decides what to do with them, as in the inbox).
        shutil.copytree(
            settings.inbox_dir, staging / "inbox", symlinks=True, copy_function=_link_or_copy
        )
    else:
        (staging / "inbox").mkdir()
    if settings.reference_dir.is_dir():
        shutil.copytree(settings.reference_dir, staging / "reference", symlinks=True)


def remove_staging(staging: Path) -> None:
    """The staging data directory and the analysts' folder its run published beside it."""
    for path in (staging, default_analytics_dir(staging)):
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.exists():
            shutil.rmtree(path)


def carry_over_receipts(
    new: duckdb.DuckDBPyConnection, old_path: Path, key: bytes | None = None
) -> None:
    """When each file was received, as the old warehouse recorded it.

    A file the old warehouse knew keeps its ``received_at`` and ``received_seq`` (in
    ``ops.ingest_files`` and in the lineage of its raw rows); a file it did not know (new
    in the inbox) comes after all of them, in the rebuild's order.
    """
    _attach_old(new, old_path, key)
    try:
        new.execute("begin transaction")
        new.execute(
            """
            create temporary table receipt_map as
            with top as (
                select coalesce(max(received_seq), 0) as seq from old_warehouse.ops.ingest_files
            )
            select n.received_seq as new_seq,
                   coalesce(
                       o.received_seq,
                       (select seq from top)
                       + row_number() over (partition by o.received_seq is null
                                            order by n.received_seq)
                   ) as old_seq,
                   o.received_at as old_at
            from ops.ingest_files as n
            left join old_warehouse.ops.ingest_files as o
                using (feed, file_name, file_sha256)
            """
        )
        new.execute(
            """
            update ops.ingest_files as f
            set received_seq = m.old_seq, received_at = coalesce(m.old_at, f.received_at)
            from receipt_map as m where f.received_seq = m.new_seq
            """
        )
        for (table,) in new.execute(
            """
            select table_name from duckdb_columns()
            where database_name = current_database()
              and schema_name = 'raw' and column_name = 'received_seq'
            """
        ).fetchall():
            new.execute(
                f"""
                update raw."{table}" as r set received_seq = m.old_seq
                from receipt_map as m where r.received_seq = m.new_seq
                """
            )
        new.execute("drop table receipt_map")
        new.execute("commit")
    except Exception:
        new.execute("rollback")
        raise
    finally:
        new.execute("detach old_warehouse")


def carry_over_ops(
    new: duckdb.DuckDBPyConnection, old_path: Path, key: bytes | None = None
) -> tuple[str, ...]:
    """Copy every ``ops`` table of the old warehouse that the rebuild does not write."""
    _attach_old(new, old_path, key)
    carried = []
    try:
        tables = new.execute(
            """
            select table_name, sql from duckdb_tables()
            where database_name = 'old_warehouse' and schema_name = 'ops' order by table_name
            """
        ).fetchall()
        for table, ddl in tables:
            if table in REBUILT_OPS:
                continue
            columns = {
                name
                for (name,) in new.execute(
                    """
                    select column_name from duckdb_columns()
                    where database_name = 'old_warehouse' and schema_name = 'ops'
                      and table_name = ?
                    """,
                    [table],
                ).fetchall()
            }
            if columns & PSEUDONYM_COLUMNS:
                raise RotationError(
                    f"la tabella ops.{table} del magazzino contiene pseudonimi e non si "
                    "ricostruisce dall'inbox: rotazione interrotta, nulla è stato cambiato"
                )
            new.execute("create schema if not exists ops")
            new.execute(f'drop table if exists ops."{table}"')
            new.execute(ddl)
            new.execute(f'insert into ops."{table}" select * from old_warehouse.ops."{table}"')
            carried.append(f"ops.{table}")
    finally:
        new.execute("detach old_warehouse")
    return tuple(carried)


def _check_rebuilt(
    new: duckdb.DuckDBPyConnection, old_path: Path, new_key: bytes, key: bytes | None = None
) -> int:
    """Refuse a rebuild that lost a file or does not carry the new key; returns its persons."""
    if recorded_fingerprint(new) != key_fingerprint(new_key):
        raise RotationError(
            "il magazzino ricostruito non porta l'impronta della nuova chiave: "
            "rotazione interrotta, nulla è stato cambiato"
        )
    _attach_old(new, old_path, key)
    try:
        lost = new.execute(
            """
            select o.feed, count(*) from old_warehouse.ops.ingest_files as o
            where o.status = 'loaded' and not exists (
                select 1 from ops.ingest_files as n
                where n.feed = o.feed and n.file_sha256 = o.file_sha256 and n.status = 'loaded'
            )
            group by o.feed order by o.feed
            """
        ).fetchall()
    finally:
        new.execute("detach old_warehouse")
    if lost:
        where = ", ".join(f"{feed}: {count}" for feed, count in lost)
        raise RotationError(
            "alcuni file caricati nel magazzino non sono più nell'inbox o non si caricano più "
            f"({where}): ricostruire perderebbe le loro righe. Rimetterli in inbox/ dal "
            "backup e rilanciare; nulla è stato cambiato"
        )
    tables = [
        table
        for (table,) in new.execute(
            """
            select table_name from duckdb_columns()
            where database_name = current_database()
              and schema_name = 'raw' and column_name = 'person_id'
            order by table_name
            """
        ).fetchall()
    ]
    persons = 0
    if tables:
        union = " union ".join(f'select person_id from raw."{t}"' for t in tables)
        persons = int(new.execute(f"select count(distinct person_id) from ({union})").fetchone()[0])
    return persons


def rotate_key(settings: Settings, new_key: bytes, build: Builder) -> RotationReport:
    """Rebuild the warehouse of ``settings`` with ``new_key`` and swap it in.

    Raises :class:`~lavoro_debole.ingest.keys.WrongKeyError` when the current key is not
    the warehouse's, :class:`RotationError` when the rebuild fails or would lose
    something; in both cases the old warehouse is left exactly as it was.
    """
    old_key = settings.require_key()
    if new_key == old_key:
        raise SettingsError(
            "LAVORO_NEW_PSEUDONYM_KEY è uguale a LAVORO_PSEUDONYM_KEY: nulla da ruotare."
        )
    warehouse = settings.warehouse_path
    if not warehouse.is_file():
        raise RotationError(
            f"nessun magazzino in {warehouse}: non c'è nulla da ruotare, basta mettere la "
            "nuova chiave in .env come LAVORO_PSEUDONYM_KEY"
        )
    con = _connect(warehouse, key=settings.warehouse_key)
    try:
        check_key(con, old_key, settings.inbox_dir)
        con.execute("checkpoint")
        before = _state(con)
    finally:
        con.close()

    staging = settings.data_dir / STAGING_NAME
    staged = dataclasses.replace(settings, data_dir=staging, pseudonym_key=new_key)
    try:
        prepare_staging(settings, staging)
        carried: tuple[str, ...] | None = None
        persons = 0

        def after_ingest() -> None:
            """Before the models are built: refuse early, and give back what the inbox
            cannot (the models then see the old receipts)."""
            nonlocal carried, persons
            new = _connect(staged.warehouse_path, key=staged.warehouse_key)
            try:
                persons = _check_rebuilt(new, warehouse, new_key, settings.warehouse_key)
                carry_over_receipts(new, warehouse, settings.warehouse_key)
                carried = carry_over_ops(new, warehouse, settings.warehouse_key)
            finally:
                new.close()

        if not build(staged, after_ingest):
            raise RotationError(
                "la ricostruzione del magazzino con la nuova chiave non è riuscita (vedere i "
                "messaggi sopra): il magazzino e la chiave restano quelli di prima"
            )
        if carried is None:
            raise RotationError(
                "la ricostruzione non ha riportato le date di ricezione dal vecchio magazzino: "
                "rotazione interrotta, nulla è stato cambiato"
            )
        new = _connect(staged.warehouse_path, key=staged.warehouse_key)
        try:
            files = int(new.execute("select count(*) from ops.ingest_files").fetchone()[0])
            new.execute("checkpoint")
        finally:
            new.close()
        _swap_in(settings, staged, before)
    finally:
        remove_staging(staging)
    return RotationReport(files=files, persons=persons, carried_tables=carried)


def _move_into(source: Path, target: Path) -> None:
    """One rename; across file systems (an analysts' directory elsewhere) a copy beside the
    target first, then the rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        temp = target.with_name(target.name + ".ruota-chiave.tmp")
        try:
            shutil.copyfile(source, temp)
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)
        source.unlink()


def _swap_in(settings: Settings, staged: Settings, before: tuple[tuple[str, int], ...]) -> None:
    """Every other DuckDB file the rebuild wrote (the analysts' copy), then the warehouse,
    each in one rename.

    The warehouse goes last: if the rotation dies before its rename, the old warehouse
    and key are still valid, and running ``lavoro ruota-chiave`` again finishes the job.
    The old warehouse is checkpointed (its ``.wal`` gone) while this process holds it, so
    the rename leaves no journal of the old file beside the new one.
    """
    warehouse = settings.warehouse_path
    con = _connect(warehouse, key=settings.warehouse_key)
    try:
        if _state(con) != before:
            raise RotationError(
                "il magazzino è cambiato durante la rotazione (un'elaborazione vi ha scritto): "
                "rilanciare `lavoro ruota-chiave`; nulla è stato cambiato"
            )
        con.execute("checkpoint")
    finally:
        con.close()
    staging = staged.data_dir
    if _wal(warehouse).exists() or list(staging.glob("*.wal")):
        raise RotationError(
            "il magazzino ha un giornale (.wal) non ancora scritto: rilanciare "
            "`lavoro ruota-chiave`; nulla è stato cambiato"
        )
    # The staging run publishes the analysts' copy in the staging directory's own
    # analysts' folder, beside it (see orchestration/rebuild.py): it must be outside the
    # data directory it belongs to.
    analytics = default_analytics_dir(staging) / settings.analytics_path.name
    if analytics.is_file():
        _move_into(analytics, settings.analytics_path)
    else:
        settings.analytics_path.unlink(missing_ok=True)  # old pseudonyms, and no new copy
    for path in sorted(staging.glob("*.duckdb")):
        if path.name != warehouse.name:
            _move_into(path, settings.data_dir / path.name)
    os.replace(staging / warehouse.name, warehouse)
