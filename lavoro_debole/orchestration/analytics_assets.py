"""The analysts' read-only copy of the warehouse, refreshed after every build."""

import dagster as dg

from lavoro_debole.exports.analytics import publish_for
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
        "Copia per gli analisti (analytics.duckdb, fuori dalla cartella dei dati, in "
        "LAVORO_ANALYTICS_DIR): colonne scelte dei modelli, pseudonimi propri, età invece della "
        "data di nascita, con la nota sul rischio (rischio.md); sostituita in un solo passo."
    ),
)
def analytics_duckdb(warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = warehouse.settings()
    copy = publish_for(settings)
    return dg.MaterializeResult(
        metadata={
            "File": str(copy.path),
            "Tabelle copiate": copy.tables,
            "Persone": copy.persons,
            "Persone in combinazioni rare (nota sul rischio)": copy.persons_at_risk,
        }
    )
