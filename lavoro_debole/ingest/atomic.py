"""Writing an output file so that a reader sees the old version or the new, never half.

The file is written beside its target under a temporary name of ours (hidden, ending
in ``.lavoro-tmp``), fsynced, renamed over the target, and the folder fsynced. A failure
removes the temporary file; a kill leaves one that the next ``lavoro run`` removes. A
full disk becomes :class:`DiskFullError`, whose message names the file only.

The exports room has the same module (``exports/atomic.py``): rooms import no
other room; a test keeps the two the same.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

import duckdb

TEMP_MARK = ".lavoro-tmp"
"""Every temporary output of ours ends with this: a run cleans up what a killed one left."""

DISK_FULL_MESSAGE = (
    "Spazio su disco esaurito nella cartella dati: elaborazione interrotta. Liberare spazio "
    "e rilanciare: il magazzino e i file pubblicati sono rimasti alla versione precedente."
)

_DISK_FULL_TEXT = re.compile(
    r"no space left on device|disk is full|database or disk is full|could not write"
    r"|not enough space|disk quota exceeded|out of disk|failed to write",
    re.IGNORECASE,
)


class DiskFullError(OSError):
    """The disk of the data directory is full; the message says so in one line."""

    def __init__(self, message: str = DISK_FULL_MESSAGE) -> None:
        super().__init__(errno.ENOSPC, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def is_disk_full(exc: BaseException | None) -> bool:
    """True when ``exc`` or anything it was raised from is a full disk."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, DiskFullError):
            return True
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(exc, (duckdb.Error, OSError)) and _DISK_FULL_TEXT.search(str(exc)):
            return True
        if type(exc).__name__ == "OperationalError" and "database or disk is full" in str(exc):
            return True  # SQLite (Dagster's storage), through sqlalchemy or sqlite3
        exc = exc.__cause__ or exc.__context__
    return False


_MAX_NAME_BYTES = 255
"""The longest file name (in bytes) of the usual filesystems (ext4, XFS, NTFS, APFS)."""


def temp_path_for(target: Path) -> Path:
    """A fresh temporary name beside ``target``, hidden and marked as ours; the target's
    name is cut so that the temporary one also fits in 255 bytes."""
    tail = f".{secrets.token_hex(4)}{TEMP_MARK}"
    budget = _MAX_NAME_BYTES - 1 - len(tail)
    name = target.name.encode("utf-8", "surrogateescape")[:budget].decode("utf-8", "ignore")
    return target.with_name(f".{name}{tail}")


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_atomically(temp: Path, target: Path) -> None:
    """Make ``temp`` (fully written) become ``target`` in one step, durably."""
    _fsync_file(temp)
    os.replace(temp, target)
    _fsync_dir(target.parent)


def atomic_write(target: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(temp)`` to write the whole file, then rename it over ``target``.

    A failure or a kill in between leaves ``target`` as it was; a failure removes the
    temporary file, a kill leaves one that :func:`remove_stale_temps` finds. A full
    disk becomes :class:`DiskFullError` naming the file only.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_path_for(target)
    try:
        write(temp)
        replace_atomically(temp, target)
    except BaseException as exc:
        temp.unlink(missing_ok=True)
        if is_disk_full(exc) and not isinstance(exc, DiskFullError):
            raise DiskFullError(
                f"Spazio su disco esaurito scrivendo {target.name}: il file è rimasto alla "
                "versione precedente. Liberare spazio e rilanciare."
            ) from None
        raise
    return target
