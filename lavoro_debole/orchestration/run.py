"""``lavoro run``: every asset materialised through Dagster in this process, then a summary."""

import dagster as dg
import duckdb

from lavoro_debole.settings import Settings

CONSOLE_INFO = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def run_everything(settings: Settings) -> int:
    """Ingest, build and publish; last, the funder workbooks for the last quarter complete
    by the cut-off date."""
    from lavoro_debole.orchestration.definitions import (
        ALL_ASSETS,
        ALL_CHECKS,
        RESOURCES,
        partitioned_assets,
    )

    instance = dg.DagsterInstance.get()
    unpartitioned = [a for a in ALL_ASSETS if a not in partitioned_assets()]
    result = dg.materialize(
        [*unpartitioned, *ALL_CHECKS],
        resources=RESOURCES,
        instance=instance,
        run_config=CONSOLE_INFO,
        raise_on_error=False,
        tags={"lavoro/origin": "lavoro run"},
    )
    ok = result.success
    from lavoro_debole.orchestration.partitions import add_quarters, complete_quarters

    quarters = complete_quarters(settings.cutoff)
    if ok and partitioned_assets() and not quarters:
        print(
            f"Nessun trimestre chiuso entro la data di taglio {settings.cutoff:%d/%m/%Y}: "
            "cartelle di lavoro non costruite."
        )
    elif ok and partitioned_assets():
        add_quarters(instance, quarters)
        export = dg.materialize(
            [*partitioned_assets(), *unpartitioned],
            selection=[k for a in partitioned_assets() for k in a.keys],
            partition_key=quarters[-1],
            resources=RESOURCES,
            instance=instance,
            run_config=CONSOLE_INFO,
            raise_on_error=False,
            tags={"lavoro/origin": "lavoro run"},
        )
        ok = export.success
    print_summary(settings, ok)
    return 0 if ok else 1


def print_summary(settings: Settings, ok: bool) -> None:
    print()
    print("=" * 72)
    print("Esito: completato" if ok else "Esito: NON completato (vedere i messaggi sopra)")
    if not settings.warehouse_path.exists():
        return
    try:
        con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    except duckdb.IOException:
        print("Il magazzino è ancora in uso da un altro processo: riepilogo non disponibile.")
        return
    try:
        rows = con.execute(
            """
            select feed, count(*) as files,
                   count(*) filter (where status = 'rejected') as refused,
                   count(*) filter (where status = 'duplicate') as duplicates,
                   sum(rows_loaded), sum(rows_rejected), sum(rows_warned), sum(rows_skipped)
            from ops.ingest_files group by feed order by feed
            """
        ).fetchall()
        print(
            f"{'flusso':<20}{'file':>6}{'rifiut.':>8}{'doppi':>7}{'caricate':>10}"
            f"{'scartate':>10}{'avvisi':>8}{'saltate':>9}"
        )
        for feed, files, refused, dups, loaded, rejected, warned, skipped in rows:
            print(
                f"{feed:<20}{files:>6}{refused:>8}{dups:>7}{loaded:>10}{rejected:>10}"
                f"{warned:>8}{skipped:>9}"
            )
        tables = {
            r[0]
            for r in con.execute(
                "select table_schema || '.' || table_name from information_schema.tables"
            ).fetchall()
        }
        if "marts.indicator_values" in tables:
            count, indicators, periods = con.execute(
                "select count(*), count(distinct indicator_id), count(distinct period) "
                "from marts.indicator_values"
            ).fetchone()
            print(
                f"\nIndicatori: {indicators} indicatori, {periods} periodi, {count} righe "
                "in marts.indicator_values"
            )
        if "ops.deliveries" in tables:
            print("\nCartelle di lavoro per i finanziatori (ultima consegna):")
            for profile, period, status, message in con.execute(
                """
                select profile, period, status, message from ops.deliveries
                qualify row_number() over (partition by profile, period order by sent_at desc) = 1
                order by profile, period
                """
            ).fetchall():
                print(f"  {profile} {period}: {status} - {message}")
    finally:
        con.close()
    workbooks = (
        sorted(settings.exports_dir.rglob("*.xlsx")) if settings.exports_dir.exists() else []
    )
    if workbooks:
        print("\nCartelle di lavoro scritte (spedite solo dal calendario trimestrale):")
        for path in workbooks:
            print(f"  {path.relative_to(settings.data_dir)}")
    print(f"\nMagazzino:          {settings.warehouse_path}")
    print(f"Copia per analisti: {settings.analytics_path}")
    print(f"Riepiloghi scarti:  {settings.feedback_dir}")
    print(f"Cartelle export:    {settings.exports_dir}")
    print("=" * 72)
