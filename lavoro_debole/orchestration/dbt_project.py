"""The one ``DbtProject``: where the dbt project and its manifest are.

In a module of its own so that loading it needs no manifest. The manifest is made one
way, ``lavoro_debole.dbt_manifest.prepare_manifest`` (``make install`` and the command
line call it before Dagster loads); under a bare ``dagster dev`` (and in the processes
``lavoro ui`` starts, which it starts the same way) loading this module calls it too,
in place of dagster-dbt's ``prepare_if_dev()``: it parses only when the manifest is
missing or older than the project's files, and gives dbt no secret.
"""

import os

from dagster_dbt import DbtProject

from lavoro_debole.dbt_manifest import prepare_manifest
from lavoro_debole.settings import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def prepare_if_dev() -> bool:
    """:func:`prepare_manifest` under ``dagster dev`` (the variable dagster-dbt's own
    ``prepare_if_dev`` looks at); True when it parsed."""
    return bool(os.environ.get("DAGSTER_IS_DEV_CLI")) and prepare_manifest()


prepare_if_dev()
