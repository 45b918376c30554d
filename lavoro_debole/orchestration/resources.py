"""The one Dagster resource: where the data directory and the warehouse are.

Settings come from the environment (``lavoro_debole.settings``), never from run
config, so the pseudonymisation key and SMTP password never appear in the UI.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb

from lavoro_debole.settings import Settings, load_settings

WAREHOUSE_POOL = "warehouse"
"""Every asset that writes to the warehouse runs in this pool: DuckDB takes one writer."""


class WarehouseResource(dg.ConfigurableResource):
    """The data directory of this deployment and its DuckDB warehouse."""

    def settings(self) -> Settings:
        return load_settings()

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        settings = self.settings()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(settings.warehouse_path))
        try:
            yield con
        finally:
            con.close()
