"""The analysts' read-only copy of the warehouse, refreshed after every build."""

import dagster as dg

from lavoro_debole.exports.analytics import publish_analytics
from lavoro_debole.orchestration.resources import WAREHOUSE_POOL, WarehouseResource

ANALYTICS_KEY = dg.AssetKey(["analytics", "analytics_duckdb"])


@dg.asset(
    key=ANALYTICS_KEY,
    group_name="exports",
    deps=[
        dg.AssetKey(["marts", "indicator_values"]),
        dg.AssetKey(["marts", "indicator_published"]),
    ],
    pool=WAREHOUSE_POOL,
    kinds={"duckdb"},
    description=(
        "Copia per gli analisti (analytics.duckdb): modelli e indicatori pseudonimizzati, "
        "senza righe scartate né dati grezzi; sostituita in un solo passo a ogni aggiornamento."
    ),
)
def analytics_duckdb(warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = warehouse.settings()
    copy = publish_analytics(settings.warehouse_path, settings.analytics_path)
    return dg.MaterializeResult(metadata={"File": str(copy.path), "Tabelle copiate": copy.tables})
