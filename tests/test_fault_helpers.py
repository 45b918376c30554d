"""The plain helpers behind "a dead run never blocks the next one" (issue 9 §3), fast.

The end-to-end faults (SIGKILL, full disk, stale slots, two runs) are in test_faults.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import openpyxl
import pytest
import yaml

from lavoro_debole.exports.analytics import COPY_FILE, RISK_NOTE_FILE, publish_analytics
from lavoro_debole.exports.atomic import DiskFullError as ExportsDiskFull
from lavoro_debole.faults import (
    DISK_FULL_MESSAGE,
    TEMP_MARK,
    DiskFullError,
    WarehouseBusyError,
    atomic_write,
    connect_waiting,
    is_disk_full,
    process_alive,
    remove_stale_temps,
)
from lavoro_debole.ingest.feedback import write_feedback_workbook
from lavoro_debole.orchestration.recovery import instance_lock, update_instance_yaml
from lavoro_debole.settings import SettingsError, load_settings
from tests.factories import create_published_tables

TEMPLATE = Path(__file__).resolve().parent.parent / "lavoro_debole" / "orchestration"


def _enospc(path: Path) -> None:
    Path(path).write_bytes(b"half a file")
    raise OSError(errno.ENOSPC, "No space left on device")


def test_atomic_write_keeps_the_old_file_and_no_temp_when_the_disk_fills(tmp_path: Path):
    target = tmp_path / "out" / "book.xlsx"
    atomic_write(target, lambda p: Path(p).write_bytes(b"old"))
    with pytest.raises(DiskFullError) as failed:
        atomic_write(target, _enospc)
    assert target.read_bytes() == b"old"
    assert list(target.parent.iterdir()) == [target]
    assert "book.xlsx" in str(failed.value) and "No space" not in str(failed.value)
    assert failed.value.__cause__ is None and failed.value.__suppress_context__


def test_the_feedback_workbook_is_old_or_new_never_half(tmp_path: Path, monkeypatch):
    problems = [
        {"sheet": "S", "row_number": 3, "column_name": "C", "value": "v", "reason": "r"}
        | {"severity": "error"}
    ]
    path = write_feedback_workbook(tmp_path, "file.xlsx", "ab" * 32, problems)
    before = path.read_bytes()
    monkeypatch.setattr(openpyxl.Workbook, "save", lambda self, name: _enospc(name))
    with pytest.raises(DiskFullError):
        write_feedback_workbook(tmp_path, "file.xlsx", "ab" * 32, problems * 2)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_the_analysts_copy_is_old_or_new_never_half(tmp_path: Path, monkeypatch):
    warehouse = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse))
    create_published_tables(con)
    con.close()
    room = tmp_path / "analisi"
    options = {"pseudonym_key": b"k" * 32, "cutoff": dt.date(2025, 12, 31)}
    target = publish_analytics(warehouse, room, **options).path
    before = target.read_bytes()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("lavoro_debole.exports.analytics.replace_atomically", full)
    with pytest.raises(ExportsDiskFull):
        publish_analytics(warehouse, room, **options)
    assert target.read_bytes() == before
    assert sorted(p.name for p in room.iterdir()) == [COPY_FILE, RISK_NOTE_FILE]


def test_stale_temps_are_ours_only(tmp_path: Path):
    ours = [
        tmp_path / "exports" / f".book.xlsx.0badcafe{TEMP_MARK}",
        tmp_path / "exports" / "q" / ".lavoro_debole_x_2025-Q4.ab12cd_3.xlsx",
        tmp_path / "feedback" / "tmpab_12xyz.xlsx",
        tmp_path / f".analytics.duckdb.0badcafe{TEMP_MARK}.wal",
    ]
    theirs = [
        tmp_path / "exports" / "lavoro_debole_x_2025-Q4.xlsx",
        tmp_path / "feedback" / "file__scarti_12345678.xlsx",
        tmp_path / "inbox" / "cfp" / f"x{TEMP_MARK}",
        tmp_path / "warehouse.duckdb.wal",
    ]
    for path in ours + theirs:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    removed = remove_stale_temps([tmp_path], recursive=False)
    removed += remove_stale_temps([tmp_path / "exports", tmp_path / "feedback"])
    assert sorted(removed) == sorted(ours)
    assert all(p.exists() for p in theirs)


def test_a_killed_release_build_leaves_no_scratch_folder(tmp_path: Path):
    """A candidate's build folder (``.<seq>.<random>.tmp``) is gone after the clean-up;
    the releases themselves and the steward's own dot-folders stay."""
    exports = tmp_path / "exports"
    scratch = exports / "regione" / "2025-Q4" / ".2.ab12_xyz.tmp"
    (scratch / "sub").mkdir(parents=True)
    (scratch / "lavoro_debole_regione_2025-Q4.xlsx").write_bytes(b"x")
    (scratch / "sub" / "f").write_bytes(b"x")
    release = exports / "regione" / "2025-Q4" / "1"
    release.mkdir()
    (release / "lavoro_debole_regione_2025-Q4.xlsx").write_bytes(b"sent")
    own = exports / ".steward.tmp"
    own.mkdir()
    removed = remove_stale_temps([exports])
    assert removed == [scratch]
    assert not scratch.exists()
    assert (release / "lavoro_debole_regione_2025-Q4.xlsx").read_bytes() == b"sent"
    assert own.is_dir()


def test_disk_full_is_recognised_through_the_causes():
    inner = duckdb.IOException('Could not write file "x": No space left on device')
    outer = RuntimeError("wrapped")
    outer.__context__ = inner
    assert is_disk_full(outer)
    assert is_disk_full(OSError(errno.ENOSPC, "full"))
    assert not is_disk_full(ValueError("Could not set lock"))
    assert DISK_FULL_MESSAGE.startswith("Spazio su disco esaurito")


HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("ready", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _hold(path: Path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "ready"
    return holder


def test_a_busy_warehouse_is_waited_for_a_bounded_time_then_named_in_one_line(tmp_path: Path):
    path = tmp_path / "warehouse.duckdb"
    holder = _hold(path, 60)
    try:
        started = time.monotonic()
        with pytest.raises(WarehouseBusyError) as busy:
            connect_waiting(path, 1.0, poll_s=0.1)
        assert 1.0 <= time.monotonic() - started < 10
    finally:
        holder.kill()
        holder.wait()
    message = str(busy.value)
    assert "\n" not in message and f"processo {holder.pid}" in message
    assert busy.value.__cause__ is None and busy.value.__suppress_context__


def test_a_warehouse_let_go_during_the_wait_is_opened(tmp_path: Path):
    path = tmp_path / "warehouse.duckdb"
    holder = _hold(path, 1.5)
    try:
        con = connect_waiting(path, 30.0, poll_s=0.1)
        con.close()
    finally:
        holder.wait()


def test_a_live_run_holding_the_warehouse_keeps_the_clock_from_running_out(tmp_path: Path):
    path = tmp_path / "warehouse.duckdb"
    holder = _hold(path, 2.0)
    try:
        con = connect_waiting(path, 0.0, poll_s=0.1, keep_waiting=lambda pid: pid == holder.pid)
        con.close()
    finally:
        holder.wait()


def test_the_wait_setting(monkeypatch):
    assert load_settings({}).warehouse_wait_s == 120.0
    assert load_settings({"LAVORO_WAREHOUSE_WAIT_S": "5"}).warehouse_wait_s == 5.0
    for bad in ("-1", "soon", "nan", "inf"):
        with pytest.raises(SettingsError, match="LAVORO_WAREHOUSE_WAIT_S"):
            load_settings({"LAVORO_WAREHOUSE_WAIT_S": bad})


def test_a_dead_or_reused_pid_is_not_alive():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    assert not process_alive(process.pid)

    assert process_alive(os.getpid())
    assert not process_alive(os.getpid(), not_started_after=time.time() - 3600 * 24 * 365 * 30)


def test_an_existing_instance_yaml_gets_the_new_sections_and_keeps_its_own(tmp_path: Path):
    target = tmp_path / "dagster.yaml"
    target.write_text(
        "# the steward's\nconcurrency:\n  pools:\n    default_limit: 1\n"
        "telemetry:\n  enabled: false\nretention:\n  schedule:\n    purge_after_days: 30\n",
        encoding="utf-8",
    )
    assert update_instance_yaml(target)
    merged = yaml.safe_load(target.read_text(encoding="utf-8"))
    assert merged["run_monitoring"]["enabled"] is True
    assert merged["run_monitoring"]["free_slots_after_run_end_seconds"] > 0
    assert merged["retention"] == {"schedule": {"purge_after_days": 30}}
    assert merged["concurrency"] == {"pools": {"default_limit": 1}}
    assert "# the steward's" in target.read_text(encoding="utf-8")
    assert not update_instance_yaml(target)  # nothing more to add
    fresh = tmp_path / "new" / "dagster.yaml"
    fresh.parent.mkdir()
    assert update_instance_yaml(fresh)
    assert fresh.read_text(encoding="utf-8") == (TEMPLATE / "dagster.yaml").read_text(
        encoding="utf-8"
    )


def test_the_instance_lock_lets_one_holder_at_a_time(tmp_path: Path):
    order: list[str] = []

    def second() -> None:
        with instance_lock(tmp_path):
            order.append("second")

    with instance_lock(tmp_path):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)
        order.append("first")
    thread.join(5)
    assert order == ["first", "second"]


def _run_started_by(instance, pid: int) -> str:
    import uuid

    import dagster as dg
    from dagster._core.events import DagsterEvent, DagsterEventType

    run_id = str(uuid.uuid4())
    instance.add_run(
        dg.DagsterRun(job_name="job", run_id=run_id, status=dg.DagsterRunStatus.STARTED)
    )
    instance.report_dagster_event(
        DagsterEvent(event_type_value=DagsterEventType.RUN_START.value, job_name="job", pid=pid),
        run_id=run_id,
    )
    return run_id


def test_only_runs_whose_process_is_gone_are_reclaimed_and_temps_wait_for_live_ones(
    tmp_path: Path,
):
    import dagster as dg

    from lavoro_debole.orchestration.recovery import held_by_live_run, open_instance

    home = tmp_path / "dagster"
    assert open_instance(home) == []
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        gone = _run_started_by(instance, dead.pid)
        alive = _run_started_by(instance, os.getpid())
        storage = instance.event_log_storage
        storage.initialize_concurrency_limit_to_default("warehouse")
        assert storage.claim_concurrency_slot("warehouse", gone, "step").is_claimed
        assert held_by_live_run(instance, os.getpid())
        assert not held_by_live_run(instance, dead.pid)
    cleaned: list[bool] = []
    assert open_instance(home, when_idle=lambda: cleaned.append(True)) == [gone]
    assert cleaned == []  # a live run is in progress: its temporary files stay
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_run_by_id(gone).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(alive).status == dg.DagsterRunStatus.STARTED
        assert instance.event_log_storage.get_concurrency_run_ids() == set()
        instance.report_run_failed(instance.get_run_by_id(alive))
    assert open_instance(home, when_idle=lambda: cleaned.append(True)) == []
    assert cleaned == [True]


def test_the_two_rooms_write_atomically_with_the_same_code():
    import lavoro_debole.exports.atomic as exports_atomic
    import lavoro_debole.ingest.atomic as ingest_atomic

    def body(module) -> str:
        text = Path(module.__file__).read_text(encoding="utf-8")
        return text[text.index('"""', 3) :]  # after the module docstring

    assert body(exports_atomic) == body(ingest_atomic)
