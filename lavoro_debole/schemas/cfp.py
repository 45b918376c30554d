"""Vocational training (CFP Consortile del Lodigiano): sheets Corsi and Iscritti."""

from lavoro_debole.schemas._base import Column, DateOrder, Entity, Feed

COURSE_TYPES = {
    "Qualifica IeFP": ("IeFP", "Qualifica"),
    "Corso breve": (),
    "Sicurezza sul lavoro": ("Sicurezza",),
    "HACCP": (),
}
OUTCOMES = {
    "In corso": (),
    "Qualificato": ("Qualificata",),
    "Attestato di frequenza": ("Attestato",),
    "Ritirato": ("Ritirata",),
    "Non ammesso all'esame": ("Non ammesso", "Non ammessa", "Non ammessa all'esame"),
}

COURSES = Entity(
    table="cfp_corsi",
    description="One row per course edition.",
    columns=(
        Column("course_code", ("Codice corso", "Cod. corso", "Codice"), "text", required=True),
        Column("title", ("Titolo", "Titolo corso", "Denominazione"), "text"),
        Column("professional_area", ("Area professionale", "Area"), "label"),
        Column("site", ("Sede", "Sede del corso"), "label"),
        Column(
            "course_type",
            ("Tipo", "Tipo corso", "Tipologia"),
            "vocab",
            required=True,
            vocabulary=COURSE_TYPES,
        ),
        Column("start_date", ("Data inizio", "Inizio"), "date", required=True),
        Column("end_date", ("Data fine", "Fine"), "date", required=True),
        Column(
            "planned_hours", ("Ore previste", "Durata (ore)", "Ore"), "number", non_negative=True
        ),
        Column("funding", ("Finanziamento", "Fonte di finanziamento"), "label"),
    ),
    date_orders=(DateOrder("start_date", "end_date"),),
)

ENROLMENTS = Entity(
    table="cfp_iscritti",
    description="One row per enrolment of a person in a course.",
    columns=(
        Column("course_code", ("Codice corso", "Cod. corso"), "text", required=True),
        Column(
            "cf",
            (
                "Codice fiscale allievo",
                "Codice Fiscale",
                "C.F. allievo",
                "CF allievo",
                "C.F.",
                "CF",
            ),
            "cf",
            required=True,
        ),
        Column("student_name", ("Allievo", "Allieva", "Cognome e Nome"), "drop"),
        Column("enrolment_date", ("Data iscrizione", "Iscrizione"), "date"),
        Column("attended_hours", ("Ore frequentate", "Ore frequenza"), "number", non_negative=True),
        Column("outcome", ("Esito", "Esito finale"), "vocab", required=True, vocabulary=OUTCOMES),
        Column("withdrawal_date", ("Data ritiro", "Ritiro"), "date"),
    ),
    date_orders=(DateOrder("enrolment_date", "withdrawal_date"),),
)

FEED = Feed(
    name="cfp",
    entities=(COURSES, ENROLMENTS),
    description="Corsi e iscritti del CFP.",
    label="Corsi e iscritti del CFP Consortile",
)
