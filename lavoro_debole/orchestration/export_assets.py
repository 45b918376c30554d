"""Publishing: the disclosure-controlled mart, one workbook asset per funder profile
(partitioned by quarter) with its audit check and its delivery, and the schedule.

Thin: disclosure control, audit, workbook and delivery live in ``lavoro_debole.exports``.
"""

import datetime as dt
from pathlib import Path

import dagster as dg

from lavoro_debole.exports.build_inputs import (
    PUBLISHED_STEP,
    export_inputs,
    export_step,
    file_digest,
    published_inputs,
    record_inputs,
    recorded_inputs,
    unchanged,
)
from lavoro_debole.exports.joint import JointAuditFailedError
from lavoro_debole.exports.profiles import FunderProfile, load_profiles
from lavoro_debole.exports.publish import AuditFailedError, publish_indicators
from lavoro_debole.exports.release_flow import approve_and_send, build_candidate, send_approved
from lavoro_debole.exports.releases import ReleaseError, releases
from lavoro_debole.orchestration.partitions import QUARTERS, add_quarters
from lavoro_debole.orchestration.resources import WAREHOUSE_POOL, WarehouseResource
from lavoro_debole.periods import Quarter
from lavoro_debole.settings import load_settings

EXPORTS_GROUP = "exports"
INDICATOR_VALUES = dg.AssetKey(["marts", "indicator_values"])
INDICATOR_PUBLISHED = dg.AssetKey(["marts", "indicator_published"])
AUDIT_CHECK = "audit_riservatezza"
UNCHANGED = "invariato: nessun dato nuovo"


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
def indicator_published(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    with warehouse.connect() as con:
        current = published_inputs(con)
        recorded = recorded_inputs(con, PUBLISHED_STEP)
        if unchanged(recorded, current) and current["indicator_published"] is not None:
            context.log.info(f"Indicatori pubblicabili {UNCHANGED}: non ricalcolati.")
            yield dg.MaterializeResult(metadata={"Esito": UNCHANGED})
            yield dg.AssetCheckResult(
                check_name=AUDIT_CHECK,
                passed=True,
                description=(
                    "Verifica superata quando gli indicatori furono calcolati; da allora "
                    "marts.indicator_values non è cambiato."
                ),
            )
            return
        protection = publish_indicators(con)
        record_inputs(con, PUBLISHED_STEP, published_inputs(con))
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
RELEASE_LABELS = {
    "candidate": "candidato (da approvare)",
    "approved": "approvato (da spedire)",
    "sent": "spedito",
    "superseded": "sostituito da un rilascio successivo",
}
DELIVERY_LABELS = {"sent": "spedita", "skipped": "non spedita", "failed": "non riuscita"}
"""The outcome of a delivery as the steward reads it (``ops.deliveries`` keeps the code)."""
QUARTER_TAG = "lavoro/trimestre"
PROFILE_TAG = "lavoro/profilo"
APPROVER_TAG = "lavoro/approvato_da"


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
        step = export_step(profile.name, quarter)
        with warehouse.connect() as con:
            inputs = export_inputs(con, profile, quarter, settings.cutoff)
            kept = _unchanged_release(con, step, inputs, profile.name, quarter, settings.data_dir)
            if kept is not None:
                context.log.info(f"{profile.name} {quarter}: {UNCHANGED}, {kept.label} tenuto.")
                yield dg.MaterializeResult(
                    metadata={
                        "Rilascio": kept.release_seq,
                        "Stato": RELEASE_LABELS[kept.status],
                        "File": kept.workbook_path,
                        "sha256": kept.sha256,
                        "Esito": f"{UNCHANGED}: {kept.label} non ricostruito",
                    }
                )
                yield dg.AssetCheckResult(
                    check_name=AUDIT_CHECK,
                    passed=True,
                    description=(
                        "Verifica superata quando il rilascio fu costruito; da allora i suoi "
                        "dati non sono cambiati."
                    ),
                )
                return
            try:
                outcome = build_candidate(
                    con, profile, quarter, settings.cutoff, settings.exports_dir
                )
            except AuditFailedError as failed:
                yield dg.AssetCheckResult(
                    check_name=AUDIT_CHECK,
                    passed=False,
                    description=(
                        "Verifica della riservatezza NON superata: la cartella non è stata "
                        f"scritta né inviata. Segnalare al responsabile tecnico. ({failed})"
                    ),
                )
                # the joint audit names the tables to hold back (never a value)
                hold_back = f" {failed}" if isinstance(failed, JointAuditFailedError) else ""
                raise dg.Failure(
                    description=f"Verifica della riservatezza non superata per {profile.name} "
                    f"{quarter}: cartella non scritta.{hold_back}"
                ) from None
            release = outcome.release
            record_inputs(
                con,
                step,
                {**inputs, "release_seq": release.release_seq, "sha256": release.sha256},
            )
        context.log.info(f"{profile.name} {quarter}: {outcome.message()}")
        notices = outcome.export.notices() if outcome.export is not None else []
        for notice in notices:  # an indicator the workbook shows with nothing in it
            context.log.warning(f"{profile.name} {quarter}: {notice}")
        metadata: dict[str, object] = {
            "Rilascio": release.release_seq,
            "Stato": RELEASE_LABELS[release.status],
            "File": release.workbook_path,
            "sha256": release.sha256,
            "Esito": outcome.message(),
        }
        if outcome.export is not None:
            metadata |= {
                "Verifica riservatezza": "superata",
                "Soglia k": outcome.export.k,
                "Celle mostrate": outcome.export.cells_shown,
                "Celle riservate (c)": outcome.export.cells_suppressed,
                "Celle riviste (r)": outcome.export.cells_revised,
                "Indicatori senza dati pubblicabili": (
                    "\n".join(notices) if notices else "nessuno"
                ),
                "Da fare": (
                    "approvare il rilascio (job approva_rilascio con le etichette "
                    f"lavoro/trimestre={quarter} e lavoro/approvato_da=<nome>, oppure "
                    f"`lavoro approva {profile.name} {quarter}`): solo allora viene spedito"
                ),
            }
        yield dg.MaterializeResult(metadata=metadata)
        yield dg.AssetCheckResult(
            check_name=AUDIT_CHECK,
            passed=True,
            description=(
                f"Verifica superata: ogni cella riservata resta incerta di almeno {profile.k}."
                if outcome.is_new
                else "Nessun nuovo rilascio: i dati sono quelli del rilascio già approvato."
            ),
        )

    return _export


def _unchanged_release(con, step: str, inputs: dict, profile: str, quarter: str, data_dir: Path):
    """The release this quarter's last build made or kept, when nothing it was built from
    changed and its workbook is still the file recorded; else None (build again)."""
    recorded = recorded_inputs(con, step)
    if recorded is None:
        return None
    mine = {k: v for k, v in recorded.items() if k not in ("release_seq", "sha256")}
    if not unchanged(mine, inputs):
        return None
    for release in releases(con, profile, quarter):
        if release.release_seq == recorded.get("release_seq"):
            if release.sha256 != recorded.get("sha256"):
                return None
            if file_digest(data_dir / release.workbook_path) != release.sha256:
                return None
            return release
    return None


export_assets = [build_export_asset(p) for p in load_profiles().values()]

quarterly_job = dg.define_asset_job(
    "invio_trimestrale",
    selection=dg.AssetSelection.assets(*[a.key for a in export_assets]),
    description=(
        "Costruisce i rilasci candidati delle cartelle di lavoro dei finanziatori per un "
        "trimestre: partono solo dopo l'approvazione (job approva_rilascio)."
    ),
)


def export_day() -> int:
    """Day of the month after a quarter's end on which the workbooks go out (default 15)."""
    return load_settings().export_day


@dg.schedule(
    name=SCHEDULE_NAME,
    cron_schedule=f"0 7 {export_day()} 1,4,7,10 *",
    job=quarterly_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    execution_timezone="Europe/Rome",
    description=(
        "Ogni trimestre, il giorno LAVORO_EXPORT_DAY (predefinito 15) del mese dopo la fine "
        "del trimestre, costruisce i rilasci candidati del trimestre appena chiuso; il "
        "referente li approva (job approva_rilascio o `lavoro approva`) e solo allora partono."
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
    return str(Quarter.last_complete(day))


@dg.op(
    name="approva_e_spedisci",
    pool=WAREHOUSE_POOL,
    description=(
        "Approva il rilascio candidato del trimestre (etichetta lavoro/trimestre) per ogni "
        "profilo, o per quello dell'etichetta lavoro/profilo, a nome di chi è scritto "
        "nell'etichetta lavoro/approvato_da, e lo spedisce una volta."
    ),
)
def approve_release(context: dg.OpExecutionContext, warehouse: WarehouseResource) -> None:
    tags = context.run.tags
    quarter = tags.get(QUARTER_TAG, "").strip()
    approver = tags.get(APPROVER_TAG, "").strip()
    if not quarter or not approver:
        raise dg.Failure(
            description=(
                "Per approvare servono le etichette (Launchpad → Edit tags) "
                f"{QUARTER_TAG}=AAAA-Tn (per esempio 2025-Q4) e {APPROVER_TAG}=nome e cognome; "
                f"facoltativa {PROFILE_TAG}=profilo (senza: tutti i profili)."
            )
        )
    profiles = load_profiles()
    wanted = tags.get(PROFILE_TAG, "").strip()
    if wanted and wanted not in profiles:
        raise dg.Failure(description=f"Profilo sconosciuto: {wanted} ({', '.join(profiles)})")
    smtp = warehouse.settings().smtp
    done = []
    with warehouse.connect() as con:
        for name, profile in profiles.items():
            if wanted and name != wanted:
                continue
            try:
                release, delivery = approve_and_send(con, profile, quarter, approver, smtp)
            except ReleaseError as error:
                if wanted:
                    raise dg.Failure(description=str(error)) from None
                context.log.warning(str(error))
                continue
            done.append(f"{release.label}: approvato da {approver}; {delivery.message}")
            context.log.info(done[-1])
        for name, profile in profiles.items():
            for waiting in releases(con, name):
                if waiting.status == "approved" and smtp is not None:
                    send_approved(con, profile, waiting, smtp)
    if not done:
        raise dg.Failure(description=f"Nessun rilascio candidato da approvare per {quarter}.")


@dg.job(
    name="approva_rilascio",
    description=(
        "Approvazione del referente: approva e spedisce i rilasci candidati di un trimestre. "
        f"Etichette: {QUARTER_TAG}, {APPROVER_TAG}, facoltativa {PROFILE_TAG}."
    ),
)
def approval_job() -> None:
    approve_release()
