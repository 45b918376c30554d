"""The data steward's day in the Dagster UI, in a real (headless) browser.

One ``lavoro ui`` on a fresh data directory whose inbox holds a generated delivery
(session fixture), and the steps of the steward's guide in the README, in order:
the asset graph, "Materialize all" on the empty warehouse, the row counts of an
ingest asset, a failed check and its message, a partner file dropped in the inbox,
"Materialize all" again while the sensor's run for another file is under way.

The steps share the server and build on each other, so they run in file order.
Screenshots go to docs/screenshots/ (the README's steward's guide shows them); each
page is scanned for personal values before it is saved.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import duckdb
import pytest

from lavoro_debole.ingest.pipeline import inbox_files
from lavoro_debole.orchestration.ingest_assets import max_rejected_share, raw_asset_keys
from lavoro_debole.schemas import FEEDS
from lavoro_debole.synthetic import Manifest, generate_inbox
from lavoro_debole.synthetic.world import build_world
from tests.ui.conftest import CUTOFF
from tests.ui.dagster_ui import DagsterUI, Run, as_int, overlaps, wait_for

pytestmark = pytest.mark.browser

GROUPS = ["inbox", "reference", "staging", "intermediate", "marts", "exports"]
FEED = "servizi_sociali"
ASSET = "raw/servizi_sociali"
LOADED = "Righe caricate"
REJECTED = "Righe scartate"
SKIPPED = "Righe saltate (titoli, intestazioni, vuote, totali)"
FILES_IN_RUN = "File elaborati in questa esecuzione"
FIRST_BUILD_TIMEOUT = 1800
"""The first "Materialize all" builds dbt from nothing on a busy machine: minutes."""
RUN_TIMEOUT = 1200
SENSOR_TIMEOUT = 180
"""Two looks of the sensor, the run queue and the launch of a run."""

CF = re.compile(
    r"\b[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-EHLMPR-T][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]\b"
)


def quarter_of(day: str) -> str:
    date = dt.date.fromisoformat(day)
    return f"{date.year}-Q{(date.month - 1) // 3 + 1}"


QUARTER = quarter_of(CUTOFF)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def second_delivery(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    """Another generated inbox (another seed): the partner files dropped during the day."""
    target = tmp_path_factory.mktemp("secondo_invio")
    return target, generate_inbox(target, persons=40, seed=2)


@pytest.fixture(scope="module")
def personal_values(generated, second_delivery) -> list[str]:
    """Codici fiscali, names and phone numbers of every generated person."""
    values: set[str] = set()
    for _, manifest in (generated, second_delivery):
        values.update(v for v in manifest.planted_personal_values if len(v) >= 5)
        world = build_world(
            manifest.persons,
            manifest.seed,
            dt.date.fromisoformat(manifest.start),
            dt.date.fromisoformat(manifest.until),
        )
        for person in world.persons:
            values.update(
                {
                    person.cf,
                    f"{person.name} {person.surname}",
                    f"{person.surname} {person.name}",
                    person.phone,
                }
            )
    return sorted(v for v in values if v and len(v) >= 5)


# --------------------------------------------------------------------------- helpers


def shoot(page, name: str, personal_values: list[str], full_page: bool = False) -> Path:
    """Save a screenshot for the README, after checking that the page shows no person."""
    text = page.inner_text("body")
    leaks = [v for v in personal_values if v.casefold() in text.casefold()]
    leaks += CF.findall(text)
    assert leaks == [], f"personal values on the page of {name}: {leaks[:5]}"
    target = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=full_page)
    return target


def warehouse(ui: DagsterUI) -> duckdb.DuckDBPyConnection:
    """The warehouse, read-only: only when no run is writing it."""
    return duckdb.connect(str(ui.data_dir / "warehouse.duckdb"), read_only=True)


def wait_idle(ui: DagsterUI, timeout: float = RUN_TIMEOUT) -> list[Run]:
    """Wait until no run is queued or running; every run must have succeeded."""
    runs = wait_for(
        lambda: (
            (rs := ui.runs())
            and all(r.status in {"SUCCESS", "FAILURE", "CANCELED"} for r in rs)
            and rs
        ),
        timeout,
        lambda: f"runs still going: {[(r.run_id[:8], r.status) for r in ui.runs()]}",
        interval=5,
    )
    failed = [r for r in runs if r.status != "SUCCESS"]
    assert not failed, "\n".join(f"{r.run_id}: {ui.failures(r.run_id)}" for r in failed)
    return runs


def steps_never_overlap(ui: DagsterUI, runs: list[Run]) -> int:
    """Every step writes the warehouse (pool "warehouse", limit 1): steps of different
    runs must have run one after the other. Returns the number of steps compared."""
    intervals = [
        (step["startTime"], step["endTime"], f"{run.run_id[:8]}:{step['stepKey']}")
        for run in runs
        for step in ui.step_stats(run.run_id)
        if step["startTime"] and step["endTime"]
    ]
    assert overlaps(intervals) == [], "steps of two runs ran at the same time"
    return len(intervals)


def materialize_all(page, ui: DagsterUI, personal_values: list[str], shot: str | None) -> Run:
    """Click "Materialize all" on the asset graph; in the partition dialog (the funder
    workbooks are partitioned by quarter) choose the quarter of the cut-off date."""
    before = {r.run_id for r in ui.runs()}
    page.goto(f"{ui.base_url}/asset-groups")
    page.get_by_role("button", name=re.compile(r"Materialize all")).click()
    dialog = page.locator(".bp5-dialog")

    def new_click_runs() -> list[Run]:
        return [r for r in ui.runs() if r.run_id not in before and not r.from_sensor]

    outcome = wait_for(
        lambda: ("dialog" if dialog.is_visible() else None) or new_click_runs(),
        90,
        "neither a launch dialog nor a new run after clicking Materialize all",
        interval=1,
    )
    if outcome == "dialog":
        assert "Partition selection" in dialog.inner_text()
        dialog.get_by_text("Select a partition or create one").click()
        page.get_by_placeholder("Filter partitions").fill(QUARTER)
        page.locator(".dagster-popover [role=menuitem]").filter(
            has=page.locator(f"[title='{QUARTER}']")
        ).click()
        dialog.get_by_text(re.compile(r"^Launch runs to materialize")).click()  # closes the list
        page.locator(".dagster-popover").wait_for(state="hidden")
        assert re.search(r"\b1 partition\b", dialog.inner_text())
        if shot:
            shoot(page, shot, personal_values)
        dialog.get_by_role("button", name=re.compile(r"^Launch")).click()
        dialog.wait_for(state="hidden", timeout=120_000)
    [run] = wait_for(new_click_runs, 120, "the click launched no run")
    if outcome == "dialog":
        assert run.tags.get("dagster/partition") == QUARTER, run.tags
    return run


def metadata_rows(page, value_column: int) -> dict[str, str]:
    """The metadata table on the page, as label → text of ``value_column``."""
    page.locator("tr", has_text=LOADED).first.wait_for()
    rows = page.locator("tr").evaluate_all(
        "rows => rows.filter(r => r.cells.length > 2)"
        ".map(r => Array.from(r.cells).map(c => c.innerText.trim()))"
    )
    return {cells[0]: cells[value_column] for cells in rows}


def select_event(page, index: int) -> str:
    """Select the ``index``-th materialisation in an asset's Events tab and wait until
    its details are shown; returns the short id of its run."""
    focused = page.locator(f"[class*='assetListRowFocused'] > [data-index='{index}']")
    if not focused.count():  # a click on the selected one would unselect it
        page.locator(f"[data-index='{index}']").click()
    focused.wait_for()
    link = page.get_by_text("Materialized in run").first.locator("a")

    def shown() -> str | None:
        # The details follow the selection when their run link names the moment in the URL.
        moment = parse_qs(urlparse(page.url).query).get("time", [""])[0]
        if moment and f"focusedTime={moment}" not in (link.get_attribute("href") or ""):
            return None
        return link.inner_text().strip()

    return wait_for(shown, 60, f"the details of event {index} are not shown", interval=0.5)


def feed_totals(con: duckdb.DuckDBPyConnection, feed: str) -> tuple[int, int, int, int]:
    return con.execute(
        "select count(*), sum(rows_loaded), sum(rows_rejected), sum(rows_skipped) "
        "from ops.ingest_files where feed = ?",
        [feed],
    ).fetchone()


def drop_in_inbox(source: Path, inbox_feed_dir: Path, name: str) -> Path:
    """Save a file in the inbox the careful way: copied as ``.part``, then renamed."""
    target = inbox_feed_dir / name
    partial = target.with_name(target.name + ".part")
    shutil.copyfile(source, partial)
    os.replace(partial, target)
    return target


def pick_file(manifest: Manifest, feed: str, many_rejected: bool) -> str:
    """A loaded file of the second delivery, with the largest share of rejected rows."""
    candidates = [
        f
        for f in manifest.files
        if f.feed == feed and f.status == "loaded" and f.rows_data > 0 and f.duplicate_of is None
    ]
    candidates.sort(key=lambda f: (f.rows_rejected / f.rows_data, f.rows_data), reverse=True)
    if many_rejected:
        assert candidates[0].rows_rejected / candidates[0].rows_data > max_rejected_share()
    return candidates[0].path


def sensor_run_for(ui: DagsterUI, after: set[str], feed: str) -> Run | None:
    for run in ui.runs():
        if run.run_id not in after and run.from_sensor and run.tags.get("lavoro/flussi") == feed:
            return run
    return None


# --------------------------------------------------------------------------- the day


def test_01_the_asset_graph_shows_every_group(page, ui, personal_values):
    page.goto(f"{ui.base_url}/asset-groups")
    sidebar = page.locator("button:has([aria-label='asset_group'])")
    wait_for(
        lambda: sidebar.count() >= len(GROUPS),
        120,
        lambda: f"groups in the sidebar: {sidebar.all_inner_texts()}",
        interval=1,
    )
    names = {item.get_attribute("title") for item in sidebar.locator("[title]").all()}
    assert names >= set(GROUPS), names
    for group in GROUPS:
        # the collapsed group as a box of the lineage graph
        page.locator(f"[data-tooltip='{group}']").first.wait_for()
    shoot(page, "01-asset-graph.png", personal_values)


def test_02_materialize_all_builds_the_empty_warehouse(page, ui, generated, personal_values):
    data_dir, _ = generated
    started = time.monotonic()
    run = materialize_all(page, ui, personal_values, shot="02-materialize-all-quarter.png")
    wait_for(
        lambda: any(r.from_sensor for r in ui.runs()),
        SENSOR_TIMEOUT,
        lambda: f"the sensor launched no run for the delivery\n{ui.log_tail()}",
    )
    ui.wait_for_run_end(run.run_id, FIRST_BUILD_TIMEOUT)
    # The sensor found the whole delivery in the inbox at start and launched its own
    # run meanwhile: both succeed, one step at a time on the warehouse.
    runs = wait_idle(ui)
    sensor_runs = [r for r in runs if r.from_sensor]
    assert len(sensor_runs) == 1, [(r.run_id, r.tags) for r in runs]
    assert sensor_runs[0].tags["lavoro/flussi"] == " ".join(sorted(FEEDS))
    assert steps_never_overlap(ui, runs) > 10
    print(f"first Materialize all: {time.monotonic() - started:.0f} s")

    with warehouse(ui) as con:
        files = con.execute("select count(*) from ops.ingest_files").fetchone()[0]
        indicators = con.execute(
            "select count(distinct indicator_id) from marts.indicator_values"
        ).fetchone()[0]
    inbox = data_dir / "inbox"
    assert files == sum(len(inbox_files(inbox / feed)) for feed in FEEDS)
    assert indicators > 0
    workbooks = sorted(p.relative_to(data_dir).as_posix() for p in data_dir.glob("exports/*/*/*"))
    assert workbooks and all(f"/{QUARTER}/" in w for w in workbooks), workbooks
    assert (data_dir.parent / f"{data_dir.name}-analisi" / "analytics.duckdb").is_file()

    page.goto(f"{ui.base_url}/runs/{run.run_id}")
    page.get_by_text("RUN_SUCCESS").first.wait_for()
    shoot(page, "03-run-succeeded.png", personal_values)
    page.goto(f"{ui.base_url}/runs")
    page.locator(f"a[href*='{run.run_id}']").first.wait_for()
    shoot(page, "04-runs.png", personal_values)


def test_03_ingest_asset_shows_the_row_counts_of_the_warehouse(page, ui, personal_values):
    with warehouse(ui) as con:
        files, loaded, rejected, skipped = feed_totals(con, FEED)
    assert files > 0 and loaded > 0 and rejected > 0 and skipped > 0

    page.goto(f"{ui.base_url}/assets/{ASSET}")
    latest = metadata_rows(page, value_column=2)  # key, timestamp, value
    assert as_int(latest["Totale file ricevuti"]) == files
    assert as_int(latest["Totale righe caricate"]) == loaded
    assert as_int(latest["Totale righe scartate"]) == rejected
    assert as_int(latest["Totale righe saltate"]) == skipped

    # Each materialisation counts the rows of its own run: two runs took the delivery
    # (the click and the sensor's), and together they counted each row once.
    page.goto(f"{ui.base_url}/assets/{ASSET}?view=events")
    events = page.locator("[data-index]")
    wait_for(lambda: events.count() >= 2, 60, "fewer than two materialisations listed")
    totals = {LOADED: 0, REJECTED: 0, SKIPPED: 0, FILES_IN_RUN: 0}
    runs: dict[int, str] = {}
    for index in range(events.count()):
        runs[index] = select_event(page, index)
        rows = metadata_rows(page, value_column=1)  # key, value
        for label in totals:
            totals[label] += as_int(rows[label])
        if as_int(rows[FILES_IN_RUN]) == files:
            delivery = index
    assert len(set(runs.values())) == len(runs), runs
    assert totals == {LOADED: loaded, REJECTED: rejected, SKIPPED: skipped, FILES_IN_RUN: files}
    # For the guide: the materialisation that took the whole delivery.
    assert select_event(page, delivery) == runs[delivery]
    shoot(page, "05-ingest-asset.png", personal_values)


def test_04_a_failed_check_says_what_to_do(page, ui, personal_values):
    threshold = max_rejected_share()
    with warehouse(ui) as con:
        worst = con.execute(
            """
            select feed, file_name, rows_data, rows_rejected
            from ops.ingest_files
            where status = 'loaded' and rows_data > 0
            order by rows_rejected / rows_data desc, rows_rejected desc, file_name
            limit 1
            """
        ).fetchone()
        feed = worst[0]
        over = con.execute(
            """
            select file_name, rows_data, rows_rejected from ops.ingest_files
            where feed = ? and status = 'loaded' and rows_data > 0
              and rows_rejected / rows_data > ?
            order by file_name
            """,
            [feed, threshold],
        ).fetchall()
    assert worst[3] / worst[2] > threshold
    asset = raw_asset_keys(FEEDS[feed])[0].to_user_string()

    page.goto(f"{ui.base_url}/assets/{asset}?view=checks&checkDetail=righe_scartate")
    page.get_by_role("tab", name="Execution history").or_(
        page.get_by_text("Execution history", exact=True)
    ).first.click()
    failed = page.locator("tr", has_text="Failed").filter(has_text="righe scartate").first
    failed.wait_for()
    message = failed.inner_text()
    assert "righe scartate" in message and f"feedback/{feed}/" in message
    assert "Cosa fare" in message
    for name, rows_data, rows_rejected in over:
        assert f"{name}: {rows_rejected} righe scartate su {rows_data}" in message, message
    # The summary it names is there for the partner.
    for named in re.findall(rf"feedback/{feed}/(\S+\.xlsx)", message):
        assert (ui.data_dir / "feedback" / feed / named).is_file(), named
    shoot(page, "06-failed-check.png", personal_values)


def test_05_a_file_dropped_in_the_inbox_starts_its_run(page, ui, second_delivery, personal_values):
    source_dir, manifest = second_delivery
    name = pick_file(manifest, FEED, many_rejected=True)
    before = {r.run_id for r in ui.runs()}
    stem, suffix = os.path.splitext(name)
    dropped = drop_in_inbox(
        source_dir / "inbox" / FEED / name, ui.data_dir / "inbox" / FEED, f"{stem}_nuovo{suffix}"
    )
    run = wait_for(
        lambda: sensor_run_for(ui, before, FEED),
        SENSOR_TIMEOUT,
        lambda: f"no sensor run for {dropped.name}\n{ui.log_tail()}",
    )
    assert run.tags["lavoro/file_nuovi"] == "1"
    ui.wait_for_run_end(run.run_id, RUN_TIMEOUT)
    wait_idle(ui)

    with warehouse(ui) as con:
        row = con.execute(
            "select status, rows_loaded, rows_rejected, rows_skipped, rows_data "
            "from ops.ingest_files where feed = ? and file_name = ?",
            [FEED, dropped.name],
        ).fetchone()
        files, *_ = feed_totals(con, FEED)
    assert row is not None, f"{dropped.name} is not in ops.ingest_files"
    status, loaded, rejected, skipped, data = row
    assert status == "loaded"

    page.goto(f"{ui.base_url}/assets/{ASSET}")
    latest = metadata_rows(page, value_column=2)
    assert as_int(latest[FILES_IN_RUN]) == 1
    assert as_int(latest[LOADED]) == loaded
    assert as_int(latest[REJECTED]) == rejected
    assert as_int(latest[SKIPPED]) == skipped
    assert as_int(latest["Totale file ricevuti"]) == files

    # Too many rejected rows: the check is red now, and says which file and what to do.
    page.goto(f"{ui.base_url}/assets/{ASSET}?view=checks&checkDetail=righe_scartate")
    page.get_by_text(f"{dropped.name}: {rejected} righe scartate su {data}").first.wait_for()
    shoot(page, "07-check-after-new-file.png", personal_values)
    page.goto(f"{ui.base_url}/runs")
    page.locator(f"a[href*='{run.run_id}']").first.wait_for()
    shoot(page, "08-sensor-run.png", personal_values)


def test_06_materialize_all_again_while_the_sensor_runs(page, ui, second_delivery, personal_values):
    source_dir, manifest = second_delivery
    feed = "sportello"
    name = pick_file(manifest, feed, many_rejected=False)
    stem, suffix = os.path.splitext(name)
    with warehouse(ui) as con:
        files_before = con.execute("select count(*) from ops.ingest_files").fetchone()[0]
    before = {r.run_id for r in ui.runs()}

    # A partner file arrives and the steward clicks at the same moment: two runs.
    dropped = drop_in_inbox(
        source_dir / "inbox" / feed / name, ui.data_dir / "inbox" / feed, f"{stem}_nuovo{suffix}"
    )
    click = materialize_all(page, ui, personal_values, shot=None)
    sensor = wait_for(
        lambda: sensor_run_for(ui, before, feed),
        SENSOR_TIMEOUT,
        lambda: f"no sensor run for {dropped.name}\n{ui.log_tail()}",
    )
    page.goto(f"{ui.base_url}/runs")
    page.locator(f"a[href*='{sensor.run_id}']").first.wait_for()
    page.locator(f"a[href*='{click.run_id}']").first.wait_for()
    shoot(page, "09-two-runs-together.png", personal_values)

    ui.wait_for_run_end(click.run_id, RUN_TIMEOUT)
    ui.wait_for_run_end(sensor.run_id, RUN_TIMEOUT)
    runs = [r for r in wait_idle(ui) if r.run_id not in before]
    assert {r.run_id for r in runs} == {click.run_id, sensor.run_id}
    steps_never_overlap(ui, runs)

    with warehouse(ui) as con:
        files_after = con.execute("select count(*) from ops.ingest_files").fetchone()[0]
        copies = con.execute(
            "select count(*), count(*) filter (where status = 'loaded') "
            "from ops.ingest_files where feed = ? and file_name = ?",
            [feed, dropped.name],
        ).fetchone()
    # The new file counted once, whichever run took it; nothing else changed.
    assert copies == (1, 1)
    assert files_after == files_before + 1
    assert (ui.data_dir / "exports").is_dir()
