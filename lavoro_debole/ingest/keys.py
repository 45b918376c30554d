"""One key for one warehouse: the fingerprint of the pseudonymisation key.

A pseudonym is ``HMAC-SHA256(key, CF)``: the same CF under another key is another
person, and nothing in the rows can tell. So the warehouse records, in
``ops.warehouse_meta``, a fingerprint of the key it was built with (never the key),
and every ingest compares it before writing anything. ``ops`` is never copied to the
analysts' copy (``exports.analytics.PUBLISHED_SCHEMAS``).

The fingerprint is ``HMAC-SHA256(key, b"lavoro-debole/key-fingerprint/v1")`` in hex. It
cannot be a pseudonym of any CF (a normalised CF is 16 upper-case letters and digits,
the message has lower case and slashes), and it reveals nothing usable of a key of at
least 32 random bytes. Messages show at most its first :data:`SHOWN_PREFIX` characters.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from enum import Enum
from pathlib import Path

import duckdb

from lavoro_debole.ingest.identifiers import pseudonym
from lavoro_debole.ingest.readers import UnreadableFileError, read_file
from lavoro_debole.ingest.values import clean_text_value
from lavoro_debole.ingest.warehouse_db import open_warehouse
from lavoro_debole.schemas import normalise_cf
from lavoro_debole.settings import SettingsError

FINGERPRINT_MESSAGE = b"lavoro-debole/key-fingerprint/v1"
META_TABLE = "ops.warehouse_meta"
FINGERPRINT_NAME = "key_fingerprint"
SHOWN_PREFIX = 8
MAX_FILES_TRIED = 20
"""A warehouse without fingerprint: at most this many loaded files are re-read to verify."""

META_DDL = f"""
create table if not exists {META_TABLE} (
    name varchar primary key,
    value varchar not null
)
"""
# The shape of a normalised CF, omocodic letters included (the check digit is not needed:
# a cell only counts when its pseudonym is one the warehouse stored for that file).
CF_SHAPE = re.compile(
    r"[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-EHLMPR-T][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]"
)
WHAT_TO_DO = (
    "Rimettere in .env la chiave LAVORO_PSEUDONYM_KEY con cui il magazzino è stato costruito, "
    "oppure cambiare chiave per tutto il magazzino con `lavoro ruota-chiave` (vedi README)."
)


class WrongKeyError(SettingsError):
    """The key is not the warehouse's; one line, no key material, no value."""


class KeyCheck(Enum):
    RECORDED = "recorded"
    """The recorded fingerprint is this key's."""
    EMPTY = "empty"
    """No fingerprint and no pseudonym yet (a new warehouse): this key may be recorded."""
    VERIFIED = "verified"
    """No fingerprint (a warehouse older than it), but this key remakes stored pseudonyms."""


def key_fingerprint(key: bytes) -> str:
    return hmac.digest(key, FINGERPRINT_MESSAGE, hashlib.sha256).hex()


def _short(fingerprint: str) -> str:
    return fingerprint[:SHOWN_PREFIX] + "…"


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    row = con.execute(
        "select 1 from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return row is not None


def recorded_fingerprint(con: duckdb.DuckDBPyConnection) -> str | None:
    if not _has_table(con, "ops", "warehouse_meta"):
        return None
    row = con.execute(
        f"select value from {META_TABLE} where name = ?", [FINGERPRINT_NAME]
    ).fetchone()
    return None if row is None else str(row[0])


def record_fingerprint(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    """Record (or replace) the key's fingerprint; only after :func:`check_key` allowed it."""
    con.execute("begin transaction")
    try:
        con.execute("create schema if not exists ops")
        con.execute(META_DDL)
        con.execute(f"delete from {META_TABLE} where name = ?", [FINGERPRINT_NAME])
        con.execute(
            f"insert into {META_TABLE} (name, value) values (?, ?)",
            [FINGERPRINT_NAME, key_fingerprint(key)],
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def _pseudonym_columns(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(table, SQL expression of its pseudonyms) for every raw table that holds some."""
    found = []
    for table, column in con.execute(
        """
        select table_name, column_name from information_schema.columns
        where table_schema = 'raw' and column_name in ('person_id', 'employer_code')
        order by table_name, column_name
        """
    ).fetchall():
        if column == "person_id":
            found.append((table, "person_id"))
        else:  # a sole trader's CF is stored as cf:<pseudonym>
            found.append(
                (table, "case when employer_code like 'cf:%' then substr(employer_code, 4) end")
            )
    return found


def _stored_pseudonyms(
    con: duckdb.DuckDBPyConnection, columns: list[tuple[str, str]], sha256: str | None
) -> set[str]:
    values: set[str] = set()
    for table, expression in columns:
        where = "" if sha256 is None else "and file_sha256 = ?"
        limit = "limit 1" if sha256 is None else ""
        rows = con.execute(
            f'select distinct {expression} as p from raw."{table}" '
            f"where {expression} is not null {where} {limit}",
            [] if sha256 is None else [sha256],
        ).fetchall()
        values.update(str(r[0]) for r in rows)
    return values


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _cf_cells(path: Path) -> set[str]:
    """Every CF-shaped cell of a file, normalised as the ingest normalises a CF column."""
    cfs: set[str] = set()
    for sheet in read_file(path):
        for row in sheet.rows:
            for cell in row:
                if not isinstance(cell, str):
                    continue
                text = normalise_cf(clean_text_value(cell))
                if text is not None and len(text) == 16 and CF_SHAPE.fullmatch(text):
                    cfs.add(text)
    return cfs


def _verify_from_inbox(
    con: duckdb.DuckDBPyConnection, key: bytes, inbox_dir: Path | None
) -> bool | None:
    """Re-pseudonymise the CFs of already-loaded files still in the inbox and compare.

    True as soon as one CF of a file gives a pseudonym stored for that file (a wrong key
    cannot do that but by an HMAC collision); False when a file has CF-shaped cells and
    stored pseudonyms and none matches (the right key always matches at least one: every
    stored pseudonym was made from a cell of that very file); None when no file decides
    (files gone from the inbox, changed, unreadable or without CFs).
    """
    if inbox_dir is None or not _has_table(con, "ops", "ingest_files"):
        return None
    columns = _pseudonym_columns(con)
    files = con.execute(
        """
        select feed, file_name, file_sha256 from ops.ingest_files
        where status = 'loaded' and rows_loaded > 0 order by received_seq
        """
    ).fetchall()
    tried = 0
    for feed, file_name, sha256 in files:
        if tried >= MAX_FILES_TRIED:
            break
        path = inbox_dir / feed / file_name
        if path.is_symlink() or not path.is_file() or _file_sha256(path) != sha256:
            continue
        stored = _stored_pseudonyms(con, columns, sha256)
        if not stored:
            continue
        tried += 1
        try:
            cfs = _cf_cells(path)
        except (UnreadableFileError, OSError):
            continue
        if not cfs:
            continue
        return any(pseudonym(cf, key) in stored for cf in cfs)
    return None


def check_key(con: duckdb.DuckDBPyConnection, key: bytes, inbox_dir: Path | None) -> KeyCheck:
    """Whether ``key`` is the warehouse's; raises :class:`WrongKeyError` when it is not.

    Reads only (it works on a read-only connection). A warehouse older than the
    fingerprint (pseudonyms but no fingerprint) fails closed: the key is accepted only
    when it remakes the stored pseudonyms of a file still in the inbox (see
    :func:`_verify_from_inbox`); when no file can tell, it is refused, because a wrong
    key accepted once splits every person in two for good.
    """
    given = key_fingerprint(key)
    stored = recorded_fingerprint(con)
    if stored is not None:
        if hmac.compare_digest(stored, given):
            return KeyCheck.RECORDED
        raise WrongKeyError(
            "La chiave di pseudonimizzazione non è quella con cui è stato costruito il "
            f"magazzino (impronta registrata {_short(stored)}, della chiave data "
            f"{_short(given)}): nulla è stato scritto. " + WHAT_TO_DO
        )
    columns = _pseudonym_columns(con)
    if not columns or not _stored_pseudonyms(con, columns, None):
        return KeyCheck.EMPTY
    verified = _verify_from_inbox(con, key, inbox_dir)
    if verified:
        return KeyCheck.VERIFIED
    if verified is False:
        raise WrongKeyError(
            "La chiave di pseudonimizzazione non è quella con cui è stato costruito il "
            "magazzino (gli pseudonimi di un file già caricato non tornano con questa "
            "chiave): nulla è stato scritto. " + WHAT_TO_DO
        )
    raise WrongKeyError(
        "Il magazzino è stato costruito prima che se ne registrasse la chiave e nessun file "
        "già caricato è ancora nell'inbox, uguale, per verificarla: nulla è stato scritto. "
        "Rimettere in inbox/ i file ricevuti (dal backup) e rilanciare, oppure ricostruire il "
        "magazzino dall'inbox (spostare altrove warehouse.duckdb e lanciare `lavoro run`)."
    )


def ensure_key(con: duckdb.DuckDBPyConnection, key: bytes, inbox_dir: Path | None) -> KeyCheck:
    """:func:`check_key`, then record the fingerprint if it is not recorded yet.

    The first ingest into a new warehouse records it; an older warehouse gets it once
    its key has been verified. Called before the ingest writes anything.
    """
    outcome = check_key(con, key, inbox_dir)
    if outcome is not KeyCheck.RECORDED:
        record_fingerprint(con, key)
    return outcome


def check_warehouse_file(
    warehouse: Path, key: bytes, inbox_dir: Path, *, warehouse_key: bytes | None = None
) -> KeyCheck | None:
    """:func:`check_key` on a warehouse file, read-only; None when there is nothing to check
    yet (no file) or the warehouse is open for writing elsewhere (then the ingest checks it
    again when it gets the warehouse)."""
    if not warehouse.is_file():
        return None
    try:
        con = open_warehouse(warehouse, read_only=True, key=warehouse_key)
    except duckdb.IOException:
        return None
    try:
        return check_key(con, key, inbox_dir)
    finally:
        con.close()
