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


def main() -> None:
    """``lavoro-dbt ARGS...``: dbt ARGS..., in a minimal environment (this process is
    replaced by dbt, so signals and the exit code are dbt's own)."""
    dbt = real_dbt()
    os.execve(dbt, [dbt, *sys.argv[1:]], dbt_environment())


if __name__ == "__main__":
    main()
