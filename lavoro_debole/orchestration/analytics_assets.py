"""The analysts' read-only copy of the warehouse, refreshed after every build."""

import dagster as dg

from lavoro_debole.exports.analytics import COPY_FILE, PUBLISHED, RISK_NOTE_FILE, publish_for
from lavoro_debole.exports.build_inputs import (
    ANALYTICS_STEP,
    analytics_inputs,
    record_inputs,
    recorded_inputs,
    unchanged,
)
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
def analytics_duckdb(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    settings = warehouse.settings()
    files = [settings.analytics_folder / COPY_FILE, settings.analytics_folder / RISK_NOTE_FILE]

    def inputs(con) -> dict:
        return analytics_inputs(
            con,
            PUBLISHED,
            pseudonym_key=settings.require_key(),
            cutoff=settings.cutoff,
            files=files,
        )

    with warehouse.connect() as con:
        before = inputs(con)
        recorded = recorded_inputs(con, ANALYTICS_STEP)
    if recorded is not None and unchanged(
        {k: v for k, v in recorded.items() if k != "summary"}, before
    ):
        context.log.info("Copia per gli analisti invariata: nessun dato nuovo, non riscritta.")
        return dg.MaterializeResult(
            metadata={"File": str(files[0]), "Esito": "invariato: nessun dato nuovo"}
            | dict(recorded.get("summary") or {})
        )
    copy = publish_for(settings)
    summary = {
        "Tabelle copiate": copy.tables,
        "Persone": copy.persons,
        "Persone in combinazioni rare (nota sul rischio)": copy.persons_at_risk,
    }
    with warehouse.connect() as con:
        record_inputs(con, ANALYTICS_STEP, {**inputs(con), "summary": summary})
    return dg.MaterializeResult(metadata={"File": str(copy.path), **summary})
