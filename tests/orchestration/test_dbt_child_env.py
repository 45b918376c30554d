"""dbt, started by Dagster's dbt resource, sees only what it needs (issue 10 §1): not the
pseudonymisation key, not the SMTP settings, not the vault's key."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from lavoro_debole.child_env import dbt_environment
from lavoro_debole.orchestration.dbt import DbtResource

SECRETS = {
    "LAVORO_PSEUDONYM_KEY": "chiave-di-prova-0123456789abcdef0123456789",
    "LAVORO_SMTP_PASSWORD": "password-di-prova",
    "LAVORO_SMTP_USER": "utente@example.org",
    "LAVORO_SMTP_HOST": "smtp.example.org",
    "LAVORO_VAULT_KEY": "chiave-del-caveau-0123456789abcdef",
}
NEEDED = {"LAVORO_CUTOFF": "2025-12-31", "DBT_PROVA_LAVORO": "1"}


def test_the_minimal_environment_keeps_what_dbt_needs_and_drops_the_secrets():
    environ = {
        **SECRETS,
        **NEEDED,
        "LAVORO_DATA_DIR": "/dati",
        "PATH": "/usr/bin",
        "HOME": "/home/x",
        "LC_ALL": "C.UTF-8",
        "DAGSTER_HOME": "/dati/dagster",
        "AWS_SECRET_ACCESS_KEY": "x",
    }
    assert dbt_environment(environ) == {
        **NEEDED,
        "LAVORO_DATA_DIR": "/dati",
        "PATH": "/usr/bin",
        "HOME": "/home/x",
        "LC_ALL": "C.UTF-8",
    }


def _visible(invocation) -> list[str]:
    lines = [
        event.raw_event.get("info", {}).get("msg", "") for event in invocation.stream_raw_events()
    ]
    [report] = [line for line in lines if line.startswith("variabili visibili:")]
    names = report.removeprefix("variabili visibili:").strip()
    return sorted(filter(None, names.split(",")))


def test_dbt_run_by_the_resource_sees_none_of_the_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    for name, value in {**SECRETS, **NEEDED}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LAVORO_DATA_DIR", str(tmp_path))
    names = sorted([*SECRETS, *NEEDED, "LAVORO_DATA_DIR"])
    invocation = DbtResource().cli(
        ["run-operation", "environment_report", "--args", json.dumps({"names": names})]
    )
    visible = _visible(invocation)
    assert invocation.is_successful()
    # The variables it needs arrive (so the report does see what is set)...
    assert visible == sorted([*NEEDED, "LAVORO_DATA_DIR"])
    # ...and this process still has the secrets: only dbt's environment lost them.
    assert all(os.environ[name] == value for name, value in SECRETS.items())


def test_the_wrapper_runs_dbt_and_passes_on_its_exit_code(tmp_path: Path):
    env = {**os.environ, **SECRETS, "LAVORO_DATA_DIR": str(tmp_path)}
    from lavoro_debole.settings import tool_path

    result = subprocess.run(
        [tool_path("lavoro-dbt"), "--version"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "Core" in result.stdout or "core" in result.stdout
    failed = subprocess.run(
        [tool_path("lavoro-dbt"), "no-such-command"], env=env, capture_output=True, text=True
    )
    assert failed.returncode != 0


WAREHOUSE_KEY = "chiave-del-magazzino-di-prova-0123456789ab"


def test_the_warehouse_key_is_the_one_secret_dbt_gets_and_it_encrypts_the_warehouse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """With LAVORO_WAREHOUSE_KEY set dbt gets it (it writes the warehouse, now encrypted at
    rest, through the profile's target `cifrato`), and still none of the other secrets."""
    from lavoro_debole.ingest.warehouse_db import is_encrypted, open_warehouse

    for name, value in {**SECRETS, **NEEDED}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LAVORO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LAVORO_WAREHOUSE_KEY", WAREHOUSE_KEY)
    assert dbt_environment()["LAVORO_WAREHOUSE_KEY"] == WAREHOUSE_KEY
    assert not set(SECRETS) & set(dbt_environment())
    names = sorted([*SECRETS, *NEEDED, "LAVORO_DATA_DIR", "LAVORO_WAREHOUSE_KEY"])
    invocation = DbtResource().cli(
        ["run-operation", "environment_report", "--args", json.dumps({"names": names})]
    )
    events = [event.raw_event for event in invocation.stream_raw_events()]
    [report] = [
        msg
        for msg in (event.get("info", {}).get("msg", "") for event in events)
        if msg.startswith("variabili visibili:")
    ]
    visible = sorted(filter(None, report.removeprefix("variabili visibili:").strip().split(",")))
    assert invocation.is_successful()
    assert visible == sorted([*NEEDED, "LAVORO_DATA_DIR", "LAVORO_WAREHOUSE_KEY"])
    # dbt opened the warehouse through the encrypted target: the file it made needs the key
    warehouse = tmp_path / "warehouse.duckdb"
    assert is_encrypted(warehouse) is True
    open_warehouse(warehouse, read_only=True, key=WAREHOUSE_KEY.encode()).close()
    # and dbt's own output and files never hold the key
    assert WAREHOUSE_KEY not in json.dumps(events)
    written = [p for p in (tmp_path, invocation.target_path) if p.is_dir()]
    for path in (f for root in written for f in root.rglob("*") if f.is_file()):
        assert WAREHOUSE_KEY.encode() not in path.read_bytes(), path.name


def test_dbt_s_own_script_starts_with_silent_log_handlers(tmp_path):
    """dbt.log on a full disk: Python's "--- Logging error ---" traceback must not reach
    the run's output. dbt's console script is started through a boot line that turns
    that report off; any other program named dbt is started as it is."""
    import subprocess
    import sys

    from lavoro_debole.child_env import QUIET_LOGGING_BOOT, _console_script_python

    script = tmp_path / "dbt"
    script.write_text(
        f"#!{sys.executable}\nimport sys\nfrom dbt.cli.main import cli\nsys.exit(cli())\n"
    )
    script.chmod(0o755)
    assert _console_script_python(str(script)) == sys.executable
    other = tmp_path / "altro"
    other.write_text("#!/bin/sh\necho dbt\n")
    other.chmod(0o755)
    assert _console_script_python(str(other)) is None
    assert _console_script_python(str(tmp_path / "missing")) is None
    # the boot line runs dbt itself, with logging's error reports off
    probe = QUIET_LOGGING_BOOT.replace(
        "sys.exit(cli())", "print(logging.raiseExceptions); sys.exit(cli())"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, "--version"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "False" and "installed" in done.stdout
