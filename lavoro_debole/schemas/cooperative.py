"""Placements in type-B social cooperatives: the consortium's combined file and single coops.

A single cooperative's file names the cooperative only in its title row and file name;
both, and the consortium file's ``Cooperativa`` column, are matched against the
senders' list (``lavoro_debole.ingest.senders``), never taken as free text.
"""

from collections.abc import Sequence

from lavoro_debole.schemas._base import Column, DateOrder, Entity, Feed, SenderLike

CONTRACT_TYPES = {
    "Indeterminato": ("Tempo indeterminato", "T. indeterminato", "TI"),
    "Determinato": ("Tempo determinato", "T. determinato", "TD"),
    "Socio lavoratore": ("Socio", "Socia lavoratrice"),
    "Tirocinio": (),
    "Borsa lavoro": ("Borsa-lavoro",),
}

PLACEMENTS = Entity(
    table="cooperative",
    description="One row per placement of a worker in a cooperative.",
    columns=(
        Column("cooperative", ("Cooperativa", "Cooperativa sociale", "Coop."), "text"),
        Column(
            "cf",
            (
                "C.F. lavoratore",
                "Codice Fiscale",
                "CF",
                "C.F.",
                "CF lavoratore",
                "Codice fiscale lavoratore",
            ),
            "cf",
            required=True,
        ),
        Column(
            "worker_name", ("Lavoratore", "Cognome e Nome", "Nominativo", "Cognome", "Nome"), "drop"
        ),
        Column(
            "hire_date",
            ("Data assunzione", "Assunzione", "Data inizio", "Data ingresso"),
            "date",
            required=True,
        ),
        Column("end_date", ("Data cessazione", "Cessazione", "Data fine", "Data uscita"), "date"),
        Column(
            "contract_type",
            ("Tipo contratto", "Contratto", "Tipologia contratto"),
            "vocab",
            required=True,
            vocabulary=CONTRACT_TYPES,
        ),
        Column(
            "weekly_hours",
            ("Ore settimanali", "Ore sett.", "Orario settimanale"),
            "number",
            non_negative=True,
        ),
        Column("job", ("Mansione", "Mansioni"), "label"),
        Column(
            "disadvantaged",
            (
                "Svantaggio L.381/91",
                "Svantaggiato L. 381/91",
                "Svantaggio L. 381/1991",
                "Svantaggio",
                "L.381/91",
            ),
            "yesno",
        ),
        Column(
            "gross_monthly_pay_eur",
            ("Retribuzione lorda mensile", "Retribuzione lorda", "Lordo mensile"),
            "number",
            non_negative=True,
        ),
        Column("notes", ("Note",), "drop"),
    ),
    date_orders=(DateOrder("hire_date", "end_date"),),
    context_columns=("cooperative",),
)


def cooperative_of_sender(sender: SenderLike, feed_senders: Sequence[SenderLike]) -> dict[str, str]:
    """A single cooperative's file: its own name wherever the file leaves the column out.

    A consortium's file (a sender that other listed cooperatives name as their
    consortium) fills nothing: each row names its cooperative in the column.
    """
    if any(s.consortium == sender.sender_id for s in feed_senders if s.consortium):
        return {}
    return {"cooperative": sender.display_name}


FEED = Feed(
    name="cooperative",
    entities=(PLACEMENTS,),
    description="Inserimenti lavorativi nelle cooperative sociali di tipo B.",
    label="Inserimenti nelle cooperative sociali di tipo B",
    context=cooperative_of_sender,
    sender_column="cooperative",
)
