"""The dbt project as Dagster assets: one place that knows where the manifest is.

The manifest is prepared one way, ``lavoro_debole.dbt_manifest.prepare_manifest`` (at
install, by the command line before Dagster loads, and by ``dbt_project.py`` under
``dagster dev``); importing this module never parses dbt.
"""

import json
import os
import stat
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliInvocation, DbtCliResource, dbt_assets

from lavoro_debole.orchestration.dbt_paths import dbt_paths, invocation_target, prune_invocations
from lavoro_debole.orchestration.dbt_project import dbt_project
from lavoro_debole.orchestration.resources import WAREHOUSE_POOL, WarehouseResource
from lavoro_debole.settings import settings_environment, tool_path

DBT_WRAPPER = "lavoro-dbt"
"""The executable dagster-dbt starts: ``lavoro_debole.child_env`` (a console script of
this package), which runs this environment's dbt with a minimal environment."""


class DbtResource(dg.ConfigurableResource):
    """dbt on this project, as the resource ``dbt``. It has no field on purpose:
    ``DbtCliResource``'s fields (``project_dir``, ``dbt_executable``, ...) could be set
    again in a run's config from the UI, and dbt would then run whatever they named with
    the pipeline's environment. dbt itself starts through ``lavoro-dbt``, which hands it
    only the variables it needs (``lavoro_debole.child_env``)."""

    def cli(
        self,
        args: Sequence[str],
        *,
        context: dg.AssetExecutionContext | dg.OpExecutionContext | None = None,
        raise_on_error: bool = True,
        target_path: Path | None = None,
    ) -> DbtCliInvocation:
        return dbt_cli_resource().cli(
            args, context=context, raise_on_error=raise_on_error, target_path=target_path
        )


class LavoroTranslator(DagsterDbtTranslator):
    """Sources get the keys of the ingest assets (``raw/<table>``, ``ops/ingest_files``), so
    lineage runs unbroken from the inbox; models are keyed ``<folder>/<model>``."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        if dbt_resource_props["resource_type"] == "seed":
            return dg.AssetKey(["reference", dbt_resource_props["name"]])
        fqn = dbt_resource_props.get("fqn", [])
        folder = fqn[1] if len(fqn) > 2 else "models"
        return dg.AssetKey([folder, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        return fqn[1] if len(fqn) > 2 else None

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        meta = dbt_resource_props.get("meta") or dbt_resource_props.get("config", {}).get("meta")
        if meta and meta.get("descrizione"):
            return str(meta["descrizione"])
        return super().get_description(dbt_resource_props)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    dagster_dbt_translator=LavoroTranslator(),
    pool=WAREHOUSE_POOL,
)
def warehouse_models(
    context: dg.AssetExecutionContext, dbt: DbtResource, warehouse: WarehouseResource
):
    """Build and test the models for the configured cut-off date."""
    settings = warehouse.settings()
    # dbt runs inside dbt_project/: a relative data directory would point elsewhere.
    os.environ.update(settings_environment(settings))
    dbt_vars = json.dumps({"cutoff": settings.cutoff.isoformat()})
    # dbt's target and log under the data directory, not in the installation (dbt_paths).
    _, log_dir = dbt_paths(settings.data_dir)
    args = ["build", "--vars", dbt_vars, "--log-path", str(log_dir), "--no-use-colors"]
    target = invocation_target(settings.data_dir, context.run.run_id)
    try:
        invocation = dbt.cli(args, context=context, target_path=target)
        # dagster-dbt copies the installation's partial_parse.msgpack with its mode (0644):
        # everything in the data directory is the owner's only.
        for path in [target, *target.rglob("*")] if target.is_dir() else []:
            if not path.is_symlink():
                path.chmod(stat.S_IMODE(path.stat().st_mode) & ~0o077)
        yield from invocation.stream()
    finally:
        prune_invocations(settings.data_dir)


@cache
def dbt_cli_resource() -> DbtCliResource:
    """dagster-dbt's resource for this project, built from code only (once per process:
    it asks dbt its version on first use)."""
    return DbtCliResource(project_dir=dbt_project, dbt_executable=tool_path(DBT_WRAPPER))


def dbt_resource() -> DbtResource:
    return DbtResource()
