"""The asset graph the steward sees: groups, Italian descriptions, unbroken lineage."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from lavoro_debole.orchestration.dbt_project import dbt_project
from lavoro_debole.orchestration.definitions import defs
from lavoro_debole.schemas import FEEDS


@pytest.fixture(scope="module")
def graph():
    return defs.resolve_asset_graph()


def test_groups_follow_the_walk_of_a_file(graph):
    groups = {graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups == {"inbox", "reference", "staging", "intermediate", "marts", "exports"}


def test_every_asset_has_a_description_and_dbt_ones_use_their_italian_meta(graph):
    manifest = json.loads(dbt_project.manifest_path.read_text(encoding="utf-8"))
    italian = {
        (node["resource_type"], node["name"]): node["config"]["meta"].get("descrizione")
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "seed")
    }
    assert italian and all(italian.values()), [k for k, v in italian.items() if not v]
    descriptions = {graph.get(k).description for k in graph.get_all_asset_keys()}
    assert set(italian.values()) <= descriptions
    for key in graph.get_all_asset_keys():
        assert (graph.get(key).description or "").strip(), key.to_user_string()


@pytest.mark.parametrize("feed", list(FEEDS))
def test_lineage_runs_unbroken_from_each_feed_to_each_workbook(graph, feed):
    targets = {
        dg.AssetKey(["marts", "indicator_values"]),
        dg.AssetKey(["marts", "indicator_published"]),
        dg.AssetKey(["analytics", "analytics_duckdb"]),
        dg.AssetKey(["exports", "regione_lombardia"]),
        dg.AssetKey(["exports", "cassa_ammende"]),
    }
    for entity in FEEDS[feed].entities:
        key = dg.AssetKey(["raw", entity.table])
        downstream = dg.AssetSelection.assets(key).downstream().resolve(graph)
        assert targets <= downstream, (key.to_user_string(), targets - downstream)


def test_dbt_tests_are_asset_checks(graph):
    checks = {c.name for c in graph.asset_check_keys}
    assert any(name.startswith("unique_combination_indicator_values") for name in checks)
    assert {"righe_scartate", "conservazione_righe", "audit_riservatezza"} <= checks


def test_the_schedule_and_the_sensor_are_on_by_default():
    assert defs.resolve_schedule_def("quarterly_exports").default_status == (
        dg.DefaultScheduleStatus.RUNNING
    )
    assert defs.resolve_sensor_def("inbox_sensor").default_status == (
        dg.DefaultSensorStatus.RUNNING
    )


def test_the_warehouse_job_runs_everything_but_the_workbooks(graph):
    job = defs.resolve_job_def("aggiorna_magazzino")
    selected = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
    every = {k.to_user_string() for k in graph.get_all_asset_keys()}
    workbooks = {k for k in every if k.startswith("exports/")}
    assert workbooks and not workbooks & selected
    assert every - workbooks <= selected | {
        k for k in every if not graph.get(dg.AssetKey.from_user_string(k)).is_executable
    }
    assert not job.partitions_def  # no quarter to choose
