"""The warehouse of another data directory built by the same assets as ``lavoro run``.

Used by the key rotation (``lavoro ruota-chiave``, logic in
``lavoro_debole.ingest.rotation``): the ingest assets, a hook, then everything else
but the funders' workbooks (a rebuild sends nothing and writes no release). The run
goes through an ephemeral Dagster instance: nothing of it is stored, and the data
directory's own instance (history, schedules, sensors) is left as it is.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import dagster as dg

from lavoro_debole.orchestration.ingest_assets import INBOX_GROUP
from lavoro_debole.settings import Settings, default_analytics_dir, settings_environment

QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@contextmanager
def _environment(settings: Settings) -> Iterator[None]:
    """The resources and dbt read the data directory and the key from the environment."""
    settings.require_key()
    # The analysts' copy of the rebuild goes to the rebuilt data directory's own
    # analysts' folder (beside it, as the setting requires), so that nothing of the
    # deployment changes before the swap.
    values = settings_environment(
        dataclasses.replace(settings, analytics_dir=default_analytics_dir(settings.data_dir))
    )
    saved = {name: os.environ.get(name) for name in values}
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def build_warehouse(settings: Settings, after_ingest: Callable[[], None]) -> bool:
    """Ingest, ``after_ingest()``, then models, published indicators and analysts' copy."""
    from lavoro_debole.orchestration.definitions import ALL_ASSETS, RESOURCES, partitioned_assets

    assets = [a for a in ALL_ASSETS if a not in partitioned_assets()]
    ingest = dg.AssetSelection.groups(INBOX_GROUP)
    with _environment(settings), dg.DagsterInstance.ephemeral() as instance:
        common = {
            "resources": RESOURCES,
            "instance": instance,
            "run_config": QUIET_CONSOLE,
            "raise_on_error": False,
            "tags": {"lavoro/origin": "lavoro ruota-chiave"},
        }
        if not dg.materialize(assets, selection=ingest, **common).success:
            return False
        after_ingest()
        return dg.materialize(assets, selection=dg.AssetSelection.all() - ingest, **common).success
