"""The analysts' room, the file modes and the vault, after one real `lavoro demo` run.

The copy is opened as an analyst would (`lavoro analisi`, and from Python as
docs/analysts.md says) and must refuse every way out; it must hold none of the
warehouse's pseudonyms, no birth date and no CF of the corpus; the risk note's figures
are checked against persons built by hand; the vault holds the raw values and shows
none of them in its bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from lavoro_debole.exports.analytics import (
    COPY_FILE,
    PUBLISHED,
    RISK_NOTE_FILE,
    disclosure_risk,
    publish_analytics,
    published_columns,
)
from lavoro_debole.ingest.vault import VaultError, attach_vault, open_vault
from lavoro_debole.ingest.warehouse_db import is_encrypted, open_warehouse
from lavoro_debole.synthetic.world import build_world

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LAVORO = Path(sys.executable).parent / "lavoro"
PERSONS, SEED = 20, 3
CUTOFF = dt.date(2025, 12, 31)
PYTHON_CONFIG = {"enable_external_access": False, "lock_configuration": True}


def _demo_key(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip().splitlines()[-1]


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("room")
    data_dir = base / "dati"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LAVORO_", "DAGSTER_"))},
        "LAVORO_CUTOFF": CUTOFF.isoformat(),
    }
    completed = subprocess.run(
        [
            str(LAVORO),
            "demo",
            "--dir",
            str(data_dir),
            "--persons",
            str(PERSONS),
            "--seed",
            str(SEED),
        ],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return {
        "data_dir": data_dir,
        "analytics_dir": base / "dati-analisi",
        "key": _demo_key(data_dir / "CHIAVE_DIMOSTRATIVA.txt").encode(),
        "vault_key": _demo_key(data_dir / "CHIAVE_DEPOSITO_DIMOSTRATIVA.txt").encode(),
        # the demo's warehouse is encrypted at rest (issue 10 §5); the copy is built from it
        "warehouse_key": _demo_key(data_dir / "CHIAVE_MAGAZZINO_DIMOSTRATIVA.txt").encode(),
        "env": {**env, "LAVORO_DATA_DIR": str(data_dir)},
    }


def _warehouse(room, *, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    return open_warehouse(
        room["data_dir"] / "warehouse.duckdb", read_only=read_only, key=room["warehouse_key"]
    )


def _analisi(room, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LAVORO), "analisi", *args],
        env=room["env"],
        cwd=room["data_dir"].parent,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _escapes(room) -> dict[str, str]:
    """Statements that would reach beyond the copy, each of which must fail."""
    data_dir = room["data_dir"]
    inbox_file = next(p for p in (data_dir / "inbox").rglob("*") if p.is_file())
    # A plain DuckDB file an analyst could open anywhere else: refused only because
    # external access is off (the warehouse is refused for its key as well).
    plain = room["analytics_dir"].parent / "piano.duckdb"
    if not plain.exists():
        duckdb.connect(str(plain)).close()
    return {
        "attach": f"attach '{data_dir / 'warehouse.duckdb'}' as w (read_only)",
        "attach_plain": f"attach '{plain}' as p (read_only)",
        "attach_vault": f"attach '{data_dir / 'vault.duckdb'}' as v",
        "read_blob": f"select count(*) from read_blob('{inbox_file}')",
        "read_csv": f"select count(*) from read_csv('{data_dir / 'manifest.json'}')",
        "copy_to": f"copy (select 1 as a) to '{room['analytics_dir'].parent / 'fuori.csv'}'",
        "set_external": "set enable_external_access = true",
        "unlock": "set lock_configuration = false",
    }


# --- the copy as the analysts open it ----------------------------------------------------


def test_lavoro_analisi_runs_a_query_read_only_with_external_access_off(room):
    completed = _analisi(
        room,
        "-csv",
        "-c",
        "select current_setting('enable_external_access') as ext, "
        "current_setting('lock_configuration') as locked, "
        "(select count(*) from intermediate.int_persons_resolved) as persons",
    )
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.strip().splitlines()
    assert lines[0] == "ext,locked,persons"
    ext, locked, persons = lines[1].split(",")
    assert (ext, locked) == ("false", "true")
    warehouse = _warehouse(room)
    expected = warehouse.execute(
        "select count(*) from intermediate.int_persons_resolved"
    ).fetchone()
    warehouse.close()
    assert int(persons) == expected[0] > 0
    written = _analisi(room, "-c", "create table main.mia as select 1 as a")
    assert written.returncode != 0


@pytest.mark.parametrize(
    "escape",
    [
        "attach",
        "attach_plain",
        "attach_vault",
        "read_blob",
        "read_csv",
        "copy_to",
        "set_external",
        "unlock",
    ],
)
def test_lavoro_analisi_refuses_every_way_out(room, escape):
    completed = _analisi(room, "-c", _escapes(room)[escape])
    assert completed.returncode != 0
    said = completed.stdout + completed.stderr
    assert "Error" in said
    if escape == "attach_plain":
        assert "disabled" in said.lower(), said
    assert not (room["analytics_dir"].parent / "fuori.csv").exists()


def test_python_as_the_guide_says_refuses_every_way_out(room):
    con = duckdb.connect(
        str(room["analytics_dir"] / COPY_FILE), read_only=True, config=PYTHON_CONFIG
    )
    try:
        assert con.execute("select count(*) from marts.indicator_values").fetchone()[0] > 0
        for name, statement in _escapes(room).items():
            with pytest.raises(duckdb.Error) as refused:
                con.execute(statement)
            if name == "attach_plain":
                assert "disabled" in str(refused.value).lower(), str(refused.value)
            assert not (room["analytics_dir"].parent / "fuori.csv").exists(), name
        # While an analyst holds the copy open, the pipeline still writes the warehouse.
        writer = _warehouse(room, read_only=False)
        writer.execute("checkpoint")
        writer.close()
    finally:
        con.close()


def test_the_demo_warehouse_is_encrypted_and_the_copy_built_from_it_is_not(room):
    """Analysts open the copy with the plain command line; the warehouse needs its key."""
    assert is_encrypted(room["data_dir"] / "warehouse.duckdb") is True
    assert is_encrypted(room["analytics_dir"] / COPY_FILE) is False
    with pytest.raises(duckdb.Error):
        duckdb.connect(str(room["data_dir"] / "warehouse.duckdb"), read_only=True)


# --- what the copy holds -------------------------------------------------------------------


def test_the_copy_holds_exactly_the_allow_list(room):
    con = duckdb.connect(str(room["analytics_dir"] / COPY_FILE), read_only=True)
    found: dict[str, list[str]] = {}
    for schema, table, column in con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "order by table_schema, table_name, ordinal_position"
    ).fetchall():
        found.setdefault(f"{schema}.{table}", []).append(column)
    con.close()
    assert found == {table: published_columns(table) for table in PUBLISHED}
    columns = {c for cols in found.values() for c in cols}
    assert not {c for c in columns if "birth" in c} - {"birth_year"}
    for withheld in ("citizenship", "institution", "nationality", "contact_time", "file_sha256"):
        assert withheld not in columns


def _varchar_values(con: duckdb.DuckDBPyConnection) -> set[str]:
    values: set[str] = set()
    for schema, table, column in con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where data_type = 'VARCHAR'"
    ).fetchall():
        rows = con.execute(f'select distinct "{column}" from "{schema}"."{table}"').fetchall()
        values |= {r[0] for r in rows if r[0] is not None}
    return values


def test_no_warehouse_pseudonym_and_no_cf_of_the_corpus_in_the_copy(room):
    warehouse = _warehouse(room)
    persons = {
        r[0]
        for r in warehouse.execute(
            "select person_id from intermediate.int_persons_resolved"
        ).fetchall()
    }
    employers = {
        r[0]
        for r in warehouse.execute(
            "select employer_code from intermediate.int_employment_relationships_built "
            "where employer_code_kind = 'cf'"
        ).fetchall()
    }
    warehouse.close()
    assert len(persons) >= PERSONS and employers
    cfs = {p.cf for p in build_world(PERSONS, SEED, dt.date(2023, 1, 1), CUTOFF).persons}
    assert len(cfs) == PERSONS
    path = room["analytics_dir"] / COPY_FILE
    raw = path.read_bytes()
    con = duckdb.connect(str(path), read_only=True)
    values = _varchar_values(con)
    copy_ids = {
        r[0]
        for r in con.execute("select person_id from intermediate.int_persons_resolved").fetchall()
    }
    con.close()
    # The same persons, under other names: HMAC(HMAC(key, "analytics/v1"), warehouse id).
    derived = hmac.digest(room["key"], b"analytics/v1", hashlib.sha256)
    assert copy_ids == {hmac.digest(derived, p.encode(), hashlib.sha256).hex() for p in persons}
    person_ids = persons | employers
    for secret in person_ids | cfs:
        bare = secret.removeprefix("cf:")
        assert not any(bare in v for v in values)
        assert bare.encode() not in raw
    for cf in cfs:
        assert cf.encode() not in raw and cf.lower().encode() not in raw


def test_ages_instead_of_birth_dates_and_sentence_end_as_a_month(room):
    con = duckdb.connect(str(room["analytics_dir"] / COPY_FILE), read_only=True)
    rows = con.execute(
        "select birth_year, age_at_cutoff, age_band from intermediate.int_persons_resolved"
    ).fetchall()
    ends = con.execute(
        "select sentence_end_date from staging.stg_servizi_sociali__cases "
        "where sentence_end_date is not null"
    ).fetchall()
    con.close()
    assert rows and ends
    for year, age, band in rows:
        assert age in (CUTOFF.year - year, CUTOFF.year - year - 1)
        low = {"<18": 0, "18-24": 18, "25-34": 25, "35-44": 35, "45-54": 45, "55+": 55}[band]
        assert low <= age
    assert all(end.day == 1 for (end,) in ends)


def test_republishing_keeps_the_copys_pseudonyms(room, tmp_path):
    path = room["analytics_dir"] / COPY_FILE
    con = duckdb.connect(str(path), read_only=True)
    before = con.execute(
        "select person_id from intermediate.int_persons_resolved order by 1"
    ).fetchall()
    con.close()
    again = publish_analytics(
        room["data_dir"] / "warehouse.duckdb",
        tmp_path,
        pseudonym_key=room["key"],
        cutoff=CUTOFF,
        warehouse_key=room["warehouse_key"],
    )
    con = duckdb.connect(str(again.path), read_only=True)
    after = con.execute(
        "select person_id from intermediate.int_persons_resolved order by 1"
    ).fetchall()
    con.close()
    assert before == after


# --- the risk note, against persons built by hand -------------------------------------------

# (person, sex, birth date, cases: (opened, closed, district, citizenship group, legal group))
HAND_PERSONS = [
    ("p01", "M", "1990-06-15", [("2024-01-01", None, "Lodi", "italiana", "in carcere")]),
    ("p02", "M", "1990-12-31", [("2023-05-01", None, "Lodi", "italiana", "in carcere")]),
    ("p03", "M", "1991-01-01", [("2023-05-01", None, "Lodi", "italiana", "in carcere")]),
    (
        "p04",
        "F",
        "2000-03-03",
        [
            ("2022-01-01", "2023-01-01", "Casalpusterlengo", "straniera", "misura alternativa"),
            ("2024-06-01", None, "Lodi", "straniera", "ex detenuto"),
            ("2026-02-01", None, "Sant'Angelo Lodigiano", "italiana", "in carcere"),  # after
        ],
    ),
    ("p05", "F", "2000-03-03", [("2025-01-01", None, "Lodi", "straniera", "ex detenuto")]),
    ("p06", "M", "1960-01-01", []),
    *[
        (
            f"p1{i}",
            "M",
            "1985-07-07",
            [("2024-03-01", None, "Casalpusterlengo", "italiana", "misura alternativa")],
        )
        for i in range(5)
    ],
    (
        "p20",
        "F",
        "1970-05-05",
        [  # same day: the open case wins
            ("2024-01-01", "2024-06-01", "Lodi", "italiana", "in carcere"),
            ("2024-01-01", None, "Casalpusterlengo", "italiana", "ex detenuto"),
        ],
    ),
]
# Worked out by hand at 31/12/2025 (p02 turns 35 on the day; p03 is still 34).
HAND_COMBINATIONS = {
    ("M", "35-44", "italiana", "Lodi", "in carcere"): 2,
    ("M", "25-34", "italiana", "Lodi", "in carcere"): 1,
    ("F", "25-34", "straniera", "Lodi", "ex detenuto"): 2,
    ("M", "55+", "non indicata", "non indicata", "non indicata"): 1,
    ("M", "35-44", "italiana", "Casalpusterlengo", "misura alternativa"): 5,
    ("F", "55+", "italiana", "Casalpusterlengo", "ex detenuto"): 1,
}


def test_risk_note_figures_worked_out_by_hand(room, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(room["data_dir"] / "warehouse.duckdb", warehouse)
    con = open_warehouse(warehouse, key=room["warehouse_key"])
    con.execute("delete from intermediate.int_persons_resolved")
    con.execute("delete from intermediate.int_cases_classified")
    for person, sex, born, cases in HAND_PERSONS:
        con.execute(
            "insert into intermediate.int_persons_resolved (person_id, sex, birth_date) "
            "values (?, ?, ?)",
            [person, sex, dt.date.fromisoformat(born)],
        )
        for opened, closed, district, citizenship, status in cases:
            con.execute(
                "insert into intermediate.int_cases_classified (person_id, district, "
                "case_opened_date, case_closed_date, citizenship_group, legal_status_group) "
                "values (?, ?, ?, ?, ?, ?)",
                [person, district, opened, closed, citizenship, status],
            )
    con.close()
    copy = publish_analytics(
        warehouse,
        tmp_path / "analisi",
        pseudonym_key=room["key"],
        cutoff=CUTOFF,
        warehouse_key=room["warehouse_key"],
    )
    assert (copy.persons, copy.persons_at_risk) == (12, 7)
    published = duckdb.connect(str(copy.path), read_only=True)
    risk = disclosure_risk(published, CUTOFF, 5)
    published.close()
    assert {tuple(c[:5]): c[5] for c in risk.combinations} == HAND_COMBINATIONS
    assert (risk.combinations_at_risk, risk.unique_persons) == (5, 3)
    note = (tmp_path / "analisi" / RISK_NOTE_FILE).read_text(encoding="utf-8")
    assert "Persone nella copia: **12**" in note
    assert "Persone in combinazioni con meno di 5 persone: **7** (58.3%)" in note
    assert "Combinazioni diverse: **6**" in note
    assert "| M | 35-44 | italiana | Casalpusterlengo | misura alternativa | 5 |" in note
    assert "p01" not in note


# --- file modes ------------------------------------------------------------------------------


def test_everything_under_the_data_directory_is_the_owners_only(room):
    data_dir = room["data_dir"]
    wrong = []
    for path in [data_dir, *data_dir.rglob("*")]:
        if path.is_symlink():
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        if (path.is_dir() and mode != 0o700) or (path.is_file() and mode & 0o077):
            wrong.append((str(path.relative_to(data_dir)), oct(mode)))
    assert wrong == []
    assert any(p.is_file() for p in (data_dir / "inbox").rglob("*"))


def test_the_analysts_folder_is_group_readable(room):
    folder = room["analytics_dir"]
    assert stat.S_IMODE(folder.stat().st_mode) == 0o750
    files = sorted(p.name for p in folder.iterdir())
    assert files == [COPY_FILE, RISK_NOTE_FILE]
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o640, path.name
    assert not (room["data_dir"] / COPY_FILE).exists()


# --- the vault -------------------------------------------------------------------------------


def test_the_vault_keeps_the_raw_values_and_shows_none_in_its_bytes(room):
    data_dir = room["data_dir"]
    warehouse = _warehouse(room)
    tables = warehouse.execute(
        "select 1 from duckdb_tables() where table_name = 'rejected_rows'"
    ).fetchall()
    warehouse.close()
    assert tables == []
    with open_vault(data_dir / "vault.duckdb", room["vault_key"]) as con:
        values = {
            r[0]
            for r in con.execute(
                "select value from vault.rejected_rows where value is not null"
            ).fetchall()
        }
    cfs = {v for v in values if len(v.strip()) == 16 and v.strip()[:6].isalpha()}
    assert cfs, "the generator plants invalid CFs among the rejected rows"
    raw = b"".join(p.read_bytes() for p in data_dir.iterdir() if p.name.startswith("vault.duckdb"))
    long_values = {v for v in values if len(v) >= 8}
    assert long_values
    assert [v for v in long_values if v.encode() in raw or v.encode("utf-16-le") in raw] == []


def test_the_vault_opens_only_with_its_key(room):
    path = room["data_dir"] / "vault.duckdb"
    with pytest.raises(duckdb.Error):
        duckdb.connect(str(path), read_only=True)
    with (
        pytest.raises(VaultError) as wrong,
        open_vault(path, b"a-wrong-key-that-is-long-enough-0123456789"),
    ):
        pass
    assert "a-wrong-key" not in str(wrong.value)
    con = duckdb.connect()
    with pytest.raises(VaultError):
        attach_vault(con, path, b"another-wrong-key-long-enough-0123456789", read_only=False)
    con.close()
    with open_vault(path, room["vault_key"]) as con:
        assert con.execute("select count(*) from vault.rejected_rows").fetchone()[0] > 0
