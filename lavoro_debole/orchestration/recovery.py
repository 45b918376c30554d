"""A dead run never blocks the next one: what ``lavoro run`` and ``lavoro ui`` check first.

A run killed at any moment (SIGKILL, abort, out of memory, power) leaves its record in
STARTED and keeps the ``warehouse`` pool's slot; every later step in that pool would
wait for it forever. Dagster's run monitoring (``dagster.yaml``) frees the slots of
runs that ended, but only the daemon of ``lavoro ui`` runs it, and with the default run
launcher it cannot tell that a worker died. So, before a run starts, this module finds
the runs whose process is gone, marks them failed and frees their slots.

It also serialises the first opening of the instance (two runs started at once on a new
data directory would both create Dagster's storage) and keeps an existing data
directory's ``dagster.yaml`` up to date with the settings the project needs.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import yaml
from dagster._core.events import DagsterEventType
from dagster._core.storage.dagster_run import FINISHED_STATUSES

from lavoro_debole.faults import process_alive, process_ancestry, replace_atomically, temp_path_for

INSTANCE_TEMPLATE = Path(__file__).parent / "dagster.yaml"
LOCK_FILE = ".lavoro-instance.lock"
STARTING_GRACE_S = 180
"""A run still STARTING after this long, with no process that started it, is dead."""

DEAD_RUN_MESSAGE = (
    "Elaborazione interrotta: il suo processo non esiste più (terminato, memoria o disco "
    "esauriti, spegnimento). Segnata come fallita da lavoro all'avvio di una nuova "
    "elaborazione; il suo posto nel pool 'warehouse' è stato liberato."
)

IN_PROGRESS = (
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.CANCELING,
    dg.DagsterRunStatus.NOT_STARTED,
)


@contextmanager
def instance_lock(home: Path) -> Iterator[None]:
    """An exclusive lock on the instance directory (blocks until the holder lets go)."""
    home.mkdir(parents=True, exist_ok=True)
    fd = os.open(home / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def update_instance_yaml(target: Path, template: Path = INSTANCE_TEMPLATE) -> bool:
    """Write the template where there is no ``dagster.yaml``; to an existing one add each
    top-level section of the template it lacks (the steward's own settings stay).
    Returns True when the file changed."""
    wanted = template.read_text(encoding="utf-8")
    if not target.exists():
        text = wanted
    else:
        current = target.read_text(encoding="utf-8")
        have = yaml.safe_load(current) or {}
        need = yaml.safe_load(wanted) or {}
        missing = {key: value for key, value in need.items() if key not in have}
        if not missing:
            return False
        text = (
            current.rstrip("\n")
            + "\n\n# Aggiunto da lavoro (impostazioni richieste dal progetto, vedi "
            "lavoro_debole/orchestration/dagster.yaml):\n"
            + yaml.safe_dump(missing, sort_keys=False)
        )
    temp = temp_path_for(target)
    temp.write_text(text, encoding="utf-8")
    replace_atomically(temp, target)
    return True


def _worker_pid(instance: dg.DagsterInstance, run_id: str) -> tuple[int | None, float | None]:
    """The PID of the process that started the run's execution, and when it did."""
    records = instance.get_records_for_run(
        run_id, of_type=DagsterEventType.RUN_START, limit=1
    ).records
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is not None and event.pid:
            return event.pid, record.event_log_entry.timestamp
    return None, None


def live_run_pids(instance: dg.DagsterInstance) -> set[int]:
    """PIDs of the processes executing runs of this instance that are alive."""
    pids: set[int] = set()
    for record in instance.get_run_records(dg.RunsFilter(statuses=list(IN_PROGRESS))):
        pid, started = _worker_pid(instance, record.dagster_run.run_id)
        if pid and process_alive(pid, not_started_after=started):
            pids.add(pid)
    return pids


def held_by_live_run(instance: dg.DagsterInstance, pid: int | None) -> bool:
    """True when process ``pid`` is a live run of this instance or one of its children
    (dbt, a step process): the pool gives each its turn, so there is no need to give up."""
    if not pid:
        return False
    return bool(set(process_ancestry(pid)) & live_run_pids(instance))


def _is_dead(instance: dg.DagsterInstance, record: dg.RunRecord, now: float) -> bool:
    run = record.dagster_run
    pid, started = _worker_pid(instance, run.run_id)
    if pid is not None:
        return not process_alive(pid, not_started_after=started)
    if run.status == dg.DagsterRunStatus.STARTED:
        return True  # started with no start event: nothing can finish it
    # Not started yet (launched from the UI, or killed while starting): dead when old.
    created = record.create_timestamp.timestamp()
    return now - created > STARTING_GRACE_S


def reclaim_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed the runs whose process is gone, and free every pool slot held by a run
    that is not in progress any more. Returns the ids of the runs marked failed."""
    now = time.time()
    failed: list[str] = []
    for record in instance.get_run_records(dg.RunsFilter(statuses=list(IN_PROGRESS))):
        if _is_dead(instance, record, now):
            run = record.dagster_run
            instance.report_run_failed(run, DEAD_RUN_MESSAGE)
            failed.append(run.run_id)
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        for run_id in storage.get_concurrency_run_ids():
            run = instance.get_run_by_id(run_id)
            if run is None or run.status in FINISHED_STATUSES or run_id in failed:
                storage.free_concurrency_slots_for_run(run_id)
    return failed


def open_instance(home: Path, when_idle: Callable[[], object] | None = None) -> list[str]:
    """Prepare the instance in ``home`` under a lock: settings up to date, storage created
    once, dead runs reclaimed; then, if no other run is in progress, ``when_idle()`` (the
    clean-up of what dead runs left, which must not take a live run's temporary files).
    Returns the ids of the runs reclaimed."""
    with instance_lock(home):
        update_instance_yaml(home / "dagster.yaml")
        with dg.DagsterInstance.from_config(str(home)) as instance:
            reclaimed = reclaim_dead_runs(instance)
            if when_idle is not None and not instance.get_run_records(
                dg.RunsFilter(statuses=list(IN_PROGRESS)), limit=1
            ):
                when_idle()
            return reclaimed
