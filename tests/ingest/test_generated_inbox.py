"""Each feed of a generated inbox loads exactly as the generator says it should.

The generator (``lavoro_debole.synthetic``) is an independent model of the partners'
habits: it knows, file by file, which rows are data, which are title, blank or total
rows, and which it spoiled on purpose and how.
"""

from __future__ import annotations

import duckdb
import pytest

from lavoro_debole.ingest.pipeline import FileIngestor, inbox_files, ingest_feed
from lavoro_debole.ingest.senders import load_senders
from lavoro_debole.ingest.vault import attach_vault
from lavoro_debole.schemas import FEEDS
from lavoro_debole.synthetic import generate_inbox
from tests.factories import KEY, VAULT_KEY

# The keys of indicators.md ("Which copy wins"), in raw column names.
RECORD_KEYS = {
    "provincia_co": "communication_id",
    "servizi_sociali": "person_id, district, case_opened_date",
    "provincia_tirocini": "person_id, host_vat, start_date",
    "cfp_iscritti": "person_id, course_code",
    "cfp_corsi": "course_code",
    "cooperative": "person_id, cooperative, hire_date",
    "sportello": "contact_id",
    "imprese": "company_vat, contact_date",
}
SEVERITY_OF_KIND = {"cf_invalid": {"error", "warning"}}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory):
    data_dir = tmp_path_factory.mktemp("generated")
    manifest = generate_inbox(data_dir, persons=40, seed=2)
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"))
    attach_vault(con, data_dir / "vault.duckdb", VAULT_KEY)
    outcomes = {}
    for feed in FEEDS:
        for outcome in ingest_feed(
            con, feed, data_dir / "inbox", key=KEY, feedback_dir=data_dir / "feedback"
        ):
            outcomes[(feed, outcome.file_name)] = outcome
    yield manifest, con, outcomes, data_dir
    con.close()


@pytest.mark.parametrize("feed", list(FEEDS))
def test_every_file_of_the_feed_has_the_expected_counts(loaded, feed):
    manifest, _, outcomes, _ = loaded
    expected = {
        f.path: (
            f.status,
            f.rows_data,
            f.rows_loaded,
            f.rows_rejected,
            f.rows_warned,
            f.rows_skipped,
        )
        for f in manifest.files
        if f.feed == feed
    }
    got = {
        name: (o.status, o.rows_data, o.rows_loaded, o.rows_rejected, o.rows_warned, o.rows_skipped)
        for (f, name), o in outcomes.items()
        if f == feed
    }
    assert expected and got == expected


@pytest.mark.parametrize("feed", list(FEEDS))
def test_every_planted_problem_is_found_where_it_was_planted(loaded, feed):
    manifest, con, _, _ = loaded
    planted = {
        (f.path, p.sheet, p.row_number, " ".join(p.column.split()), p.severity)
        for f in manifest.files
        if f.feed == feed
        for p in f.problems
    }
    found = {
        (name, sheet, row, " ".join(column.split()), severity)
        for name, sheet, row, column, severity in con.execute(
            "select file_name, sheet, row_number, column_name, severity from vault.rejected_rows "
            "where feed = ?",
            [feed],
        ).fetchall()
    }
    assert planted <= found
    # Nothing is rejected that the generator did not spoil (each row once per rule).
    assert {(p[0], p[1], p[2]) for p in found} == {(p[0], p[1], p[2]) for p in planted}


@pytest.mark.parametrize("feed", list(FEEDS))
def test_distinct_records_by_the_keys_of_indicators_md(loaded, feed):
    manifest, con, _, _ = loaded
    for table, expected in manifest.feeds[feed].distinct_records.items():
        key = RECORD_KEYS[table]
        count = con.execute(f"select count(*) from (select distinct {key} from raw.{table})")
        assert count.fetchone()[0] == expected, table


def test_refused_files_say_why_without_values(loaded):
    manifest, _, outcomes, _ = loaded
    refused = [f for f in manifest.files if f.status == "rejected"]
    assert refused
    for f in refused:
        error = outcomes[(f.feed, f.path)].error
        assert error
        for value in manifest.planted_personal_values:
            assert value not in error


def test_feedback_workbook_for_every_file_with_problems(loaded):
    manifest, _, outcomes, data_dir = loaded
    for f in manifest.files:
        outcome = outcomes[(f.feed, f.path)]
        if f.status == "rejected" or f.rows_rejected or f.rows_warned:  # refused: why
            assert (data_dir / "feedback" / f.feed / outcome.feedback_file).is_file()
        else:
            assert outcome.feedback_file is None


def test_reading_ahead_changes_nothing_in_the_warehouse(loaded, tmp_path):
    """``ingest_feed`` reads the next file on a second thread; file by file, with nothing
    read ahead, every table must come out the same, row for row."""
    _, con, _, data_dir = loaded
    alone = duckdb.connect(str(tmp_path / "file_by_file.duckdb"))
    attach_vault(alone, tmp_path / "file_by_file_vault.duckdb", VAULT_KEY)
    for feed in FEEDS.values():
        ingestor = FileIngestor(alone, feed, key=KEY, feedback_dir=tmp_path / "feedback")
        feed_dir = data_dir / "inbox" / feed.name
        for path in inbox_files(feed_dir):
            ingestor.ingest_file(path, path.relative_to(feed_dir).as_posix())
    tables = [
        (f"{schema}.{table}" if database != "vault" else f"vault.{table}", database, schema, table)
        for database, schema, table in con.execute(
            "select database_name, schema_name, table_name from duckdb_tables() "
            "where (database_name = current_database() and schema_name in ('raw', 'ops')) "
            "or database_name = 'vault' order by all"
        ).fetchall()
    ]
    names = [name for name, *_ in tables]
    assert "raw.provincia_co" in names and "vault.rejected_rows" in names
    assert "ops.rejected_rows" not in names
    for table, database, schema, bare in tables:
        columns = ", ".join(
            f'"{name}"'
            for (name,) in con.execute(
                "select column_name from duckdb_columns() where database_name = ? "
                "and schema_name = ? and table_name = ? and column_name <> 'received_at' "
                "order by column_index",
                [database, schema, bare],
            ).fetchall()
        )
        query = f"select {columns} from {table} order by all"
        assert con.execute(query).fetchall() == alone.execute(query).fetchall(), table
    alone.close()


def test_the_generators_senders_are_all_listed_and_stored_by_display_name(loaded):
    """Every sender the generator writes is one of the default senders' list, and the
    warehouse stores that sender's display name (the consortium's members too)."""
    manifest, con, outcomes, _ = loaded
    senders = load_senders()
    for f in manifest.files:
        if f.status == "rejected":
            continue
        candidates = senders.file_senders(f.feed)
        [listed] = senders.matches([f.sender], candidates) if len(candidates) > 1 else candidates
        assert outcomes[(f.feed, f.path)].sender == listed.display_name, f.path
    coops = {
        r[0] for r in con.execute("select distinct cooperative from raw.cooperative").fetchall()
    }
    assert coops and coops <= {s.display_name for s in senders.of_feed("cooperative")}
    assert {"La Lanterna", "Ortobello", "Il Sentiero"} <= coops
