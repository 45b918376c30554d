"""The feed schemas: headers as the partners write them, vocabularies, and the rules."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pandera.pandas as pa
import pytest

from lavoro_debole.ingest.headers import find_header
from lavoro_debole.schemas import FEEDS, fold, is_valid_cf, is_valid_piva, normalise_cf
from lavoro_debole.schemas.imprese import employees_band
from tests.factories import CF_MARIO, wrong_check

# Headers exactly as sources.md lists them, per entity (its own spelling and variants).
SOURCES_HEADERS = {
    "provincia_co": [
        "Codice Comunicazione",
        "Codice Fiscale Lavoratore",
        "Tipo Comunicazione",
        "Data Evento",
        "Data Inizio Rapporto",
        "Data Fine Prevista",
        "Tipologia Contrattuale",
        "Codice Fiscale Datore",
        "Denominazione Datore",
        "Settore ATECO",
        "Comune Sede di Lavoro",
        "Tipo Orario",
        "Ore Settimanali Medie",
        "Qualifica Professionale",
        "Agevolazione",
        "Motivo Cessazione",
    ],
    "provincia_tirocini": [
        "N.",
        "Cognome e Nome",
        "Codice Fiscale",
        "Tipo",
        "Soggetto promotore",
        "Azienda ospitante",
        "P.IVA azienda",
        "Data avvio",
        "Data fine prevista",
        "Data fine effettiva",
        "Esito",
        "Indennità mensile (€)",
        "Note",
    ],
    "servizi_sociali": [
        "Cod. Fiscale",
        "Cognome",
        "Nome",
        "Nato il",
        "Sesso",
        "Cittadinanza",
        "Comune di residenza",
        "Posizione giuridica",
        "Istituto",
        "Fine pena",
        "Data presa in carico",
        "Data chiusura",
        "Motivo chiusura",
        "Bisogni",
        "Assistente sociale",
        "Note",
    ],
    "cfp_corsi": [
        "Codice corso",
        "Titolo",
        "Area professionale",
        "Sede",
        "Tipo",
        "Data inizio",
        "Data fine",
        "Ore previste",
        "Finanziamento",
    ],
    "cfp_iscritti": [
        "Codice corso",
        "Codice fiscale allievo",
        "Allievo",
        "Data iscrizione",
        "Ore frequentate",
        "Esito",
        "Data ritiro",
    ],
    "cooperative": [
        "Cooperativa",
        "C.F. lavoratore",
        "Data assunzione",
        "Data cessazione",
        "Tipo contratto",
        "Ore settimanali",
        "Mansione",
        "Svantaggio L.381/91",
        "Retribuzione lorda mensile",
    ],
    "sportello": [
        "ID contatto",
        "Data",
        "Ora",
        "Modalità",
        "Tipo utente",
        "Codice fiscale",
        "Cognome",
        "Nome",
        "Anno nascita",
        "Sesso",
        "Nazionalità",
        "Richiesta principale",
        "Inviato a",
        "Operatore",
        "Note",
    ],
    "imprese": [
        "Ragione sociale",
        "Partita IVA",
        "Associazione",
        "Settore ATECO",
        "Comune",
        "Dipendenti",
        "Data contatto",
        "Canale",
        "Disponibilità",
        "Forme disponibili",
        "Conosce L.193/2000",
        "Referente",
        "Telefono",
        "Email",
        "Note",
    ],
}
ENTITIES = {e.table: e for feed in FEEDS.values() for e in feed.entities}


@pytest.mark.parametrize("table", sorted(SOURCES_HEADERS))
def test_every_header_of_sources_md_is_recognised(table):
    entity = ENTITIES[table]
    headers = SOURCES_HEADERS[table]
    messy = [h.upper().replace(" ", "\n", 1) + " " for h in headers]  # case, breaks, spaces
    for row in (headers, messy):
        match = find_header([["Titolo"], row], entity.header_variants)
        assert match is not None and match.row_index == 1
        assert sorted(match.columns.values()) == list(range(len(headers)))
        assert set(entity.required_columns) <= set(match.columns)


def test_the_sheets_of_the_cfp_are_told_apart():
    corsi, iscritti = ENTITIES["cfp_corsi"], ENTITIES["cfp_iscritti"]
    row = SOURCES_HEADERS["cfp_iscritti"]
    on_corsi = find_header([row], corsi.header_variants)
    on_iscritti = find_header([row], iscritti.header_variants)
    assert len(on_iscritti.columns) > len(on_corsi.columns if on_corsi else {})


@pytest.mark.parametrize(
    ("table", "column", "spelling", "canonical"),
    [
        ("servizi_sociali", "legal_status", "Affidato", "Affidamento in prova ai servizi sociali"),
        ("servizi_sociali", "legal_status", "DIMESSO", "Ex detenuto"),
        ("servizi_sociali", "legal_status", "liberta  vigilata", "Libertà vigilata"),
        ("provincia_co", "event_type", "cessazione", "Cessazione"),
        ("provincia_tirocini", "outcome", "ASSUNTO", "Assunto"),
        ("cfp_iscritti", "outcome", "non ammesso all esame", "Non ammesso all'esame"),
        ("cooperative", "contract_type", "Tempo indeterminato", "Indeterminato"),
        ("imprese", "availability", "SI", "Sì"),
        ("sportello", "sex", "Femmina", "F"),
    ],
)
def test_vocabulary_variants_map_to_the_canonical_value(table, column, spelling, canonical):
    index = ENTITIES[table].column(column).variants_index()
    assert index[fold(spelling)] == canonical


def failures(table: str, frame: pd.DataFrame) -> set[tuple[int, str, str]]:
    try:
        ENTITIES[table].pandera_schema().validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        return {(int(r.index), str(r.column), str(r.check)) for r in cases.itertuples()}
    return set()


def test_the_case_schema_finds_every_problem_of_a_row_at_once():
    frame = pd.DataFrame(
        {
            "cf": [CF_MARIO, wrong_check(CF_MARIO), None],
            "legal_status": ["Detenuto", "In vacanza", "Semilibero"],
            "case_opened_date": [dt.date(2024, 1, 1), dt.date(2024, 5, 1), None],
            "case_closed_date": [None, dt.date(2024, 4, 1), None],
            "district": ["Lodi", "Lodi", "Lodi"],
        }
    )
    found = failures("servizi_sociali", frame)
    assert (1, "cf", "cf_invalid") in found
    assert (1, "legal_status", "vocabulary") in found
    assert (1, "case_closed_date", "date_order:case_closed_date:case_opened_date") in found
    assert (2, "cf", "not_nullable") in found
    assert (2, "case_opened_date", "not_nullable") in found
    assert not {f for f in found if f[0] == 0}


def test_numbers_may_not_be_negative_and_pivas_need_their_check_digit():
    frame = pd.DataFrame(
        {
            "cf": [CF_MARIO, CF_MARIO],
            "internship_type": ["Borsa lavoro", "Borsa lavoro"],
            "host_vat": ["01397160985", "01397160986"],
            "start_date": [dt.date(2024, 1, 1)] * 2,
            "outcome": ["In corso", "In corso"],
            "monthly_allowance_eur": [-5.0, 500.0],
        }
    )
    assert failures("provincia_tirocini", frame) == {
        (0, "monthly_allowance_eur", "negative"),
        (1, "host_vat", "piva_invalid"),
    }


def test_identifiers():
    assert normalise_cf(" rss mra80a01\u00a0e648q ") == "RSSMRA80A01E648Q"
    assert is_valid_cf("RSSMRA80A01E648Q") and not is_valid_cf("RSSMRA80A01E648X")
    assert not is_valid_cf("01397160985")  # an 11-digit code is not a person's CF
    assert is_valid_piva("01397160985") and not is_valid_piva("01397160986")


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (7, "0-9"),
        ("12", "10-49"),
        ("10 - 49", "10-49"),
        ("250+", "250+"),
        (1200.0, "250+"),
        ("50-249", "50-249"),
        ("n.d.", None),
        (None, None),
    ],
)
def test_employees_band(value, band):
    assert employees_band(value) == band
