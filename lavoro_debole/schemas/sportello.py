"""The contact and listening desk's log: monthly Windows-1252 CSV, anonymous contacts allowed."""

from lavoro_debole.schemas._base import Column, Entity, Feed

USER_TYPES = {
    "Detenuto": ("Detenuta",),
    "Ex detenuto": ("Ex detenuta", "Ex-detenuto"),
    "In misura alternativa": ("Misura alternativa",),
    "Familiare": ("Familiare di detenuto",),
    "Altro": (),
}
SEX = {"M": ("Maschio", "Uomo"), "F": ("Femmina", "Donna")}

CONTACTS = Entity(
    table="sportello",
    description="One row per contact with the desk.",
    columns=(
        Column("contact_id", ("ID contatto", "ID", "N. contatto", "Id"), "text", required=True),
        Column("contact_date", ("Data", "Data contatto"), "date", required=True),
        Column("contact_time", ("Ora", "Orario"), "text"),
        Column("channel", ("Modalità", "Modalita", "Canale"), "label"),
        Column(
            "user_type",
            ("Tipo utente", "Tipologia utente"),
            "vocab",
            required=True,
            vocabulary=USER_TYPES,
        ),
        Column("cf", ("Codice fiscale", "C.F.", "CF"), "cf", on_invalid="warning"),
        Column("surname", ("Cognome",), "drop"),
        Column("first_name", ("Nome",), "drop"),
        Column("birth_year", ("Anno nascita", "Anno di nascita"), "integer", non_negative=True),
        Column("sex", ("Sesso",), "vocab", vocabulary=SEX),
        Column("nationality", ("Nazionalità", "Nazionalita", "Cittadinanza"), "label"),
        Column("main_request", ("Richiesta principale", "Richiesta"), "label"),
        Column("referred_to", ("Inviato a", "Invio a", "Inviato"), "label"),
        Column("volunteer", ("Operatore", "Volontario", "Operatrice"), "drop"),
        Column("notes", ("Note",), "drop"),
    ),
)

FEED = Feed(
    name="sportello",
    entities=(CONTACTS,),
    description="Contatti dello sportello di ascolto extramoenia.",
    label="Contatti dello sportello di ascolto",
)
