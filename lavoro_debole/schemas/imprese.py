"""The employers' network contact register (small-business development centre)."""

import re

import pandas as pd

from lavoro_debole.schemas._base import Column, Entity, Feed

AVAILABILITY = {"Sì": ("Si", "SI", "S", "X", "1"), "No": ("0",), "Da valutare": ("Valutare",)}
FORMS = {
    "Tirocinio": ("Tirocini",),
    "Assunzione": ("Assunzioni",),
    "Borsa lavoro": ("Borse lavoro", "Borsa-lavoro"),
}


def employees_band(value: object) -> str | None:
    """Put a head count or a band as sent (``10 - 49``, ``250 e oltre``) into its band."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, int | float):
        count: float | None = float(value)
    else:
        text = str(value).strip().replace(" ", "")
        digits = text.replace(".", "")
        count = float(digits) if digits.isdigit() else None
        if count is None:
            match = re.match(r"(\d+)(?:-(\d+)|\+|eoltre|oltre)?", text.casefold())
            if not match:
                return None
            count = float(match.group(1))
    for band, upper in (("0-9", 9), ("10-49", 49), ("50-249", 249)):
        if count <= upper:
            return band
    return "250+"


def _derive_band(frame: pd.DataFrame) -> pd.DataFrame:
    frame["employees_band"] = frame["employees"].map(employees_band)
    return frame


CONTACTS = Entity(
    table="imprese",
    description="One row per contact with a company.",
    columns=(
        Column("company_name", ("Ragione sociale", "Denominazione", "Azienda"), "drop"),
        Column(
            "company_vat",
            ("Partita IVA", "P.IVA", "P. IVA", "Partita Iva azienda"),
            "piva",
            required=True,
        ),
        Column("association", ("Associazione", "Associazione di categoria"), "label"),
        Column("ateco_code", ("Settore ATECO", "ATECO", "Codice ATECO"), "text"),
        Column("municipality", ("Comune", "Comune sede"), "text"),
        Column("employees", ("Dipendenti", "N. dipendenti", "Numero dipendenti"), "text"),
        Column("contact_date", ("Data contatto", "Data"), "date", required=True),
        Column("channel", ("Canale", "Modalità contatto"), "label"),
        Column(
            "availability",
            ("Disponibilità", "Disponibilita", "Disponibile"),
            "vocab",
            vocabulary=AVAILABILITY,
        ),
        Column(
            "available_forms",
            ("Forme disponibili", "Forme di inserimento"),
            "multi",
            vocabulary=FORMS,
        ),
        Column(
            "knows_l193",
            ("Conosce L.193/2000", "Conosce L. 193/2000", "Conosce Smuraglia"),
            "yesno",
        ),
        Column("contact_person", ("Referente",), "drop"),
        Column("phone", ("Telefono",), "drop"),
        Column("email", ("Email", "E-mail", "Mail"), "drop"),
        Column("notes", ("Note",), "drop"),
    ),
    derived_columns={"employees_band": "VARCHAR"},
    derive=_derive_band,
)

FEED = Feed(
    name="imprese",
    entities=(CONTACTS,),
    description="Registro dei contatti con le imprese.",
    label="Contatti con le imprese della rete",
)
