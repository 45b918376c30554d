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

from lavoro_debole.exports.build_inputs import (
    code_version,
    digest,
    existing_tables,
    files_digest,
    record_inputs,
    recorded_inputs,
    tables_digest,
)
from lavoro_debole.orchestration.dbt_paths import dbt_paths, invocation_target, prune_invocations
from lavoro_debole.orchestration.dbt_project import dbt_project
from lavoro_debole.orchestration.incremental import (
    BASE,
    DbtSelection,
    dbt_selection,
    in_build_order,
    source_tables,
)
from lavoro_debole.orchestration.resources import WAREHOUSE_POOL, WarehouseResource
from lavoro_debole.settings import DBT_PROJECT_DIR, Settings, settings_environment, tool_path

DBT_STEP = "dbt"
"""The step's name in ``ops.build_inputs``."""
FULL_REBUILD_TAG = "lavoro/ricostruisci"
"""A run tagged ``lavoro/ricostruisci=tutto`` (``lavoro run --tutto``) rebuilds every model."""
UNCHANGED = "invariato: nessun file nuovo"
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
    """Build and test the models for the configured cut-off date: only those downstream
    of the sources whose contents changed since the last successful build (all of them
    on the first build, after a change of the dbt project, the cut-off or the code, or
    when the run is tagged ``lavoro/ricostruisci=tutto``)."""
    settings = warehouse.settings()
    # dbt runs inside dbt_project/: a relative data directory would point elsewhere.
    os.environ.update(settings_environment(settings))
    dbt_vars = json.dumps({"cutoff": settings.cutoff.isoformat()})
    # dbt's target and log under the data directory, not in the installation (dbt_paths).
    _, log_dir = dbt_paths(settings.data_dir)
    args = ["build", "--vars", dbt_vars, "--log-path", str(log_dir), "--no-use-colors"]
    # A subset chosen in the UI is built as asked, and leaves the record as it was.
    whole = set(context.selected_asset_keys) == set(
        context.assets_def.node_keys_by_output_name.values()
    )
    manifest = _manifest()
    with warehouse.connect() as con:
        current = build_inputs_now(con, manifest, settings)
        selection = dbt_selection(
            manifest,
            recorded_inputs(con, DBT_STEP),
            current,
            existing=existing_tables(con),
            full=context.run.tags.get(FULL_REBUILD_TAG) == "tutto" or not whole,
        )
    context.log.info(_describe(selection))
    if selection.nothing:
        yield from _unchanged_outputs(context, manifest, selection, set())
        if whole:
            with warehouse.connect() as con:
                record_inputs(con, DBT_STEP, current)
        return
    # The models left as they are come first: none is downstream of one built now.
    yield from _unchanged_outputs(context, manifest, selection, set())
    target = invocation_target(settings.data_dir, context.run.run_id)
    try:
        invocation = dbt.cli([*args, *selection.dbt_args()], context=context, target_path=target)
        # dagster-dbt copies the installation's partial_parse.msgpack with its mode (0644):
        # everything in the data directory is the owner's only.
        for path in [target, *target.rglob("*")] if target.is_dir() else []:
            if not path.is_symlink():
                path.chmod(stat.S_IMODE(path.stat().st_mode) & ~0o077)
        yield from invocation.stream()
    finally:
        prune_invocations(settings.data_dir)
    if whole and invocation.is_successful():
        with warehouse.connect() as con:
            record_inputs(con, DBT_STEP, current)


def build_inputs_now(con, manifest: Mapping[str, Any], settings: Settings) -> dict[str, object]:
    """The digests the selection compares: the base and one per dbt source."""
    project = [
        p
        for p in DBT_PROJECT_DIR.rglob("*")
        if p.is_file()
        and not {"target", "logs", "dbt_packages"} & set(p.relative_to(DBT_PROJECT_DIR).parts)
        and p.name != ".user.yml"
    ]
    base = digest(
        {
            "project": files_digest(project, DBT_PROJECT_DIR),
            "cutoff": settings.cutoff.isoformat(),
            "code": code_version(),
        }
    )
    sources = source_tables(manifest)
    tables = tables_digest(con, sources.values())
    return {BASE: base, **{name: tables[table] for name, table in sources.items()}}


def _describe(selection: DbtSelection) -> str:
    if selection.full:
        return f"Tutti i modelli ({selection.reason})."
    if selection.nothing:
        return f"Modelli {UNCHANGED}: dbt non eseguito."
    return (
        f"Solo i modelli a valle delle fonti cambiate ({', '.join(selection.selectors())}): "
        f"{len(selection.build)} modelli; gli altri {UNCHANGED}."
    )


def _unchanged_outputs(context, manifest, selection: DbtSelection, emitted: set[str]):
    """The models this run left as they were that an asset or check outside dbt reads: an
    output each (parents first), saying so, so that those run (and decide for themselves
    whether their inputs changed). The others get no event: they were not materialised
    (each event is a write to Dagster's storage, the largest cost of a run that changes
    nothing)."""
    if selection.full:
        return
    translator = LavoroTranslator()
    needed = _needed_downstream(context)
    outputs = {
        key: name
        for name, key in context.assets_def.node_keys_by_output_name.items()
        if name in set(context.selected_output_names) - emitted and key in needed
    }
    nodes = manifest["nodes"]
    kept = [
        uid
        for uid, node in nodes.items()
        if node["resource_type"] in ("model", "seed") and uid not in selection.build
    ]
    for uid in in_build_order(manifest, kept):
        output_name = outputs.get(translator.get_asset_key(nodes[uid]))
        if output_name is None:
            continue
        yield dg.Output(
            None,
            output_name=output_name,
            metadata={"Esito": UNCHANGED, "Motivo": selection.reason},
        )


def _needed_downstream(context) -> set[dg.AssetKey]:
    """The models something outside this multi-asset depends on (all, if not known)."""
    mine = set(context.assets_def.node_keys_by_output_name.values())
    try:
        specs = context.assets_def.node_check_specs_by_output_name.values()
        own_check_keys = {spec.key for spec in specs}
        layer = context.job_def.asset_layer
        return {
            key
            for key in mine
            if (layer.get(key).child_keys - mine) or (layer.get(key).check_keys - own_check_keys)
        }
    except Exception:  # an older or newer Dagster: every model, as before
        return mine


@cache
def _manifest() -> dict[str, Any]:
    return json.loads(Path(dbt_project.manifest_path).read_text(encoding="utf-8"))


@cache
def dbt_cli_resource() -> DbtCliResource:
    """dagster-dbt's resource for this project, built from code only (once per process:
    it asks dbt its version on first use)."""
    return DbtCliResource(project_dir=dbt_project, dbt_executable=tool_path(DBT_WRAPPER))


def dbt_resource() -> DbtResource:
    return DbtResource()
