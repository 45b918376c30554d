"""Comunicazioni Obbligatorie (UNILAV) extracted by the Province's Centro per l'Impiego.

Cumulative quarterly extracts: the same Codice Comunicazione in two extracts is the
same notification, so staging keeps the copy of the latest extract.
"""

import pandas as pd

from lavoro_debole.schemas._base import Column, Entity, Feed, vocab

EVENT_TYPES = vocab("Assunzione", "Proroga", "Trasformazione", "Cessazione")
WORKING_TIME = vocab(
    "Tempo Pieno",
    "Tempo Parziale Orizzontale",
    "Tempo Parziale Verticale",
    "Tempo Parziale Misto",
)
TERMINATION_REASONS = {
    "Dimissioni": ("Dimissioni volontarie",),
    "Licenziamento per giusta causa": (),
    "Licenziamento giustificato motivo": (
        "Licenziamento per giustificato motivo",
        "Licenziamento per giustificato motivo oggettivo",
        "Licenziamento per giustificato motivo soggettivo",
    ),
    "Fine contratto a termine": ("Fine contratto", "Scadenza termine"),
    "Mancato superamento periodo di prova": ("Mancato superamento del periodo di prova",),
    "Altro": (),
}


def _derive_contract_code(frame: pd.DataFrame) -> pd.DataFrame:
    """The contract code (``A.02.00``) whose first four characters give the family."""
    frame["contract_code"] = frame["contract_type"].str.slice(0, 7)
    return frame


EVENTS = Entity(
    table="provincia_co",
    description="One row per UNILAV event (hire, extension, transformation, termination).",
    columns=(
        Column(
            "communication_id",
            ("Codice Comunicazione", "Cod. Comunicazione", "ID Comunicazione"),
            "text",
            required=True,
        ),
        Column(
            "cf",
            ("Codice Fiscale Lavoratore", "CF Lavoratore", "C.F. Lavoratore", "Codice Fiscale"),
            "cf",
            required=True,
        ),
        Column(
            "event_type",
            ("Tipo Comunicazione", "Tipo Evento"),
            "vocab",
            required=True,
            vocabulary=EVENT_TYPES,
        ),
        Column("event_date", ("Data Evento",), "date", required=True),
        Column(
            "relationship_start_date",
            ("Data Inizio Rapporto", "Data Inizio"),
            "date",
            required=True,
        ),
        Column("planned_end_date", ("Data Fine Prevista", "Data Fine"), "date"),
        Column(
            "contract_type",
            ("Tipologia Contrattuale", "Tipo Contratto", "Tipologia Contratto"),
            "text",
            required=True,
            pattern=r"[A-Z]\.\d{2}\.\d{2}",
        ),
        Column(
            "employer_code",
            ("Codice Fiscale Datore", "CF Datore", "C.F. Datore", "Codice Datore", "P.IVA Datore"),
            "employer_code",
            required=True,
        ),
        Column(
            "employer_name", ("Denominazione Datore", "Ragione Sociale Datore", "Datore"), "drop"
        ),
        Column("ateco_code", ("Settore ATECO", "ATECO", "Codice ATECO"), "text"),
        Column(
            "work_municipality",
            ("Comune Sede di Lavoro", "Comune Sede Lavoro", "Sede di Lavoro"),
            "text",
        ),
        Column("working_time", ("Tipo Orario", "Orario"), "vocab", vocabulary=WORKING_TIME),
        Column(
            "weekly_hours",
            ("Ore Settimanali Medie", "Ore Settimanali", "Ore sett."),
            "number",
            non_negative=True,
        ),
        Column("occupation", ("Qualifica Professionale", "Qualifica"), "text"),
        Column("incentive", ("Agevolazione", "Agevolazioni"), "text"),
        Column(
            "termination_reason", ("Motivo Cessazione",), "vocab", vocabulary=TERMINATION_REASONS
        ),
    ),
    derived_columns={"contract_code": "VARCHAR"},
    derive=_derive_contract_code,
)

FEED = Feed(
    name="provincia_co",
    entities=(EVENTS,),
    description="Comunicazioni obbligatorie (UNILAV) dei lavoratori del programma.",
    label="Comunicazioni obbligatorie (Provincia di Lodi, CPI)",
)
