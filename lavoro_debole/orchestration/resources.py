"""The Dagster resources: where the data directory and the warehouse are; no values.

Settings come from the environment (``lavoro_debole.settings``), never from run
config, so the pseudonymisation key and SMTP password never appear in the UI. No
resource has a field: a field of a ``ConfigurableResource`` can be set again in a
run's config (the launchpad, GraphQL, a schedule's request), so a resource with one
would let whoever reaches the UI choose a folder or an executable.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb

from lavoro_debole.faults import (
    DISK_FULL_MESSAGE,
    DiskFullError,
    WarehouseBusyError,
    connect_waiting,
    is_disk_full,
)
from lavoro_debole.settings import Settings, load_settings

WAREHOUSE_POOL = "warehouse"
"""Every asset that writes to the warehouse runs in this pool: DuckDB takes one writer."""


class WarehouseResource(dg.ConfigurableResource):
    """The data directory of this deployment and its DuckDB warehouse."""

    def settings(self) -> Settings:
        return load_settings()

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The warehouse, read-write. While another process holds it, wait (at most
        ``LAVORO_WAREHOUSE_WAIT_S``), then fail with one line saying it is in use; a full
        disk fails with one line saying so. Neither carries the library's text."""
        settings = self.settings()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            settings.duckdb_temp_dir.mkdir(mode=0o700, exist_ok=True)
            con = connect_waiting(
                settings.warehouse_path,
                _wait_s(settings.warehouse_wait_s),
                config=settings.duckdb_config(),
                key=settings.warehouse_key,
            )
        except WarehouseBusyError as busy:
            _gave_up()
            raise dg.Failure(description=str(busy), allow_retries=False) from None
        except DiskFullError:
            raise dg.Failure(description=DISK_FULL_MESSAGE, allow_retries=False) from None
        try:
            yield con
        except Exception as exc:
            if is_disk_full(exc):
                raise dg.Failure(description=DISK_FULL_MESSAGE, allow_retries=False) from None
            raise
        finally:
            con.close()


class NoValuesIOManager(dg.ConfigurableIOManager):
    """The io manager of the code location, in place of Dagster's default
    ``fs_io_manager`` (whose ``base_dir`` a run's config could choose).

    Every asset here writes the warehouse or a file itself and returns no value
    (``MaterializeResult``, or dbt's outputs without one): there is nothing to store
    and nothing to load. A value would be a programming error, said so at once.
    """

    def handle_output(self, context: dg.OutputContext, obj: object) -> None:
        if obj is not None:
            raise TypeError(
                "Un asset ha restituito un valore: qui gli asset scrivono il magazzino da sé "
                "e restituiscono MaterializeResult."
            )

    def load_input(self, context: dg.InputContext) -> object:
        raise TypeError(
            "Un asset chiede in ingresso il valore di un altro: qui gli asset si leggono "
            "dal magazzino (deps=...), non passano valori."
        )


_BUSY = {"until": 0.0}
"""Once a step of this process gave up on a busy warehouse, the next ones try once only
(seven feeds would otherwise wait in turn, each for the whole time)."""


def _gave_up() -> None:
    _BUSY["until"] = time.monotonic() + 60.0


def _wait_s(configured: float) -> float:
    return 0.0 if time.monotonic() < _BUSY["until"] else configured
