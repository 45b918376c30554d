"""The one way to open the warehouse: plain, or encrypted at rest under ``LAVORO_WAREHOUSE_KEY``.

Without a key the warehouse is a plain DuckDB file opened as it always was. With a key it
is encrypted with DuckDB's own AES-GCM: the connection is an in-memory DuckDB to which
the file is attached (``ATTACH … (ENCRYPTION_KEY …)``) under the name DuckDB would give it
when opened directly (``warehouse`` for ``warehouse.duckdb``) and made the default with
``USE``, so that every query (``raw.…``, ``ops.…``, ``main.…``, the marts) and
``checkpoint`` work unchanged. dbt attaches it the same way (``dbt_project/profiles.yml``
and :mod:`lavoro_debole.dbt_warehouse`).

Writing an encrypted file needs OpenSSL, which comes with the httpfs extension, loaded by
its path inside the pinned ``duckdb-extension-httpfs`` package (as for the vault);
reading needs no extension.

A missing, wrong or unneeded key fails with :class:`WarehouseKeyError`, a settings error
(``lavoro`` exits with 2) whose Italian message names the file and the variable, never
the key. Any other DuckDB error (another process holding the file, a full disk) is
raised unchanged, so that :func:`lavoro_debole.faults.connect_waiting` still tells them.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from lavoro_debole.ingest.vault import load_encryption
from lavoro_debole.settings import SettingsError

KEY_VARIABLE = "LAVORO_WAREHOUSE_KEY"

_KEY_TEXT = re.compile(r"encrypt", re.IGNORECASE)


class WarehouseKeyError(SettingsError):
    """The warehouse cannot be opened with the key given (or without one)."""


def catalog_name(path: Path) -> str:
    """The catalog name DuckDB gives a file it opens directly: ``warehouse.duckdb`` ->
    ``warehouse`` (the first non-empty dot-separated part of the name)."""
    return Path(path).name.lstrip(".").split(".")[0] or "warehouse"


def is_encrypted(path: Path) -> bool | None:
    """Whether the DuckDB file at ``path`` is encrypted (None: no such file)."""
    path = Path(path)
    if not path.is_file():
        return None
    con = duckdb.connect()
    try:
        quoted = str(path).replace("'", "''")
        con.execute(f"attach '{quoted}' as probe (read_only)")
    except duckdb.Error as exc:
        return bool(_KEY_TEXT.search(str(exc)))
    finally:
        con.close()
    return False


def key_error(path: Path, key: bytes | None) -> WarehouseKeyError:
    """The Italian message for a key that does not open ``path`` (the key never in it)."""
    name = Path(path).name
    if key is None:
        return WarehouseKeyError(
            f"Il magazzino {name} è cifrato: impostare {KEY_VARIABLE} con la chiave con cui "
            "è stato creato (in .env, fuori dal repository)."
        )
    if is_encrypted(path) is False:
        return WarehouseKeyError(
            f"{KEY_VARIABLE} è impostata ma il magazzino {name} non è cifrato (creato senza "
            f"chiave): togliere {KEY_VARIABLE}, oppure spostare il magazzino da parte e "
            "rilanciare `lavoro run` per ricostruirlo cifrato dai file dell'inbox."
        )
    return WarehouseKeyError(
        f"Il magazzino {name} non si apre con la chiave {KEY_VARIABLE} data: chiave errata "
        "o file danneggiato. Rimettere la chiave con cui è stato creato."
    )


def attach_warehouse(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    key: bytes,
    *,
    alias: str | None = None,
    read_only: bool = False,
) -> str:
    """Attach the encrypted warehouse at ``path`` to ``con`` as ``alias`` (default: its
    :func:`catalog_name`); creates the file when it does not exist and not ``read_only``.
    Returns the alias. Raises :class:`WarehouseKeyError` for a key that does not fit."""
    alias = alias or catalog_name(path)
    if not read_only:
        load_encryption(con)
    quoted_path = str(path).replace("'", "''")  # ATTACH takes no parameters
    quoted_key = key.decode("utf-8").replace("'", "''")
    options = f"encryption_key '{quoted_key}'" + (", read_only" if read_only else "")
    try:
        con.execute(f"attach '{quoted_path}' as \"{alias}\" ({options})")
    except duckdb.Error as exc:
        if _KEY_TEXT.search(str(exc)):
            raise key_error(path, key) from None
        raise
    return alias


def open_warehouse(
    path: Path,
    *,
    read_only: bool = False,
    key: bytes | None = None,
    config: dict[str, str] | None = None,
) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse at ``path`` where every existing query works.

    ``key`` None: ``duckdb.connect(path)`` as always (an encrypted file then fails with
    :class:`WarehouseKeyError`). With a key: an in-memory connection with the encrypted
    file attached under its usual catalog name and made the default (``USE``).
    """
    if key is None:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=config or {})
        except duckdb.Error as exc:
            if _KEY_TEXT.search(str(exc)):
                raise key_error(path, None) from None
            raise
    con = duckdb.connect(config=config or {})
    try:
        alias = attach_warehouse(con, Path(path), key, read_only=read_only)
        con.execute(f'use "{alias}"')
    except BaseException:
        con.close()
        raise
    return con
