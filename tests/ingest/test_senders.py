"""Who sent a file comes from the senders' list: matching, the steward's list, refusals."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from lavoro_debole.ingest.pipeline import ingest_feed
from lavoro_debole.ingest.readers import read_file
from lavoro_debole.ingest.senders import DEFAULT_FILE, SenderNotFound, load_senders
from lavoro_debole.ingest.vault import attach_vault
from lavoro_debole.schemas import FEEDS
from tests.factories import CF_ANNA, CF_MARIO, KEY, VAULT_KEY, d, write_xlsx

SAMPLES = next(
    (
        p
        for p in (
            Path(__file__).resolve().parents[3] / "shared" / "samples",
            Path("/work/shared/samples"),
        )
        if p.is_dir()
    ),
    None,
)
COOP_HEADER = ["C.F. lavoratore", "Data assunzione", "Tipo contratto", "Mansione"]
CONSORTIUM_HEADER = ["Cooperativa", *COOP_HEADER]


@pytest.fixture(scope="module")
def senders():
    return load_senders()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "UdP_SantAngeloLodigiano_casi_2025",
            ("Sant'Angelo Lodigiano", "UdP Sant'Angelo Lodigiano"),
        ),
        (
            "Ufficio di Piano di Sant'Angelo Lodigiano",
            ("Sant'Angelo Lodigiano", "UdP Sant'Angelo Lodigiano"),
        ),
        ("UdP_Casalpusterlengo_casi_2024", ("Casalpusterlengo", "UdP Casalpusterlengo")),
        ("Comune_Lodi_casi_2024_S1", ("Lodi", "Comune di Lodi")),
        ("ComuneLodi_casi_2024", ("Lodi", "Comune di Lodi")),
        ("UdP_Lodi_casi_2024", ("Lodi", "UdP Lodi")),
        ("UdPLodi_casi_2024", ("Lodi", "UdP Lodi")),
        ("Registro prese in carico 2024", None),
        # Whole words only: Lodigiano is not Lodi, and the coop's town is not a district.
        ("Lodigiano_casi_2024", None),
    ],
)
def test_the_district_and_sender_of_a_case_file(senders, text, expected):
    if expected is None:
        with pytest.raises(SenderNotFound, match=r"reference/senders\.csv.*servizi_sociali"):
            senders.sender_of_file("servizi_sociali", f"{text}.xlsx", [])
        return
    sender = senders.sender_of_file("servizi_sociali", f"{text}.xlsx", [])
    assert (sender.district, sender.display_name) == expected
    # The same text in a title row, with a file name that says nothing.
    sender = senders.sender_of_file("servizi_sociali", "casi.xlsx", [text.replace("_", " ")])
    assert (sender.district, sender.display_name) == expected


def test_two_senders_named_is_refused_and_nothing_of_the_file_is_echoed(senders):
    with pytest.raises(SenderNotFound) as refused:
        senders.sender_of_file(
            "cooperative", "Il_Girasole_Mosaico_Bianchi_3331234567.xlsx", ["riepilogo"]
        )
    message = str(refused.value)
    assert "più mittenti" in message and "reference/senders.csv" in message
    assert "3331234567" not in message and "Bianchi" not in message


def test_every_default_sender_is_matched_by_each_of_its_spellings(senders):
    for sender in senders.senders:
        if not sender.sends_files:
            assert senders.cooperative_of_cell(sender.display_name.upper(), _consortium(senders))[
                0
            ] == (sender)
            continue
        for spelling in sender.spellings:
            name = spelling.replace(" ", "_") + "_2024_S1.xlsx"
            assert senders.sender_of_file(sender.feed, name, []) == sender, (sender, spelling)


def _consortium(senders):
    return next(s for s in senders.senders if s.sender_id == "consorzio_arca")


def test_every_feed_has_a_listed_sender_and_the_default_file_is_the_documented_one(senders):
    assert DEFAULT_FILE.name == "senders_default.csv"
    assert {s.feed for s in senders.senders} == set(FEEDS)
    districts = {s.district for s in senders.of_feed("servizi_sociali")}
    assert districts == {"Lodi", "Casalpusterlengo", "Sant'Angelo Lodigiano"}


@pytest.mark.skipif(SAMPLES is None, reason="shared samples not available")
def test_the_sample_files_name_their_senders(senders):
    expected = {
        "CO_Provincia_Lodi_estrazione_20251231.xlsx": ("provincia_co", "Provincia di Lodi -"),
        "UdP_SantAngeloLodigiano_casi_2025.ods": (
            "servizi_sociali",
            "UdP Sant'Angelo Lodigiano",
        ),
        "sportello_contatti_2024_04.csv": ("sportello", "Sportello di ascolto"),
    }
    for name, (feed, display) in expected.items():
        sheet = read_file(SAMPLES / name)[0]
        titles = [str(c) for row in sheet.rows[:3] for c in row if c]
        # Title rows above the header are what the pipeline passes; extra text is harmless.
        sender = senders.sender_of_file(feed, name, titles)
        assert sender.display_name.startswith(display)


# ------------------------------------------------------------------ in the pipeline


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    (tmp_path / "inbox").mkdir()
    return tmp_path


def run(data_dir: Path, feed: str, senders=None):
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"))
    attach_vault(con, data_dir / "vault.duckdb", VAULT_KEY)
    outcomes = ingest_feed(
        con,
        feed,
        data_dir / "inbox",
        key=KEY,
        feedback_dir=data_dir / "feedback",
        senders=senders,
    )
    return con, {o.file_name: o for o in outcomes}


def test_a_coop_file_whose_title_names_a_contact_person_is_refused_not_a_category(data_dir):
    mobile = "347 123 4567"
    write_xlsx(
        data_dir / "inbox" / "cooperative" / "inserimenti_2024_S1.xlsx",
        {
            "Foglio1": [
                [f"Referente Giuseppina Abbondanza - cell. {mobile}"],
                ["Inserimenti lavorativi - 1° semestre 2024"],
                COOP_HEADER,
                [CF_MARIO, d("01/02/2024"), "Determinato", "Pulizie"],
            ]
        },
    )
    write_xlsx(
        data_dir / "inbox" / "cooperative" / f"Abbondanza_Giuseppina_{CF_ANNA}.xlsx",
        {"Foglio1": [COOP_HEADER, [CF_ANNA, d("01/03/2024"), "Determinato", "Pulizie"]]},
    )
    con, outcomes = run(data_dir, "cooperative")
    assert {o.status for o in outcomes.values()} == {"rejected"}
    for outcome in outcomes.values():
        assert "mittente non riconoscibile" in outcome.error
        assert "reference/senders.csv" in outcome.error and "cooperative" in outcome.error
        for value in (mobile, "Abbondanza", "Giuseppina", CF_ANNA):
            assert value not in outcome.error
        assert outcome.sender is None
    assert con.execute("select count(*) from raw.cooperative").fetchone()[0] == 0


def test_a_single_coop_named_in_its_title_is_stored_by_its_display_name(data_dir):
    write_xlsx(
        data_dir / "inbox" / "cooperative" / "inserimenti_2024_S1.xlsx",
        {
            "Foglio1": [
                ["IL GIRASOLE Società Cooperativa Sociale - referente: Bianchi"],
                COOP_HEADER,
                [CF_MARIO, d("01/02/2024"), "Determinato", "Pulizie"],
            ]
        },
    )
    con, outcomes = run(data_dir, "cooperative")
    [outcome] = outcomes.values()
    assert (outcome.status, outcome.sender) == ("loaded", "Il Girasole")
    assert con.execute("select cooperative, sender from raw.cooperative").fetchall() == [
        ("Il Girasole", "Il Girasole")
    ]


def test_consortium_rows_must_name_a_listed_member(data_dir):
    write_xlsx(
        data_dir / "inbox" / "cooperative" / "Consorzio_Arca_inserimenti_2024_S1.xlsx",
        {
            "Inserimenti": [
                ["Consorzio Arca - inserimenti lavorativi L.381/91"],
                CONSORTIUM_HEADER,
                ["LA LANTERNA coop. soc. onlus ", CF_MARIO, d("01/02/2024"), "TD", "Pulizie"],
                ["Ortobello", CF_ANNA, d("01/03/2024"), "TD", "Logistica"],
                ["Mario Rossi 333 9876543", CF_MARIO, d("01/04/2024"), "TD", "Pulizie"],
                ["Il Girasole", CF_ANNA, d("01/05/2024"), "TD", "Pulizie"],
                ["Coop Sconosciuta", CF_ANNA, d("01/06/2024"), "TD", "Pulizie"],
            ]
        },
    )
    con, outcomes = run(data_dir, "cooperative")
    [outcome] = outcomes.values()
    assert (outcome.status, outcome.sender) == ("loaded", "Consorzio Arca")
    assert (outcome.rows_loaded, outcome.rows_rejected) == (2, 3)
    rows = con.execute("select cooperative, sender from raw.cooperative order by 1").fetchall()
    assert rows == [("La Lanterna", "Consorzio Arca"), ("Ortobello", "Consorzio Arca")]
    reasons = con.execute(
        "select row_number, reason from vault.rejected_rows order by row_number"
    ).fetchall()
    assert [r[0] for r in reasons] == [5, 6, 7]
    assert "non presente nell'elenco dei mittenti (reference/senders.csv" in reasons[0][1]
    assert "non è inviata da Consorzio Arca" in reasons[1][1]
    assert "non presente nell'elenco" in reasons[2][1]
    everything = str(con.execute("select * from raw.cooperative").fetchall())
    assert "9876543" not in everything and "Sconosciuta" not in everything


def test_the_stewards_list_extends_and_overrides_the_default(data_dir):
    reference = data_dir / "reference"
    reference.mkdir()
    (reference / "senders.csv").write_text(
        "feed;sender_id;display_name;spellings;district;consortium;cadenza\n"
        "cooperative;la_quercia;La Quercia;Quercia;;;semestrale\n"
        "cooperative;il_girasole;Il Girasole;;;;\n"  # removed: no spellings
        "cooperative;la_lanterna;La Lanterna Soc. Coop.;Lanterna;;consorzio_arca;\n",
        encoding="utf-8",
    )
    senders = load_senders(reference)
    ids = {s.sender_id for s in senders.of_feed("cooperative")}
    assert "la_quercia" in ids and "il_girasole" not in ids
    quercia = next(s for s in senders.senders if s.sender_id == "la_quercia")
    assert quercia.extra == {"cadenza": "semestrale"}
    lanterna = next(s for s in senders.senders if s.sender_id == "la_lanterna")
    assert lanterna.display_name == "La Lanterna Soc. Coop."
    write_xlsx(
        data_dir / "inbox" / "cooperative" / "Quercia_2024.xlsx",
        {"Foglio1": [COOP_HEADER, [CF_MARIO, d("01/02/2024"), "Determinato", "Pulizie"]]},
    )
    write_xlsx(
        data_dir / "inbox" / "cooperative" / "Coop_Il_Girasole_2024.xlsx",
        {"Foglio1": [COOP_HEADER, [CF_ANNA, d("01/02/2024"), "Determinato", "Pulizie"]]},
    )
    _, outcomes = run(data_dir, "cooperative", senders)
    assert outcomes["Quercia_2024.xlsx"].sender == "La Quercia"
    assert outcomes["Coop_Il_Girasole_2024.xlsx"].status == "rejected"


def test_a_listed_district_file_still_loads_and_an_unnamed_one_is_refused(data_dir):
    header = ["C.F.", "Posizione giuridica", "Data presa in carico"]
    for name, opened in (
        ("UdP_Lodi_casi_2024.xlsx", "01/02/2024"),
        ("casi_2024.xlsx", "02/02/2024"),
    ):
        write_xlsx(
            data_dir / "inbox" / "servizi_sociali" / name,
            {
                "Casi": [
                    ["Registro prese in carico"],
                    header,
                    [CF_MARIO, "Detenuto", d(opened)],
                ]
            },
        )
    con, outcomes = run(data_dir, "servizi_sociali")
    assert outcomes["UdP_Lodi_casi_2024.xlsx"].sender == "UdP Lodi"
    assert outcomes["casi_2024.xlsx"].status == "rejected"
    assert "flusso 'servizi_sociali'" in outcomes["casi_2024.xlsx"].error
    assert con.execute("select district, sender from raw.servizi_sociali").fetchall() == [
        ("Lodi", "UdP Lodi")
    ]


def test_a_member_of_an_unlisted_consortium_is_warned_about(tmp_path: Path, caplog):
    (tmp_path / "senders.csv").write_text(
        "feed;sender_id;display_name;spellings;district;consortium\n"
        "cooperative;la_quercia;La Quercia;Quercia;;consorzio_inesistente\n",
        encoding="utf-8",
    )
    senders = load_senders(tmp_path)
    assert "consorzio_inesistente" in caplog.text
    assert "la_quercia" in {s.sender_id for s in senders.of_feed("cooperative")}
    assert not next(s for s in senders.senders if s.sender_id == "la_quercia").sends_files


def test_a_stewards_list_without_the_needed_columns_is_refused_clearly(tmp_path: Path):
    (tmp_path / "senders.csv").write_text("feed;nome\ncfp;CFP\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"senders\.csv: mancano le colonne sender_id"):
        load_senders(tmp_path)
