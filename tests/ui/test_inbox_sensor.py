"""The inbox sensor as the steward meets it in the UI, without a browser: which run a
file dropped in the inbox starts, and that Dagster accepts that run.

Fast (no server): the sensor is evaluated tick by tick on the real definitions.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg
import pytest

from lavoro_debole.orchestration.ingest_assets import raw_asset_keys
from lavoro_debole.schemas import FEEDS
from lavoro_debole.synthetic import generate_inbox


@pytest.fixture(scope="module")
def delivery(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("consegna")
    generate_inbox(source, persons=12, seed=3)
    return source


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAVORO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LAVORO_PSEUDONYM_KEY", "sensor-test-key-0123456789abcdef0123")
    monkeypatch.setenv("LAVORO_VAULT_KEY", "sensor-test-vault-key-0123456789abcdef")
    (tmp_path / "inbox").mkdir()
    return tmp_path


@pytest.fixture(scope="module")
def repository():
    from lavoro_debole.orchestration.definitions import defs

    return defs.get_repository_def()


def tick(repository, cursor: str | None):
    from lavoro_debole.orchestration.sensors import inbox_sensor

    context = dg.build_sensor_context(
        repository_def=repository, cursor=cursor, instance=dg.DagsterInstance.ephemeral()
    )
    return inbox_sensor.evaluate_tick(context)


def keys(run_request: dg.RunRequest) -> set[str]:
    return {k.to_user_string() for k in run_request.asset_selection}


def test_a_whole_delivery_starts_one_run_after_two_looks(repository, data_dir, delivery):
    shutil.copytree(delivery / "inbox", data_dir / "inbox", dirs_exist_ok=True)
    first = tick(repository, None)
    assert first.run_requests == [] and "Nessun file nuovo" in first.skip_message

    second = tick(repository, first.cursor)
    [run] = second.run_requests
    assert run.tags["lavoro/flussi"] == " ".join(sorted(FEEDS))
    files = sum(1 for p in (data_dir / "inbox").rglob("*") if p.is_file())
    assert 0 < int(run.tags["lavoro/file_nuovi"]) <= files
    selected = keys(run)
    every_feed = {k.to_user_string() for feed in FEEDS.values() for k in raw_asset_keys(feed)}
    assert every_feed <= selected
    assert {"marts/indicator_values", "analytics/analytics_duckdb"} <= selected
    assert not any(k.startswith("exports/") for k in selected)  # workbooks: the schedule's

    # Nothing new at the next look: no second run for the same files.
    third = tick(repository, second.cursor)
    assert third.run_requests == []


def test_one_new_file_runs_its_feed_and_what_a_new_warehouse_needs(repository, data_dir, delivery):
    feed_dir = data_dir / "inbox" / "sportello"
    feed_dir.mkdir()
    source = sorted((delivery / "inbox" / "sportello").iterdir())[0]
    partial = feed_dir / (source.name + ".part")
    shutil.copyfile(source, partial)
    cursor = tick(repository, None).cursor
    assert tick(repository, cursor).run_requests == []  # still being copied: no run

    os.replace(partial, feed_dir / source.name)
    after_rename = tick(repository, cursor)
    assert after_rename.run_requests == []  # seen once: wait for a second look
    [run] = tick(repository, after_rename.cursor).run_requests

    selected = keys(run)
    assert run.tags["lavoro/flussi"] == "sportello"
    assert run.tags["lavoro/file_nuovi"] == "1"
    assert "raw/sportello" in selected
    other_feeds = {
        k.to_user_string()
        for name, feed in FEEDS.items()
        if name != "sportello"
        for k in raw_asset_keys(feed)
    }
    assert not other_feeds & selected  # their ingest has nothing new
    # On a new data directory the models also need the reference lists.
    assert {"raw/reference_cooperative_sociali", "ops/ingest_files"} <= selected
    assert any(k.startswith("reference/") for k in selected)
    assert not any(k.startswith("exports/") for k in selected)


def test_the_same_content_under_another_name_starts_no_run(repository, data_dir, delivery):
    feed_dir = data_dir / "inbox" / "sportello"
    feed_dir.mkdir()
    source = sorted((delivery / "inbox" / "sportello").iterdir())[0]
    shutil.copyfile(source, feed_dir / source.name)
    cursor = tick(repository, None).cursor
    second = tick(repository, cursor)
    assert len(second.run_requests) == 1

    shutil.copyfile(source, feed_dir / ("copia di " + source.name))
    cursor = tick(repository, second.cursor).cursor
    assert tick(repository, cursor).run_requests == []


def test_dagster_accepts_the_sensors_run(repository, data_dir, delivery):
    """The run request fits the sensor's target and the job's config
    (a refused request fails every tick, and the UI shows only a red tick)."""
    shutil.copytree(delivery / "inbox" / "cfp", data_dir / "inbox" / "cfp")
    [run] = tick(repository, tick(repository, None).cursor).run_requests
    job = repository.get_implicit_global_asset_job_def()
    assert dg.validate_run_config(job, run.run_config) is not None


def test_each_quarter_complete_by_the_cutoff_becomes_a_workbook_partition(
    repository, data_dir, monkeypatch
):
    """The quarters live in the instance, so a quarter that ends while the UI keeps
    running is offered (and can be scheduled) without restarting anything."""
    from lavoro_debole.orchestration.sensors import inbox_sensor

    instance = dg.DagsterInstance.ephemeral()

    def look_with(cutoff: str):
        monkeypatch.setenv("LAVORO_CUTOFF", cutoff)
        context = dg.build_sensor_context(repository_def=repository, instance=instance)
        result = inbox_sensor.evaluate_tick(context)
        for request in result.dynamic_partitions_requests:
            instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
        return [key for r in result.dynamic_partitions_requests for key in r.partition_keys]

    assert look_with("2023-08-20") == ["2023-Q1", "2023-Q2"]  # Q3 not over by the cut-off
    assert look_with("2023-08-20") == []  # known: not asked again
    assert look_with("2024-03-31") == ["2023-Q3", "2023-Q4", "2024-Q1"]
    assert instance.get_dynamic_partitions("trimestri")[-1] == "2024-Q1"


def test_the_first_start_on_a_loaded_inbox_launches_no_run(repository, data_dir, delivery):
    """The sensor has no memory on the UI's first start: files the warehouse already
    processed are not new (a run for them would rebuild everything and turn every red
    check green); a file that arrives afterwards still starts its run."""
    import duckdb

    from lavoro_debole.ingest.pipeline import ingest_feed
    from lavoro_debole.ingest.vault import attach_vault

    shutil.copytree(delivery / "inbox" / "cfp", data_dir / "inbox" / "cfp")
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"))
    attach_vault(con, data_dir / "vault.duckdb", b"sensor-test-vault-key-0123456789abcdef")
    outcomes = ingest_feed(
        con,
        "cfp",
        data_dir / "inbox",
        key=b"sensor-test-key-0123456789abcdef0123",
        feedback_dir=data_dir / "feedback",
    )
    con.close()
    assert outcomes
    first = tick(repository, None)
    second = tick(repository, first.cursor)
    assert second.run_requests == []
    assert tick(repository, second.cursor).run_requests == []

    source = sorted((delivery / "inbox" / "sportello").iterdir())[0]
    (data_dir / "inbox" / "sportello").mkdir()
    shutil.copyfile(source, data_dir / "inbox" / "sportello" / source.name)
    seen = tick(repository, second.cursor)
    [run] = tick(repository, seen.cursor).run_requests
    assert run.tags["lavoro/flussi"] == "sportello" and run.tags["lavoro/file_nuovi"] == "1"


def test_while_a_run_writes_the_warehouse_the_sensor_waits(repository, data_dir, delivery):
    import duckdb

    shutil.copytree(delivery / "inbox" / "cfp", data_dir / "inbox" / "cfp")
    cursor = tick(repository, None).cursor
    writer = duckdb.connect(str(data_dir / "warehouse.duckdb"))  # a run holding it
    try:
        busy = tick(repository, cursor)
        assert busy.run_requests == [] and "in uso" in busy.skip_message
    finally:
        writer.close()
    [run] = tick(repository, cursor).run_requests  # the same look, once it is free
    assert run.tags["lavoro/flussi"] == "cfp"
