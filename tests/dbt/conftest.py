"""A small hand-made warehouse, built once per session with the real `dbt build`.

The rows below are the fixture every test in this folder reads; the expected values in
test_dbt_indicator_values.py were worked out by hand from them (see the comments there).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from lavoro_debole.ingest.store import ensure_tables
from lavoro_debole.schemas import FEEDS

REPO = Path(__file__).resolve().parents[2]
DBT = Path(sys.executable).parent / "dbt"
CUTOFF = "2025-06-30"

# person_id -> (sex, birth_yy, birth_month, birth_day, born_abroad)
PERSONS = {
    "p01": ("M", 80, 1, 1, False),
    "p02": ("F", 99, 5, 10, True),
    "p03": ("M", 5, 3, 15, False),
    "p04": ("M", 60, 12, 31, False),
    "p05": ("F", 70, 7, 1, True),
    # p06: the omocodic variant of p01's CF: same birth fields, another person.
    "p06": ("M", 80, 1, 1, False),
    "p07": ("M", 85, 2, 2, True),
    "p08": ("F", 90, 3, 3, False),
    # p09: '11' is 2011 at the cut-off (14 on 2025-03-01), so '<18'.
    "p09": ("M", 11, 3, 1, False),
}

A, B, C, D, E = "11111111111", "22222222222", "33333333333", "44444444444", "55555555555"
COOP = "01234560157"  # in seeds/cooperative_sociali_default.csv

LINEAGE = (
    "file_sha256",
    "file_name",
    "sheet",
    "row_number",
    "reference_date",
    "received_seq",
    "sender",
)
PERSON = (
    "person_id",
    "person_sex",
    "person_birth_yy",
    "person_birth_month",
    "person_birth_day",
    "person_born_abroad",
)


def person(pid: str | None) -> tuple:
    if pid is None:
        return (None,) * 6
    return (pid, *PERSONS[pid])


class Loader:
    """Insert rows with lineage: one file per (table, reference date, seq)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.row = 0

    def insert(
        self,
        table: str,
        columns: tuple[str, ...],
        rows: list[tuple],
        ref: str | None = "2025-06-30",
        seq: int = 1,
        sender: str = "test",
        row_numbers: list[int] | None = None,
    ) -> None:
        cols = LINEAGE + columns
        marks = ", ".join("?" for _ in cols)
        sql = f"insert into raw.{table} ({', '.join(cols)}) values ({marks})"
        for i, values in enumerate(rows):
            self.row += 1
            rn = row_numbers[i] if row_numbers else self.row
            lineage = (f"{table}-{ref}-{seq}", f"{table}_{ref}.xlsx", None, rn, ref, seq, sender)
            self.con.execute(sql, lineage + values)


def create_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The raw, reference and ops tables exactly as the ingest creates them, from the
    schemas (no hand-written DDL to drift from them)."""
    ensure_tables(con, [entity for feed in FEEDS.values() for entity in feed.entities])


def load_fixture(con: duckdb.DuckDBPyConnection) -> None:
    create_raw_tables(con)
    ld = Loader(con)

    cases = ("district", "citizenship", "legal_status", "case_opened_date", "case_closed_date")
    # p01: an older copy says closed 2024-02-01; the later file's copy (open) wins.
    ld.insert(
        "servizi_sociali",
        PERSON + cases,
        [(*person("p01"), "Lodi", "Italiana", "Detenuto", "2024-01-15", "2024-02-01")],
        ref="2024-03-31",
        seq=1,
        sender="UdP Lodi",
    )
    ld.insert(
        "servizi_sociali",
        PERSON + cases,
        [
            (*person("p01"), "Lodi", "ITALIA", "Semilibero", "2024-01-15", None),
            (
                *person("p02"),
                "Casalpusterlengo",
                "Marocchina",
                "Affidamento in prova ai servizi sociali",
                "2024-02-10",
                "2024-05-20",
            ),
            (*person("p03"), "Sant'Angelo Lodigiano", None, "Messa alla prova", "2024-04-05", None),
            (*person("p04"), "Lodi", "ITALIANA", "Ex detenuto", "2024-01-20", "2024-03-31"),
            (*person("p05"), "Lodi", "Romena", "Detenzione domiciliare", "2024-05-02", None),
            (*person("p06"), "Lodi", "Italiana", "Detenuto", "2024-06-10", None),
        ],
        ref="2024-06-30",
        seq=3,
        sender="UdP Lodi",
    )
    # p05: a copy from a file with no reference date (received later) loses to the dated one.
    ld.insert(
        "servizi_sociali",
        PERSON + cases,
        [(*person("p05"), "Lodi", "Romena", "Detenzione domiciliare", "2024-05-02", "2024-05-10")],
        ref=None,
        seq=9,
        sender="Comune di Lodi",
    )
    # p02: a second case in another district; p07 and p09 later.
    ld.insert(
        "servizi_sociali",
        PERSON + cases,
        [
            (
                *person("p02"),
                "Sant'Angelo Lodigiano",
                "Marocchina",
                "Ex detenuto",
                "2024-08-01",
                None,
            ),
            (
                *person("p07"),
                "Casalpusterlengo",
                "Albanese",
                "Libertà vigilata",
                "2024-07-15",
                None,
            ),
            (*person("p09"), "Lodi", "Italiana", "Detenuto", "2025-04-10", None),
        ],
        ref="2025-06-30",
        seq=10,
        sender="UdP Sant'Angelo Lodigiano",
    )

    desk = ("contact_id", "contact_date", "user_type", "main_request", "referred_to")
    ld.insert(
        "sportello",
        desk + PERSON,
        [
            ("c1", "2024-04-03", "Detenuto", "Lavoro", "Centro per l'Impiego", *person("p01")),
            ("c2", "2024-04-10", "Familiare", "Ascolto", None, *person(None)),
            ("c3", "2024-05-05", "Familiare", "Casa", "Nessuno", *person(None)),
            ("c4", "2024-05-20", "Ex detenuto", "Lavoro", "Caritas", *person("p03")),
        ],
        ref="2024-05-31",
        seq=1,
    )
    ld.insert(
        "sportello",
        desk + PERSON,
        [
            ("c4", "2024-05-20", "Ex detenuto", "Lavoro", "CFP", *person("p03")),
            ("c5", "2024-07-02", "Altro", "Documenti", "Servizi sociali", *person(None)),
        ],
        ref="2024-07-31",
        seq=2,
    )

    courses = ("course_code", "professional_area", "site", "course_type", "start_date", "end_date")
    ld.insert(
        "cfp_corsi",
        courses,
        [
            ("RIST-2024-01", "Ristorazione", "Lodi", "Qualifica IeFP", "2024-02-01", "2024-06-15"),
            (
                "SIC-2024-01",
                "Sicurezza",
                "C.C. Lodi (intramurario)",
                "Sicurezza sul lavoro",
                "2024-05-01",
                "2024-05-31",
            ),
        ],
    )
    enrol = ("course_code", "enrolment_date", "outcome", "withdrawal_date")
    # p01 is listed twice for RIST in one file: the higher row number wins (Qualificato).
    ld.insert(
        "cfp_iscritti",
        PERSON + enrol,
        [
            (*person("p01"), "RIST-2024-01", "2024-01-25", "In corso", None),
            (*person("p01"), "RIST-2024-01", "2024-01-25", "Qualificato", None),
        ],
        row_numbers=[2, 5],
    )
    ld.insert(
        "cfp_iscritti",
        PERSON + enrol,
        [
            (*person("p02"), "RIST-2024-01", "2024-01-28", "Ritirato", "2024-03-10"),
            (*person("p03"), "SIC-2024-01", "2024-04-20", "Attestato di frequenza", None),
            (*person("p05"), "SIC-2024-01", "2024-04-25", "Ritirato", "2024-05-10"),
            (*person("p03"), "RIST-2024-01", "2024-04-06", "In corso", None),
            (*person("p06"), "XXX-9999", "2024-04-01", "Qualificato", None),
        ],
        row_numbers=[10, 11, 12, 13, 14],
    )

    interns = ("host_vat", "internship_type", "start_date", "actual_end_date", "outcome")
    ld.insert(
        "provincia_tirocini",
        PERSON + interns,
        [
            (*person("p03"), A, "Tirocinio di inclusione", "2024-04-10", "2024-06-20", "Concluso"),
            (
                *person("p05"),
                B,
                "Tirocinio extracurricolare",
                "2024-05-01",
                "2024-06-10",
                "Concluso",
            ),
            (*person("p06"), C, "Borsa lavoro", "2024-06-01", "2024-06-30", "Assunto"),
            (*person("p02"), A, "Tirocinio extracurricolare", "2024-07-01", None, "In corso"),
        ],
    )

    co = (
        "communication_id",
        "event_type",
        "event_date",
        "relationship_start_date",
        "planned_end_date",
        "contract_code",
        "employer_code",
        "employer_code_kind",
        "incentive",
    )
    ld.insert(
        "provincia_co",
        PERSON + co,
        [
            # R1 p03-A: Proroga then Cessazione before the planned end; Smuraglia incentive.
            (
                *person("p03"),
                "r1a",
                "Assunzione",
                "2024-09-17",
                "2024-09-17",
                "2024-12-31",
                "A.02.00",
                A,
                "piva",
                "L. 193/2000 (Smuraglia)",
            ),
            (
                *person("p03"),
                "r1p",
                "Proroga",
                "2024-12-20",
                "2024-09-17",
                "2025-03-31",
                "A.02.00",
                A,
                "piva",
                None,
            ),
            (
                *person("p03"),
                "r1c",
                "Cessazione",
                "2025-02-15",
                "2024-09-17",
                None,
                "A.02.00",
                A,
                "piva",
                None,
            ),
            # R2 p05-B: fixed term, then Trasformazione to open-ended on 2025-01-10.
            (
                *person("p05"),
                "r2a",
                "Assunzione",
                "2024-09-09",
                "2024-09-09",
                "2025-03-08",
                "A.02.00",
                B,
                "piva",
                None,
            ),
            # R3 p07-D: apprenticeship before p07's first case (not a first hire).
            (
                *person("p07"),
                "r3a",
                "Assunzione",
                "2024-03-01",
                "2024-03-01",
                None,
                "A.03.08",
                D,
                "piva",
                None,
            ),
            (
                *person("p07"),
                "r3c",
                "Cessazione",
                "2024-06-30",
                "2024-03-01",
                None,
                "A.03.08",
                D,
                "piva",
                None,
            ),
            # R4 p07 with a social cooperative: first hire of p07.
            (
                *person("p07"),
                "r4a",
                "Assunzione",
                "2024-10-01",
                "2024-10-01",
                "2025-09-30",
                "A.02.00",
                COOP,
                "piva",
                None,
            ),
            # R5 p06-C open-ended after the Borsa lavoro.
            (
                *person("p06"),
                "r5a",
                "Assunzione",
                "2024-07-01",
                "2024-07-01",
                None,
                "A.01.00",
                C,
                "piva",
                None,
            ),
            # R6 p08 (no case) with A.
            (
                *person("p08"),
                "r6a",
                "Assunzione",
                "2024-05-15",
                "2024-05-15",
                "2024-08-14",
                "A.02.00",
                A,
                "piva",
                None,
            ),
            # R7 p01: an internship in the CO extract, never employment.
            (
                *person("p01"),
                "r7a",
                "Assunzione",
                "2024-02-01",
                "2024-02-01",
                "2024-07-31",
                "C.01.00",
                C,
                "piva",
                None,
            ),
            # R8 p02 with a sole trader (CF employer code), intermittent work.
            (
                *person("p02"),
                "r8a",
                "Assunzione",
                "2024-11-04",
                "2024-11-04",
                "2025-02-28",
                "A.05.01",
                "cf:abcdef",
                "cf",
                None,
            ),
            # R9 p04-B open-ended, after p04's (closed) case.
            (
                *person("p04"),
                "r9a",
                "Assunzione",
                "2024-05-20",
                "2024-05-20",
                None,
                "A.01.00",
                B,
                "piva",
                None,
            ),
        ],
        ref="2025-06-30",
        seq=4,
    )
    # Two copies of R2's Trasformazione with the same reference date: the one received
    # last (seq 6, open-ended A.01.00) wins over seq 5.
    ld.insert(
        "provincia_co",
        PERSON + co,
        [
            (
                *person("p05"),
                "r2t",
                "Trasformazione",
                "2025-01-10",
                "2024-09-09",
                "2025-03-08",
                "A.02.00",
                B,
                "piva",
                None,
            )
        ],
        ref="2025-06-30",
        seq=5,
    )
    ld.insert(
        "provincia_co",
        PERSON + co,
        [
            (
                *person("p05"),
                "r2t",
                "Trasformazione",
                "2025-01-10",
                "2024-09-09",
                None,
                "A.01.00",
                B,
                "piva",
                None,
            )
        ],
        ref="2025-06-30",
        seq=6,
    )

    coop = ("cooperative", "hire_date", "end_date", "contract_type", "job", "disadvantaged")
    ld.insert(
        "cooperative",
        PERSON + coop,
        [
            (
                *person("p07"),
                "Il Mosaico Servizi",
                "2024-10-01",
                None,
                "Determinato",
                "Pulizie",
                True,
            ),
            (
                *person("p02"),
                "Il Mosaico Servizi",
                "2024-05-01",
                "2024-06-30",
                "Tirocinio",
                "Pulizie",
                True,
            ),
            (
                *person("p05"),
                "La Rete Verde",
                "2024-04-15",
                None,
                "Socio lavoratore",
                "Manutenzione del verde",
                False,
            ),
            (
                *person("p01"),
                "La Rete Verde",
                "2024-06-01",
                "2024-06-29",
                "Indeterminato",
                "Manutenzione del verde",
                True,
            ),
        ],
    )

    firms = (
        "company_vat",
        "contact_date",
        "association",
        "ateco_code",
        "availability",
        "available_forms",
        "knows_l193",
    )
    ld.insert(
        "imprese",
        firms,
        [
            (A, "2024-04-15", "Confartigianato", "56.10.11", "Sì", "Tirocinio,Assunzione", True),
            (A, "2024-06-20", "Confartigianato", "56.10.11", "No", None, False),
            (B, "2024-05-10", "Assolodi", "43.21.01", "Da valutare", None, True),
            (E, "2024-06-01", "Nessuna", "81.21.00", "Sì", "Borsa lavoro", None),
            (E, "2024-06-15", "Nessuna", "81.21.00", "Sì", "Tirocinio", None),
            (C, "2024-08-01", "Coldiretti", "01.11.00", "Sì", "Assunzione", True),
        ],
    )

    # The steward's expected senders (Q1): CFP owes a file a half-year and never sends;
    # the desk is expected only from April to June 2024.
    con.executemany(
        "insert into raw.reference_expected_senders values (?, ?, ?, ?, ?, ?)",
        [
            ("servizi_sociali", "UdP Lodi", "trimestrale", 30, None, None),
            ("provincia_co", "Provincia di Lodi", "cumulativo", 45, None, None),
            ("sportello", "Caritas Lodigiana", "mensile", 15, "2024-04-01", "2024-06-30"),
            ("imprese", "CNA", "annuale", 45, None, None),
            ("cfp", "CFP Consortile", "semestrale", 45, None, None),
        ],
    )
    # The files' log without the ingest's mandatory columns no model reads here (file name,
    # row counts but the rejected, arrival order): neutral values are put in below.
    con.execute("create temp table fixture_files as select * from ops.ingest_files limit 0")
    con.executemany(
        "insert into fixture_files (file_sha256, feed, sender, status, rows_rejected,"
        " coverage_start, coverage_end, reference_date, received_at, file_modified_at)"
        " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            # (sha, feed, sender, status, rejected, coverage, reference date, ingested, saved)
            (
                "f1",
                "servizi_sociali",
                "UdP Lodi",
                "loaded",
                2,
                "2024-01-01",
                "2024-06-30",
                "2024-06-30",
                "2024-07-05 10:00",
                "2024-07-04 09:00",
            ),
            (
                "f2",
                "servizi_sociali",
                "UdP Lodi",
                "loaded",
                1,
                "2024-01-01",
                "2024-03-31",
                "2024-03-31",
                "2024-04-03 09:00",
                "2024-04-02 09:00",
            ),
            (
                "f3",
                "provincia_co",
                "Provincia di Lodi",
                "loaded",
                4,
                "2023-01-01",
                "2025-06-30",
                "2025-06-30",
                "2025-07-02 09:00",
                "2025-07-01 09:00",
            ),
            (
                "f4",
                "sportello",
                "Caritas Lodigiana",
                "duplicate",
                3,
                "2024-04-01",
                "2024-04-30",
                "2024-04-30",
                "2024-05-02 09:00",
                "2024-05-02 08:00",
            ),
            (
                "f5",
                "sportello",
                "Caritas Lodigiana",
                "loaded",
                0,
                "2024-04-01",
                "2024-04-30",
                "2024-04-30",
                "2024-05-01 09:00",
                "2024-05-01 08:00",
            ),
            (
                "f6",
                "imprese",
                "CNA",
                "rejected",
                None,
                None,
                None,
                None,
                "2024-08-10 09:00",
                "2024-08-10 08:00",
            ),
            # an unchanged re-sending named for 2024-Q3, saved in the inbox after its due
            # date: received (late) for Q1, no rows for Q2
            (
                "f7",
                "servizi_sociali",
                "UdP Lodi",
                "duplicate",
                2,
                "2024-07-01",
                "2024-09-30",
                "2024-09-30",
                "2024-11-16 09:00",
                "2024-11-15 09:00",
            ),
        ],
    )
    con.execute(
        "insert into ops.ingest_files select * replace ("
        " file_sha256 || '.xlsx' as file_name, 0 as rows_data, 0 as rows_loaded,"
        " coalesce(rows_rejected, 0) as rows_rejected, 0 as rows_warned, 0 as rows_skipped,"
        " 0 as received_seq) from fixture_files"
    )


def run_dbt(*args: str, data_dir: Path, work: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAVORO_")}
    env["LAVORO_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [
            str(DBT),
            *args,
            "--project-dir",
            "dbt_project",
            "--profiles-dir",
            "dbt_project",
            "--target-path",
            str(work / "target"),
            "--log-path",
            str(work / "logs"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.fixture(scope="session")
def dbt_build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """Build the hand-made warehouse with `dbt build` (models, data tests, unit tests)."""
    data_dir = tmp_path_factory.mktemp("warehouse")
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"))
    load_fixture(con)
    con.close()
    result = run_dbt("build", "--vars", f"{{cutoff: '{CUTOFF}'}}", data_dir=data_dir, work=data_dir)
    yield data_dir, result.stdout + result.stderr


@pytest.fixture(scope="session")
def warehouse(dbt_build: tuple[Path, str]) -> Iterator[duckdb.DuckDBPyConnection]:
    data_dir, _ = dbt_build
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    yield con
    con.close()
