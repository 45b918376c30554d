"""`lavoro run` on a generated inbox with careless files dropped in by the partners.

A cooperative's title row naming its contact person with a mobile number, a file named
after a person with their CF, CFs, phones, e-mails and the row's own name typed in
label and free-text columns, a symlink to a file outside the inbox: the files are
refused or their rows rejected as designed, and none of those values appears past the
door, in the analysts' copy, any workbook, Dagster's storage or the terminal.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from lavoro_debole.ingest.vault import open_vault
from lavoro_debole.synthetic import generate_inbox
from tests.factories import CF_ANNA, CF_LUCA, CF_SARA, d, make_cf, write_csv, write_xlsx

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parent.parent
KEY = "careless-files-test-key-0123456789abcdef"
VAULT_KEY = "careless-files-vault-key-0123456789abcdef"

CONTACT_SURNAME, CONTACT_NAME = "Abbondanza", "Giuseppina"
MOBILE = "347 765 4321"
LANDLINE = "0371 987654"
EMAIL = "g.abbondanza@example.org"
ID_CF = "bnc lra 85m41 e648k"  # a CF typed in the desk's id column, spaced and lower case
NAMED_FILE_CF = make_cf("Abbondanza", "Giuseppina", "F", "12/05/1979", "Lodi")
OUTSIDE_SECRET = "FUORI-DALL-INBOX-5521"
COOP_HEADER = ["Lavoratore", "C.F. lavoratore", "Data assunzione", "Tipo contratto", "Mansione"]
DESK_HEADER = [
    "ID contatto",
    "Data",
    "Modalità",
    "Tipo utente",
    "Codice fiscale",
    "Cognome",
    "Nome",
    "Richiesta principale",
    "Inviato a",
]

# Never anywhere a run writes, but the inbox, the feedback and the restricted rejected rows.
SHAPED = [MOBILE, LANDLINE, EMAIL, ID_CF, NAMED_FILE_CF, OUTSIDE_SECRET]
# A person's name is not a shape: it may be in the name of a file (the steward's key to
# it, in ops.ingest_files and Dagster's view of the inbox), never in a table or workbook.
NAMES = [CONTACT_SURNAME, CONTACT_NAME]


def _plant(inbox: Path, outside: Path) -> None:
    coop = inbox / "cooperative"
    write_xlsx(
        coop / "inserimenti_2025_S2_aggiornato.xlsx",
        {
            "Foglio1": [
                [f"Referente {CONTACT_NAME} {CONTACT_SURNAME} - cell. {MOBILE}"],
                ["Inserimenti lavorativi - 2° semestre 2025"],
                COOP_HEADER,
                ["Neri Sara", CF_SARA, d("01/09/2025"), "Determinato", "Pulizie"],
            ]
        },
    )
    write_xlsx(
        coop / f"{CONTACT_SURNAME}_{CONTACT_NAME}_{NAMED_FILE_CF}.xlsx",
        {"Foglio1": [COOP_HEADER, ["Neri Sara", CF_SARA, d("01/10/2025"), "Tirocinio", "Pulizie"]]},
    )
    write_xlsx(
        coop / "Coop_Il_Girasole_integrazione_2025_S2.xlsx",
        {
            "Inserimenti": [
                ["Il Girasole Cooperativa Sociale"],
                COOP_HEADER,
                ["Verdi Luca", CF_LUCA, d("01/09/2025"), "Determinato", f"assistenza {LANDLINE}"],
                [
                    f"{CONTACT_SURNAME} {CONTACT_NAME}",
                    CF_ANNA,
                    d("01/10/2025"),
                    "Determinato",
                    f"{CONTACT_NAME} {CONTACT_SURNAME}",
                ],
                ["Neri Sara", CF_SARA, d("02/10/2025"), "Determinato", "Pulizie"],
            ]
        },
    )
    write_csv(
        inbox / "sportello" / f"sportello_contatti_2025_11_{NAMED_FILE_CF}.csv",
        [
            DESK_HEADER,
            [ID_CF, "03/11/2025", "Telefono", "Detenuto", "", "", "", "Lavoro", "CFP"],
            ["SP-2025-0901", "04/11/2025", "Telefono", "Detenuto", "", "", "", "Casa", MOBILE],
            ["SP-2025-0902", "05/11/2025", "Email", "Altro", "", "", "", EMAIL, "Nessuno"],
            ["SP-2025-0903", "06/11/2025", "Di persona", "Familiare", "", "", "", "Casa", "CFP"],
        ],
    )
    outside.mkdir()
    (outside / "segreto.csv").write_text(f"ID contatto;Data\n{OUTSIDE_SECRET};01/11/2025\n")
    (inbox / "sportello" / "collegamento.csv").symlink_to(outside / "segreto.csv")


@pytest.fixture(scope="module")
def careless_run(tmp_path_factory: pytest.TempPathFactory):
    data_dir = tmp_path_factory.mktemp("careless")
    generate_inbox(data_dir, persons=15, seed=3)
    _plant(data_dir / "inbox", data_dir.parent / f"{data_dir.name}_fuori")
    env = {
        **os.environ,
        "LAVORO_DATA_DIR": str(data_dir),
        "LAVORO_PSEUDONYM_KEY": KEY,
        "LAVORO_VAULT_KEY": VAULT_KEY,
        "LAVORO_CUTOFF": "2025-12-31",
        "DAGSTER_HOME": str(data_dir / "dagster"),
    }
    lavoro = Path(sys.executable).parent / "lavoro"
    completed = subprocess.run(
        [str(lavoro), "run"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return data_dir, completed


def analytics_path(data_dir: Path) -> Path:
    """The analysts' copy, in the default folder beside the data directory."""
    return data_dir.parent / f"{data_dir.name}-analisi" / "analytics.duckdb"


def _files(data_dir: Path, name: str) -> dict[str, tuple]:
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        return {
            row[0]: row[1:]
            for row in con.execute(
                "select file_name, status, sender, rows_loaded, rows_rejected, error "
                "from ops.ingest_files where feed = ?",
                [name],
            ).fetchall()
        }
    finally:
        con.close()


def test_the_run_builds_the_warehouse(careless_run):
    data_dir, completed = careless_run
    assert completed.returncode in (0, 3), completed.stdout[-3000:] + completed.stderr[-3000:]
    con = duckdb.connect(str(analytics_path(data_dir)), read_only=True)
    assert con.execute("select count(*) from marts.indicator_values").fetchone()[0] > 0


def test_no_file_or_sheet_name_reaches_the_analysts_copy(careless_run):
    data_dir, _ = careless_run
    con = duckdb.connect(str(analytics_path(data_dir)), read_only=True)
    columns = con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where column_name in ('file_name', 'sheet', 'sheets_read', 'feedback_file', 'error')"
    ).fetchall()
    assert columns == []


def test_careless_files_are_refused_or_their_rows_rejected(careless_run):
    data_dir, _ = careless_run
    coop = _files(data_dir, "cooperative")
    for name in (
        "inserimenti_2025_S2_aggiornato.xlsx",
        f"{CONTACT_SURNAME}_{CONTACT_NAME}_{NAMED_FILE_CF}.xlsx",
    ):
        status, sender, _, _, error = coop[name]
        assert (status, sender) == ("rejected", None)
        assert "mittente non riconoscibile" in error and "reference/senders.csv" in error
    assert coop["Coop_Il_Girasole_integrazione_2025_S2.xlsx"][:4] == ("loaded", "Il Girasole", 1, 2)
    desk = _files(data_dir, "sportello")
    assert desk[f"sportello_contatti_2025_11_{NAMED_FILE_CF}.csv"][2:4] == (1, 3)
    assert desk["collegamento.csv"][0] == "rejected"
    assert "collegamento simbolico" in desk["collegamento.csv"][4]


def test_no_careless_value_anywhere_past_the_door(careless_run):
    data_dir, completed = careless_run
    allowed = {data_dir / "inbox", data_dir / "feedback"}
    texts = {"stdout": completed.stdout, "stderr": completed.stderr}
    for path in [*data_dir.rglob("*"), *analytics_path(data_dir).parent.rglob("*")]:
        if path.is_file() and not any(a in path.parents for a in allowed):
            if path.name == "warehouse.duckdb":
                continue  # read table by table below
            texts[str(path)] = path.read_bytes().decode("latin-1")
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    tables = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where not (table_schema = 'ops' and table_name = 'rejected_rows')"
    ).fetchall()
    for schema, table in tables:
        columns = [
            c[0]
            for c in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = ? and table_name = ?",
                [schema, table],
            ).fetchall()
            # The file's name as received is the steward's key to it, kept in ops only.
            if not (schema == "ops" and table == "ingest_files" and c[0] in KEPT_NAMES)
        ]
        select = ", ".join(f'"{c}"' for c in columns)
        texts[f"{schema}.{table}"] = str(
            con.execute(f'select {select} from "{schema}"."{table}"').fetchall()
        )
    folded = {where: text.casefold().replace(" ", "") for where, text in texts.items()}
    leaks = [
        (where, value)
        for where, text in folded.items()
        for value in SHAPED
        if value.casefold().replace(" ", "") in text
    ]
    assert leaks == []
    tabular = {
        where: text
        for where, text in folded.items()
        if "." in where.rsplit("/", 1)[-1] and not where.startswith(str(data_dir / "dagster"))
    }
    name_leaks = [
        (where, value)
        for where, text in tabular.items()
        for value in NAMES
        if value.casefold() in text
    ]
    assert name_leaks == []
    # The file names did reach Dagster's storage, masked: the scan looked where they go.
    dagster = [t for where, t in folded.items() if where.startswith(str(data_dir / "dagster"))]
    assert any(f"{CONTACT_SURNAME}_{CONTACT_NAME}_[cf].xlsx".casefold() in t for t in dagster)
    # The values did reach the restricted rejected rows: the scan looked for real data.
    with open_vault(data_dir / "vault.duckdb", VAULT_KEY.encode()) as vault:
        restricted = str(vault.execute("select value from vault.rejected_rows").fetchall())
    for value in (MOBILE, LANDLINE, EMAIL, ID_CF, f"{CONTACT_NAME} {CONTACT_SURNAME}"):
        assert value in restricted


KEPT_NAMES = {"file_name", "feedback_file"}
