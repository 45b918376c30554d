"""A feed is its schemas module, its staging model and one line of ``var('feeds')``.

These tests hold the other places to the schemas registry (``lavoro_debole.schemas``):
the dbt var, the raw sources YAML, docs/raw-tables.md; and they show, on a real
``dbt build``, that every feed reaches every union its rows belong in: the person list
(``int_persons_resolved``), the period spine (``int_periods_spined``) and Q3.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import yaml

from lavoro_debole.ingest.store import LINEAGE_COLUMNS, PERSON_COLUMN_TYPES, raw_columns
from lavoro_debole.schemas import FEEDS, Feed
from tests.dbt.conftest import PERSON, PERSONS, REPO, Loader, create_raw_tables, run_dbt

DBT_DIR = REPO / "dbt_project"
FEEDS_VAR: dict[str, dict] = yaml.safe_load((DBT_DIR / "dbt_project.yml").read_text())["vars"][
    "feeds"
]
CUTOFF = "2025-06-30"


def _has_persons(feed: Feed) -> bool:
    return any(col.kind == "cf" for entity in feed.entities for col in entity.columns)


def _staging_models() -> set[str]:
    return {path.stem for path in (DBT_DIR / "models" / "staging").glob("stg_*.sql")}


# --- the var, the sources YAML and the doc against the schemas ---------------------------


def test_the_feeds_var_lists_exactly_the_feeds_of_the_schemas() -> None:
    assert set(FEEDS_VAR) == set(FEEDS)


@pytest.mark.parametrize("name", sorted(FEEDS))
def test_each_feed_line_names_its_own_staging_models(name: str) -> None:
    spec = FEEDS_VAR[name]
    models = set(spec.get("first_dates", {}))
    assert models, f"{name}: no first_dates, so it never starts the period spine"
    if _has_persons(FEEDS[name]):
        assert spec.get("persons"), f"{name} reads a CF but lists no staging model of persons"
        models.add(spec["persons"])
        assert isinstance(spec.get("links"), bool), f"{name}: say whether it links persons (Q3)"
    else:
        assert not spec.get("persons") and not spec.get("links")
    assert models <= _staging_models()
    assert all(model.startswith(f"stg_{name}__") for model in models)
    # every staging model of the feed starts the spine
    assert {m for m in _staging_models() if m.startswith(f"stg_{name}__")} == set(
        spec["first_dates"]
    )


def test_raw_sources_yaml_declares_the_raw_tables_of_the_schemas() -> None:
    sources = yaml.safe_load((DBT_DIR / "models" / "staging" / "_raw__sources.yml").read_text())
    (raw,) = [s for s in sources["sources"] if s["name"] == "raw"]
    declared = {table["name"]: table for table in raw["tables"]}
    entities = {e.table: e for feed in FEEDS.values() for e in feed.entities}
    feed_tables = {name for name in declared if not name.startswith("reference_")}
    assert feed_tables == set(entities)
    for name, entity in entities.items():
        columns = {col["name"] for col in declared[name].get("columns", [])}
        assert columns <= set(raw_columns(entity)), (
            f"raw.{name}: {columns - set(raw_columns(entity))}"
        )


def _doc_sections() -> dict[str, str]:
    text = (REPO / "docs" / "raw-tables.md").read_text()
    sections = re.split(r"^#{2,3} ", text, flags=re.M)
    return {section.split(None, 1)[0]: section for section in sections if section.strip()}


def test_raw_tables_doc_names_every_column_of_every_raw_table() -> None:
    sections = _doc_sections()
    lineage = next(s for title, s in sections.items() if title == "Columns")
    person = next(s for title, s in sections.items() if title == "Person")
    for name in LINEAGE_COLUMNS:
        assert re.search(rf"\b{name}\b", lineage), f"lineage column {name} not in the doc"
    for name in PERSON_COLUMN_TYPES:
        assert re.search(rf"\b{name}\b", person), f"person column {name} not in the doc"
    missing = []
    for feed in FEEDS.values():
        for entity in feed.entities:
            section = sections.get(f"raw.{entity.table}")
            assert section is not None, f"docs/raw-tables.md has no section raw.{entity.table}"
            for name in raw_columns(entity):
                if name in LINEAGE_COLUMNS:
                    continue
                if name in PERSON_COLUMN_TYPES:
                    name = "person_*"
                if not re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", section):
                    missing.append(f"raw.{entity.table}.{name}")
    assert missing == []


def test_raw_tables_doc_names_every_column_of_the_ops_and_reference_tables() -> None:
    sections = _doc_sections()
    with duckdb.connect() as con:
        create_raw_tables(con)
        tables = con.execute(
            "select schema_name || '.' || table_name, list(column_name order by column_index)"
            " from duckdb_columns() where schema_name = 'ops'"
            " or table_name like 'reference_%' group by all"
        ).fetchall()
    missing = [
        f"{table}.{column}"
        for table, columns in tables
        for column in columns
        if not re.search(rf"\b{column}\b", sections.get(table, ""))
    ]
    assert "ops.ingest_files" in dict(tables)
    assert missing == []


# --- every feed reaches every union: a real dbt build -------------------------------------

# The earliest date each feed records, each in a quarter of its own: with only that feed's
# staging rows left, the spine must start at that quarter.
EARLIEST = {
    "servizi_sociali": "2022-01-10",
    "provincia_co": "2022-04-15",
    "provincia_tirocini": "2022-07-15",
    "cfp": "2022-10-10",
    "cooperative": "2023-01-15",
    "sportello": "2023-04-10",
    "imprese": "2023-07-10",
}
# Q3 (indicators.md): a person of A1 is linked when found in a feed other than the case
# register A1 counts from.
NOT_LINKING = {"servizi_sociali"}


def _person(feed: str) -> tuple:
    return (f"p_{feed}", *PERSONS["p01"])


def _load_one_row_per_feed(con: duckdb.DuckDBPyConnection) -> None:
    """p_<feed> is found in its feed only, and (as every person) in the case register."""
    create_raw_tables(con)
    ld = Loader(con)
    person_feeds = sorted(n for n, f in FEEDS.items() if _has_persons(f))
    cases = ("district", "legal_status", "case_opened_date")
    ld.insert(
        "servizi_sociali",
        PERSON + cases,
        [
            (*_person(feed), "Lodi", "Detenuto", EARLIEST["servizi_sociali"])
            for feed in person_feeds
        ],
    )
    co = (
        "communication_id",
        "event_type",
        "event_date",
        "relationship_start_date",
        "contract_code",
        "employer_code",
        "employer_code_kind",
    )
    day = EARLIEST["provincia_co"]
    ld.insert(
        "provincia_co",
        PERSON + co,
        [
            (
                *_person("provincia_co"),
                "r1",
                "Assunzione",
                day,
                day,
                "A.01.00",
                "11111111111",
                "piva",
            )
        ],
    )
    ld.insert(
        "provincia_tirocini",
        (*PERSON, "host_vat", "internship_type", "start_date", "outcome"),
        [
            (
                *_person("provincia_tirocini"),
                "11111111111",
                "Borsa lavoro",
                EARLIEST["provincia_tirocini"],
                "In corso",
            )
        ],
    )
    ld.insert(
        "cfp_corsi",
        ("course_code", "course_type", "start_date", "end_date"),
        [("C1", "Corso breve", EARLIEST["cfp"], "2024-12-20")],
    )
    ld.insert(
        "cfp_iscritti",
        (*PERSON, "course_code", "enrolment_date", "outcome"),
        [(*_person("cfp"), "C1", "2024-01-10", "In corso")],
    )
    ld.insert(
        "cooperative",
        (*PERSON, "cooperative", "hire_date", "contract_type"),
        [(*_person("cooperative"), "La Rete Verde", EARLIEST["cooperative"], "Indeterminato")],
    )
    ld.insert(
        "sportello",
        ("contact_id", "contact_date", "user_type", *PERSON),
        [("c1", EARLIEST["sportello"], "Detenuto", *_person("sportello"))],
    )
    ld.insert(
        "imprese",
        ("company_vat", "contact_date", "availability"),
        [("22222222222", EARLIEST["imprese"], "Sì")],
    )


@pytest.fixture(scope="module")
def one_row_per_feed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    data_dir = tmp_path_factory.mktemp("feeds")
    with duckdb.connect(str(data_dir / "warehouse.duckdb")) as con:
        _load_one_row_per_feed(con)
    result = run_dbt(
        "build",
        "--select",
        "+ind_q_quality",
        "--resource-type",
        "model",
        "--resource-type",
        "seed",
        "--vars",
        json.dumps({"cutoff": CUTOFF}),
        data_dir=data_dir,
        work=data_dir,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    yield data_dir


def _compiled(work: Path, *, feeds: dict | None = None, data_dir: Path) -> dict[str, str]:
    """The SQL dbt compiles for the three models that loop over the feeds."""
    target = work / "compiled-target"
    variables = {"cutoff": CUTOFF} if feeds is None else {"cutoff": CUTOFF, "feeds": feeds}
    result = run_dbt(
        "compile",
        "--select",
        "int_persons_resolved int_periods_spined ind_q_quality",
        "--vars",
        json.dumps(variables),
        data_dir=data_dir,
        work=target,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    found = {}
    for model in ("int_persons_resolved", "int_periods_spined", "ind_q_quality"):
        (path,) = (target / "target" / "compiled").rglob(f"{model}.sql")
        found[model] = path.read_text()
    return found


def _quarter_start(day: str) -> dt.date:
    date = dt.date.fromisoformat(day)
    return dt.date(date.year, 3 * ((date.month - 1) // 3) + 1, 1)


def union_gaps(con: duckdb.DuckDBPyConnection, compiled: dict[str, str]) -> list[str]:
    """``<feed>: <model>`` wherever a feed of the schemas does not reach a union.

    For each feed, the compiled models are run on the built warehouse with every other
    feed's staging tables emptied (in a transaction rolled back afterwards): the feed's
    own rows must then give its persons (with their ``in_<feed>`` flag), the spine's first
    quarter and, for a feed that links, Q3's linked person.
    """
    staging = {
        row[0]
        for row in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'staging'"
        ).fetchall()
    }
    gaps = []
    for name, feed in FEEDS.items():
        others = [t for t in staging if t.startswith("stg_") and not t.startswith(f"stg_{name}__")]
        others = [t for t in others if not t.startswith(("stg_ops__", "stg_reference__"))]
        con.execute("begin transaction")
        try:
            for table in others:
                con.execute(f"delete from staging.{table}")
            first = con.execute(
                f"select min(period_start) from ({compiled['int_periods_spined']})"
            ).fetchone()[0]
            if first != _quarter_start(EARLIEST[name]):
                gaps.append(f"{name}: int_periods_spined")
            if _has_persons(feed):
                expected = (
                    {f"p_{n}" for n, f in FEEDS.items() if _has_persons(f)}
                    if name == "servizi_sociali"
                    else {f"p_{name}"}
                )
                try:
                    rows = con.execute(
                        f"select person_id, in_{name} from ({compiled['int_persons_resolved']})"
                    ).fetchall()
                except duckdb.BinderException:  # no in_<feed> column at all
                    rows = []
                if {pid for pid, flagged in rows if flagged} != expected:
                    gaps.append(f"{name}: int_persons_resolved")
        finally:
            con.execute("rollback")
        if not _has_persons(feed):
            continue
        con.execute("begin transaction")
        try:
            con.execute(
                "delete from intermediate.int_persons_resolved where person_id <> ?", [f"p_{name}"]
            )
            q3 = con.execute(
                f"select numerator, denominator from ({compiled['ind_q_quality']}) "
                "where indicator_id = 'Q3' and breakdown = 'totale' and period = '2025-Q2'"
            ).fetchone()
        finally:
            con.execute("rollback")
        if q3 != ((0 if name in NOT_LINKING else 1), 1):
            gaps.append(f"{name}: ind_q_quality (Q3)")
    return gaps


def test_every_feed_reaches_every_union(one_row_per_feed: Path) -> None:
    compiled = _compiled(one_row_per_feed, data_dir=one_row_per_feed)
    with duckdb.connect(str(one_row_per_feed / "warehouse.duckdb")) as con:
        assert union_gaps(con, compiled) == []


def test_a_feed_dropped_from_the_var_is_caught(one_row_per_feed: Path) -> None:
    """The mutation: the desk's line removed from var('feeds') leaves it out of every union."""
    mutated = {name: spec for name, spec in FEEDS_VAR.items() if name != "sportello"}
    compiled = _compiled(one_row_per_feed, feeds=mutated, data_dir=one_row_per_feed)
    with duckdb.connect(str(one_row_per_feed / "warehouse.duckdb")) as con:
        assert union_gaps(con, compiled) == [
            "sportello: int_periods_spined",
            "sportello: int_persons_resolved",
            "sportello: ind_q_quality (Q3)",
        ]


def test_the_person_list_yaml_documents_one_flag_per_feed_of_persons() -> None:
    models = yaml.safe_load(
        (DBT_DIR / "models" / "intermediate" / "_intermediate__models.yml").read_text()
    )
    (persons,) = [m for m in models["models"] if m["name"] == "int_persons_resolved"]
    flags = [c["name"] for c in persons["columns"] if c["name"].startswith("in_")]
    assert flags == [f"in_{name}" for name, spec in FEEDS_VAR.items() if spec.get("persons")]


def test_q2_lists_one_category_per_feed_in_the_registry_order() -> None:
    seed = (DBT_DIR / "seeds" / "indicator_categories.csv").read_text().splitlines()
    fonte = [line.split(";") for line in seed if line.startswith("Q2;fonte;")]
    assert [category for _, _, category, _ in fonte] == list(FEEDS)
