"""Publishing: the disclosure-controlled mart, one workbook asset per funder profile
(partitioned by quarter) with its audit check and its delivery, and the schedule.

Thin: disclosure control, audit, workbook and delivery live in ``lavoro_debole.exports``.
"""

import datetime as dt
import os

import dagster as dg

from lavoro_debole.exports.delivery import deliver_workbook, smtp_settings_from_env
from lavoro_debole.exports.profiles import FunderProfile, load_profiles
from lavoro_debole.exports.publish import AuditFailedError, build_funder_export, publish_indicators
from lavoro_debole.orchestration.partitions import QUARTERS, add_quarters, quarter_of
from lavoro_debole.orchestration.resources import WAREHOUSE_POOL, WarehouseResource

EXPORTS_GROUP = "exports"
INDICATOR_VALUES = dg.AssetKey(["marts", "indicator_values"])
INDICATOR_PUBLISHED = dg.AssetKey(["marts", "indicator_published"])
AUDIT_CHECK = "audit_riservatezza"


@dg.asset(
    key=INDICATOR_PUBLISHED,
    group_name="marts",
    deps=[INDICATOR_VALUES],
    pool=WAREHOUSE_POOL,
    kinds={"python", "duckdb"},
    description=(
        "Indicatori pubblicabili: gli stessi di marts.indicator_values dopo il controllo "
        "della riservatezza (soglia k=5, celle piccole e complementari mostrate come 'c')."
    ),
    check_specs=[dg.AssetCheckSpec(AUDIT_CHECK, asset=INDICATOR_PUBLISHED)],
)
def indicator_published(warehouse: WarehouseResource):
    with warehouse.connect() as con:
        protection = publish_indicators(con)
    suppressed = int(protection.suppressed.sum())
    yield dg.MaterializeResult(
        metadata={
            "Celle": len(protection.suppressed),
            "Celle riservate (c)": suppressed,
            "Di cui per la soglia": int(protection.primary.sum()),
        }
    )
    yield dg.AssetCheckResult(
        check_name=AUDIT_CHECK,
        passed=bool(protection.audit.passed),
        description=(
            "Verifica superata: nessuna cella riservata può essere ricavata dalle altre."
            if protection.audit.passed
            else "Verifica NON superata: " + protection.audit.summary()
        ),
    )


SCHEDULE_NAME = "quarterly_exports"
FORCE_TAG = "lavoro/reinvia"
DELIVERY_LABELS = {"sent": "spedita", "skipped": "non spedita", "failed": "non riuscita"}
"""The outcome of a delivery as the steward reads it (``ops.deliveries`` keeps the code)."""


def _force_delivery(context: dg.AssetExecutionContext) -> bool:
    """The steward forces a new sending with the run tag ``lavoro/reinvia=si``."""
    return context.run.tags.get(FORCE_TAG, "").lower() in ("si", "sì", "true", "1")


def _scheduled(context: dg.AssetExecutionContext) -> bool:
    """Workbooks are mailed by the quarterly schedule's runs only: a "Materialize all"
    or ``lavoro run`` writes them without sending anything before its day."""
    return context.run.tags.get("dagster/schedule_name") == SCHEDULE_NAME


def build_export_asset(profile: FunderProfile) -> dg.AssetsDefinition:
    key = dg.AssetKey(["exports", profile.name])

    @dg.asset(
        key=key,
        group_name=EXPORTS_GROUP,
        partitions_def=QUARTERS,
        deps=[INDICATOR_VALUES, INDICATOR_PUBLISHED],
        pool=WAREHOUSE_POOL,
        kinds={"excel", "email"},
        description=(
            f"Cartella di lavoro trimestrale per {profile.title}: indicatori con controllo "
            "della riservatezza e verifica, inviata per posta ai destinatari del profilo "
            f"(profiles/{profile.source.name if profile.source else profile.name + '.yaml'})."
        ),
        check_specs=[
            dg.AssetCheckSpec(
                AUDIT_CHECK,
                asset=key,
                description="Nessuna cella riservata della cartella può essere ricavata.",
            )
        ],
    )
    def _export(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        settings = warehouse.settings()
        quarter = context.partition_key
        out_dir = settings.exports_dir / profile.name / quarter
        out_dir.mkdir(parents=True, exist_ok=True)
        smtp = smtp_settings_from_env()
        with warehouse.connect() as con:
            try:
                result = build_funder_export(con, profile, quarter, settings.cutoff, out_dir)
            except AuditFailedError as failed:
                yield dg.AssetCheckResult(
                    check_name=AUDIT_CHECK,
                    passed=False,
                    description=(
                        "Verifica della riservatezza NON superata: la cartella non è stata "
                        f"scritta né inviata. Segnalare al responsabile tecnico. ({failed})"
                    ),
                )
                raise dg.Failure(
                    description=f"Verifica della riservatezza non superata per {profile.name} "
                    f"{quarter}: cartella non scritta."
                ) from None
            if _scheduled(context) or _force_delivery(context):
                delivery = deliver_workbook(
                    con,
                    profile=profile.name,
                    period=quarter,
                    recipients=profile.recipients,
                    path=result.path,
                    smtp=smtp,
                    funder_title=profile.title,
                    force=_force_delivery(context),
                )
                status, detail = DELIVERY_LABELS[delivery.status], delivery.message
            else:
                status = "non spedita"
                detail = (
                    "esecuzione non programmata: la cartella è scritta ma non spedita; "
                    "la spedisce il calendario trimestrale, o un'esecuzione con l'etichetta "
                    f"{FORCE_TAG}=si"
                )
        context.log.info(f"{profile.name} {quarter}: consegna {status}")
        yield dg.MaterializeResult(
            metadata={
                "File scritto": str(result.path),
                "sha256": result.sha256,
                "Verifica riservatezza": "superata",
                "Soglia k": result.k,
                "Celle mostrate": result.cells_shown,
                "Celle riservate (c)": result.cells_suppressed,
                "Consegna": status,
                "Dettaglio consegna": detail,
            }
        )
        yield dg.AssetCheckResult(
            check_name=AUDIT_CHECK,
            passed=True,
            description=(
                f"Verifica superata: ogni cella riservata resta incerta di almeno {result.k}."
            ),
        )

    return _export


export_assets = [build_export_asset(p) for p in load_profiles().values()]

quarterly_job = dg.define_asset_job(
    "invio_trimestrale",
    selection=dg.AssetSelection.assets(*[a.key for a in export_assets]),
    description="Costruisce e invia le cartelle di lavoro dei finanziatori per un trimestre.",
)


def export_day() -> int:
    """Day of the month after a quarter's end on which the workbooks go out (default 15)."""
    return int(os.environ.get("LAVORO_EXPORT_DAY", "15"))


@dg.schedule(
    name=SCHEDULE_NAME,
    cron_schedule=f"0 7 {export_day()} 1,4,7,10 *",
    job=quarterly_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    execution_timezone="Europe/Rome",
    description=(
        "Ogni trimestre, il giorno LAVORO_EXPORT_DAY (predefinito 15) del mese dopo la fine "
        "del trimestre, costruisce e invia le cartelle di lavoro del trimestre appena chiuso."
    ),
)
def quarterly_exports(context: dg.ScheduleEvaluationContext):
    when = context.scheduled_execution_time.date()
    quarter = previous_quarter(when)
    # The inbox sensor adds each quarter as it ends; the schedule must not depend on it.
    add_quarters(context.instance, [quarter])
    return dg.RunRequest(run_key=f"invio-{quarter}", partition_key=quarter)


def previous_quarter(day: dt.date) -> str:
    """The quarter that ended before ``day``'s quarter began."""
    start_of_quarter = dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return quarter_of(start_of_quarter - dt.timedelta(days=1))
