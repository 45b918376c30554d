"""The partners' calendar in the Dagster UI (issue 11), in a real (headless) browser.

One data directory for the whole module: a generated delivery (seed 1) and the steward's
list of expected senders (``reference/mittenti_attesi.csv``): the shipped default, except
that one district, UdP Casalpusterlengo, is expected quarterly from January 2023 (the
generated partners' first period) with 10 days allowed: its half-yearly files then cover
only every other quarter, and each of them reaches the inbox 20 days after its period's
end. ``lavoro run`` loads it all first; then ``lavoro ui`` starts on it, and:

1. the first start on a loaded inbox launches no run;
2. the monthly desk is complete (Q1 3/3 in the last quarter) and not named by the check
   ``file_in_ritardo``;
3. the quarterly district is on time / late / missing as the inbox's manifest says, and
   the check names it with every missing quarter;
4. the check ``righe_scartate`` of the desk stays red across a run without the corrected
   file, and turns green after the sensor's run for the corrected file.

Every expected value comes from the generator's manifest and the files' mtimes in the
inbox (the day each reached it), not from the code under test. The steps build on each
other and run in file order.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from lavoro_debole.ingest.pipeline import inbox_files
from lavoro_debole.schemas import FEEDS
from lavoro_debole.synthetic import Manifest, generate_inbox
from tests.ui.conftest import CUTOFF, KEY, PROJECT_ROOT, VAULT_KEY, chromium_executable
from tests.ui.dagster_ui import FINISHED, DagsterUI, Run, free_port, wait_for

pytestmark = pytest.mark.browser

SENSOR_INTERVAL = 5
RUN_TIMEOUT = 900
SENSOR_TIMEOUT = 180

DESK_FEED = "sportello"
DESK = "Sportello di ascolto (Caritas Lodigiana)"
DESK_ASSET = "raw/sportello"
DESK_DAYS = 15
DISTRICT_FEED = "servizi_sociali"
DISTRICT = "UdP Casalpusterlengo"
DISTRICT_DAYS = 10
ACTIVE_FROM = dt.date(2023, 1, 1)
EXPECTED_FILES_ASSET = "intermediate/int_expected_files_by_period"
DEFAULT_LIST = PROJECT_ROOT / "dbt_project" / "seeds" / "expected_senders_default.csv"

SENSOR_TICKS_QUERY = """
query Ticks($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor { sensorState { status ticks(limit: 50) { status timestamp runIds } } }
  }
}
"""

LOCATION_QUERY = """
query Location {
  workspaceOrError {
    ... on Workspace {
      locationEntries {
        name
        locationOrLoadError { ... on RepositoryLocation { repositories { name } } }
      }
    }
  }
}
"""


# --------------------------------------------------------------------------- calendar


@dataclass(frozen=True)
class Slot:
    start: dt.date
    end: dt.date

    @property
    def label(self) -> str:
        return f"{self.start:%d/%m/%Y}–{self.end:%d/%m/%Y}"


def quarter_label(day: dt.date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def quarter_slots(first: dt.date, last: dt.date) -> list[Slot]:
    slots = []
    year, month = first.year, first.month
    while True:
        start = dt.date(year, month, 1)
        end_month = month + 2
        end = dt.date(year + (end_month > 12), (end_month - 1) % 12 + 1, 1)
        end = (end.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        if end > last:
            return slots
        slots.append(Slot(start, end))
        month += 3
        if month > 12:
            year, month = year + 1, month - 12


def month_end(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


def arrived(data_dir: Path, feed: str, name: str) -> dt.date:
    """The day a file reached the inbox: its mtime (the generator dates each delivery)."""
    return dt.date.fromtimestamp((data_dir / "inbox" / feed / name).stat().st_mtime)


def received_by_slot(
    data_dir: Path, manifest: Manifest, feed: str, sender: str, slots: list[Slot]
) -> dict[Slot, list[dt.date]]:
    """For each slot, the arrival days of the sender's counted files (loaded or unchanged
    copies) whose reference date falls in it, from the manifest."""
    found: dict[Slot, list[dt.date]] = {slot: [] for slot in slots}
    for f in manifest.files:
        if f.feed != feed or f.sender != sender or f.status == "rejected":
            continue
        if f.reference_date is None:
            continue
        reference = dt.date.fromisoformat(f.reference_date)
        for slot in slots:
            if slot.start <= reference <= slot.end:
                found[slot].append(arrived(data_dir, feed, f.path))
    return found


# --------------------------------------------------------------------------- fixtures


def environment(data_dir: Path) -> dict[str, str]:
    bin_dir = Path(sys.executable).parent
    return {
        **os.environ,
        "LAVORO_DATA_DIR": str(data_dir),
        "LAVORO_PSEUDONYM_KEY": KEY,
        "LAVORO_VAULT_KEY": VAULT_KEY,
        "LAVORO_CUTOFF": CUTOFF,
        "LAVORO_SENSOR_INTERVAL": str(SENSOR_INTERVAL),
        "DAGSTER_HOME": str(data_dir / "dagster"),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def steward_list() -> str:
    """The shipped default; the district quarterly from 2023, with few days allowed."""
    rows = list(csv.reader(DEFAULT_LIST.read_text(encoding="utf-8").splitlines(), delimiter=";"))
    header, body = rows[0], rows[1:]
    assert header == [
        "flusso",
        "mittente",
        "cadenza",
        "giorni_concessi",
        "attivo_dal",
        "attivo_al",
    ], header
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(header)
    senders = set()
    for feed, sender, cadence, days, active_from, active_to in body:
        senders.add((feed, sender))
        if (feed, sender) == (DISTRICT_FEED, DISTRICT):
            cadence, days = "trimestrale", str(DISTRICT_DAYS)
            active_from = f"{ACTIVE_FROM:%d/%m/%Y}"
        writer.writerow([feed, sender, cadence, days, active_from, active_to])
    assert {(DESK_FEED, DESK), (DISTRICT_FEED, DISTRICT)} <= senders
    return out.getvalue()


@dataclass
class Loaded:
    data_dir: Path
    manifest: Manifest
    run: subprocess.CompletedProcess


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    """A generated delivery, the steward's list, and ``lavoro run`` over it (before the UI)."""
    chromium_executable()  # skip or fail before spending time
    data_dir = tmp_path_factory.mktemp("calendario")
    manifest = generate_inbox(data_dir, persons=40, seed=1)
    (data_dir / "reference").mkdir(exist_ok=True)
    (data_dir / "reference" / "mittenti_attesi.csv").write_text(steward_list(), encoding="utf-8")
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "lavoro"), "run"],
        cwd=data_dir,
        env=environment(data_dir),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    return Loaded(data_dir, manifest, completed)


def run_output(loaded: Loaded) -> str:
    r = loaded.run
    return f"lavoro run: exit {r.returncode}\n{r.stdout[-5000:]}\n{r.stderr[-3000:]}"


@pytest.fixture(scope="module")
def ui(loaded: Loaded) -> Iterator[DagsterUI]:
    """``lavoro ui`` started, for the first time, on the data directory just loaded."""
    data_dir = loaded.data_dir
    port = free_port()
    log_path = data_dir / "lavoro-ui.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "lavoro"), "ui", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=environment(data_dir),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = DagsterUI(
        base_url=f"http://127.0.0.1:{port}", data_dir=data_dir, log_path=log_path, process=process
    )
    try:

        def up() -> bool:
            assert process.poll() is None, f"lavoro ui exited early\n{server.log_tail()}"
            return server.answers()

        wait_for(up, 300, lambda: f"the webserver does not answer\n{server.log_tail()}")

        def location_loaded() -> bool:
            status, error = server.location_status()
            assert error is None, f"the definitions do not load:\n{error}"
            return status == "LOADED"

        wait_for(
            location_loaded, 300, lambda: f"the code location does not load\n{server.log_tail()}"
        )
        server.graphql("mutation { setNuxSeen }")
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------- helpers


def warehouse(data_dir: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)


def q1(data_dir: Path, feed: str, sender: str) -> dict[tuple[str, str], tuple[int, int]]:
    """(breakdown, period) -> (numerator, denominator) of Q1 for one sender."""
    with warehouse(data_dir) as con:
        rows = con.execute(
            """
            select breakdown, period, numerator, denominator
            from marts.indicator_values
            where indicator_id = 'Q1' and category = ?
              and breakdown in ('fonte_mittente', 'puntualita')
            """,
            [f"{feed}|{sender}"],
        ).fetchall()
    return {(b, p): (int(n), int(d)) for b, p, n, d in rows}


def location(ui: DagsterUI) -> tuple[str, str]:
    entries = ui.graphql(LOCATION_QUERY)["workspaceOrError"]["locationEntries"]
    entry = entries[0]
    return entry["name"], entry["locationOrLoadError"]["repositories"][0]["name"]


def sensor_ticks(ui: DagsterUI) -> list[dict]:
    name, repository = location(ui)
    selector = {
        "repositoryLocationName": name,
        "repositoryName": repository,
        "sensorName": "inbox_sensor",
    }
    result = ui.graphql(SENSOR_TICKS_QUERY, {"selector": selector})["sensorOrError"]
    assert result["__typename"] == "Sensor", result
    return result["sensorState"]["ticks"]


def check_history(page, ui: DagsterUI, asset: str, check: str) -> list[str]:
    """The rows of a check's Execution history in the UI, newest first."""
    page.goto(f"{ui.base_url}/assets/{asset}?view=checks&checkDetail={check}")
    page.get_by_role("tab", name="Execution history").or_(
        page.get_by_text("Execution history", exact=True)
    ).first.click()
    rows = page.locator("tbody tr")
    rows.first.wait_for()
    return rows.all_inner_texts()


def latest_result_is_from(page, run_id: str) -> None:
    """The newest row of the Execution history shown links to that run."""
    page.locator("tbody tr").first.locator(f"a[href^='/runs/{run_id}']").first.wait_for()


def latest_result_metadata(page) -> str:
    """The metadata of the newest result, as its dialog in the UI shows them."""
    page.locator("tbody tr").first.locator("button:has([aria-label='metadata'])").click()
    dialog = page.locator(".bp5-dialog, [role=dialog]").first
    dialog.wait_for()
    text = dialog.inner_text()
    page.keyboard.press("Escape")
    return text


def wait_idle(ui: DagsterUI, timeout: float = RUN_TIMEOUT) -> list[Run]:
    return wait_for(
        lambda: (rs := ui.runs()) and all(r.status in FINISHED for r in rs) and rs,
        timeout,
        lambda: f"runs still going: {[(r.run_id[:8], r.status) for r in ui.runs()]}",
        interval=3,
    )


def problem_file(manifest: Manifest, feed: str) -> tuple[str, int, int, list[int]]:
    """The feed's file with the largest share of rejected rows (name, rows, rejected, the
    record numbers of its rows with an error)."""
    candidates = [
        f for f in manifest.files if f.feed == feed and f.status == "loaded" and f.rows_data
    ]
    worst = max(candidates, key=lambda f: f.rows_rejected / f.rows_data)
    errors = sorted({p.row_number for p in worst.problems if p.severity == "error"})
    return worst.path, worst.rows_data, worst.rows_rejected, errors


# --------------------------------------------------------------------------- tests


def test_01_the_first_start_on_a_loaded_inbox_launches_no_run(page, ui, loaded):
    data_dir = loaded.data_dir
    with warehouse(data_dir) as con:
        files = con.execute("select count(*) from ops.ingest_files").fetchone()[0]
    in_inbox = sum(len(inbox_files(data_dir / "inbox" / feed)) for feed in FEEDS)
    assert files == in_inbox > 0, f"the inbox is not loaded\n{run_output(loaded)}"

    started = time.time()

    def two_looks() -> list[dict] | None:
        ticks = [t for t in sensor_ticks(ui) if t["timestamp"] >= started - 60]
        return ticks if len(ticks) >= 2 else None

    # At least two looks of the sensor (a file is new only at its second look), then one more
    # interval for a run it would have asked for to be launched.
    ticks = wait_for(two_looks, 180, lambda: f"the sensor did not look twice\n{ui.log_tail()}")
    time.sleep(2 * SENSOR_INTERVAL)
    ticks = sensor_ticks(ui)
    assert all(not t["runIds"] for t in ticks), ticks
    assert {t["status"] for t in ticks} <= {"SKIPPED", "STARTED"}, ticks
    runs = ui.runs()
    assert [r for r in runs if r.from_sensor] == []
    # The only runs are those of `lavoro run` (the warehouse, then the quarter's workbooks).
    assert runs and all(r.tags.get("lavoro/origin") == "lavoro run" for r in runs), runs
    assert all(r.creation_time < started for r in runs), runs

    page.goto(f"{ui.base_url}/runs")
    for run in runs:
        page.locator(f"a[href*='{run.run_id}']").first.wait_for()
    body = page.inner_text("body")
    assert "inbox_sensor" not in body


def test_02_the_monthly_desk_is_complete_and_on_time(page, ui, loaded):
    assert loaded.run.returncode == 3, run_output(loaded)  # checks of partners' files failed
    data_dir, manifest = loaded.data_dir, loaded.manifest
    cutoff = dt.date.fromisoformat(CUTOFF)
    # From the manifest: every month from 2023 to the cut-off has the desk's file, in the
    # inbox by the 15th of the next month.
    months = []
    day = ACTIVE_FROM
    while day <= cutoff:
        months.append(Slot(day, month_end(day)))
        day = month_end(day) + dt.timedelta(days=1)
    [desk_sender] = {f.sender for f in manifest.files if f.feed == DESK_FEED}
    by_month = received_by_slot(data_dir, manifest, DESK_FEED, desk_sender, months)
    assert all(by_month.values()), [m.label for m, days in by_month.items() if not days]
    assert all(
        min(days) <= slot.end + dt.timedelta(days=DESK_DAYS) for slot, days in by_month.items()
    )

    figures = q1(data_dir, DESK_FEED, DESK)
    last = quarter_label(cutoff)
    assert figures[("fonte_mittente", last)] == (3, 3), figures
    assert figures[("puntualita", last)] == (3, 3), figures
    for slot in quarter_slots(ACTIVE_FROM, cutoff):
        quarter = quarter_label(slot.start)
        assert figures[("fonte_mittente", quarter)] == (3, 3), quarter
        assert figures[("puntualita", quarter)] == (3, 3), quarter
    # With the shipped list, no period of the warehouse shows the desk short of a file.
    short = {key: value for key, value in figures.items() if value[0] != value[1]}
    assert short == {}, short

    # In the UI: the check of the calendar ran in `lavoro run` and does not name the desk.
    history = check_history(page, ui, EXPECTED_FILES_ASSET, "file_in_ritardo")
    latest = history[0]
    assert DISTRICT in latest, latest  # the check's latest result is there, naming the district
    assert DESK not in latest, latest
    warehouse_run = ui.runs()[-1]  # the first run of `lavoro run`: the warehouse
    latest_result_is_from(page, warehouse_run.run_id)
    metadata = latest_result_metadata(page)
    assert "mittenti" in metadata and DESK not in metadata, metadata
    # The model's materialisation is there, from that run, with dbt's metadata.
    page.goto(f"{ui.base_url}/assets/{EXPECTED_FILES_ASSET}?view=events")
    link = page.get_by_text("Materialized in run").first.locator("a")
    assert link.inner_text().strip() == warehouse_run.run_id[:8]
    page.goto(f"{ui.base_url}/assets/{EXPECTED_FILES_ASSET}")
    status = page.locator("tr", has_text="status").filter(has_text="success").first
    status.wait_for()
    assert "model.lavoro_debole.int_expected_files_by_period" in page.inner_text("body")


def test_03_the_quarterly_district_is_on_time_late_or_missing(page, ui, loaded):
    assert loaded.run.returncode == 3, run_output(loaded)
    data_dir, manifest = loaded.data_dir, loaded.manifest
    cutoff = dt.date.fromisoformat(CUTOFF)
    slots = quarter_slots(ACTIVE_FROM, cutoff)
    by_slot = received_by_slot(data_dir, manifest, DISTRICT_FEED, DISTRICT, slots)
    missing = [s for s, days in by_slot.items() if not days]
    late = [
        s for s, days in by_slot.items() if days and min(days) > s.end + dt.timedelta(DISTRICT_DAYS)
    ]
    # The district sends half-yearly, 20 days after the half-year: with a quarterly
    # calendar and 10 days, every other quarter is missing and the others are late.
    assert missing and late, (missing, late)

    figures = q1(data_dir, DISTRICT_FEED, DISTRICT)
    for slot, days in by_slot.items():
        quarter = quarter_label(slot.start)
        on_time = bool(days) and min(days) <= slot.end + dt.timedelta(DISTRICT_DAYS)
        assert figures[("fonte_mittente", quarter)] == (int(bool(days)), 1), quarter
        assert figures[("puntualita", quarter)] == (int(on_time), 1), quarter

    # In the UI: one line for the district, with how many files are missing and the latest
    # one (the one to ask for).
    history = check_history(page, ui, EXPECTED_FILES_ASSET, "file_in_ritardo")
    latest = history[0]
    due = missing[-1].end + dt.timedelta(days=DISTRICT_DAYS)
    line = (
        f"{DISTRICT} ({DISTRICT_FEED}): {len(missing)} file mancanti; il più recente: manca "
        f"il file del periodo {missing[-1].label}, atteso entro il {due:%d/%m/%Y}"
    )
    assert line in latest, latest
    assert latest.count(f"{DISTRICT} ({DISTRICT_FEED})") == 1, latest
    # A late file is not missing: the late quarters are not named.
    for slot in late:
        assert slot.label not in latest
    metadata = latest_result_metadata(page)
    assert f"{DISTRICT} ({DISTRICT_FEED})" in metadata, metadata
    assert re.search(rf"file_in_ritardo\s+{len(missing)}\b", metadata), metadata


def test_04_a_red_check_stays_red_until_the_corrected_file(page, ui, loaded):
    data_dir, manifest = loaded.data_dir, loaded.manifest
    name, rows_data, rows_rejected, errors = problem_file(manifest, DESK_FEED)
    assert rows_rejected / rows_data > 0.10 and errors, name
    stale = f"{name}: {rows_rejected} righe scartate su {rows_data}"
    history = check_history(page, ui, DESK_ASSET, "righe_scartate")
    assert stale in history[0], history[0]

    # A run with nothing new for the desk: the warehouse job, launched from its page.
    before = {r.run_id for r in ui.runs()}
    location_name, _ = location(ui)
    page.goto(f"{ui.base_url}/locations/{location_name}/jobs/aggiorna_magazzino")
    page.get_by_role("button", name=re.compile(r"Materialize all")).click()
    [run] = wait_for(
        lambda: [r for r in ui.runs() if r.run_id not in before],
        120,
        "Materialize all on the job launched no run",
    )
    assert not run.from_sensor
    ui.wait_for_run_end(run.run_id, RUN_TIMEOUT)
    history = check_history(page, ui, DESK_ASSET, "righe_scartate")
    assert len(history) >= 2, history
    assert stale in history[0] and "resta rosso" in history[0], history[0]
    latest_result_is_from(page, run.run_id)

    # The corrected file: same sender and period, the rows with an error left out.
    original = (data_dir / "inbox" / DESK_FEED / name).read_bytes().decode("utf-8-sig")
    records = original.splitlines()
    kept = [line for number, line in enumerate(records, start=1) if number not in errors]
    stem, suffix = os.path.splitext(name)
    corrected = data_dir / "inbox" / DESK_FEED / f"{stem}_rettifica{suffix}"
    partial = corrected.with_name(corrected.name + ".part")
    partial.write_text("\ufeff" + "\n".join(kept) + "\n", encoding="utf-8")
    before = {r.run_id for r in ui.runs()}
    os.replace(partial, corrected)

    def sensor_run() -> Run | None:
        for r in ui.runs():
            if r.run_id not in before and r.from_sensor:
                return r
        return None

    run = wait_for(sensor_run, SENSOR_TIMEOUT, lambda: f"no sensor run\n{ui.log_tail()}")
    assert run.tags.get("lavoro/flussi") == DESK_FEED and run.tags["lavoro/file_nuovi"] == "1"
    ui.wait_for_run_end(run.run_id, RUN_TIMEOUT)
    wait_idle(ui)
    with warehouse(data_dir) as con:
        status, rejected = con.execute(
            "select status, rows_rejected from ops.ingest_files where feed = ? and file_name = ?",
            [DESK_FEED, corrected.name],
        ).fetchone()
    assert (status, rejected) == ("loaded", 0)

    history = check_history(page, ui, DESK_ASSET, "righe_scartate")
    assert "Nessun file del flusso supera la soglia" in history[0], history[0]
    assert name not in history[0]
    latest_result_is_from(page, run.run_id)
    # Still complete: the correction is one more file of December.
    figures = q1(data_dir, DESK_FEED, DESK)
    assert figures[("fonte_mittente", quarter_label(dt.date.fromisoformat(CUTOFF)))] == (3, 3)
