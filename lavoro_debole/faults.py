"""What a killed run, a full disk or a busy warehouse leave behind, and how a run copes.

Plain helpers without Dagster for the command line and the orchestration: the clean-up
of the temporary files a killed run left (the rooms write every output through
``ingest/atomic.py`` or ``exports/atomic.py``), the bounded wait on a busy warehouse,
whether a process is still alive. Messages never carry a cell value: they name a file
or the warehouse and a reason.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import duckdb

from lavoro_debole.ingest.atomic import (
    _DISK_FULL_TEXT,
    DISK_FULL_MESSAGE,
    TEMP_MARK,
    DiskFullError,
    atomic_write,
    is_disk_full,
    replace_atomically,
    temp_path_for,
)
from lavoro_debole.ingest.warehouse_db import open_warehouse

__all__ = [
    "DISK_FULL_MESSAGE",
    "TEMP_MARK",
    "DiskFullError",
    "WarehouseBusyError",
    "atomic_write",
    "connect_waiting",
    "is_disk_full",
    "remove_stale_temps",
    "replace_atomically",
    "temp_path_for",
]

_LOCK_TEXT = re.compile(r"could not set lock|conflicting lock", re.IGNORECASE)
_LOCK_PID = re.compile(r"\(PID (\d+)\)")


class WarehouseBusyError(RuntimeError):
    """Another process kept the warehouse open for longer than the run waits."""


def disk_full_text(text: str) -> bool:
    """True when an error text (for example one recorded by Dagster) says the disk is full."""
    return bool(_DISK_FULL_TEXT.search(text)) or "ENOSPC" in text


_LEGACY_TEMP = re.compile(
    r"^(tmp[a-z0-9_]{8}(\.duckdb\.tmp(\.wal)?|\.xlsx)|\..+\.[a-z0-9_]{8}\.xlsx)$"
)
"""The temporary names earlier versions used (tempfile's), in our output folders only."""


_RELEASE_SCRATCH = re.compile(r"^\.\d+\.[a-z0-9_]{8}\.tmp$")
"""The folder a release is built in (``exports.releases.release_folder``) before it takes
its number's place: one left behind means its run was killed."""


def _ours(path: Path) -> bool:
    return TEMP_MARK in path.name or bool(_LEGACY_TEMP.match(path.name))


def remove_stale_temps(folders: Iterable[Path], *, recursive: bool = True) -> list[Path]:
    """Delete the temporary outputs a killed run left in ``folders`` (ours only, by their
    names), with the write-ahead logs of temporary databases. The caller never passes
    the inbox: nothing there is ever touched."""
    removed: list[Path] = []
    for folder in folders:
        if not folder.is_dir():
            continue
        scratch: list[Path] = []
        for path in folder.rglob("*") if recursive else folder.iterdir():
            if path.is_symlink():
                continue
            if _ours(path) and path.is_file():
                path.unlink(missing_ok=True)
                removed.append(path)
            elif recursive and path.is_dir() and _RELEASE_SCRATCH.match(path.name):
                scratch.append(path)
        for path in scratch:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def lock_holder(exc: BaseException) -> int | None:
    """The PID DuckDB names in its lock error, if any."""
    match = _LOCK_PID.search(str(exc))
    return int(match.group(1)) if match else None


def is_lock_error(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.Error) and bool(_LOCK_TEXT.search(str(exc)))


def busy_message(waited_s: float, pid: int | None) -> str:
    who = f"dal processo {pid}" if pid else "da un altro processo"
    return (
        f"Il magazzino (warehouse.duckdb) è in uso {who}: atteso {waited_s:.0f} s "
        "(LAVORO_WAREHOUSE_WAIT_S), elaborazione non eseguita. Chiudere l'altro programma "
        "o attendere che finisca, poi rilanciare."
    )


def connect_waiting(
    path: Path,
    wait_s: float,
    *,
    read_only: bool = False,
    poll_s: float = 0.5,
    keep_waiting: Callable[[int | None], bool] | None = None,
    config: dict[str, str] | None = None,
    key: bytes | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file, retrying while another process holds its lock.

    ``key``: the warehouse's ``LAVORO_WAREHOUSE_KEY`` when it is encrypted at rest (see
    :func:`lavoro_debole.ingest.warehouse_db.open_warehouse`).

    After ``wait_s`` seconds raises :class:`WarehouseBusyError` with one line saying the
    warehouse is in use and by which PID (DuckDB names it). ``keep_waiting(pid)`` true
    means the holder is one whose turn we must wait (a live run of this pipeline): the
    clock does not run out then.
    """
    started = time.monotonic()
    while True:
        try:
            return open_warehouse(path, read_only=read_only, key=key, config=config)
        except duckdb.Error as exc:
            if not is_lock_error(exc):
                if is_disk_full(exc):
                    raise DiskFullError() from None
                raise
            pid = lock_holder(exc)
            waited = time.monotonic() - started
            if waited >= wait_s and not (keep_waiting and keep_waiting(pid)):
                raise WarehouseBusyError(busy_message(waited, pid)) from None
            time.sleep(poll_s)


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (Linux), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    return text.rsplit(")", 1)[-1].split()


def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text(encoding="ascii").splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        pass
    return None


def process_started_at(pid: int) -> float | None:
    """When the process started (epoch seconds), where the system says (Linux)."""
    fields = _proc_stat(pid)
    boot = _boot_time()
    if fields is None or boot is None or len(fields) < 20:
        return None
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def process_alive(pid: int | None, *, not_started_after: float | None = None) -> bool:
    """True when ``pid`` is a live process (not a zombie) that started no later than
    ``not_started_after`` (a reused PID of a newer process does not count)."""
    if not pid or pid <= 0:
        return False
    fields = _proc_stat(pid)
    if fields is not None:
        if fields[0] in ("Z", "X", "x"):
            return False
        started = process_started_at(pid)
        if not_started_after is not None and started is not None:
            return started <= not_started_after + 2.0
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_ancestry(pid: int) -> list[int]:
    """``pid`` and its parents up to init (Linux; only ``pid`` elsewhere)."""
    chain = [pid]
    while len(chain) < 64:
        fields = _proc_stat(chain[-1])
        if fields is None or len(fields) < 2:
            break
        parent = int(fields[1])
        if parent <= 1 or parent in chain:
            break
        chain.append(parent)
    return chain
