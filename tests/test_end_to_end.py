"""`lavoro run` end to end on a generated inbox: every file as the generator expects it,
every indicator computed, and no personal value anywhere a run writes.

One run (a session fixture) serves every assertion; it is the slowest test module.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from lavoro_debole.ingest.vault import open_vault
from lavoro_debole.synthetic import generate_inbox

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parent.parent
KEY = "end-to-end-test-key-0123456789abcdef0123"
VAULT_KEY = "end-to-end-vault-key-0123456789abcdef012"


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory):
    data_dir = tmp_path_factory.mktemp("e2e")
    manifest = generate_inbox(data_dir, persons=40, seed=7)
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
    return data_dir, manifest, completed


def test_run_succeeds_and_prints_a_summary(demo_run):
    _, _, completed = demo_run
    # 3, not 0: the generated inbox plants files that fail their righe_scartate check, and
    # a run whose checks fail says so with its exit code (issue 11 §5).
    assert completed.returncode == 3, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert "Esito: completato" in completed.stdout
    assert "marts.indicator_values" in completed.stdout


def test_every_file_is_accounted_for_as_the_generator_expects(demo_run):
    data_dir, manifest, _ = demo_run
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    got = {
        (feed, name): (status, data, loaded, rejected, warned, skipped)
        for feed, name, status, data, loaded, rejected, warned, skipped in con.execute(
            "select feed, file_name, status, rows_data, rows_loaded, rows_rejected, "
            "rows_warned, rows_skipped from ops.ingest_files"
        ).fetchall()
    }
    expected = {
        (f.feed, f.path): (
            f.status,
            f.rows_data,
            f.rows_loaded,
            f.rows_rejected,
            f.rows_warned,
            f.rows_skipped,
        )
        for f in manifest.files
    }
    assert got == expected


def test_every_planted_problem_is_recorded_with_its_reason(demo_run):
    data_dir, manifest, _ = demo_run
    with open_vault(data_dir / "vault.duckdb", VAULT_KEY.encode()) as con:
        recorded = {
            (feed, name, sheet, row, severity)
            for feed, name, sheet, row, severity in con.execute(
                "select feed, file_name, sheet, row_number, severity from vault.rejected_rows"
            ).fetchall()
        }
        reasons = con.execute(
            "select count(*) from vault.rejected_rows where reason is null or reason = ''"
        ).fetchone()[0]
    planted = {
        (f.feed, f.path, p.sheet, p.row_number, p.severity)
        for f in manifest.files
        for p in f.problems
    }
    assert planted and planted <= recorded
    assert reasons == 0


def test_every_indicator_is_computed(demo_run):
    data_dir, _, _ = demo_run
    con = duckdb.connect(str(analytics_path(data_dir)), read_only=True)
    ids = {
        r[0]
        for r in con.execute("select distinct indicator_id from marts.indicator_values").fetchall()
    }
    expected = {"A1", "A2", "A3", "A4", "B1", "B2", "B3", "C1", "C2"}
    expected |= {"D1", "D2", "D3", "D4", "D5", "D6", "E1", "E2", "F1", "F2", "F3", "F4"}
    expected |= {"Q1", "Q2", "Q3"}
    assert ids == expected
    schemas = {
        r[0]
        for r in con.execute(
            "select distinct table_schema from information_schema.tables"
        ).fetchall()
    }
    assert "ops" not in schemas and "raw" not in schemas


def analytics_path(data_dir: Path) -> Path:
    """The analysts' copy, in the default folder beside the data directory."""
    return data_dir.parent / f"{data_dir.name}-analisi" / "analytics.duckdb"


def _everything_written(data_dir: Path) -> list[Path]:
    """Every file the run wrote, but the two places allowed to keep raw values (the vault
    is scanned too: it is encrypted, so no raw value shows in its bytes)."""
    allowed = {data_dir / "inbox", data_dir / "feedback"}
    files = []
    for path in [*data_dir.rglob("*"), *analytics_path(data_dir).parent.rglob("*")]:
        if path.is_file() and not any(a in path.parents for a in allowed):
            if path.name in ("warehouse.duckdb", "manifest.json"):
                continue  # the warehouse is checked table by table; the manifest is the generator's
            files.append(path)
    return files


def test_q1_sees_every_expected_sender_of_the_last_quarter(demo_run):
    """The generator sends, for 2025-Q4: the desk's October, November and December files,
    each district's and the Comune's yearly file, the CO extract of 31/12, the
    internships' T4, the CFP's and the cooperatives' S2, the network's 2025 register,
    each within the default list's days allowed: every expected sender is complete and
    on time, the desk with three files out of three (it sends monthly)."""
    data_dir, _, _ = demo_run
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    rows = con.execute(
        "select breakdown, category, numerator, denominator from marts.indicator_values"
        " where indicator_id = 'Q1' and period = '2025-Q4'"
    ).fetchall()
    con.close()
    completeness = {c: (n, d) for b, c, n, d in rows if b == "fonte_mittente"}
    timeliness = {c: (n, d) for b, c, n, d in rows if b == "puntualita"}
    seed = PROJECT_ROOT / "dbt_project" / "seeds" / "expected_senders_default.csv"
    with seed.open(encoding="utf-8") as handle:
        expected = {f"{r['flusso']}|{r['mittente']}" for r in csv.DictReader(handle, delimiter=";")}
    assert set(completeness) == expected
    assert completeness["sportello|Sportello di ascolto (Caritas Lodigiana)"] == (3, 3)
    assert all(
        n == d == (3 if c.startswith("sportello|") else 1) for c, (n, d) in completeness.items()
    )
    assert timeliness == completeness
    assert (n_total := sum(n for n, _ in completeness.values())) == len(expected) + 2
    assert [r[2:] for r in rows if r[0] == "totale"] == [(n_total, n_total)]


def test_no_personal_value_in_anything_the_run_writes(demo_run):
    data_dir, manifest, completed = demo_run
    planted = [v for v in manifest.planted_personal_values if len(v) >= 5]
    assert planted
    texts = {"stdout": completed.stdout, "stderr": completed.stderr}
    for path in _everything_written(data_dir):
        texts[str(path)] = path.read_bytes().decode("latin-1")
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    tables = con.execute(
        "select table_schema, table_name from information_schema.tables"
    ).fetchall()
    assert ("ops", "rejected_rows") not in tables
    for schema, table in tables:
        texts[f"{schema}.{table}"] = str(
            con.execute(f'select * from "{schema}"."{table}"').fetchall()
        )
    leaks = [
        (where, value)
        for where, text in texts.items()
        for value in planted
        if value.casefold() in text.casefold()
    ]
    assert leaks == []
    # The planted values did reach the one restricted table, so the scan looked for real data.
    with open_vault(data_dir / "vault.duckdb", VAULT_KEY.encode()) as vault:
        restricted = str(vault.execute("select value from vault.rejected_rows").fetchall())
    assert any(v in restricted for v in planted)


def test_the_manifest_names_no_person_but_the_planted_ones(demo_run):
    data_dir, manifest, _ = demo_run
    text = (data_dir / "manifest.json").read_text(encoding="utf-8")
    assert json.loads(text)["planted_personal_values"] == manifest.planted_personal_values


STAGING_OF = {
    "provincia_co": ("stg_provincia_co__events", "communication_id"),
    "servizi_sociali": ("stg_servizi_sociali__cases", "person_id, district, case_opened_date"),
    "provincia_tirocini": (
        "stg_provincia_tirocini__internships",
        "person_id, host_vat, start_date",
    ),
    "cfp_corsi": ("stg_cfp__courses", "course_code"),
    "cfp_iscritti": ("stg_cfp__enrolments", "person_id, course_code"),
    "cooperative": ("stg_cooperative__placements", "person_id, cooperative, hire_date"),
    "sportello": ("stg_sportello__contacts", "contact_id"),
    "imprese": ("stg_imprese__contacts", "company_vat, contact_date"),
}


def test_each_record_counts_once_in_staging(demo_run):
    """Cumulative extracts, yearly files and re-sends: one row per record downstream."""
    data_dir, manifest, _ = demo_run
    con = duckdb.connect(str(analytics_path(data_dir)), read_only=True)
    for feed in manifest.feeds.values():
        for table, expected in feed.distinct_records.items():
            model, _ = STAGING_OF[table]
            count = con.execute(f"select count(*) from staging.{model}").fetchone()[0]
            assert count == expected, model


def test_a_corrected_copy_wins_over_the_earlier_one(demo_run):
    data_dir, manifest, _ = demo_run
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    tables = {"provincia_co": "provincia_co", "servizi_sociali": "servizi_sociali"}
    assert manifest.corrections
    for correction in manifest.corrections:
        table = tables[correction.feed]
        model, key = STAGING_OF[table]
        in_both = con.execute(
            f"""
            select count(*) from staging.{model} as s
            where s.file_sha256 in (select file_sha256 from ops.ingest_files where file_name = ?)
              and ({key}) in (select ({key}) from raw.{table} where file_name = ?)
            """,
            [correction.earlier_file, correction.later_file],
        ).fetchone()[0]
        assert in_both == 0, correction.description
