"""Personal values in the wrong column: the shapes, the masking, and the door."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import openpyxl
import pytest

from lavoro_debole.ingest.personal import (
    CF,
    EMAIL,
    PHONE,
    mask_personal,
    name_tokens,
    names_in,
    personal_kind,
)
from lavoro_debole.ingest.pipeline import ingest_feed
from lavoro_debole.ingest.vault import attach_vault
from tests.factories import CF_ANNA, CF_MARIO, KEY, VAULT_KEY, d, write_csv, write_xlsx


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (CF_MARIO, CF),
        (CF_MARIO.lower(), CF),
        ("rss mra 80a01 e648q", CF),
        (f"vedi {CF_ANNA} per i documenti", CF),
        ("RSSMRAULALMESQUH", CF),  # omocodic, check character right
        ("333 1234567", PHONE),
        ("3331234567", PHONE),
        ("+39 347.123.45.67", PHONE),
        ("0039 0371 123456", PHONE),
        ("0371/123456", PHONE),
        ("tel. 0371-42.11.00", PHONE),
        ("Sig. Bianchi cell 347 1234567", PHONE),
        ("mario.rossi@example.it", EMAIL),
        ("scrivere a m_rossi+lavoro@posta.example.org", EMAIL),
    ],
)
def test_personal_values_are_recognised(text, kind):
    assert personal_kind(text) == kind


@pytest.mark.parametrize(
    "text",
    [
        "SP-2024-0012",  # the desk's contact ids
        "1097",
        "1609822990000001",  # a UNILAV code
        "RIST-2024-02",  # a course code
        "A.02.00 - LAVORO A TEMPO DETERMINATO",
        "8.1.4.2.0 - Addetti alle pulizie",
        "56.10.11 - Ristorazione con somministrazione",
        "01397160985",  # a P.IVA is a company's, and not a phone
        "01/03/2024",
        "2024-03-01",
        "01.03.2024 ore 10",
        "01032024",
        "14:45",
        "10-49",
        "L. 193/2000 (Smuraglia)",
        "Centro per l'Impiego",
        "C.R. Milano Bollate",
        "Manutenzione del verde",
        "Pulizie e sanificazione",
        "Tirocinio extracurricolare",
        "Ufficio di Piano di Sant'Angelo Lodigiano",
        "ABCDEFGHILMNOPQR",  # sixteen letters are not a CF
        "CO_Provincia_Lodi_estrazione_20251231.xlsx",
        "€ 1.150,50",
        "ore 38,5",
    ],
)
def test_codes_dates_and_labels_are_not_personal(text):
    assert personal_kind(text) is None
    assert mask_personal(text) == text


def test_file_and_sheet_names_are_masked():
    assert mask_personal(f"Rossi_Mario_{CF_MARIO}.xlsx") == "Rossi_Mario_[CF].xlsx"
    assert mask_personal("contatti 347 1234567.csv") == "contatti [telefono].csv"
    assert mask_personal("da m.rossi@example.it.xlsx") == "da [e-mail]"
    assert mask_personal(None) == ""


SPORTELLO_HEADER = [
    "ID contatto",
    "Data",
    "Modalità",
    "Tipo utente",
    "Codice fiscale",
    "Cognome",
    "Nome",
    "Richiesta principale",
    "Inviato a",
    "Operatore",
]
PHONE_VALUE = "347 765 4321"
EMAIL_VALUE = "zebedeo.q@example.org"


@pytest.fixture
def loaded(tmp_path: Path, caplog):
    """A desk's log with personal values in its id, label and free-text columns."""
    (tmp_path / "inbox").mkdir()
    rows = [
        SPORTELLO_HEADER,
        # 2: clean, with an id that looks like a code
        [
            "SP-2024-0012",
            "08/04/2024",
            "Telefono",
            "Detenuto",
            CF_MARIO,
            "Rossi",
            "Mario",
            "Lavoro",
            "CFP",
            "Gino",
        ],
        # 3: a CF typed in the id column
        [CF_ANNA.lower(), "08/04/2024", "Telefono", "Detenuto", "", "", "", "Casa", "CFP", "Gino"],
        # 4: a phone in "Inviato a"
        [
            "SP-2024-0014",
            "09/04/2024",
            "Di persona",
            "Familiare",
            "",
            "",
            "",
            "Casa",
            PHONE_VALUE,
            "",
        ],
        # 5: an e-mail in "Richiesta principale"
        ["SP-2024-0015", "09/04/2024", "Email", "Altro", "", "", "", EMAIL_VALUE, "Nessuno", ""],
        # 6: the row's own person named in "Inviato a"
        [
            "SP-2024-0016",
            "10/04/2024",
            "Di persona",
            "Ex detenuto",
            "",
            "Quintavalle",
            "Zebedeo",
            "Lavoro",
            "zebedeo quintavalle",
            "",
        ],
        # 7: a surname alone is not a name match (Verde is a word too)
        [
            "SP-2024-0017",
            "10/04/2024",
            "Di persona",
            "Ex detenuto",
            "",
            "Verde",
            "Anna",
            "Lavoro",
            "Cooperativa Verde",
            "",
        ],
    ]
    name = "sportello_contatti_2024_04.csv"
    write_csv(tmp_path / "inbox" / "sportello" / name, rows)
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    attach_vault(con, tmp_path / "vault.duckdb", VAULT_KEY)
    with caplog.at_level(logging.DEBUG):
        [outcome] = ingest_feed(
            con, "sportello", tmp_path / "inbox", key=KEY, feedback_dir=tmp_path / "feedback"
        )
    yield con, outcome, tmp_path, caplog.text
    con.close()


PLANTED = (CF_ANNA, PHONE_VALUE, EMAIL_VALUE, "Zebedeo", "Quintavalle")


def test_personal_values_in_kept_columns_never_pass_the_door(loaded):
    con, outcome, _, _ = loaded
    assert (outcome.rows_data, outcome.rows_loaded, outcome.rows_rejected) == (6, 2, 4)
    assert con.execute("select contact_id from raw.sportello order by 1").fetchall() == [
        ("SP-2024-0012",),
        ("SP-2024-0017",),
    ]
    raw = str(con.execute("select * from raw.sportello").fetchall()).casefold()
    for value in PLANTED:
        assert value.casefold() not in raw


def test_they_go_to_the_rejected_rows_and_the_feedback_with_a_reason(loaded):
    con, outcome, data_dir, _ = loaded
    problems = con.execute(
        "select row_number, column_name, severity, reason, value from vault.rejected_rows "
        "order by row_number"
    ).fetchall()
    assert [(r[0], r[1], r[2]) for r in problems] == [
        (3, "ID contatto", "error"),
        (4, "Inviato a", "error"),
        (5, "Richiesta principale", "error"),
        (6, "Inviato a", "error"),
    ]
    reasons = [r[3] for r in problems]
    assert all(r.startswith("dato personale in una colonna descrittiva: ") for r in reasons)
    assert "codice fiscale" in reasons[0] and "telefono" in reasons[1]
    assert "e-mail" in reasons[2] and "nome della persona" in reasons[3]
    assert [r[4] for r in problems] == [
        CF_ANNA.lower(),
        PHONE_VALUE,
        EMAIL_VALUE,
        "zebedeo quintavalle",
    ]
    workbook = openpyxl.load_workbook(data_dir / "feedback" / "sportello" / outcome.feedback_file)
    cells = {str(c.value) for row in workbook.active.iter_rows() for c in row}
    assert {PHONE_VALUE, EMAIL_VALUE} <= cells


def test_no_personal_value_in_the_log(loaded):
    _, _, _, log_text = loaded
    for value in PLANTED:
        assert value.casefold() not in log_text.casefold()


def test_a_file_named_after_a_person_is_masked_in_the_log(tmp_path: Path, caplog):
    (tmp_path / "inbox").mkdir()
    name = f"Rossi_{CF_MARIO}_347 1234567.xlsx"
    write_xlsx(
        tmp_path / "inbox" / "cooperative" / name,
        {
            f"{CF_MARIO}": [
                ["Il Girasole Cooperativa Sociale"],
                ["Codice Fiscale", "Data assunzione", "Tipo contratto", "Mansione"],
                [CF_MARIO, d("01/02/2024"), "Determinato", "assistenza 333 1234567"],
            ]
        },
    )
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    attach_vault(con, tmp_path / "vault.duckdb", VAULT_KEY)
    with caplog.at_level(logging.DEBUG):
        [outcome] = ingest_feed(
            con, "cooperative", tmp_path / "inbox", key=KEY, feedback_dir=tmp_path / "feedback"
        )
    assert (outcome.status, outcome.rows_rejected) == ("loaded", 1)
    assert outcome.file_name == name  # the steward's key to the file, kept in ops
    for value in (CF_MARIO, "347 1234567", "333 1234567"):
        assert value not in caplog.text
    assert "Rossi_[CF]_[telefono].xlsx" in caplog.text


def test_a_name_needs_two_of_its_words():
    person = name_tokens(["ROSSI", "Mario"])
    assert names_in("segnalato da Mario Rossi", person)
    assert names_in("rossi, mario", person)
    assert not names_in("Rossi", person)
    assert not names_in("Casa", name_tokens(["Casa"]))  # a one-word name is never matched
    assert not names_in("Manutenzione del verde", name_tokens(["Verde", "Anna"]))
    assert name_tokens(["De Luca", "Anna Maria", None, 3]) == {"luca", "anna", "maria"}
