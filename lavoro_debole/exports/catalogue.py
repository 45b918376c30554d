"""What the export knows about each indicator: its kind, its Italian name and definition.

The definitions live in dbt (``indicators.md`` is the contract); this catalogue only
says how each indicator is *laid out and protected*: which ones are counts of
persons (protected), counts of companies (published), rates, medians, and which
sums link their cells. Keeping it in one table makes a new indicator one line here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

Kind = Literal["count", "company", "rate", "median", "quality"]

TOTAL = "totale"


@dataclass(frozen=True)
class IndicatorInfo:
    """How one indicator is protected and shown."""

    id: str
    name: str
    kind: Kind
    definition: str
    breakdowns: tuple[str, ...] = ()
    #: Quarters add up to the year (events, or persons counted once in a unique quarter).
    quarter_additive: bool = False


_I = IndicatorInfo

INDICATORS: dict[str, IndicatorInfo] = {
    i.id: i
    for i in (
        _I(
            "A1",
            "Persone seguite",
            "count",
            "Persone distinte in carico al programma per almeno un giorno del periodo.",
            ("sesso", "fascia_eta", "cittadinanza", "posizione_giuridica", "distretto"),
        ),
        _I(
            "A2",
            "Nuove prese in carico",
            "count",
            "Persone distinte la cui prima presa in carico (su tutte le loro cartelle) "
            "cade nel periodo.",
            ("sesso", "posizione_giuridica", "distretto"),
            quarter_additive=True,
        ),
        _I(
            "A3",
            "Contatti allo sportello",
            "count",
            "Contatti distinti allo sportello avvenuti nel periodo, compresi quelli anonimi.",
            ("tipo_utente", "richiesta"),
            quarter_additive=True,
        ),
        _I(
            "A4",
            "Invii ad altri servizi",
            "count",
            "Contatti allo sportello del periodo che si sono conclusi con l'invio "
            "a un altro servizio.",
            ("inviato_a",),
            quarter_additive=True,
        ),
        _I(
            "B1",
            "Persone in formazione",
            "count",
            "Persone distinte iscritte, entro la fine del periodo, a un corso che si svolge "
            "nel periodo, esclusi i ritirati prima dell'inizio del periodo.",
            ("area", "sede"),
        ),
        _I(
            "B2",
            "Percorsi formativi conclusi con esito positivo (%)",
            "rate",
            "Tra le iscrizioni a corsi terminati nel periodo con esito noto, quota con esito "
            "«Qualificato» o «Attestato di frequenza».",
            ("tipo",),
            quarter_additive=True,
        ),
        _I(
            "B3",
            "Qualifiche conseguite",
            "count",
            "Iscrizioni con esito «Qualificato» a corsi di Qualifica IeFP terminati nel periodo.",
            (),
            quarter_additive=True,
        ),
        _I(
            "C1",
            "Tirocini e borse lavoro avviati",
            "count",
            "Tirocini distinti (persona, azienda, data di avvio) avviati nel periodo.",
            ("tipo",),
            quarter_additive=True,
        ),
        _I(
            "C2",
            "Tirocini conclusi con assunzione (%)",
            "rate",
            "Tra i tirocini conclusi nel periodo, quota con esito «Assunto» o seguita, "
            "entro 90 giorni, da un'assunzione presso la stessa azienda.",
            ("tipo",),
            quarter_additive=True,
        ),
        _I(
            "D1",
            "Avviamenti al lavoro",
            "count",
            "Rapporti di lavoro distinti (comunicazioni obbligatorie) iniziati nel periodo; "
            "i tirocini non sono compresi.",
            ("tipo_contratto", "tipo_datore", "agevolazione_193"),
            quarter_additive=True,
        ),
        _I(
            "D2",
            "Persone occupate a fine periodo",
            "count",
            "Persone distinte con un rapporto di lavoro attivo l'ultimo giorno del periodo.",
            ("sesso", "posizione_giuridica", "tipo_contratto"),
        ),
        _I(
            "D3",
            "Tasso di occupazione a fine periodo (%)",
            "rate",
            "Tra le persone in carico l'ultimo giorno del periodo, quota con un rapporto "
            "di lavoro attivo in quel giorno.",
            ("sesso", "posizione_giuridica"),
        ),
        _I(
            "D4",
            "Occupati a 6 mesi dal primo avviamento (%)",
            "rate",
            "Tra le persone il cui primo avviamento cade nel periodo, quota con un rapporto "
            "di lavoro attivo 182 giorni dopo il primo avviamento. Non ancora osservabile "
            "finché non sono trascorsi 182 giorni dalla fine del periodo.",
            (),
            quarter_additive=True,
        ),
        _I(
            "D5",
            "Occupati a 12 mesi dal primo avviamento (%)",
            "rate",
            "Come il precedente, a 365 giorni dal primo avviamento.",
            (),
            quarter_additive=True,
        ),
        _I(
            "D6",
            "Giorni mediani al primo avviamento",
            "median",
            "Mediana, tra le persone il cui primo avviamento cade nel periodo, dei giorni "
            "trascorsi dalla prima presa in carico al primo avviamento.",
        ),
        _I(
            "E1",
            "Inserimenti in cooperativa sociale",
            "count",
            "Inserimenti distinti (persona, cooperativa, data di assunzione) iniziati nel "
            "periodo, dai file delle cooperative sociali.",
            ("tipo_contratto_coop", "mansione"),
            quarter_additive=True,
        ),
        _I(
            "E2",
            "Lavoratori svantaggiati in cooperativa a fine periodo",
            "count",
            "Persone distinte occupate in cooperativa l'ultimo giorno del periodo (esclusi "
            "tirocini e borse lavoro) riconosciute svantaggiate ai sensi della L. 381/1991.",
        ),
        _I(
            "F1",
            "Imprese contattate",
            "company",
            "Imprese distinte (partita IVA) contattate nel periodo.",
            ("associazione", "ateco_sezione"),
        ),
        _I(
            "F2",
            "Imprese disponibili all'inserimento",
            "company",
            "Imprese contattate nel periodo che si sono dichiarate disponibili "
            "all'inserimento lavorativo.",
            ("forme_disponibili",),
        ),
        _I(
            "F3",
            "Imprese della rete che hanno assunto",
            "company",
            "Imprese contattate entro la fine del periodo che nel periodo hanno avviato "
            "un rapporto di lavoro con una persona del programma.",
        ),
        _I(
            "F4",
            "Imprese che conoscono la L. 193/2000 (%)",
            "rate",
            "Tra le imprese contattate nel periodo, quota che all'ultimo contatto dichiarava "
            "di conoscere la L. 193/2000 (legge Smuraglia).",
        ),
        _I(
            "Q1",
            "Completezza degli invii",
            "quality",
            "Per ogni partner dell'elenco dei mittenti attesi, quota dei file dovuti nel "
            "periodo secondo la sua cadenza che sono arrivati (un file rifiutato per intero "
            "non conta); accanto, la quota arrivata entro i giorni concessi (puntualità).",
        ),
        _I(
            "Q2",
            "Righe scartate",
            "quality",
            "Righe scartate in validazione, per fonte, nei file che si riferiscono al periodo "
            "(la data indicata nel nome o nel titolo del file).",
        ),
        _I(
            "Q3",
            "Persone collegate tra fonti (%)",
            "rate",
            "Tra le persone seguite (indicatore A1), quota presente in almeno un'altra fonte.",
        ),
    )
}

#: Sheets of the workbook: letter -> Italian title.
GROUPS: dict[str, str] = {
    "A": "Raggiungimento",
    "B": "Formazione",
    "C": "Tirocini",
    "D": "Lavoro",
    "E": "Cooperative",
    "F": "Imprese",
}

#: Indicators charted on each group's sheet (totals over the quarters shown).
HEADLINES: dict[str, tuple[str, ...]] = {
    "A": ("A1", "A3"),
    "B": ("B1",),
    "C": ("C1",),
    "D": ("D1", "D3"),
    "E": ("E1",),
    "F": ("F1",),
}

BREAKDOWN_LABELS: dict[str, str] = {
    TOTAL: "Totale",
    "sesso": "Sesso",
    "fascia_eta": "Fascia d'età",
    "cittadinanza": "Cittadinanza",
    "posizione_giuridica": "Posizione giuridica",
    "distretto": "Distretto",
    "tipo_contratto": "Tipo di contratto",
    "tipo_datore": "Tipo di datore di lavoro",
    "agevolazione_193": "Agevolazione L. 193/2000",
    "tipo_contratto_coop": "Tipo di contratto (cooperativa)",
    "tipo_utente": "Tipo di utente",
    "richiesta": "Richiesta principale",
    "inviato_a": "Inviato a",
    "area": "Area professionale",
    "sede": "Sede",
    "tipo": "Tipo",
    "mansione": "Mansione",
    "associazione": "Associazione",
    "ateco_sezione": "Sezione ATECO",
    "forme_disponibili": "Forme disponibili",
    "fonte": "Fonte dei dati",
    "fonte_mittente": "Fonte e partner",
    "puntualita": "Puntualità (fonte e partner)",
}

#: The feeds as a funder reads them (the cover's list of partners and Q2).
FEED_NAMES: dict[str, str] = {
    "provincia_co": "Comunicazioni obbligatorie (Provincia di Lodi)",
    "provincia_tirocini": "Tirocini e borse lavoro (Provincia di Lodi)",
    "servizi_sociali": "Prese in carico dei servizi sociali",
    "cfp": "Formazione professionale (CFP)",
    "cooperative": "Inserimenti in cooperativa sociale",
    "sportello": "Sportello di ascolto",
    "imprese": "Rete delle imprese",
}


def non_additive_breakdowns(frame: pd.DataFrame) -> set[tuple[str, str]]:
    """(indicator, breakdown) pairs whose categories do not add up to the total in some
    period of the mart: one unit in two categories (a person with two contracts, a course
    in two places, a company in two associations). Read from the data, so a breakdown that
    becomes non-additive is noted without anyone listing it; counts are compared by value,
    rates by numerator and denominator, for the cells before disclosure control."""
    laid_out = ~frame["indicator_id"].astype(str).str.startswith("Q")
    cells = frame[laid_out & (frame["breakdown"] != TOTAL)]
    totals = frame[frame["breakdown"] == TOTAL].set_index(["indicator_id", "period"])
    found: set[tuple[str, str]] = set()
    for (ind, period, bd), group in cells.groupby(["indicator_id", "period", "breakdown"]):
        if (ind, bd) in found or (ind, period) not in totals.index:
            continue
        total = totals.loc[(ind, period)]
        if isinstance(total, pd.DataFrame):
            total = total.iloc[0]
        columns = ("numerator", "denominator") if pd.notna(total.get("denominator")) else ("value",)
        for column in columns:
            whole = total.get(column)
            if pd.isna(whole):
                continue
            if abs(float(group[column].fillna(0).sum()) - float(whole)) > 1e-9:
                found.add((ind, bd))
                break
    return found


def indicator_info(indicator_id: str) -> IndicatorInfo:
    """The catalogue entry; an unknown id is an error, so a new indicator is never
    published before someone decides how it is protected."""
    try:
        return INDICATORS[indicator_id]
    except KeyError:
        if indicator_id.startswith("Q"):
            return IndicatorInfo(indicator_id, indicator_id, "quality", "")
        raise KeyError(
            f"indicator {indicator_id!r} is not in lavoro_debole/exports/catalogue.py: "
            "say there how it is protected before it can be published"
        ) from None


def group_of(indicator_id: str) -> str:
    """The sheet letter of an indicator (its first letter)."""
    return indicator_id[:1]
