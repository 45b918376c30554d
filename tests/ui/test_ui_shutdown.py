"""``lavoro ui`` stops with all its children (issue 10 §2): SIGTERM to the ``lavoro``
process alone, or Ctrl-C (SIGINT to its whole process group), ends the webserver, the
daemon, the code servers and whatever they started (a run of the inbox sensor
included); and the reverse proxy's name set in ``LAVORO_UI_ALLOWED_HOSTS`` is served
while a foreign one is not.

Its own ``lavoro ui`` (not the browser tests' one, which the other tests still need);
no browser. The process tree is read from /proc, independently of the code under test.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lavoro_debole.synthetic import generate_inbox
from tests.ui.dagster_ui import DagsterUI, free_port, wait_for

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROXY_HOST = "dati.example.org"


def tree(root: int) -> set[int]:
    """The live descendants of ``root``, from the parent pid of every /proc entry."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            state, ppid = stat[stat.rfind(")") + 2 :].split()[:2]
            if state != "Z":
                parents[int(entry.name)] = int(ppid)
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def status_for(port: int, host: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest("GET", "/server_info", skip_host=True)
        connection.putheader("Host", host)
        connection.endheaders()
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize("how", ["sigterm", "ctrl-c"])
def test_a_signal_stops_lavoro_ui_and_every_descendant(tmp_path: Path, how: str):
    generate_inbox(tmp_path, persons=10, seed=2)
    port = free_port()
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "LAVORO_DATA_DIR": str(tmp_path),
        "LAVORO_PSEUDONYM_KEY": "shutdown-test-key-0123456789abcdef0123456789",
        "LAVORO_VAULT_KEY": "shutdown-test-vault-key-0123456789abcdef0123",
        "LAVORO_CUTOFF": "2025-12-31",
        "LAVORO_SENSOR_INTERVAL": "5",
        "LAVORO_UI_ALLOWED_HOSTS": PROXY_HOST,
        "DAGSTER_HOME": str(tmp_path / "dagster"),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    log_path = tmp_path / "lavoro-ui.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(bin_dir / "lavoro"), "ui", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = DagsterUI(f"http://127.0.0.1:{port}", tmp_path, log_path, process)
    try:

        def up() -> bool:
            assert process.poll() is None, f"lavoro ui exited early\n{server.log_tail()}"
            return server.answers() and server.location_status()[0] == "LOADED"

        wait_for(up, 300, lambda: f"lavoro ui does not come up\n{server.log_tail()}")
        assert status_for(port, PROXY_HOST) == 200
        assert status_for(port, f"{PROXY_HOST}:{port}") == 403
        assert status_for(port, f"evil.example:{port}") == 403

        # The webserver, the daemon, the code server (proxy and server) at least.
        commands = {}
        for pid in tree(process.pid):
            with contextlib.suppress(OSError):
                commands[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        joined = b"\n".join(commands.values())
        assert b"dagster._daemon run" in joined, joined
        assert b"lavoro_debole.orchestration.ui" in joined, joined
        assert b"code-server start" in joined, joined
        before = set(commands)

        if how == "sigterm":
            process.send_signal(signal.SIGTERM)  # to lavoro alone, not to its group
        else:
            os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in its terminal sends
        assert process.wait(timeout=90) == 0, server.log_tail()
        wait_for(
            lambda: not [pid for pid in before if alive(pid)],
            30,
            lambda: (
                f"still running after lavoro ui ended: {[commands[p] for p in before if alive(p)]}"
            ),
            interval=0.5,
        )
        # Nothing started later survives either, not even as a zombie handed to init:
        # the process group is empty.
        with pytest.raises(ProcessLookupError):
            os.killpg(process.pid, 0)
        assert "lavoro ui: fermato." in log_path.read_text(encoding="utf-8", errors="replace")
    finally:
        server.stop()
