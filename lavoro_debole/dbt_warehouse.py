"""dbt's side of the warehouse encrypted at rest: a dbt-duckdb plugin.

With ``LAVORO_WAREHOUSE_KEY`` set, ``dbt_project/profiles.yml`` selects the target
``cifrato``: an in-memory DuckDB with ``attach: [{path: …/warehouse.duckdb, alias:
warehouse}]`` and ``database: warehouse``, so every model, seed and source resolves to
``warehouse.<schema>.<name>`` as with the plain file. dbt-duckdb runs a plugin's
``configure_connection`` before its own ``ATTACH IF NOT EXISTS``: this plugin attaches the
file first, with the key (and the httpfs extension loaded by its path, which encrypted
writes need), so dbt's statement finds it attached and does nothing. The key is read
from the environment here and never written in the profile, whose ``attach`` entries
dbt may log.

Imported only by dbt (through the profile), never by the rooms or Dagster.
"""

from __future__ import annotations

import os
from pathlib import Path

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from lavoro_debole.ingest.warehouse_db import KEY_VARIABLE, attach_warehouse
from lavoro_debole.settings import SettingsError, parse_key

ALIAS = "warehouse"


class Plugin(BasePlugin):
    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        key = parse_key(os.environ.get(KEY_VARIABLE), KEY_VARIABLE)
        if key is None:
            raise SettingsError(
                f"Profilo dbt 'cifrato' senza {KEY_VARIABLE}: impostarla (lavoro-dbt la passa a "
                "dbt) o usare il profilo 'dev' per un magazzino non cifrato."
            )
        attachments = [a for a in (self.creds.attach or []) if a.alias == ALIAS]
        if not attachments:
            raise SettingsError(
                f"Profilo dbt 'cifrato': manca in attach il magazzino con alias {ALIAS}."
            )
        attach_warehouse(conn, Path(attachments[0].path), key, alias=ALIAS)
        conn.execute(f'use "{ALIAS}"')
