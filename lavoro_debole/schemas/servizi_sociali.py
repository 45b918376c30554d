"""Case registers of the three district offices and of the Comune di Lodi.

District files carry no district column: the sender, and with it the district, comes
from the file name or the title row, matched against the senders' list
(``lavoro_debole.ingest.senders``).
"""

from __future__ import annotations

from collections.abc import Sequence

from lavoro_debole.schemas._base import (
    Column,
    ContextRefused,
    DateOrder,
    Entity,
    Feed,
    SenderLike,
)

LEGAL_STATUS = {
    "Detenuto": ("Detenuta", "Detenuto/a", "In carcere"),
    "Semilibero": ("Semilibera", "Semilibertà", "Semiliberta"),
    "Affidamento in prova ai servizi sociali": (
        "Affidato",
        "Affidata",
        "Affidamento in prova",
        "Affidamento in prova al servizio sociale",
    ),
    "Detenzione domiciliare": ("Detenzione domiciliare speciale",),
    "Libertà vigilata": ("Liberta vigilata",),
    "Messa alla prova": ("MAP",),
    "Ex detenuto": ("Dimesso", "Dimessa", "Ex detenuta", "Ex-detenuto"),
}
CLOSURE_REASONS = {
    "Obiettivi raggiunti": ("Obiettivo raggiunto",),
    "Trasferimento": ("Trasferito", "Trasferita"),
    "Abbandono": (),
    "Revoca misura": ("Revoca", "Revoca della misura"),
    "Decesso": (),
    "Altro": (),
}
NEEDS = {
    "lavoro": (),
    "casa": ("abitazione", "alloggio"),
    "documenti": ("documento",),
    "salute": ("sanitario",),
    "famiglia": ("familiare",),
    "formazione": (),
    "economico": ("economica", "economici"),
}

DISTRICTS = ("Lodi", "Casalpusterlengo", "Sant'Angelo Lodigiano")

CASES = Entity(
    table="servizi_sociali",
    description="One row per case (presa in carico) of a district office or the Comune di Lodi.",
    columns=(
        Column(
            "cf",
            ("Codice Fiscale", "Cod. Fiscale", "C.F.", "CF", "Cod.Fiscale"),
            "cf",
            required=True,
        ),
        Column("surname", ("Cognome",), "drop"),
        Column("first_name", ("Nome",), "drop"),
        Column("birth_date", ("Data di nascita", "Nato il", "Nata il", "Nato/a il"), "drop"),
        Column("declared_sex", ("Sesso",), "drop"),
        Column("citizenship", ("Cittadinanza", "Nazionalità"), "text"),
        Column("residence", ("Comune di residenza", "Residenza", "Comune residenza"), "drop"),
        Column(
            "legal_status",
            ("Posizione giuridica", "Posizione giuridica attuale"),
            "vocab",
            required=True,
            vocabulary=LEGAL_STATUS,
        ),
        Column("institution", ("Istituto", "Istituto penitenziario"), "text"),
        Column("sentence_end_date", ("Fine pena", "Data fine pena"), "date"),
        Column(
            "case_opened_date",
            ("Data presa in carico", "Presa in carico", "Data apertura"),
            "date",
            required=True,
        ),
        Column("case_closed_date", ("Data chiusura", "Chiusura", "Data chiusura caso"), "date"),
        Column(
            "closure_reason",
            ("Motivo chiusura", "Motivo della chiusura"),
            "vocab",
            vocabulary=CLOSURE_REASONS,
        ),
        Column(
            "needs", ("Bisogni", "Bisogni rilevati", "Aree di bisogno"), "multi", vocabulary=NEEDS
        ),
        Column("phone", ("Telefono", "Cellulare", "Recapito"), "drop"),
        Column("social_worker", ("Assistente sociale", "Operatore", "AS referente"), "drop"),
        Column("notes", ("Note", "Annotazioni"), "drop"),
    ),
    date_orders=(DateOrder("case_opened_date", "case_closed_date"),),
    context_columns=("district",),
)


def district_of_sender(sender: SenderLike, feed_senders: Sequence[SenderLike]) -> dict[str, str]:
    """A case's district is its sender's, from the senders' list (never from a cell)."""
    if sender.district is None:
        raise ContextRefused(
            f"il mittente '{sender.display_name}' non ha un distretto nell'elenco dei "
            "mittenti (reference/senders.csv, flusso 'servizi_sociali', colonna 'district')"
        )
    return {"district": sender.district}


FEED = Feed(
    name="servizi_sociali",
    entities=(CASES,),
    description="Registri delle prese in carico dei servizi sociali.",
    label="Prese in carico dei servizi sociali (3 distretti e Comune di Lodi)",
    context=district_of_sender,
)
