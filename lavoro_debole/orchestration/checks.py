"""Checks that watch the calendar rather than one run's files."""

import datetime as dt

import dagster as dg

from lavoro_debole.ingest.expected_senders import overdue_files
from lavoro_debole.orchestration.resources import WarehouseResource

EXPECTED_FILES = dg.AssetKey(["intermediate", "int_expected_files_by_period"])


@dg.asset_check(
    asset=EXPECTED_FILES,
    name="file_in_ritardo",
    description=(
        "Ogni file atteso dai mittenti dell'elenco è arrivato entro i giorni concessi; il "
        "giorno dopo una scadenza passata senza il file il controllo fallisce e nomina il "
        "mittente."
    ),
)
def overdue_expected_files(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    today = dt.date.today()
    with warehouse.connect() as con:
        overdue = overdue_files(con, today)
    by_sender: dict[str, list] = {}
    for o in overdue:
        by_sender.setdefault(f"{o.sender} ({o.feed})", []).append(o)
    senders = sorted(by_sender)
    if overdue:
        # one line per sender: how many are missing, and the latest (the one to ask for)
        lines = [
            f"{name}: {len(missing)} file mancanti; il più recente: "
            + missing[-1].describe().split(": ", 1)[1]
            for name, missing in sorted(by_sender.items())
        ]
        description = (
            f"{len(overdue)} file attesi non arrivati entro la scadenza, da {len(senders)} "
            "mittenti. Cosa fare: chiedere il file al mittente e salvarlo nella cartella "
            "inbox del suo flusso.\n" + "\n".join(f"- {line}" for line in lines)
        )
    else:
        description = "Nessun file atteso è in ritardo."
    return dg.AssetCheckResult(
        passed=not overdue,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={"file_in_ritardo": len(overdue), "mittenti": ", ".join(senders) or "nessuno"},
    )
