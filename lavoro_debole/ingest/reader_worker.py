"""Read partner files in a separate process, with a memory and a time limit.

A hostile or broken file can make a reader ask for hundreds of GiB or loop for ever,
and calamine answers a failed allocation by aborting the whole process: no limit
checked beforehand (see :class:`~lavoro_debole.ingest.readers.ReadLimits`) can rule
out every such file. So the reading itself runs in a worker process whose address
space is capped (``RLIMIT_AS``, setting ``LAVORO_READER_MEMORY_MB``) and whose wall
time per file is capped (``LAVORO_READER_TIMEOUT_S``); if it dies, the file is refused
with a reason naming the limit, a fresh worker is started and the next file loads.

Why a persistent worker started with ``subprocess`` (``python -m`` this module) rather
than ``multiprocessing``: ``fork`` from a threaded parent (a Dagster step) is unsafe;
``spawn`` and ``forkserver`` re-import the parent's ``__main__`` (the ``dagster`` or
``pytest`` command, importing Dagster into the reader); a plain interpreter running
this module imports only the readers. The worker is started once per feed and serves
its files one after another, so its start-up (~0.5 s) is paid once per feed, not once
per file. It gets no secret: its environment holds only what Python needs.

The grids come back pickled (protocol 5) over a pipe as plain tuples, lists and
cells, and are unpickled with only ``datetime.date``/``datetime.datetime`` allowed as
classes, so even a worker subverted by a malicious file cannot make the parent run
code. Nothing from the worker's stderr is kept: a library's message may quote a cell.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import math
import os
import pickle
import resource
import signal
import struct
import subprocess
import sys
import threading
import weakref
from pathlib import Path

from lavoro_debole.ingest.readers import (
    DEFAULT_LIMITS,
    ReadLimits,
    Sheet,
    UnreadableFileError,
    _n,
    read_file,
)

_HEADER = struct.Struct("<Q")
_PACKAGE_PARENT = Path(__file__).resolve().parents[2]
_F_SETPIPE_SZ = 1031  # Linux fcntl: a bigger pipe means fewer system calls per grid
_CLOSE_WAIT_S = 5.0
_READY = b"R"
_START_TIMEOUT_S = 120.0  # the interpreter and the readers' imports, on a loaded machine


_ALLOWED_CLASSES = {("datetime", "date"): dt.date, ("datetime", "datetime"): dt.datetime}


class _CellsOnly(pickle.Unpickler):
    """Unpickles a worker's answer: containers and cells, no other class."""

    def find_class(self, module: str, name: str) -> object:
        try:
            return _ALLOWED_CLASSES[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError("classe non ammessa") from None


def _worker_env() -> dict[str, str]:
    """Only what the interpreter needs: never the pseudonymisation key or a password."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(_PACKAGE_PARENT),
        "LANG": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    return env


class ReaderWorker:
    """One reader process, started on first use and again after each death.

    Use it from one thread at a time; :meth:`close` (or ``with``) ends the process.
    """

    def __init__(self, limits: ReadLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self._process: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize | None = None
        self._ready = False

    def __enter__(self) -> ReaderWorker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        """Start the process now (it imports the readers while the caller goes on)."""
        if self._process is not None and self._process.poll() is None:
            return
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lavoro_debole.ingest.reader_worker",
                str(self.limits.memory_mb),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            bufsize=1 << 20,
            env=_worker_env(),
            cwd=str(_PACKAGE_PARENT),
            close_fds=True,
        )
        assert process.stdout is not None
        with contextlib.suppress(OSError):
            import fcntl

            fcntl.fcntl(process.stdout.fileno(), _F_SETPIPE_SZ, 1 << 20)
        self._process = process
        self._ready = False
        self._finalizer = weakref.finalize(self, _stop, process)

    def close(self) -> None:
        """End the worker: closing its input makes it exit; killed if it does not."""
        process, self._process = self._process, None
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if process is not None:
            _stop(process)

    def read(self, path: Path) -> list[Sheet]:
        """The file's sheets, read in the worker; :class:`UnreadableFileError` if it
        is unreadable, over a limit, or kills the worker (which is then replaced).

        The answer is unpickled straight from the pipe while the worker still writes
        it (no copy of the whole answer in either process); a watchdog kills the
        worker at the time limit, which ends the pipe.
        """
        self.start()
        process = self._process
        assert process is not None and process.stdin is not None and process.stdout is not None
        request = pickle.dumps((str(path), self.limits), protocol=5)
        timed_out = threading.Event()

        def expire() -> None:
            timed_out.set()
            with contextlib.suppress(OSError):
                process.kill()

        if not self._ready:
            # The time limit is the file's: the worker's start-up is waited for apart.
            starting = threading.Timer(_START_TIMEOUT_S, process.kill)
            starting.daemon = True
            starting.start()
            try:
                self._ready = process.stdout.read(len(_READY)) == _READY
            finally:
                starting.cancel()
            if not self._ready:
                self.close()
                raise UnreadableFileError(
                    "file non letto: il processo di lettura non si è avviato "
                    f"(limite di memoria {_n(self.limits.memory_mb)} MB, "
                    "LAVORO_READER_MEMORY_MB)"
                )
        watchdog = threading.Timer(self.limits.timeout_s, expire)
        watchdog.daemon = True
        watchdog.start()
        try:
            try:
                process.stdin.write(_HEADER.pack(len(request)) + request)
                process.stdin.flush()
                header = process.stdout.read(_HEADER.size)
                if len(header) != _HEADER.size:
                    raise EOFError
                status, payload = _CellsOnly(process.stdout).load()
            except (OSError, EOFError, pickle.UnpicklingError, ValueError):
                reason = self._death_reason(process, timed_out)
                self.close()
                raise UnreadableFileError(reason) from None
        finally:
            watchdog.cancel()
        if status == "ok":
            return [Sheet(name, rows, hidden, notes) for name, rows, hidden, notes in payload]
        if status == "refused":
            raise UnreadableFileError(payload)
        self.close()  # after a MemoryError the worker's heap is not to be trusted
        if status == "memory":
            raise UnreadableFileError(self._memory_reason())
        raise UnreadableFileError("file danneggiato: il lettore non è riuscito a leggerlo")

    # ------------------------------------------------------------------ internals

    def _memory_reason(self) -> str:
        return (
            "file rifiutato: la lettura richiede più memoria del limite di "
            f"{_n(self.limits.memory_mb)} MB (LAVORO_READER_MEMORY_MB)"
        )

    def _timeout_reason(self) -> str:
        return (
            "file rifiutato: la lettura ha superato il limite di tempo di "
            f"{_n(self.limits.timeout_s)} secondi (LAVORO_READER_TIMEOUT_S)"
        )

    def _death_reason(self, process: subprocess.Popen[bytes], timed_out: threading.Event) -> str:
        try:
            code = process.wait(timeout=_CLOSE_WAIT_S)
        except subprocess.TimeoutExpired:  # a broken answer from a live worker
            process.kill()
            process.wait()
            code = None
        if timed_out.is_set() or code in (-signal.SIGALRM, -signal.SIGXCPU):
            return self._timeout_reason()
        return (
            "file rifiutato: il lettore si è interrotto leggendolo (memoria oltre il limite di "
            f"{_n(self.limits.memory_mb)} MB, LAVORO_READER_MEMORY_MB, o file malformato)"
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        if process.stdin is not None:
            process.stdin.close()
    try:
        process.wait(timeout=_CLOSE_WAIT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    with contextlib.suppress(OSError):
        if process.stdout is not None:
            process.stdout.close()


# --------------------------------------------------------------------------- worker side


def _read_exactly(stream: io.BufferedReader, size: int) -> bytes | None:
    data = stream.read(size)
    return data if data is not None and len(data) == size else None


def _serve(memory_mb: int) -> None:
    """Answer requests until the parent closes the pipe."""
    limit = memory_mb * 1024 * 1024
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    stdin = sys.stdin.buffer
    stdout = sys.stdout.buffer
    # Nothing else may write to the answer channel.
    sys.stdout = sys.stderr
    stdout.write(_READY)
    stdout.flush()
    while True:
        header = _read_exactly(stdin, _HEADER.size)
        if header is None:
            return
        request = _read_exactly(stdin, _HEADER.unpack(header)[0])
        if request is None:
            return
        path, limits = pickle.loads(request)
        # The worker's own guard, should the parent be gone: the default action of
        # SIGALRM ends the process even inside native code.
        signal.alarm(max(1, math.ceil(limits.timeout_s) + 5))
        try:
            sheets = read_file(Path(path), limits)
            answer: tuple[str, object] = (
                "ok",
                [(s.name, s.rows, s.hidden, s.notes) for s in sheets],
            )
            del sheets
        except UnreadableFileError as exc:
            answer = ("refused", str(exc))
        except MemoryError:
            answer = ("memory", None)
        except Exception:  # no library text crosses: it may quote a cell
            answer = ("broken", None)
        signal.alarm(0)  # from here the parent's watchdog alone keeps the time
        try:
            # Pickled straight into the pipe: no copy of the whole answer here, and the
            # parent unpickles while this process still pickles.
            stdout.write(_HEADER.pack(0))
            pickler = pickle.Pickler(stdout, protocol=5)
            # No memo: a grid has no shared or cyclic containers worth remembering, and
            # the memo's dictionary costs more than it saves (3.2 s -> 1.2 s for 2.4
            # million cells).
            pickler.fast = True
            pickler.dump(answer)
            stdout.flush()
        except BaseException:  # a half-written answer: the parent sees the pipe end
            os._exit(1)
        del answer


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
