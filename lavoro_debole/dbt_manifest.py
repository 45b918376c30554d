"""The dbt manifest, prepared one way: ``dbt parse`` of ``dbt_project/`` when the manifest
is missing or older than any file of the project.

Every route goes through :func:`prepare_manifest`: ``make install`` (``python -m
lavoro_debole.dbt_manifest --force``), ``lavoro run``/``ui``/``ruota-chiave``/``demo``
before Dagster loads, and the ``DbtProject``'s preparer
(``lavoro_debole.orchestration.dbt_project``), which ``prepare_if_dev()`` under ``dagster
dev`` and ``dagster-dbt project prepare-and-package`` call. dbt gets the minimal
environment of ``lavoro_debole.child_env``: no key and no password (issue 10). No
Dagster import, so the command line prepares it before loading Dagster.
"""

from __future__ import annotations

import argparse
import subprocess
from collections.abc import Mapping
from pathlib import Path

from lavoro_debole.child_env import dbt_environment
from lavoro_debole.settings import DBT_PROJECT_DIR, PROJECT_ROOT, tool_path

MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"
GENERATED = frozenset({"target", "logs", "dbt_packages"})
"""Folders of the dbt project that dbt writes: their files do not make the manifest stale."""


def manifest_is_stale(project_dir: Path = DBT_PROJECT_DIR) -> bool:
    """True when the manifest is missing or older than any file of the dbt project."""
    manifest = project_dir / "target" / "manifest.json"
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    return any(
        path.is_file()
        and not GENERATED & set(path.relative_to(project_dir).parts)
        and path.stat().st_mtime > built
        for path in project_dir.rglob("*")
    )


def prepare_manifest(
    *,
    force: bool = False,
    environ: Mapping[str, str] | None = None,
    project_dir: Path = DBT_PROJECT_DIR,
) -> bool:
    """Parse the dbt project when its manifest is missing or stale (always with ``force``);
    True when it parsed. A stale manifest would not know the models and tests dbt then
    runs."""
    if not force and not manifest_is_stale(project_dir):
        return False
    print("Preparo il progetto dbt (dbt parse)...", flush=True)
    subprocess.run(
        [
            tool_path("dbt"),
            "parse",
            "--quiet",
            "--project-dir",
            str(project_dir),
            "--profiles-dir",
            str(project_dir),
        ],
        check=True,
        cwd=PROJECT_ROOT,
        env=dbt_environment(environ),  # dbt gets no key and no password (issue 10)
    )
    return True


def main(argv: list[str] | None = None) -> None:
    """``python -m lavoro_debole.dbt_manifest [--force]`` (``make install`` runs it)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--force", action="store_true", help="parse even if it looks fresh")
    prepare_manifest(force=parser.parse_args(argv).force)


if __name__ == "__main__":
    main()
