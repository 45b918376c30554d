"""The inbox sensor: partner files dropped in the inbox launch a run of their feeds."""

import hashlib
import json

import dagster as dg

from lavoro_debole.ingest.inbox_watch import WarehouseBusy, WatchState, look, not_yet_ingested
from lavoro_debole.orchestration.ingest_assets import raw_asset_keys
from lavoro_debole.orchestration.partitions import QUARTERS, complete_quarters, missing_quarters
from lavoro_debole.schemas import FEEDS
from lavoro_debole.settings import load_settings

WORKBOOKS = dg.AssetSelection.key_prefixes(["exports"])
"""The funder workbooks (``exports/<profile>``): they go out on the quarterly schedule."""

SENSOR_TARGET = dg.AssetSelection.all() - WORKBOOKS


def sensor_interval() -> int:
    """Seconds between two looks at the inbox (``LAVORO_SENSOR_INTERVAL``, default 30).

    A file is taken when it has not changed between two looks, so a file saved in the
    inbox starts its run within two intervals.
    """
    return load_settings().sensor_interval


def feed_run_selection(feeds: list[str], asset_graph) -> list[dg.AssetKey]:
    """What a run for new files of ``feeds`` materialises.

    Their ingest assets and everything downstream, with what those need that no feed
    writes (the reference seeds and the steward's cooperative list, which a new data
    directory has not built yet); not the other feeds' ingest, which has nothing new.
    Workbooks go out on the quarterly schedule, never because a file arrived; anything
    partitioned is left out too, since a run for a new file has no quarter.
    """
    ingest_keys = [k for feed in feeds for k in raw_asset_keys(FEEDS[feed])]
    other_feeds = [
        k for name, feed in FEEDS.items() if name not in feeds for k in raw_asset_keys(feed)
    ]
    selection = (
        dg.AssetSelection.assets(*ingest_keys).downstream().upstream()
        - dg.AssetSelection.assets(*other_feeds)
    ) & SENSOR_TARGET
    return sorted(
        (k for k in selection.resolve(asset_graph) if not asset_graph.get(k).is_partitioned),
        key=lambda k: k.to_user_string(),
    )


@dg.sensor(
    name="inbox_sensor",
    minimum_interval_seconds=sensor_interval(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        f"Controlla la cartella inbox ogni {sensor_interval()} secondi: quando arrivano file "
        "nuovi e completamente copiati avvia una sola elaborazione dei loro flussi e di tutto "
        "ciò che ne dipende "
        "(le cartelle di lavoro per i finanziatori no: partono con il calendario trimestrale)."
    ),
    asset_selection=SENSOR_TARGET,
)
def inbox_sensor(context: dg.SensorEvaluationContext):
    settings = load_settings()
    state = WatchState.from_json(json.loads(context.cursor) if context.cursor else None)
    # A watcher that has announced nothing yet (the UI's first start) leaves out what the
    # warehouse already processed; afterwards each new content is announced once.
    first_start = not state.announced
    ready = look(settings.inbox_dir, list(FEEDS), state)
    try:
        if first_start:
            ready = not_yet_ingested(
                settings.warehouse_path,
                settings.inbox_dir,
                ready,
                warehouse_key=settings.warehouse_key,
            )
    except WarehouseBusy:
        # a run is writing: the cursor stays as it was, so the same files are ready again
        return dg.SensorResult(skip_reason="Il magazzino è in uso: riprovo al prossimo giro.")
    context.update_cursor(json.dumps(state.to_json()))
    # A quarter becomes a partition of the workbooks once it is complete by the cut-off.
    quarters = missing_quarters(context.instance, complete_quarters(settings.cutoff))
    new_quarters = [QUARTERS.build_add_request(quarters)] if quarters else []
    if not ready:
        return dg.SensorResult(
            skip_reason="Nessun file nuovo pronto nella cartella inbox.",
            dynamic_partitions_requests=new_quarters,
        )
    # One run for everything that became ready at this look: five files saved together
    # are one elaboration (one dbt build), not five queued one after the other.
    feeds = sorted({item.feed for item in ready})
    contents = hashlib.sha256("".join(sorted(item.sha256 for item in ready)).encode()).hexdigest()
    graph = context.repository_def.asset_graph if context.repository_def is not None else None
    run = dg.RunRequest(
        run_key=f"inbox:{contents[:16]}",
        asset_selection=feed_run_selection(feeds, graph)
        if graph is not None
        else [k for feed in feeds for k in raw_asset_keys(FEEDS[feed])],
        tags={"lavoro/flussi": " ".join(feeds), "lavoro/file_nuovi": str(len(ready))},
    )
    return dg.SensorResult(run_requests=[run], dynamic_partitions_requests=new_quarters)
