"""Everything the Dagster UI and ``lavoro run`` load: the walk of a file, as assets."""

import dagster as dg

from lavoro_debole.orchestration.analytics_assets import analytics_duckdb
from lavoro_debole.orchestration.checks import overdue_expected_files
from lavoro_debole.orchestration.dbt import dbt_resource, warehouse_models
from lavoro_debole.orchestration.export_assets import (
    approval_job,
    export_assets,
    indicator_published,
    quarterly_exports,
    quarterly_job,
)
from lavoro_debole.orchestration.ingest_assets import (
    ingest_assets,
    ingest_files_log,
    reference_cooperative_sociali,
    reference_expected_senders,
)
from lavoro_debole.orchestration.resources import NoValuesIOManager, WarehouseResource
from lavoro_debole.orchestration.sensors import SENSOR_TARGET, inbox_sensor

ALL_ASSETS = [
    *ingest_assets,
    reference_cooperative_sociali,
    reference_expected_senders,
    ingest_files_log,
    warehouse_models,
    analytics_duckdb,
    indicator_published,
    *export_assets,
]
ALL_CHECKS = [overdue_expected_files]
RESOURCES = {
    "warehouse": WarehouseResource(),
    "dbt": dbt_resource(),
    "io_manager": NoValuesIOManager(),
}
"""No resource has a field: nothing of them can be set in a run's config (issue 10)."""

warehouse_job = dg.define_asset_job(
    "aggiorna_magazzino",
    selection=SENSOR_TARGET,
    description=(
        "Rielabora tutto tranne le cartelle di lavoro dei finanziatori: i file nuovi della "
        "cartella inbox, i modelli, gli indicatori pubblicabili e la copia per gli analisti. "
        "Non chiede un trimestre e non spedisce nulla."
    ),
)


def partitioned_assets() -> list[dg.AssetsDefinition]:
    """The funder workbooks, one partition per quarter."""
    return [a for a in ALL_ASSETS if a.partitions_def is not None]


defs = dg.Definitions(
    assets=ALL_ASSETS,
    asset_checks=ALL_CHECKS,
    # One process per run: the warehouse pool lets one step run at a time anyway, and a
    # process per step would add its start-up (imports, the dbt manifest) to each step.
    # Configured here, so that a run's config cannot set the executor either.
    executor=dg.in_process_executor.configured(lambda _: {}, config_schema={}),
    jobs=[warehouse_job, quarterly_job, approval_job],
    schedules=[quarterly_exports],
    sensors=[inbox_sensor],
    resources=RESOURCES,
)
