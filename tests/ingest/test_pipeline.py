"""The walk of a file through the door, on real files written by the tests.

Every expected count below is counted by hand from the rows the test writes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import openpyxl
import pytest

from lavoro_debole.ingest.identifiers import decode_cf, pseudonym
from lavoro_debole.ingest.pipeline import inbox_files, ingest_feed
from lavoro_debole.ingest.reader_worker import ReaderWorker
from lavoro_debole.ingest.vault import attach_vault
from tests.factories import (
    CF_ANNA,
    CF_LUCA,
    CF_MARIO,
    CF_SARA,
    KEY,
    PLANTED_CF,
    PLANTED_NAME,
    VAULT_KEY,
    d,
    write_csv,
    write_xlsx,
    wrong_check,
)

CASE_HEADER = [
    "C.F.",
    "Cognome",
    "Nome",
    "Cittadinanza",
    "Posizione giuridica",
    "Data presa in carico",
    "Data chiusura",
    "Bisogni",
    "Note",
]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    (tmp_path / "inbox").mkdir()
    return tmp_path


@pytest.fixture
def con(data_dir: Path):
    connection = duckdb.connect(str(data_dir / "warehouse.duckdb"))
    attach_vault(connection, data_dir / "vault.duckdb", VAULT_KEY)
    yield connection
    connection.close()


def run(con, data_dir: Path, feed: str):
    return ingest_feed(con, feed, data_dir / "inbox", key=KEY, feedback_dir=data_dir / "feedback")


def cases_file(data_dir: Path, name: str = "UdP_Casalpusterlengo_casi_2024.xlsx") -> Path:
    """Title rows, a header variant (C.F.), a blank row, a total row and three bad rows."""
    rows = [
        ["Ufficio di Piano di Casalpusterlengo"],
        ["Registro prese in carico - anno 2024"],
        [],
        CASE_HEADER,
        [
            CF_MARIO,
            "Rossi",
            "Mario",
            "ITALIA",
            "Affidato",
            d("10/02/2024"),
            None,
            "lavoro; casa",
            "",
        ],
        [
            " " + CF_ANNA.lower(),
            "Bianchi",
            "Anna",
            "Marocchina",
            "Detenuto",
            "05/03/2024",
            "",
            "lavoro/documenti",
            "tel 333 1234567",
        ],
        [],
        [wrong_check(CF_LUCA), "Verdi", "Luca", "Italiana", "Detenuto", "01/04/2024", "", "", ""],
        [CF_SARA, "Neri", "Sara", "Italiana", "In vacanza", "31/02/2024", "", "", ""],
        [
            PLANTED_CF,
            "Quintavalle",
            "Zebedeo",
            "Italiana",
            "Dimesso",
            "10/05/2024",
            "01/05/2024",
            "casa",
            PLANTED_NAME,
        ],
        ["Totale record: 5"],
    ]
    return write_xlsx(data_dir / "inbox" / "servizi_sociali" / name, {"Casi 2024": rows})


def test_a_case_file_loads_good_rows_and_rejects_bad_ones_with_reasons(con, data_dir):
    cases_file(data_dir)
    [outcome] = run(con, data_dir, "servizi_sociali")

    # 11 physical rows: 3 title rows + header, 5 data rows, 1 blank, 1 total.
    assert outcome.status == "loaded"
    assert (outcome.rows_data, outcome.rows_loaded, outcome.rows_rejected) == (5, 2, 3)
    assert outcome.rows_skipped == 6
    assert outcome.sender == "UdP Casalpusterlengo"
    assert outcome.reference_date.isoformat() == "2024-12-31"

    loaded = con.execute(
        "select person_id, district, legal_status, needs, case_opened_date, row_number, "
        "person_sex, person_born_abroad from raw.servizi_sociali order by row_number"
    ).fetchall()
    assert loaded == [
        (
            pseudonym(CF_MARIO, KEY),
            "Casalpusterlengo",
            "Affidamento in prova ai servizi sociali",
            "lavoro,casa",
            d("10/02/2024"),
            5,
            "M",
            False,
        ),
        (
            pseudonym(CF_ANNA, KEY),
            "Casalpusterlengo",
            "Detenuto",
            "lavoro,documenti",
            d("05/03/2024"),
            6,
            "F",
            True,
        ),
    ]
    problems = con.execute(
        "select row_number, column_name, severity, reason, value from vault.rejected_rows "
        "order by row_number, column_name"
    ).fetchall()
    assert [(p[0], p[1], p[2]) for p in problems] == [
        (8, "C.F.", "error"),
        (9, "Data presa in carico", "error"),
        (9, "Posizione giuridica", "error"),
        (10, "Data chiusura", "error"),
    ]
    assert problems[0][3].startswith("codice fiscale non valido")
    assert problems[1][3].startswith("data non valida") and problems[1][4] == "31/02/2024"
    assert "valori ammessi" in problems[2][3] and problems[2][4] == "In vacanza"
    assert "Data presa in carico" in problems[3][3]


def test_feedback_workbook_lists_each_problem_for_the_partner(con, data_dir):
    cases_file(data_dir)
    [outcome] = run(con, data_dir, "servizi_sociali")
    path = data_dir / "feedback" / "servizi_sociali" / outcome.feedback_file
    sheet = openpyxl.load_workbook(path).active
    rows = [tuple(c.value for c in row) for row in sheet.iter_rows(min_row=5)]
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("Casi 2024", "8", "C.F.", wrong_check(CF_LUCA)),
        ("Casi 2024", "9", "Data presa in carico", "31/02/2024"),
        ("Casi 2024", "9", "Posizione giuridica", "In vacanza"),
        ("Casi 2024", "10", "Data chiusura", "01/05/2024"),
    ]
    assert all(r[5] == "Riga scartata" for r in rows)


def test_no_personal_value_reaches_raw(con, data_dir):
    cases_file(data_dir)
    run(con, data_dir, "servizi_sociali")
    dump = str(con.execute("select * from raw.servizi_sociali").fetchall())
    for value in (CF_MARIO, CF_ANNA.lower(), "Rossi", "Mario", "333 1234567", PLANTED_NAME):
        assert value not in dump
    columns = {r[0] for r in con.execute("describe raw.servizi_sociali").fetchall()}
    assert not columns & {"cf", "surname", "first_name", "notes", "birth_date"}


def test_same_file_twice_loads_once_and_a_copy_is_a_duplicate(con, data_dir):
    original = cases_file(data_dir)
    run(con, data_dir, "servizi_sociali")
    assert run(con, data_dir, "servizi_sociali") == []  # the same file again: nothing to do
    shutil.copy(original, original.with_name("UdP_Casalpusterlengo_casi_2024_T4.xlsx"))
    [outcome] = run(con, data_dir, "servizi_sociali")
    assert outcome.status == "duplicate" and outcome.rows_loaded == 0
    # Still a sending for the period its name states, from the same sender.
    assert outcome.sender == "UdP Casalpusterlengo"
    assert (outcome.coverage_start.isoformat(), outcome.coverage_end.isoformat()) == (
        "2024-10-01",
        "2024-12-31",
    )
    assert con.execute("select count(*) from raw.servizi_sociali").fetchone()[0] == 2


def test_only_new_content_is_read_and_nothing_already_known(con, data_dir, monkeypatch):
    """The next file is read ahead only when it will be loaded: a file already taken,
    or a copy of content already received, is never read (nor parsed) again."""
    original = cases_file(data_dir)
    run(con, data_dir, "servizi_sociali")
    read: list[str] = []
    real_read = ReaderWorker.read

    def counting_read(self: ReaderWorker, path: Path):
        read.append(path.name)
        return real_read(self, path)

    monkeypatch.setattr(ReaderWorker, "read", counting_read)
    assert run(con, data_dir, "servizi_sociali") == []
    assert read == []
    shutil.copy(original, original.with_name("UdP_Casalpusterlengo_casi_2024_T4.xlsx"))
    new = write_xlsx(
        data_dir / "inbox" / "servizi_sociali" / "UdP_Lodi_casi_2024.xlsx",
        {
            "Casi 2024": [
                ["Ufficio di Piano di Lodi"],
                CASE_HEADER,
                [CF_LUCA, "Verdi", "Luca", "Italiana", "Detenuto", d("01/04/2024")],
            ]
        },
    )
    # The copy arrives after the new file: it is the candidate for reading ahead.
    os.utime(new, (1, 1))
    outcomes = run(con, data_dir, "servizi_sociali")
    assert [(o.file_name, o.status) for o in outcomes] == [
        ("UdP_Lodi_casi_2024.xlsx", "loaded"),
        ("UdP_Casalpusterlengo_casi_2024_T4.xlsx", "duplicate"),
    ]
    assert read == ["UdP_Lodi_casi_2024.xlsx"]


def test_corrupt_and_headerless_files_are_refused_and_others_still_load(con, data_dir):
    feed_dir = data_dir / "inbox" / "servizi_sociali"
    feed_dir.mkdir(parents=True)
    (feed_dir / "UdP_Lodi_casi_2024.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    write_xlsx(feed_dir / "UdP_Lodi_appunti_2024.xlsx", {"Foglio1": [["appunti"], ["nulla"]]})
    cases_file(data_dir)
    outcomes = {o.file_name: o for o in run(con, data_dir, "servizi_sociali")}
    assert outcomes["UdP_Lodi_casi_2024.xlsx"].status == "rejected"
    assert "illeggibile" in outcomes["UdP_Lodi_casi_2024.xlsx"].error
    assert outcomes["UdP_Lodi_appunti_2024.xlsx"].status == "rejected"
    assert "intestazione" in outcomes["UdP_Lodi_appunti_2024.xlsx"].error
    assert outcomes["UdP_Casalpusterlengo_casi_2024.xlsx"].rows_loaded == 2
    statuses = con.execute(
        "select status, count(*) from ops.ingest_files group by status order by status"
    ).fetchall()
    assert statuses == [("loaded", 1), ("rejected", 2)]


def test_a_missing_mandatory_column_refuses_the_file_naming_the_column(con, data_dir):
    header = [h for h in CASE_HEADER if h != "Data presa in carico"]
    write_xlsx(
        data_dir / "inbox" / "servizi_sociali" / "UdP_Lodi_casi_2024.xlsx",
        {"Casi": [header, [CF_MARIO, "Rossi", "Mario", "ITALIA", "Detenuto", None, "", ""]]},
    )
    [outcome] = run(con, data_dir, "servizi_sociali")
    assert outcome.status == "rejected"
    assert "'Data presa in carico'" in outcome.error and "riga 1" in outcome.error
    assert CF_MARIO not in outcome.error


def test_district_comes_from_name_and_santangelo_is_not_lodi(con, data_dir):
    for name, opened in (
        ("UdP_SantAngeloLodigiano_casi_2024.xlsx", "01/02/2024"),
        ("ComuneLodi_casi_2024.xlsx", "01/03/2024"),
    ):
        write_xlsx(
            data_dir / "inbox" / "servizi_sociali" / name,
            {"Casi": [CASE_HEADER, [CF_MARIO, "", "", "", "Detenuto", opened, "", "", ""]]},
        )
    run(con, data_dir, "servizi_sociali")
    rows = con.execute(
        "select file_name, district, sender from raw.servizi_sociali order by file_name"
    ).fetchall()
    assert rows == [
        ("ComuneLodi_casi_2024.xlsx", "Lodi", "Comune di Lodi"),
        (
            "UdP_SantAngeloLodigiano_casi_2024.xlsx",
            "Sant'Angelo Lodigiano",
            "UdP Sant'Angelo Lodigiano",
        ),
    ]


def test_desk_csv_malformed_cf_is_a_warning_and_the_row_loads(con, data_dir):
    header = [
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
    ]
    write_csv(
        data_dir / "inbox" / "sportello" / "sportello_contatti_2024_04.csv",
        [
            header,
            [
                "1",
                "08/04/2024",
                "14:45",
                "Telefono",
                "Ex detenuto",
                CF_MARIO,
                "Rossi",
                "Mario",
                "1980",
                "M",
                "Italia",
                "lavoro ",
                "Nessuno",
                "Gino",
                "",
            ],
            [
                "2",
                "09/04/2024",
                "10:00",
                "Di persona",
                "Familiare",
                "",
                "",
                "",
                "",
                "F",
                "Marocco",
                "Casa",
                "",
                "Gino",
                "€ 20 per il treno",
            ],
            [
                "3",
                "10/04/2024",
                "11:00",
                "Di persona",
                "Detenuto",
                "RSSMRA80",
                "Rossi",
                "Mario",
                "1980",
                "M",
                "Italia",
                "Lavoro",
                "CFP",
                "Gino",
                "",
            ],
            ["4", "", "11:00", "Telefono", "Chissà", "", "", "", "", "", "", "", "", "", ""],
        ],
    )
    [outcome] = run(con, data_dir, "sportello")
    assert (outcome.rows_data, outcome.rows_loaded, outcome.rows_rejected) == (4, 3, 1)
    assert outcome.rows_warned == 1
    rows = con.execute(
        "select contact_id, person_id is not null, main_request, referred_to from raw.sportello "
        "order by contact_id"
    ).fetchall()
    assert rows == [
        ("1", True, "Lavoro", "Nessuno"),
        ("2", False, "Casa", None),
        ("3", False, "Lavoro", "CFP"),
    ]
    problems = con.execute(
        "select row_number, column_name, severity from vault.rejected_rows order by 1, 2"
    ).fetchall()
    # CSV record numbers: the header is record 1, so contact 3 is record 4.
    assert problems == [
        (4, "Codice fiscale", "warning"),
        (5, "Data", "error"),
        (5, "Tipo utente", "error"),
    ]


def test_tirocini_reads_every_year_sheet_and_ignores_hidden_and_scratch_sheets(con, data_dir):
    header = [
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
    ]
    row_2023 = [
        1,
        "Rossi Mario",
        CF_MARIO,
        "Tirocinio di inclusione",
        "Provincia di Lodi - CPI",
        "Alfa srl",
        "01397160985",
        d("01/03/2023"),
        d("31/08/2023"),
        d("31/08/2023"),
        "Assunto",
        "€ 500,00",
        "chiamare 333",
    ]
    row_2024 = [
        1,
        "Bianchi Anna",
        CF_ANNA,
        "Borsa lavoro",
        "CFP Consortile",
        "Beta",
        "IT 01397160985",
        "02/01/2024",
        "30/06/2024",
        "",
        "In corso",
        400,
        "",
    ]
    bad_piva = [
        2,
        "Verdi Luca",
        CF_LUCA,
        "Borsa lavoro",
        "CFP Consortile",
        "Gamma",
        "01397160986",
        "02/01/2024",
        "",
        "",
        "In corso",
        "quattrocento",
        "",
    ]
    write_xlsx(
        data_dir / "inbox" / "provincia_tirocini" / "Tirocini_2024_T1.xlsx",
        {
            "2023": [header, row_2023],
            "2024": [header, row_2024, bad_piva, [3]],
            "appoggio": [header, row_2023],
            "Foglio1": [["pivot"], [1, 2]],
        },
        hidden=["appoggio"],
    )
    [outcome] = run(con, data_dir, "provincia_tirocini")
    assert outcome.sheets_read == "2023, 2024"
    assert outcome.sheets_ignored == "appoggio, Foglio1"
    # 2023: header + 1 row; 2024: header + 2 rows + a row with only the counter (blank).
    assert (outcome.rows_data, outcome.rows_loaded, outcome.rows_rejected) == (3, 2, 1)
    assert outcome.rows_skipped == 3
    rows = con.execute(
        "select sheet, host_vat, monthly_allowance_eur, promoter from raw.provincia_tirocini "
        "order by sheet"
    ).fetchall()
    assert rows == [
        ("2023", "01397160985", 500.0, "Provincia di Lodi - CPI"),
        ("2024", "01397160985", 400.0, "CFP Consortile"),
    ]
    kinds = con.execute("select column_name, reason from vault.rejected_rows order by 1").fetchall()
    assert [k[0] for k in kinds] == ["Indennità mensile (€)", "P.IVA azienda"]


def test_co_employer_cf_is_pseudonymised_and_contract_code_derived(con, data_dir):
    header = [
        "Codice Comunicazione",
        "Codice Fiscale Lavoratore",
        "Tipo Comunicazione",
        "Data Evento",
        "Data Inizio Rapporto",
        "Data Fine Prevista",
        "Tipologia Contrattuale",
        "Codice Fiscale Datore",
        "Denominazione Datore",
    ]
    write_xlsx(
        data_dir / "inbox" / "provincia_co" / "CO_estrazione_20240630.xlsx",
        {
            "Estrazione": [
                ["PROVINCIA DI LODI"],
                ["Comunicazioni obbligatorie"],
                ["Estrazione al 30/06/2024"],
                header,
                [
                    "C1",
                    CF_MARIO,
                    "Assunzione",
                    d("01/02/2024"),
                    d("01/02/2024"),
                    d("31/07/2024"),
                    "A.02.00 - LAVORO A TEMPO DETERMINATO",
                    CF_SARA,
                    "Osteria di Neri Sara",
                ],
                [
                    "C2",
                    CF_MARIO,
                    "Assunzone",
                    d("01/03/2024"),
                    d("01/03/2024"),
                    None,
                    "LAVORO A TEMPO INDETERMINATO",
                    "01397160985",
                    "Alfa",
                ],
                ["Totale record: 2"],
            ]
        },
    )
    [outcome] = run(con, data_dir, "provincia_co")
    assert outcome.reference_date.isoformat() == "2024-06-30"
    rows = con.execute(
        "select communication_id, employer_code, employer_code_kind, contract_code "
        "from raw.provincia_co"
    ).fetchall()
    assert rows == [("C1", "cf:" + pseudonym(CF_SARA, KEY), "cf", "A.02.00")]
    reasons = con.execute("select column_name from vault.rejected_rows order by 1").fetchall()
    assert reasons == [("Tipo Comunicazione",), ("Tipologia Contrattuale",)]


def test_files_are_taken_in_the_order_they_were_received(data_dir):
    feed_dir = data_dir / "inbox" / "imprese"
    feed_dir.mkdir(parents=True)
    for name, mtime in (("b.xlsx", 100), ("a.xlsx", 200), ("c.xlsx.part", 50), ("~$a.xlsx", 1)):
        (feed_dir / name).write_bytes(b"x")
        os.utime(feed_dir / name, (mtime, mtime))
    assert [p.name for p in inbox_files(feed_dir)] == ["b.xlsx", "a.xlsx"]


@pytest.mark.parametrize(
    ("cf", "expected"),
    [
        (CF_MARIO, ("M", 80, 1, 1, False)),
        (CF_ANNA, ("F", 92, 3, 15, True)),
        # Omocodic variant of CF_MARIO's digits: same birth data, different person.
        ("RSSMRAULALMESQUH", ("M", 80, 1, 1, False)),
    ],
)
def test_decode_cf(cf, expected):
    assert decode_cf(cf) == expected
