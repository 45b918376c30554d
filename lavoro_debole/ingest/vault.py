"""The vault: ``vault.duckdb``, the one file that keeps raw values, encrypted at rest.

The rejected rows (``vault.rejected_rows``) keep the CFs and names exactly as the
partners sent them, so they live apart from the warehouse, in a DuckDB file encrypted
with AES-GCM under ``LAVORO_VAULT_KEY``. The warehouse proper holds pseudonymised data
only. A connection works with both by attaching the vault as the catalog ``vault``.

DuckDB writes an encrypted file only with OpenSSL, which comes with the httpfs
extension; it is loaded by its path inside the pinned PyPI package
``duckdb-extension-httpfs`` (``LOAD httpfs`` would look in ``~/.duckdb`` and reach the
network). Reading needs no extension.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

VAULT_CATALOG = "vault"
VAULT_FILE = "vault.duckdb"


class VaultError(RuntimeError):
    """The vault cannot be opened (missing key, wrong key, missing extension)."""


def httpfs_extension_path() -> Path:
    """The httpfs extension of the pinned ``duckdb-extension-httpfs`` package."""
    import duckdb_extension_httpfs

    root = Path(duckdb_extension_httpfs.__file__).parent / "extensions"
    version = duckdb.__version__
    candidate = root / f"v{version}" / "httpfs.duckdb_extension"
    if candidate.is_file():
        return candidate
    found = sorted(root.glob("v*/httpfs.duckdb_extension"))
    if not found:
        raise VaultError(
            "Estensione httpfs non trovata nel pacchetto duckdb-extension-httpfs: "
            "reinstallare l'ambiente (make install)."
        )
    return found[-1]


def load_encryption(con: duckdb.DuckDBPyConnection) -> None:
    """Make encrypted writes possible on this connection (idempotent)."""
    path = str(httpfs_extension_path()).replace("'", "''")
    con.execute(f"load '{path}'")


def is_attached(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "select 1 from duckdb_databases() where database_name = ?", [VAULT_CATALOG]
    ).fetchone()
    return row is not None


def attach_vault(
    con: duckdb.DuckDBPyConnection, path: Path, key: bytes, *, read_only: bool = False
) -> None:
    """Attach the vault at ``path`` to ``con`` as the catalog ``vault``.

    Creates the file when it does not exist (not when ``read_only``). A missing or wrong
    key fails with :class:`VaultError`, whose message holds no part of the key.
    """
    if is_attached(con):
        return
    if not read_only:
        load_encryption(con)
        path.parent.mkdir(parents=True, exist_ok=True)
    quoted_path = str(path).replace("'", "''")
    quoted_key = key.decode("utf-8").replace("'", "''")
    options = f"encryption_key '{quoted_key}'" + (", read_only" if read_only else "")
    try:
        con.execute(f"attach '{quoted_path}' as {VAULT_CATALOG} ({options})")
    except duckdb.Error as exc:
        # DuckDB's message names the file and never the key; say it in Italian.
        raise VaultError(
            f"Impossibile aprire il deposito riservato {path.name}: chiave mancante o errata "
            "(LAVORO_VAULT_KEY) o file danneggiato."
        ) from exc


def detach_vault(con: duckdb.DuckDBPyConnection) -> None:
    if is_attached(con):
        con.execute(f"detach {VAULT_CATALOG}")


@contextmanager
def open_vault(
    path: Path, key: bytes, *, read_only: bool = True
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection of its own with the vault attached as ``vault`` (read-only by default)."""
    con = duckdb.connect()
    try:
        attach_vault(con, path, key, read_only=read_only)
        yield con
    finally:
        con.close()
