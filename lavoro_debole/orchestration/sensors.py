"""The inbox sensor: a partner file dropped in the inbox launches a run of its feed."""

import json

import dagster as dg

from lavoro_debole.ingest.inbox_watch import WatchState, look
from lavoro_debole.orchestration.ingest_assets import raw_asset_keys
from lavoro_debole.schemas import FEEDS
from lavoro_debole.settings import load_settings

EXPORTS_GROUP = "exports"


def feed_run_selection(feed: str) -> dg.AssetSelection:
    """The feed's ingest asset and everything downstream, except the funder workbooks.

    Workbooks go out on the quarterly schedule, never because a file arrived.
    """
    return dg.AssetSelection.assets(
        *raw_asset_keys(FEEDS[feed])
    ).downstream() - dg.AssetSelection.groups(EXPORTS_GROUP) | dg.AssetSelection.assets(
        ["analytics", "analytics_duckdb"]
    )


@dg.sensor(
    name="inbox_sensor",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Controlla la cartella inbox ogni 30 secondi: per ogni file nuovo e completamente "
        "copiato avvia l'elaborazione del suo flusso e di tutto ciò che ne dipende."
    ),
    asset_selection=dg.AssetSelection.all() - dg.AssetSelection.groups(EXPORTS_GROUP),
)
def inbox_sensor(context: dg.SensorEvaluationContext):
    settings = load_settings()
    state = WatchState.from_json(json.loads(context.cursor) if context.cursor else None)
    ready = look(settings.inbox_dir, list(FEEDS), state)
    for item in ready:
        yield dg.RunRequest(
            run_key=f"{item.feed}:{item.sha256}",
            asset_selection=list(
                feed_run_selection(item.feed).resolve(context.repository_def.asset_graph)
            )
            if context.repository_def is not None
            else raw_asset_keys(FEEDS[item.feed]),
            tags={"lavoro/feed": item.feed, "lavoro/sha256": item.sha256[:12]},
        )
    context.update_cursor(json.dumps(state.to_json()))
