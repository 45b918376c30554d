"""The one ``DbtProject``: where the dbt project and its manifest are.

In a module of its own so that ``dagster-dbt project prepare-and-package --file`` can
load it (at install and CI time) without importing the assets that need the manifest.
"""

import os

from dagster_dbt import DbtProject

from lavoro_debole.settings import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
if not os.environ.get("LAVORO_DBT_MANIFEST_READY"):
    # Under a bare `dagster dev`; `lavoro ui` and `lavoro run` prepare it once themselves.
    dbt_project.prepare_if_dev()
