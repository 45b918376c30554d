"""Which dbt models a run builds (orchestration/incremental.py), on the project's own
manifest, and the table digests it compares (exports/build_inputs.py). No Dagster, no dbt run."""

from __future__ import annotations

import json

import duckdb
import pytest

from lavoro_debole.exports.build_inputs import query_digest, table_digest
from lavoro_debole.orchestration.dbt_project import dbt_project
from lavoro_debole.orchestration.incremental import BASE, dbt_selection, source_tables


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(dbt_project.manifest_path.read_text(encoding="utf-8"))


def _digests(manifest: dict, **changed: str) -> dict[str, object]:
    values: dict[str, object] = {BASE: "b"}
    values.update({name: "same" for name in source_tables(manifest)})
    values.update({name.replace("__", "."): v for name, v in changed.items()})
    return values


def _models(manifest: dict, ids) -> set[str]:
    return {manifest["nodes"][uid]["name"] for uid in ids}


def test_nothing_recorded_a_changed_base_or_a_request_rebuild_everything(manifest):
    now = _digests(manifest)
    every = {u for u, n in manifest["nodes"].items() if n["resource_type"] in ("model", "seed")}
    assert dbt_selection(manifest, None, now).full
    assert dbt_selection(manifest, {**now, BASE: "other"}, now).full
    assert dbt_selection(manifest, now, now, full=True).full
    gone = {k: v for k, v in now.items() if k != "raw.sportello"}
    assert dbt_selection(manifest, gone, now).full  # a source appeared
    assert dbt_selection(manifest, now, {**now, "raw.sportello": None}).full  # table missing
    chosen = dbt_selection(manifest, now, now, existing=set())  # models' tables missing
    assert chosen.full and set(chosen.build) == every
    assert chosen.dbt_args() == []


def test_nothing_changed_builds_nothing(manifest):
    now = _digests(manifest)
    chosen = dbt_selection(manifest, now, now)
    assert chosen.nothing and not chosen.full and chosen.build == frozenset()


def test_a_new_desk_file_builds_what_depends_on_the_desk_and_the_files_log(manifest):
    before = _digests(manifest)
    now = _digests(manifest, raw__sportello="new", ops__ingest_files="new")
    chosen = dbt_selection(manifest, before, now)
    assert not chosen.full and not chosen.nothing
    assert chosen.selectors() == ["source:ops.ingest_files+", "source:raw.sportello+"]
    built = _models(manifest, chosen.build)
    # the desk's own chain and everything that unites the feeds
    assert {
        "stg_sportello__contacts",
        "int_desk_contacts_classified",
        "int_persons_resolved",
        "stg_ops__ingest_files",
        "ind_q_quality",
        "indicator_values",
    } <= built
    # the other feeds' staging models and what reads only them stay as built
    for other in (
        "stg_cfp__courses",
        "stg_provincia_co__events",
        "stg_servizi_sociali__cases",
        "int_trainings_dated",
        "int_cooperative_placements_classified",
    ):
        assert other not in built
    excluded = {e.rsplit(".", 1)[-1] for e in chosen.exclude}
    assert "stg_cfp__courses" in excluded and "stg_sportello__contacts" not in excluded
    args = chosen.dbt_args()
    assert args[0] == "--exclude" and args[-2:] == ["--indirect-selection", "cautious"]


def test_a_changed_reference_list_builds_only_its_descendants(manifest):
    before = _digests(manifest)
    now = _digests(manifest, raw__reference_cooperative_sociali="new")
    built = _models(manifest, dbt_selection(manifest, before, now).build)
    assert "stg_reference__cooperative_sociali" in built
    assert "stg_sportello__contacts" not in built


def test_a_table_digest_ignores_row_order_and_sees_any_change():
    con = duckdb.connect()
    con.execute("create schema s")
    con.execute("create table s.a as select range as n, range::varchar as t from range(100)")
    con.execute("create table s.b as select * from s.a order by n desc")
    assert table_digest(con, "s.a") == table_digest(con, "s.b")
    con.execute("update s.b set t = 'x' where n = 42")
    assert table_digest(con, "s.a") != table_digest(con, "s.b")
    con.execute("create table s.c as select n, t, 1 as extra from s.a")
    assert table_digest(con, "s.c") != table_digest(con, "s.a")  # a column more
    con.execute("insert into s.b select * from s.b where n = 1")
    assert table_digest(con, "s.a") != table_digest(con, "s.b")  # a row repeated
    assert table_digest(con, "s.missing") is None
    assert query_digest(con, "select * from s.missing") == query_digest(
        con, "select * from s.a where false"
    )
