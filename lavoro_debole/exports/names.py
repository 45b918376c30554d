"""Display names of categories as a funder reads them: feeds, partners, ATECO sections.

The mart keeps ids (``provincia_co``, ``C``, ``cooperative|Coop. Il Ponte``); the
workbook shows names. One function, :func:`category_label`, used wherever a category
is written (indicator sheets, the data sheet, revisions), so no id leaks through.
"""

from __future__ import annotations

from lavoro_debole.exports.catalogue import FEED_NAMES, TOTAL

#: The 21 sections of ATECO 2007 (ISTAT), letter -> Italian name (T shortened).
ATECO_SECTIONS: dict[str, str] = {
    "A": "Agricoltura, silvicoltura e pesca",
    "B": "Estrazione di minerali da cave e miniere",
    "C": "Attività manifatturiere",
    "D": "Fornitura di energia elettrica, gas, vapore e aria condizionata",
    "E": "Fornitura di acqua; reti fognarie, gestione dei rifiuti e risanamento",
    "F": "Costruzioni",
    "G": "Commercio all'ingrosso e al dettaglio; riparazione di autoveicoli e motocicli",
    "H": "Trasporto e magazzinaggio",
    "I": "Attività dei servizi di alloggio e di ristorazione",
    "J": "Servizi di informazione e comunicazione",
    "K": "Attività finanziarie e assicurative",
    "L": "Attività immobiliari",
    "M": "Attività professionali, scientifiche e tecniche",
    "N": "Noleggio, agenzie di viaggio, servizi di supporto alle imprese",
    "O": "Amministrazione pubblica e difesa; assicurazione sociale obbligatoria",
    "P": "Istruzione",
    "Q": "Sanità e assistenza sociale",
    "R": "Attività artistiche, sportive, di intrattenimento e divertimento",
    "S": "Altre attività di servizi",
    "T": "Attività di famiglie e convivenze come datori di lavoro per personale domestico",
    "U": "Organizzazioni ed organismi extraterritoriali",
}

#: Breakdowns whose categories are feed ids, or ``feed|partner``.
FEED_BREAKDOWNS = ("fonte",)
FEED_PARTNER_BREAKDOWNS = ("fonte_mittente", "puntualita")


def feed_name(feed: str) -> str:
    return FEED_NAMES.get(feed, feed)


def category_label(breakdown: str, category: object) -> str:
    """The category as the workbook shows it."""
    text = str(category)
    if breakdown == TOTAL or text == TOTAL:
        return "Totale"
    if breakdown == "ateco_sezione" and text in ATECO_SECTIONS:
        return f"{text} – {ATECO_SECTIONS[text]}"
    if breakdown in FEED_BREAKDOWNS:
        return feed_name(text)
    if breakdown in FEED_PARTNER_BREAKDOWNS and "|" in text:
        feed, _, partner = text.partition("|")
        return f"{feed_name(feed)} – {partner}"
    return text
