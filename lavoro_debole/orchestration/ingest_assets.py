"""One asset per partner feed: the inbox folder into ``raw.<feed>``, with its checks.

Thin: the work is ``lavoro_debole.ingest``; this module only turns its outcome into
metadata and asset checks the data steward can read (in Italian).
"""

import csv
from pathlib import Path

import dagster as dg

from lavoro_debole.ingest.expected_senders import (
    EXPECTED_SENDERS_FILE,
    ReferenceListError,
    read_expected_senders,
)
from lavoro_debole.ingest.personal import mask_personal
from lavoro_debole.ingest.pipeline import FileOutcome, ingest_feed
from lavoro_debole.ingest.problems import OpenProblem, open_problems
from lavoro_debole.ingest.readers import ReadLimits
from lavoro_debole.ingest.senders import load_senders
from lavoro_debole.ingest.store import ensure_tables, replace_expected_senders, replace_reference
from lavoro_debole.ingest.vault import attach_vault
from lavoro_debole.orchestration.resources import WAREHOUSE_POOL, WarehouseResource
from lavoro_debole.schemas import FEEDS, Feed
from lavoro_debole.settings import load_settings

INBOX_GROUP = "inbox"
REFERENCE_FILE = "cooperative_sociali.csv"


def max_rejected_share() -> float:
    """The share of rejected rows above which a file fails its check (default 10%)."""
    return load_settings().max_rejected_share


def raw_asset_keys(feed: Feed) -> list[dg.AssetKey]:
    """One key per table the feed writes (the CFP sends courses and enrolments)."""
    return [dg.AssetKey(["raw", entity.table]) for entity in feed.entities]


def read_reference_list(path: Path) -> list[tuple[str, str]]:
    """(ragione_sociale, partita_iva) rows of a steward's reference CSV (``;``, UTF-8)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=";")
        return [
            ((row.get("ragione_sociale") or "").strip(), (row.get("partita_iva") or "").strip())
            for row in reader
            if (row.get("partita_iva") or "").strip()
        ]


def _file_lines(outcomes: list[FileOutcome]) -> str:
    lines = [
        "| File | Esito | Righe dati | Caricate | Scartate | Saltate |",
        "|---|---|---|---|---|---|",
    ]
    status = {"loaded": "caricato", "duplicate": "doppione", "rejected": "rifiutato"}
    for o in outcomes:
        lines.append(
            f"| {mask_personal(o.file_name)} | {status[o.status]} | {o.rows_data} | "
            f"{o.rows_loaded} | {o.rows_rejected} | {o.rows_skipped} |"
        )
    return "\n".join(lines)


def _rejection_check(
    feed: Feed, problems: list[OpenProblem], outcomes: list[FileOutcome], threshold: float
) -> dg.AssetCheckResult:
    """Red while any of the feed's files has an open problem, whichever run brought it."""
    new = {o.file_name for o in outcomes}
    worrying = []
    for p in problems:
        name = mask_personal(p.file_name)
        when = "; arrivato in questa esecuzione" if p.file_name in new else ""
        if p.status == "rejected":
            worrying.append(f"- {name}: file rifiutato per intero ({p.error}){when}")
        else:
            share = 100 * p.rows_rejected / p.rows_data
            summary = (
                f"feedback/{feed.name}/{mask_personal(p.feedback_file)}"
                if p.feedback_file
                else f"({p.error})"
            )
            worrying.append(
                f"- {name}: {p.rows_rejected} righe scartate su {p.rows_data} "
                f"({share:.0f}%); riepilogo per il partner: {summary}{when}"
            )
    for o in outcomes:
        if o.status == "loaded" and o.error and o.file_name not in {p.file_name for p in problems}:
            # its feedback workbook could not be written
            worrying.append(f"- {mask_personal(o.file_name)}: {o.error}")
    if worrying:
        description = (
            "File di questo flusso con troppe righe scartate o rifiutati, non ancora "
            "sostituiti da un file corretto dello stesso mittente. Cosa fare: inviare al "
            "partner il riepilogo indicato (elenca riga, colonna e motivo) e chiedere il file "
            "corretto; poi metterlo nella cartella di arrivo. Il controllo resta rosso finché "
            "il file corretto non arriva.\n" + "\n".join(worrying)
        )
    else:
        description = (
            f"Nessun file del flusso supera la soglia del {threshold:.0%} di righe scartate "
            "o è rifiutato senza un file corretto arrivato dopo."
        )
    return dg.AssetCheckResult(
        check_name="righe_scartate",
        passed=not worrying,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata={"soglia": threshold, "file_con_problemi": len(worrying)},
    )


def _conservation_check(con, feed: Feed) -> dg.AssetCheckResult:
    """Every data row of every loaded file is either in raw or in the rejected rows."""
    union = " union all ".join(
        f"select file_sha256 from raw.{entity.table}" for entity in feed.entities
    )
    broken = con.execute(
        f"""
        with stored as (
            select file_sha256, count(*) as n from ({union}) group by file_sha256
        )
        select f.file_name, f.rows_data, f.rows_loaded, f.rows_rejected, coalesce(s.n, 0)
        from ops.ingest_files as f
        left join stored as s using (file_sha256)
        where f.feed = ? and f.status = 'loaded'
          and (f.rows_data <> f.rows_loaded + f.rows_rejected or coalesce(s.n, 0) <> f.rows_loaded)
        order by f.file_name
        """,
        [feed.name],
    ).fetchall()
    files = con.execute(
        "select count(*) from ops.ingest_files where feed = ? and status = 'loaded'", [feed.name]
    ).fetchone()[0]
    if broken:
        description = (
            "Righe non conservate: il conteggio delle righe caricate e scartate non torna. "
            "Segnalare al responsabile tecnico.\n"
            + "\n".join(
                f"- {mask_personal(name)}: righe dati {data}, caricate {loaded}, "
                f"scartate {rejected}, "
                f"presenti nel magazzino {stored}"
                for name, data, loaded, rejected, stored in broken
            )
        )
    else:
        description = (
            f"Tutte le righe dei {files} file caricati sono nel magazzino o tra gli scarti."
        )
    return dg.AssetCheckResult(
        check_name="conservazione_righe",
        passed=not broken,
        description=description,
        metadata={"file_caricati": files, "file_non_conformi": len(broken)},
    )


def build_ingest_asset(feed: Feed) -> dg.AssetsDefinition:
    keys = raw_asset_keys(feed)
    key = keys[0]
    description = (
        f"{feed.label or feed.description}: legge i file nuovi della cartella "
        f"inbox/{feed.name}/, controlla ogni riga, pseudonimizza i codici fiscali e carica "
        "le righe valide"
    )
    specs = [
        dg.AssetSpec(
            k,
            group_name=INBOX_GROUP,
            kinds={"python", "duckdb"},
            description=f"{description} in raw.{entity.table} ({entity.description})",
        )
        for k, entity in zip(keys, feed.entities, strict=True)
    ]

    @dg.multi_asset(
        name=f"ingest_{feed.name}",
        specs=specs,
        pool=WAREHOUSE_POOL,
        check_specs=[
            dg.AssetCheckSpec(
                "righe_scartate",
                asset=key,
                description=(
                    "Nessun file del flusso ha troppe righe scartate o è rifiutato senza "
                    "che un file corretto dello stesso mittente l'abbia sostituito."
                ),
            ),
            dg.AssetCheckSpec(
                "conservazione_righe",
                asset=key,
                description="Ogni riga dei file è caricata o scartata con un motivo.",
            ),
        ],
    )
    def _ingest(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        settings = warehouse.settings()
        key_bytes = settings.require_key()
        with warehouse.connect() as con:
            attach_vault(con, settings.vault_path, settings.require_vault_key())
            outcomes = ingest_feed(
                con,
                feed.name,
                settings.inbox_dir,
                key=key_bytes,
                feedback_dir=settings.feedback_dir,
                senders=load_senders(settings.reference_dir),
                limits=ReadLimits(
                    memory_mb=settings.reader_memory_mb, timeout_s=settings.reader_timeout_s
                ),
            )
            totals = con.execute(
                """
                select count(*), coalesce(sum(rows_loaded), 0), coalesce(sum(rows_rejected), 0),
                       coalesce(sum(rows_skipped), 0)
                from ops.ingest_files where feed = ?
                """,
                [feed.name],
            ).fetchone()
            conservation = _conservation_check(con, feed)
            problems = open_problems(con, feed.name, settings.max_rejected_share)
        for o in outcomes:
            context.log.info(
                f"{mask_personal(o.file_name)}: {o.status}, caricate {o.rows_loaded}, "
                f"scartate {o.rows_rejected}, "
                f"saltate {o.rows_skipped}"
            )
        if not outcomes:
            context.log.info(f"{feed.name} invariato: nessun file nuovo.")
        feedback = [o.feedback_file for o in outcomes if o.feedback_file]
        for other in keys[1:]:
            yield dg.MaterializeResult(asset_key=other, metadata={"Vedi": key.to_user_string()})
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "File elaborati in questa esecuzione": len(outcomes),
                "Righe caricate": sum(o.rows_loaded for o in outcomes),
                "Righe scartate": sum(o.rows_rejected for o in outcomes),
                "Righe con avvisi": sum(o.rows_warned for o in outcomes),
                "Righe saltate (titoli, intestazioni, vuote, totali)": sum(
                    o.rows_skipped for o in outcomes
                ),
                "File doppioni": sum(o.status == "duplicate" for o in outcomes),
                "File rifiutati": sum(o.status == "rejected" for o in outcomes),
                "Riepiloghi nuovi per i partner": dg.MetadataValue.md(
                    "\n".join(f"- feedback/{feed.name}/{mask_personal(name)}" for name in feedback)
                    or "nessuno"
                ),
                "Dettaglio dei file": dg.MetadataValue.md(
                    _file_lines(outcomes) if outcomes else "Nessun file nuovo."
                ),
                "Totale file ricevuti": int(totals[0]),
                "Totale righe caricate": int(totals[1]),
                "Totale righe scartate": int(totals[2]),
                "Totale righe saltate": int(totals[3]),
            },
        )
        yield _rejection_check(feed, problems, outcomes, settings.max_rejected_share)
        yield conservation

    return _ingest


@dg.asset(
    key=dg.AssetKey(["raw", "reference_cooperative_sociali"]),
    group_name=INBOX_GROUP,
    pool=WAREHOUSE_POOL,
    kinds={"python", "duckdb"},
    description=(
        "Elenco delle cooperative sociali di tipo B tenuto dal referente dei dati "
        "(reference/cooperative_sociali.csv); se manca vale l'elenco predefinito del progetto."
    ),
)
def reference_cooperative_sociali(warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = warehouse.settings()
    path = settings.reference_dir / REFERENCE_FILE
    rows = read_reference_list(path) if path.is_file() else []
    with warehouse.connect() as con:
        ensure_tables(con, [])
        replace_reference(con, rows)
    return dg.MaterializeResult(
        metadata={
            "Fonte": str(path) if rows else "elenco predefinito del progetto",
            "Cooperative nell'elenco del referente": len(rows),
        }
    )


@dg.asset(
    key=dg.AssetKey(["raw", "reference_expected_senders"]),
    group_name=INBOX_GROUP,
    pool=WAREHOUSE_POOL,
    kinds={"python", "duckdb"},
    description=(
        "Elenco dei mittenti attesi tenuto dal referente dei dati "
        f"(reference/{EXPECTED_SENDERS_FILE}: flusso, mittente, cadenza, giorni concessi): "
        "la completezza e la puntualità degli invii (Q1) si misurano su di esso; se manca "
        "vale l'elenco predefinito del progetto."
    ),
)
def reference_expected_senders(warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = warehouse.settings()
    path = settings.reference_dir / EXPECTED_SENDERS_FILE
    try:
        senders = read_expected_senders(path, list(FEEDS)) if path.is_file() else []
    except ReferenceListError as error:
        raise dg.Failure(
            description=f"Elenco dei mittenti attesi non valido, non caricato: {error}"
        ) from None
    with warehouse.connect() as con:
        ensure_tables(con, [])
        replace_expected_senders(con, [s.as_row() for s in senders])
    return dg.MaterializeResult(
        metadata={
            "Fonte": str(path) if senders else "elenco predefinito del progetto",
            "Mittenti attesi nell'elenco del referente": len(senders),
        }
    )


@dg.asset(
    key=dg.AssetKey(["ops", "ingest_files"]),
    group_name=INBOX_GROUP,
    deps=[k for feed in FEEDS.values() for k in raw_asset_keys(feed)],
    pool=WAREHOUSE_POOL,
    kinds={"duckdb"},
    description=(
        "Registro degli invii: un rigo per ogni file ricevuto, con le righe caricate, "
        "scartate e saltate. Serve alla completezza degli invii (Q1) e alle righe scartate (Q2)."
    ),
)
def ingest_files_log(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        ensure_tables(con, [e for f in FEEDS.values() for e in f.entities])
        rows = con.execute(
            """
            select feed, count(*), count(*) filter (where status = 'rejected'),
                   coalesce(sum(rows_rejected), 0)
            from ops.ingest_files group by feed order by feed
            """
        ).fetchall()
    table = ["| Flusso | File | Rifiutati | Righe scartate |", "|---|---|---|---|"]
    table += [
        f"| {feed} | {files} | {refused} | {rejected} |" for feed, files, refused, rejected in rows
    ]
    return dg.MaterializeResult(
        metadata={
            "File ricevuti": sum(r[1] for r in rows),
            "Per flusso": dg.MetadataValue.md("\n".join(table)),
        }
    )


ingest_assets = [build_ingest_asset(feed) for feed in FEEDS.values()]
