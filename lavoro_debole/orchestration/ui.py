"""``lavoro ui``: Dagster's daemon and webserver, the webserver behind the host check.

``dagster dev`` would serve the webserver to any ``Host``; here the same services are
started as ``dagster dev`` starts them (one shared code server, a daemon, a webserver,
each told to stop through a shutdown pipe), except that the webserver is this module's
:func:`serve`, which wraps Dagster's ASGI app in :class:`lavoro_debole.host_check.HostCheck`
and listens on 127.0.0.1 only.

:func:`supervise` (the ``lavoro ui`` process) stops everything it started on Ctrl-C or
SIGTERM: the webserver and the daemon first, then the code server, then whatever is
left of its descendants (run workers included), found in ``/proc``. On Linux it is a
"child subreaper", so a descendant whose parent died is re-parented to it and still
found.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

UI_HOST = "127.0.0.1"
GRACE_SECONDS = 12.0
"""How long the webserver and the daemon get to stop after being told to."""
SWEEP_SECONDS = 5.0
"""How long a leftover descendant gets between SIGTERM and SIGKILL."""
CHECK_INTERVAL = 1.0
PR_SET_CHILD_SUBREAPER = 36

logger = logging.getLogger("lavoro_debole.ui")


# ---------------------------------------------------------------- processes (/proc)
def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state letter) of ``pid``, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    fields = raw[raw.rfind(")") + 2 :].split()
    return int(fields[1]), fields[0]


def descendants(root: int, zombies: bool = False) -> list[int]:
    """Every process below ``root`` (children, their children, ...), from /proc; the
    finished ones not yet collected by their parent ("zombies") only if asked."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is not None and (zombies or stat[1] != "Z"):
            children.setdefault(stat[0], []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[1] != "Z"


def _reap_zombies() -> None:
    """Collect the exit status of every finished child of this process (re-parented
    orphans included), so that none lingers as a zombie."""
    with contextlib.suppress(ChildProcessError):
        while True:
            pid, _ = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux ``prctl``); False where unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def sweep(root: int, grace: float = SWEEP_SECONDS) -> list[int]:
    """End every descendant of ``root``: SIGTERM, then SIGKILL after ``grace``
    seconds. Returns the pids that had to be ended."""
    leftovers = descendants(root)
    for pid in leftovers:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(pid) for pid in leftovers):
        _reap_zombies()
        time.sleep(0.2)
    for pid in descendants(root):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    # Until nothing is left, not even a zombie: one whose parent ends now is handed to
    # this process (the subreaper) and must be collected here, or it would outlive us.
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap_zombies()
        if not descendants(root, zombies=True):
            break
        time.sleep(0.1)
    return leftovers


# ---------------------------------------------------------------- lavoro ui
class _Stop(Exception):
    pass


def _stop_child(process: subprocess.Popen, shutdown_fd: int, name: str) -> None:
    from dagster_shared.ipc import send_ipc_shutdown_message

    if process.poll() is None:
        with contextlib.suppress(OSError):
            send_ipc_shutdown_message(shutdown_fd)
        try:
            process.wait(timeout=GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            logger.warning("%s non si è fermato in %.0f s: terminato.", name, GRACE_SECONDS)
            process.kill()
            process.wait()
    with contextlib.suppress(OSError):
        os.close(shutdown_fd)


def _start_child(command: list[str], name: str) -> tuple[subprocess.Popen, int]:
    """A child told to stop through a pipe, as ``dagster dev`` does. It stays in this
    process group, so that whoever ends the group (a terminal's Ctrl-C, a test) ends it
    too."""
    from dagster_shared.ipc import get_ipc_shutdown_pipe

    read_fd, write_fd = get_ipc_shutdown_pipe()
    process = subprocess.Popen(
        [*command, "--shutdown-pipe", str(read_fd)],
        pass_fds=[read_fd],
    )
    os.close(read_fd)
    logger.debug("%s avviato (processo %d)", name, process.pid)
    return process, write_fd


def supervise(port: int, allowed_hosts: Iterable[str], workspace_file: Path) -> int:
    """Run the daemon and the host-checked webserver until a signal or a crash; stop
    them and every descendant. 0 after Ctrl-C/SIGTERM, 1 when a service died."""
    import dagster as dg
    import yaml
    from dagster._cli.proxy_server_manager import ProxyServerManager
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster._serdes import serialize_value

    become_subreaper()
    # What `dagster dev` sets for its services: dagster-dbt and the code server behave
    # as they did when `lavoro ui` ran `dagster dev`.
    os.environ["DAGSTER_IS_DEV_CLI"] = "1"
    stopping: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        if not stopping:
            stopping.append(signum)
            raise _Stop

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    started: list[tuple[subprocess.Popen, int, str]] = []
    crashed = False
    try:
        with contextlib.ExitStack() as stack:
            instance = stack.enter_context(dg.DagsterInstance.get())
            servers = stack.enter_context(
                ProxyServerManager(
                    instance=instance,
                    workspace_load_target=WorkspaceFileTarget(paths=[str(workspace_file)]),
                    code_server_log_level="info",
                )
            )
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lavoro-ui-")))
            workspace = tmp / "workspace.yaml"
            workspace.write_text(
                yaml.safe_dump({"load_from": list(servers.get_code_server_specs())}),
                encoding="utf-8",
            )
            shared = ["--instance-ref", serialize_value(instance.get_ref())]
            shared += ["--workspace", str(workspace)]
            daemon = [sys.executable, "-m", "dagster._daemon", "run", "--log-level", "info"]
            webserver = [sys.executable, "-m", "lavoro_debole.orchestration.ui"]
            webserver += ["--port", str(port)]
            for host in allowed_hosts:
                webserver += ["--allowed-host", host]
            try:
                for command, name in (
                    (daemon + shared, "dagster-daemon"),
                    (webserver + shared, "webserver"),
                ):
                    process, fd = _start_child(command, name)
                    started.append((process, fd, name))
                while True:
                    time.sleep(CHECK_INTERVAL)
                    dead = [name for process, _, name in started if process.poll() is not None]
                    if dead:
                        print(
                            f"lavoro ui: {', '.join(dead)} si è fermato da solo.", file=sys.stderr
                        )
                        crashed = True
                        break
            except _Stop:
                pass
            print("lavoro ui: arresto dei servizi Dagster...", flush=True)
            # Further signals now wait for the orderly stop (a second one is ignored).
            for s in previous:
                signal.signal(s, signal.SIG_IGN)
            for process, fd, name in reversed(started):
                _stop_child(process, fd, name)
            # Leaving the stack stops the code server and removes the workspace file.
    except _Stop:
        # A signal while the code server was starting: nothing else was started yet.
        for s in previous:
            signal.signal(s, signal.SIG_IGN)
    finally:
        for process, _fd, _ in started:
            if process.poll() is None:
                process.kill()
        left = sweep(os.getpid())
        if left:
            logger.info("lavoro ui: %d processi rimasti terminati.", len(left))
        for s, handler in previous.items():
            signal.signal(s, handler)
    print("lavoro ui: fermato.", flush=True)
    return 1 if crashed else 0


# ---------------------------------------------------------------- the webserver
def serve(argv: Sequence[str] | None = None) -> None:
    """The webserver process: Dagster's ASGI app behind the host check, on 127.0.0.1."""
    parser = argparse.ArgumentParser(prog="lavoro-ui-webserver")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--allowed-host", action="append", default=[])
    parser.add_argument("--instance-ref", required=True)
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--shutdown-pipe", type=int, required=True)
    args = parser.parse_args(argv)

    import uvicorn
    from dagster._core.instance import DagsterInstance, InstanceRef
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster._serdes import deserialize_value
    from dagster._utils.interrupts import setup_interrupt_handlers
    from dagster._utils.log import configure_loggers
    from dagster_shared.ipc import interrupt_on_ipc_shutdown_message
    from dagster_webserver.app import create_app_from_workspace_process_context
    from dagster_webserver.cli import _lifespan
    from dagster_webserver.version import __version__

    from lavoro_debole.host_check import HostCheck, local_hosts

    configure_loggers(log_level="INFO")
    setup_interrupt_handlers()
    allowed = local_hosts(args.port) | {h.lower() for h in args.allowed_host}
    with contextlib.ExitStack() as stack:
        stack.enter_context(interrupt_on_ipc_shutdown_message(args.shutdown_pipe))
        instance = stack.enter_context(
            DagsterInstance.from_ref(deserialize_value(args.instance_ref, InstanceRef))
        )
        instance.optimize_for_webserver(15000, 3600, 20)  # dagster-webserver's defaults
        context = stack.enter_context(
            WorkspaceProcessContext(
                instance,
                version=__version__,
                read_only=False,
                workspace_load_target=WorkspaceFileTarget(paths=[args.workspace]),
                code_server_log_level="info",
            )
        )
        app = create_app_from_workspace_process_context(context, "", 2000, lifespan=_lifespan)
        print(f"Interfaccia servita su http://{UI_HOST}:{args.port} (processo {os.getpid()})")
        with contextlib.suppress(KeyboardInterrupt):
            uvicorn.run(HostCheck(app, allowed), host=UI_HOST, port=args.port, log_level="warning")


if __name__ == "__main__":
    serve()
