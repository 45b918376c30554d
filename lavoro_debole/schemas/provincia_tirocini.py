"""Internships and work grants (Provincia di Lodi): one sheet per year, same columns."""

from lavoro_debole.schemas._base import Column, DateOrder, Entity, Feed, vocab

INTERNSHIP_TYPES = {
    "Tirocinio extracurricolare": ("Tirocinio extra-curricolare", "Extracurricolare"),
    "Tirocinio di inclusione": ("Tirocinio inclusione", "Inclusione"),
    "Borsa lavoro": ("Borsa-lavoro", "Borse lavoro"),
}
OUTCOMES = vocab("In corso", "Concluso", "Interrotto", "Assunto")

INTERNSHIPS = Entity(
    table="provincia_tirocini",
    description="One row per internship or work grant.",
    columns=(
        Column("row_counter", ("N.", "N", "Nr.", "N°", "Num."), "rownum"),
        Column("full_name", ("Cognome e Nome", "Nominativo", "Cognome Nome"), "drop"),
        Column("cf", ("Codice Fiscale", "Cod. Fiscale", "C.F.", "CF"), "cf", required=True),
        Column(
            "internship_type",
            ("Tipo", "Tipologia"),
            "vocab",
            required=True,
            vocabulary=INTERNSHIP_TYPES,
        ),
        Column("promoter", ("Soggetto promotore", "Promotore", "Ente promotore"), "label"),
        Column("host_name", ("Azienda ospitante", "Azienda", "Soggetto ospitante"), "drop"),
        Column(
            "host_vat",
            ("P.IVA azienda", "Partita IVA azienda", "P. IVA", "P.IVA"),
            "piva",
            required=True,
        ),
        Column("start_date", ("Data avvio", "Data inizio", "Avvio"), "date", required=True),
        Column("planned_end_date", ("Data fine prevista", "Fine prevista"), "date"),
        Column("actual_end_date", ("Data fine effettiva", "Fine effettiva"), "date"),
        Column("outcome", ("Esito", "Stato"), "vocab", required=True, vocabulary=OUTCOMES),
        Column(
            "monthly_allowance_eur",
            ("Indennità mensile (€)", "Indennità mensile", "Indennita mensile (EUR)", "Indennità"),
            "number",
            non_negative=True,
        ),
        Column("notes", ("Note", "Annotazioni"), "drop"),
    ),
    date_orders=(
        DateOrder("start_date", "actual_end_date"),
        DateOrder("start_date", "planned_end_date"),
    ),
)

FEED = Feed(
    name="provincia_tirocini",
    entities=(INTERNSHIPS,),
    description="Tirocini e borse lavoro.",
    label="Tirocini e borse lavoro (Provincia di Lodi)",
)
