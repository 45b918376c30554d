"""``lavoro run``: every asset materialised through Dagster in this process, then a summary.

What the operator sees: one line per step (with ``rich`` on a terminal: a spinner for the
step under way), then the summary of *this* run beside the totals. dbt's and Dagster's own
lines are kept out of sight and shown only when the run fails (their last lines, without
colour codes) or with ``--verbose``. The step progress and the checks come from the run's
event stream (an instance event listener on the run's id).

Exit codes (:data:`EXIT_OK` …): 0 everything succeeded and every check passed; 3 the run
completed but a check of severity ERROR failed (partners' files to follow up); 1 the run
did not complete; 2 (from the command line) a settings or usage error. A failed check of
severity WARN is listed as a warning and does not change the exit code: WARN is how a
check says "look at it, nothing is broken" (a dbt test with ``severity: warn``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import dagster as dg
import duckdb

from lavoro_debole.ingest.personal import mask_personal
from lavoro_debole.ingest.warehouse_db import open_warehouse
from lavoro_debole.settings import Settings, last_complete_quarter_end

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CHECKS = 3

RUN_JOB = "lavoro_run"
TAGS = {"lavoro/origin": "lavoro run"}
DBT_PARTIAL = "Solo i modelli a valle"
"""How the dbt step's log line begins when it builds only part of the models."""
TAIL_LINES = 30
"""How many of dbt's and Dagster's own last lines a failed run shows."""
ERROR_PREFIX = re.compile(r"^[\w.]*(?:Error|Failure|Exception|Violation)\w*: ")
"""``dagster._core.definitions.events.Failure: `` before an error's own message."""
ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")

STEP_LABELS = {
    "reference_cooperative_sociali": "elenco delle cooperative sociali",
    "ingest_files_log": "registro degli invii",
    "ingest_files": "registro degli invii",
    "warehouse_models": "modelli e test (dbt)",
    "analytics_duckdb": "copia per gli analisti",
    "indicator_published": "indicatori pubblicabili",
}


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text)


def step_label(step_key: str) -> str:
    if step_key in STEP_LABELS:
        return STEP_LABELS[step_key]
    if step_key.startswith("ingest_"):
        return f"flusso {step_key.removeprefix('ingest_')}"
    name = step_key.rsplit("__", 1)[-1]
    if step_key.startswith("exports__"):
        return f"cartella di lavoro {name}"
    return STEP_LABELS.get(name, name)


def one_line(text: str | None, limit: int = 240) -> str:
    """The first line of a message, masked and cut: never a stack trace, never a value."""
    first = strip_ansi(text or "").strip().splitlines()
    line = mask_personal(first[0].strip()) if first else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


@dataclass
class CheckFailure:
    asset: str
    check: str
    severity: str
    lines: list[str]


EMPTY_METADATA = "Indicatori senza dati pubblicabili"
"""The export assets' metadata entry that names the indicators a workbook leaves empty."""


@dataclass
class RunReport:
    """What the runs of one ``lavoro run`` did, read from their events."""

    completed: bool = True
    failures: list[str] = field(default_factory=list)
    checks: list[CheckFailure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    output_tail: list[str] = field(default_factory=list)
    #: workbook -> what it leaves without a publishable figure (export_assets' metadata)
    empty: dict[str, list[str]] = field(default_factory=dict)

    @property
    def failed_checks(self) -> list[CheckFailure]:
        return [c for c in self.checks if c.severity == "ERROR"]

    @property
    def warnings(self) -> list[CheckFailure]:
        return [c for c in self.checks if c.severity != "ERROR"]

    def exit_code(self) -> int:
        if not self.completed:
            return EXIT_FAILED
        return EXIT_CHECKS if self.failed_checks else EXIT_OK


class Progress:
    """One line per step; on a terminal a rich spinner shows the step under way."""

    def __init__(self, out: TextIO, verbose: bool) -> None:
        self.out = out
        self.verbose = verbose
        self.tty = bool(getattr(out, "isatty", lambda: False)())
        self.console = None
        self.status = None
        if self.tty:
            from rich.console import Console

            self.console = Console(file=out, highlight=False, soft_wrap=True)
        self.total = 0
        self.done = 0
        self.started: dict[str, float] = {}
        self.details: dict[str, str] = {}
        self.rebuilt: dict[str, list[int]] = {}
        """Per step, [assets rebuilt, assets unchanged] (from their "Esito" metadata)."""
        self.log_tail: deque[str] = deque(maxlen=TAIL_LINES)

    def phase(self, title: str, total: int) -> None:
        self.total, self.done = total, 0
        self.line(title, style="bold")

    def line(self, text: str, style: str | None = None) -> None:
        if self.console is not None:
            self.console.print(text, style=style, markup=False)
        else:
            print(text, file=self.out, flush=True)

    def close(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None

    def on_event(self, entry) -> None:
        """Instance event listener: every event of the run, as it is stored."""
        event = entry.dagster_event
        step = entry.step_key or ""
        if event is None:
            if step == "warehouse_models" and (entry.user_message or "").startswith(DBT_PARTIAL):
                self.details[step] = ", solo i modelli a valle dei dati nuovi"
            if entry.user_message:
                prefix = f"{step}: " if step else ""
                self.log_tail.append(prefix + mask_personal(strip_ansi(entry.user_message)))
            return
        kind = event.event_type_value
        if kind == "STEP_START":
            self.started[step] = time.monotonic()
            if self.console is not None and not self.verbose:
                self.close()
                from rich.live import Live
                from rich.spinner import Spinner

                # not console.status(): its Live would take sys.stdout back from the
                # capture of dbt's lines, and print them
                self.status = Live(
                    Spinner("dots", text=f"{step_label(step)}…", style="green"),
                    console=self.console,
                    transient=True,
                    redirect_stdout=False,
                    redirect_stderr=False,
                )
                self.status.start()
        elif kind == "ASSET_MATERIALIZATION":
            self._remember_details(step, event)
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            self.close()
            self.done += 1
            seconds = time.monotonic() - self.started.get(step, time.monotonic())
            ok = kind == "STEP_SUCCESS"
            detail = self.details.get(step, "")
            text = (
                f"  [{self.done}/{self.total}] {step_label(step)}: "
                f"{'fatto' if ok else 'NON riuscito'}{detail} ({seconds:.1f} s)"
            )
            self.line(text, style=None if ok else "bold red")
        elif kind == "STEP_SKIPPED":
            self.done += 1
            self.line(f"  {step_label(step)}: non eseguito (un passo precedente non è riuscito)")

    def _remember_details(self, step: str, event) -> None:
        metadata = event.event_specific_data.materialization.metadata
        new = metadata.get("File elaborati in questa esecuzione")
        if new is None:
            outcome = metadata.get("Esito")
            kept = outcome is not None and str(outcome.value).startswith("invariato")
            counts = self.rebuilt.setdefault(step, [0, 0])
            counts[1 if kept else 0] += 1
            built, same = counts
            if same and not built:
                self.details[step] = ", invariato"
            elif same:
                self.details[step] = f", rifatti {built}, invariati {same}"
            return
        refused = metadata.get("File rifiutati")
        text = f", {new.value} file nuovi" if new.value else ", nessun file nuovo"
        if refused is not None and refused.value:
            text += f" ({refused.value} rifiutati)"
        self.details[step] = text


@contextlib.contextmanager
def _captured(buffer: io.StringIO) -> Iterator[None]:
    """dbt's lines (dagster-dbt writes them to sys.stdout), Dagster's console and the
    Python loggers' last resort (sys.stderr) into ``buffer``."""
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        yield


def _execute(
    instance: dg.DagsterInstance,
    assets: list,
    progress: Progress,
    report: RunReport,
    verbose: bool,
    selection: list[dg.AssetKey] | None = None,
    partition_key: str | None = None,
    tags: dict[str, str] | None = None,
) -> dg.ExecuteInProcessResult | None:
    from dagster._core.utils import make_new_run_id

    from lavoro_debole.orchestration.definitions import ALL_CHECKS, RESOURCES

    defs = dg.Definitions(
        jobs=[dg.define_asset_job(RUN_JOB, selection=selection)],
        assets=assets,
        asset_checks=ALL_CHECKS,
        resources=RESOURCES,
    )
    job = defs.resolve_job_def(RUN_JOB)
    run_id = make_new_run_id()
    instance.add_event_listener(run_id, progress.on_event)
    level = "INFO" if verbose else "CRITICAL"
    buffer = io.StringIO()
    capture = contextlib.nullcontext() if verbose else _captured(buffer)
    try:
        with capture:
            result = job.execute_in_process(
                run_config={"loggers": {"console": {"config": {"log_level": level}}}},
                instance=instance,
                partition_key=partition_key,
                raise_on_error=False,
                tags=tags or TAGS,
                run_id=run_id,
            )
    except Exception as exc:  # the run could not even start: one line, no traceback
        progress.close()
        report.completed = False
        report.failures.append(f"{type(exc).__name__}: {one_line(str(exc))}")
        report.output_tail = _tail(buffer.getvalue(), progress)
        return None
    finally:
        progress.close()
    _collect(result, report)
    if not result.success:
        report.completed = False
        report.output_tail = _tail(buffer.getvalue(), progress)
    return result


def without_tracebacks(lines: list[str]) -> list[str]:
    """The lines without Python's tracebacks and logging-error reports (a handler that
    could not write, on a full disk): the steward reads what happened, never frames,
    code lines or a failed log call's arguments. The exception's own line stays."""
    out: list[str] = []
    inside = False
    for line in lines:
        text = line.strip()
        if text.startswith("Traceback (most recent call last)") or text in (
            "--- Logging error ---",
            "Call stack:",
        ):
            inside = True
            continue
        if text.startswith(("During handling of the above exception", "The above exception")):
            continue  # between two chained tracebacks
        if inside:
            frame = line.startswith((" ", "\t")) or text.startswith("^")
            if frame or text.startswith(("Message: ", "Arguments: ")) or not text:
                continue
            inside = False
        out.append(line)
    return out


def _tail(captured: str, progress: Progress) -> list[str]:
    lines = [mask_personal(strip_ansi(line)).rstrip() for line in captured.splitlines()]
    lines = without_tracebacks([line for line in lines if line.strip()])
    return lines[-TAIL_LINES:] if lines else list(progress.log_tail)


def _collect(result: dg.ExecuteInProcessResult, report: RunReport) -> None:
    for evaluation in result.get_asset_check_evaluations():
        if evaluation.passed:
            continue
        description = strip_ansi(evaluation.description or "")
        items = [line[2:].strip() for line in description.splitlines() if line.startswith("- ")]
        lines = [mask_personal(item) for item in items] or [one_line(description)]
        report.checks.append(
            CheckFailure(
                asset=evaluation.asset_key.to_user_string(),
                check=evaluation.check_name,
                severity=evaluation.severity.value,
                lines=[line for line in lines if line],
            )
        )
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        told = materialization.metadata.get(EMPTY_METADATA)
        text = str(getattr(told, "value", told) or "")
        if told is not None and text and text != "nessuno":
            lines = [mask_personal(line.strip()) for line in text.splitlines() if line.strip()]
            report.empty[materialization.asset_key.to_user_string()] = lines
    for event in result.get_step_failure_events():
        error = event.step_failure_data.error
        while error is not None and error.cause is not None and "Failure" not in error.cls_name:
            # dagster wraps the asset's exception: the innermost message says what happened
            error = error.cause
        if error is not None and "DbtCli" in error.cls_name:
            message = "dbt non è riuscito (le sue ultime righe sono qui sopra)"
        else:
            message = ERROR_PREFIX.sub("", one_line(error.message if error else ""))
        report.failures.append(f"{step_label(event.step_key or '')}: {message}")


def _warehouse_state(settings: Settings) -> tuple[int, int]:
    """(files received so far, highest reception number) before or after a run."""
    if not settings.warehouse_path.exists():
        return 0, 0
    try:
        con = open_warehouse(settings.warehouse_path, read_only=True, key=settings.warehouse_key)
    except duckdb.Error:
        return 0, 0
    try:
        count, seq = con.execute(
            "select count(*), coalesce(max(received_seq), 0) from ops.ingest_files"
        ).fetchone()
        return int(count), int(seq)
    except duckdb.Error:
        return 0, 0
    finally:
        con.close()


def _one_line_unraisable(unraisable: sys.UnraisableHookArgs) -> None:
    kind = type(unraisable.exc_value).__name__ if unraisable.exc_value is not None else "?"
    print(f"Errore ignorato ({kind}): {one_line(str(unraisable.exc_value))}", file=sys.stderr)


def _one_line_thread_error(args: threading.ExceptHookArgs) -> None:
    kind = args.exc_type.__name__ if args.exc_type is not None else "?"
    print(f"Errore in un thread ({kind}): {one_line(str(args.exc_value))}", file=sys.stderr)


def run_everything(settings: Settings, verbose: bool = False, full: bool = False) -> int:
    """Ingest, build and publish; last, the funder workbooks for the last quarter complete
    by the cut-off date. Returns the exit code.

    Only what changed is done again (see ``orchestration.incremental``): a feed without a
    new file loads nothing, dbt builds the models downstream of the changed sources, and
    the published indicators, the workbooks and the analysts' copy are kept when their
    inputs are the same. ``full``: every model built again (``lavoro run --tutto``)."""
    from lavoro_debole.orchestration.dbt import FULL_REBUILD_TAG
    from lavoro_debole.orchestration.definitions import ALL_ASSETS, ALL_CHECKS, partitioned_assets
    from lavoro_debole.orchestration.partitions import add_quarters, complete_quarters

    # A log handler that cannot write (a full disk) stays silent: no "--- Logging error ---"
    # traceback on the steward's terminal; the step's own error says what happened.
    logging.raiseExceptions = False
    # Likewise an error Python can only report (a generator closed on a full disk, a
    # thread's exception): its one line, never a traceback.
    sys.unraisablehook = _one_line_unraisable
    threading.excepthook = _one_line_thread_error
    started = time.time()
    _, seq_before = _warehouse_state(settings)
    instance = dg.DagsterInstance.get()
    out = sys.stdout
    progress = Progress(out, verbose)
    report = RunReport()
    unpartitioned = [a for a in ALL_ASSETS if a not in partitioned_assets()]
    # Each asset is a step, and so is each check defined apart from its asset.
    steps = len(unpartitioned) + len(ALL_CHECKS)
    tags = {**TAGS, FULL_REBUILD_TAG: "tutto"} if full else TAGS
    progress.phase("Magazzino: file nuovi, modelli, indicatori", steps)
    _execute(instance, unpartitioned, progress, report, verbose, tags=tags)

    quarters = complete_quarters(settings.cutoff)
    files_so_far, _ = _warehouse_state(settings)
    if report.completed and partitioned_assets():
        if not quarters:
            report.notes.append(
                f"Nessun trimestre chiuso entro la data di taglio {settings.cutoff:%d/%m/%Y}: "
                "cartelle di lavoro non costruite."
            )
        elif files_so_far == 0:
            report.notes.append(
                "Nessun file ricevuto finora (la cartella inbox è vuota): cartelle di lavoro "
                "non costruite."
            )
        else:
            quarter = quarters[-1]
            if last_complete_quarter_end(settings.cutoff + dt.timedelta(days=1)) != settings.cutoff:
                report.notes.append(
                    f"Data di taglio {settings.cutoff:%d/%m/%Y} a metà trimestre: cartelle di "
                    f"lavoro solo per {quarter}, l'ultimo trimestre chiuso."
                )
            add_quarters(instance, quarters)
            exports = partitioned_assets()
            progress.phase(f"Cartelle di lavoro per i finanziatori ({quarter})", len(exports))
            _execute(
                instance,
                [*exports, *unpartitioned],
                progress,
                report,
                verbose,
                selection=[k for a in exports for k in a.keys],
                partition_key=quarter,
                tags=tags,
            )
    kept = [step_label(step) for step, (built, same) in progress.rebuilt.items() if same]
    if kept:
        report.notes.append(
            "Invariati, non rifatti (i loro dati non sono cambiati): " + ", ".join(kept) + "."
        )
    print_summary(settings, report, seq_before, started)
    return report.exit_code()


def _print_table(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute(
        """
        select feed, count(*) as files,
               count(*) filter (where status = 'rejected') as refused,
               count(*) filter (where status = 'duplicate') as duplicates,
               sum(rows_loaded), sum(rows_rejected), sum(rows_warned), sum(rows_skipped)
        from ops.ingest_files group by feed order by feed
        """
    ).fetchall()
    print("\nTotali (tutti i file ricevuti finora):")
    print(
        f"{'flusso':<20}{'file':>6}{'rifiut.':>8}{'doppi':>7}{'caricate':>10}"
        f"{'scartate':>10}{'avvisi':>8}{'saltate':>9}"
    )
    for feed, files, refused, dups, loaded, rejected, warned, skipped in rows:
        print(
            f"{feed:<20}{files:>6}{refused:>8}{dups:>7}{loaded:>10}{rejected:>10}"
            f"{warned:>8}{skipped:>9}"
        )


def _print_indicators(con: duckdb.DuckDBPyConnection) -> None:
    found = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'marts' and table_name = 'indicator_values'"
    ).fetchone()[0]
    if found:
        count, indicators, periods = con.execute(
            "select count(*), count(distinct indicator_id), count(distinct period) "
            "from marts.indicator_values"
        ).fetchone()
        print(
            f"Indicatori: {indicators} indicatori, {periods} periodi, {count} righe "
            "in marts.indicator_values"
        )


def _print_this_run(con: duckdb.DuckDBPyConnection, seq_before: int) -> None:
    new = con.execute(
        """
        select feed, file_name, status, rows_loaded, rows_rejected, error
        from ops.ingest_files where received_seq > ? order by feed, received_seq
        """,
        [seq_before],
    ).fetchall()
    loaded = sum(1 for r in new if r[2] == "loaded")
    duplicates = sum(1 for r in new if r[2] == "duplicate")
    refused = [r for r in new if r[2] == "rejected"]
    print(
        f"File nuovi: {len(new)} (caricati {loaded}, doppioni {duplicates}, "
        f"rifiutati {len(refused)}); righe caricate {sum(r[3] for r in new)}, "
        f"righe scartate {sum(r[4] for r in new)}."
    )
    if refused:
        print("File rifiutati:")
        for feed, name, _, _, _, error in refused:
            print(f"  {feed}/{mask_personal(name)}: {one_line(error) or 'motivo non indicato'}")


def print_summary(
    settings: Settings, report: RunReport, seq_before: int = 0, started: float | None = None
) -> None:
    ok = report.completed
    if not ok and report.output_tail:
        print("\nUltime righe di dbt e Dagster:")
        for line in report.output_tail:
            print(f"  {line}")
    print()
    print("=" * 72)
    if not ok:
        print("Esito: NON completato.")
        for failure in report.failures:
            print(f"  {failure}")
    elif report.failed_checks:
        print("Esito: completato, ma con controlli non superati: file dei partner da seguire.")
    else:
        print("Esito: completato")
    for note in report.notes:
        print(note)
    if settings.warehouse_path.exists():
        try:
            con = open_warehouse(
                settings.warehouse_path, read_only=True, key=settings.warehouse_key
            )
        except duckdb.Error:
            print("Il magazzino è ancora in uso da un altro processo: riepilogo non disponibile.")
            con = None
        if con is not None:
            try:
                _print_this_run(con, seq_before)
                _print_table(con)
                _print_indicators(con)
            except duckdb.CatalogException:
                pass
            finally:
                con.close()
    if report.checks:
        print("\nControlli non superati (mandare ai partner i riepiloghi indicati):")
        for check in report.checks:
            kind = "" if check.severity == "ERROR" else " (avviso)"
            print(f"  {check.asset} {check.check}{kind}:")
            shown = [line for line in check.lines if "file rifiutato per intero" not in line]
            for line in shown:  # the refused files are listed above, with their reason
                print(f"    - {line}")
            if not shown:
                print("    - i file rifiutati elencati sopra")
    if report.empty:
        print(
            "\nIndicatori senza dati pubblicabili nei rilasci candidati "
            "(da sapere prima di approvare):"
        )
        for asset, lines in report.empty.items():
            print(f"  {asset}:")
            for line in lines:
                print(f"    - {line}")
    workbooks = []
    if settings.exports_dir.exists() and started is not None:
        workbooks = [
            p for p in sorted(settings.exports_dir.rglob("*.xlsx")) if p.stat().st_mtime >= started
        ]
    if workbooks:
        print(
            "\nRilasci candidati scritti (partono solo dopo l'approvazione: "
            "lavoro approva PROFILO TRIMESTRE):"
        )
        for path in workbooks:
            print(f"  {_relative(path, settings.data_dir)}")
    print(f"Dati in {settings.data_dir} (magazzino, copia per gli analisti, feedback/, exports/)")
    print("=" * 72)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
