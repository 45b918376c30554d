"""The environment of the child processes that need none of the secrets: dbt.

dagster-dbt starts dbt with a copy of the whole environment of the run, which holds the
pseudonymisation key, the SMTP password and the vault's key. dbt needs none of them: it
reads the warehouse (``LAVORO_DATA_DIR``, and ``LAVORO_WAREHOUSE_KEY`` when it is encrypted
at rest), the cut-off (``LAVORO_CUTOFF``) and its own ``DBT_*`` variables. So
dagster-dbt starts ``lavoro-dbt`` (this module's :func:`main`), which replaces itself
with this environment's dbt, handing it only the variables listed here. No Dagster
import: ``lavoro run``'s ``dbt parse`` uses it too.

A variable dbt needs and this list lacks is missing in dbt (``env_var('X')`` fails with
dbt's own message): add it to :data:`KEPT` or :data:`KEPT_PREFIXES`, never a secret.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

KEPT = frozenset(
    {
        # The system: where programs are, whose home, language, time zone, temp files.
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "TEMP",
        "TMP",
        "VIRTUAL_ENV",
        # What dagster-dbt sets for the invocation.
        "DAGSTER_DBT_CLI",
        "PYTHONUNBUFFERED",
        "PYTHONLEGACYWINDOWSSTDIO",
        "PYTHONWARNINGS",
        # What the dbt project reads (profiles.yml, dbt_project.yml).
        "LAVORO_DATA_DIR",
        "LAVORO_CUTOFF",
        "LAVORO_DUCKDB_MEMORY_LIMIT",
        # The key of the warehouse encrypted at rest: dbt writes the warehouse, so it needs
        # this one (and still none of the others).
        "LAVORO_WAREHOUSE_KEY",
    }
)
"""Variables passed to dbt unchanged."""

KEPT_PREFIXES = ("DBT_", "LC_", "DUCKDB_")
"""Families of variables passed to dbt: dbt's own settings (DBT_TARGET_PATH,
DBT_LOG_FORMAT, DBT_PROFILES_DIR...), the locale, DuckDB's."""


def dbt_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables of ``environ`` (default: this process's) that dbt may see."""
    env = os.environ if environ is None else environ
    return {
        name: value for name, value in env.items() if name in KEPT or name.startswith(KEPT_PREFIXES)
    }


def real_dbt() -> str:
    """This environment's dbt, found as every tool of the project is (``tool_path``):
    from PATH, which ``lavoro`` starts with its own environment's bin, else beside this
    Python (a venv that is not activated)."""
    found = shutil.which("dbt")
    if found is not None:
        return found
    beside = Path(sys.executable).parent / "dbt"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    raise SystemExit("lavoro-dbt: dbt non trovato nel PATH né accanto a questo Python.")


QUIET_LOGGING_BOOT = (
    "import logging, sys; logging.raiseExceptions = False; "
    "from dbt.cli.main import cli; sys.argv[0] = 'dbt'; sys.exit(cli())"
)
"""dbt's own console script, with one change: a log handler that cannot write (dbt.log
on a full disk) stays silent instead of printing Python's "--- Logging error ---"
traceback into the run's output; dbt's error itself still says what happened."""


def _console_script_python(dbt: str) -> str | None:
    """The Python of ``dbt`` when it is dbt's own console script (``dbt.cli.main``),
    else None (another program named dbt is started as it is)."""
    try:
        with open(dbt, "rb") as handle:
            head = handle.read(1024)
    except OSError:
        return None
    first = head.split(b"\n", 1)[0]
    if not first.startswith(b"#!") or b"from dbt.cli.main import cli" not in head:
        return None
    python = first[2:].strip().decode("utf-8", "replace")
    return python if " " not in python and os.access(python, os.X_OK) else None


def main() -> None:
    """``lavoro-dbt ARGS...``: dbt ARGS..., in a minimal environment (this process is
    replaced by dbt, so signals and the exit code are dbt's own)."""
    dbt = real_dbt()
    python = _console_script_python(dbt)
    if python is not None:
        os.execve(python, [python, "-c", QUIET_LOGGING_BOOT, *sys.argv[1:]], dbt_environment())
    os.execve(dbt, [dbt, *sys.argv[1:]], dbt_environment())


if __name__ == "__main__":
    main()
