"""The ``lavoro`` command: generate a synthetic inbox, run the pipeline, open the UI.

It drives Dagster (in process for ``run``; for ``ui`` Dagster's daemon and a webserver
behind a Host check); it is not a second orchestrator. Every setting comes from the
environment (see ``.env.example``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

from lavoro_debole.dbt_manifest import prepare_manifest
from lavoro_debole.settings import (
    PROJECT_ROOT,
    Settings,
    SettingsError,
    load_settings,
    settings_environment,
    tool_path,
)

DEMO_DIR = Path("data") / "demo"
DEMO_KEY_FILE = "CHIAVE_DIMOSTRATIVA.txt"
DEMO_VAULT_KEY_FILE = "CHIAVE_DEPOSITO_DIMOSTRATIVA.txt"
DEMO_WAREHOUSE_KEY_FILE = "CHIAVE_MAGAZZINO_DIMOSTRATIVA.txt"
PRIVATE_UMASK = 0o077
"""Everything a ``lavoro`` command (and the UI's processes, which inherit it) creates is
readable by its owner only: the data directory holds criminal-conviction data."""
DEMO_UNTIL = dt.date(2025, 12, 31)
UI_HOST = "127.0.0.1"
"""Never another address: reach the UI from elsewhere through an authenticating proxy."""


def restrict_data_dir(settings: Settings) -> None:
    """Folders of the data directory made before the umask (or by hand) become 0700."""
    folders = [
        settings.data_dir,
        settings.inbox_dir,
        settings.reference_dir,
        settings.feedback_dir,
        settings.exports_dir,
        settings.dagster_home,
    ]
    for folder in folders:
        if folder.is_dir() and not folder.is_symlink():
            folder.chmod(0o700)


def _prepare_instance(settings: Settings) -> Path:
    """Point Dagster at the data directory's own instance, with the project's settings
    (added to an existing ``dagster.yaml`` that lacks some), its storage created under a
    lock (two commands at once on a new data directory), and the runs a killed process
    left behind failed, their pool slots freed, and (when no other run is in progress)
    their temporary files removed."""
    from lavoro_debole.orchestration.recovery import open_instance

    home = Path(os.environ.get("DAGSTER_HOME") or settings.dagster_home).resolve()
    os.environ["DAGSTER_HOME"] = str(home)
    reclaimed = open_instance(home, when_idle=lambda: _clean_stale_temps(settings, home))
    if reclaimed:
        print(
            f"Elaborazioni interrotte in precedenza segnate come fallite: {len(reclaimed)} "
            "(il loro posto nel pool 'warehouse' è stato liberato).",
            flush=True,
        )
    return home


def _clean_stale_temps(settings: Settings, home: Path) -> None:
    """Remove the temporary files a killed run left among our outputs (never the inbox)."""
    from lavoro_debole.faults import remove_stale_temps

    remove_stale_temps([settings.data_dir], recursive=False)
    remove_stale_temps([settings.exports_dir, settings.feedback_dir, home])


def _wait_for_warehouse(settings: Settings) -> str | None:
    """Before starting, wait while a process that is not one of our runs holds the
    warehouse open; None when it is free (or held by a live run, whose turn the pool
    gives), else the one line saying it is in use."""
    if not settings.warehouse_path.exists():
        return None
    import dagster as dg

    from lavoro_debole.faults import WarehouseBusyError, connect_waiting
    from lavoro_debole.orchestration.recovery import held_by_live_run, live_run_pids

    with dg.DagsterInstance.get() as instance:
        if live_run_pids(instance):
            return None  # another run of ours is going: the pool gives us our turn, and
            # opening the file now could take it from under that run's dbt
        try:
            connect_waiting(
                settings.warehouse_path,
                settings.warehouse_wait_s,
                keep_waiting=lambda pid: held_by_live_run(instance, pid),
                key=settings.warehouse_key,
            ).close()
        except WarehouseBusyError as busy:
            return str(busy)
    return None


LOW_DISK_BYTES = 16 * 1024 * 1024


def _low_on_disk(settings: Settings) -> bool:
    try:
        return shutil.disk_usage(settings.data_dir).free < LOW_DISK_BYTES
    except OSError:
        return False


def _ran_out_of_disk(settings: Settings, since: float) -> bool:
    """True when a run of this command failed because the disk filled up."""
    from lavoro_debole.faults import disk_full_text

    try:
        if _low_on_disk(settings):
            return True
        import dagster as dg
        from dagster._core.events import DagsterEventType

        failures = {DagsterEventType.STEP_FAILURE, DagsterEventType.RUN_FAILURE}
        with dg.DagsterInstance.get() as instance:
            for record in instance.get_run_records(
                dg.RunsFilter(
                    statuses=[dg.DagsterRunStatus.FAILURE],
                    created_after=dt.datetime.fromtimestamp(since, tz=dt.UTC),
                )
            ):
                for event_type in failures:
                    for entry in instance.get_records_for_run(
                        record.dagster_run.run_id, of_type=event_type
                    ).records:
                        event = entry.event_log_entry.dagster_event
                        data = getattr(event, "event_specific_data", None)
                        error = getattr(data, "error", None)
                        texts = [(event.message or "") if event else ""]
                        while error is not None:
                            texts.append(error.message or "")
                            error = error.cause
                        if any(disk_full_text(text) for text in texts):
                            return True
    except Exception as exc:  # a full disk can break the look too
        from lavoro_debole.faults import is_disk_full

        return is_disk_full(exc)
    return False


def _export_settings(settings: Settings) -> None:
    """Make the resolved settings visible to Dagster and to dbt's subprocess, and this
    environment's tools (dbt, dagster) findable even when the venv is not activated."""
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    os.environ.update(settings_environment(settings))


def cmd_generate(args: argparse.Namespace) -> int:
    from lavoro_debole.synthetic import generate_inbox

    target = Path(args.dir)
    manifest = generate_inbox(target, persons=args.persons, seed=args.seed)
    files = len(manifest.files)
    print(f"Inbox sintetica scritta in {target / 'inbox'}: {files} file, {args.persons} persone.")
    print(f"Conteggi attesi in {target / 'manifest.json'}.")
    return 0


def _add_quarters(settings: Settings) -> None:
    """The workbooks' quarters, so that "Materialize all" offers them from the start (the
    inbox sensor adds each new one as it ends)."""
    import dagster as dg

    from lavoro_debole.orchestration.partitions import add_quarters, complete_quarters

    with dg.DagsterInstance.get() as instance:
        add_quarters(instance, complete_quarters(settings.cutoff))


def _check_warehouse_key(settings: Settings) -> None:
    """Refuse (exit 2, one line) a key that is not the one the warehouse was built with."""
    from lavoro_debole.ingest.keys import check_warehouse_file

    check_warehouse_file(
        settings.warehouse_path,
        settings.require_key(),
        settings.inbox_dir,
        warehouse_key=settings.warehouse_key,
    )


def run_pipeline(settings: Settings, verbose: bool = False, full: bool = False) -> int:
    """Materialise every asset through Dagster, in this process, then print a summary."""
    from lavoro_debole.faults import DISK_FULL_MESSAGE, is_disk_full

    settings.require_key()
    _check_warehouse_key(settings)
    settings.require_vault_key()
    _export_settings(settings)
    restrict_data_dir(settings)
    started = time.time()
    try:
        _prepare_instance(settings)
        busy = _wait_for_warehouse(settings)
        if busy:
            print(busy, file=sys.stderr)
            return 1
        prepare_manifest()
        from lavoro_debole.orchestration.run import run_everything

        code = run_everything(settings, verbose=verbose, full=full)
    except Exception as exc:
        # SQLite (Dagster's storage) says "disk I/O error" when the disk fills up
        if not (is_disk_full(exc) or _low_on_disk(settings)):
            raise
        print(DISK_FULL_MESSAGE, file=sys.stderr)
        return 1
    if code != 0 and _ran_out_of_disk(settings, started):
        print(DISK_FULL_MESSAGE, file=sys.stderr)
    return code


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_settings()
    settings.require_key()
    if not settings.inbox_dir.is_dir():
        # A mistyped LAVORO_DATA_DIR must not become a new, empty warehouse.
        print(
            f"lavoro: {settings.inbox_dir} non esiste: la cartella dati non è pronta; "
            f"crearla con `lavoro init {settings.data_dir}` (o controllare LAVORO_DATA_DIR).",
            file=sys.stderr,
        )
        return 2
    return run_pipeline(settings, verbose=args.verbose, full=args.tutto)


def cmd_init(args: argparse.Namespace) -> int:
    from lavoro_debole.init import init_data_dir

    data_dir = Path(args.dir).resolve()
    for line in init_data_dir(data_dir):
        print(line)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from lavoro_debole.synthetic import generate_inbox

    data_dir = (Path(args.dir) if args.dir else DEMO_DIR).resolve()
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    key = secrets.token_hex(32)
    (data_dir / DEMO_KEY_FILE).write_text(
        "Chiave di pseudonimizzazione DIMOSTRATIVA, creata da `lavoro demo` per dati sintetici.\n"
        "Non usarla mai per dati reali.\n" + key + "\n",
        encoding="utf-8",
    )
    vault_key = secrets.token_hex(32)
    (data_dir / DEMO_VAULT_KEY_FILE).write_text(
        "Chiave DIMOSTRATIVA del deposito riservato (vault.duckdb), creata da `lavoro demo`.\n"
        "Non usarla mai per dati reali.\n" + vault_key + "\n",
        encoding="utf-8",
    )
    warehouse_key = secrets.token_hex(32)
    (data_dir / DEMO_WAREHOUSE_KEY_FILE).write_text(
        "Chiave DIMOSTRATIVA del magazzino cifrato (warehouse.duckdb), creata da `lavoro demo`.\n"
        "Non usarla mai per dati reali.\n" + warehouse_key + "\n",
        encoding="utf-8",
    )
    print(f"Genero un'inbox sintetica di {args.persons} persone in {data_dir}...", flush=True)
    generate_inbox(data_dir, persons=args.persons, seed=args.seed, until=DEMO_UNTIL)
    code = run_pipeline(_demo_settings(data_dir, key, vault_key, warehouse_key))
    if code == 3:
        # `make demo` must succeed: the synthetic inbox plants its wrong files on purpose.
        print("Demo: i controlli non superati sono voluti (l'inbox sintetica ha errori piantati).")
        return 0
    return code


def _demo_settings(data_dir: Path, key: str, vault_key: str, warehouse_key: str | None) -> Settings:
    """The environment's settings for the demo's data directory and keys; its cut-off
    unless LAVORO_CUTOFF is set. ``warehouse_key`` None: a demo made before the
    warehouse was encrypted."""
    overrides = {
        "LAVORO_DATA_DIR": str(data_dir),
        "LAVORO_PSEUDONYM_KEY": key,
        "LAVORO_VAULT_KEY": vault_key,
    }
    if warehouse_key is not None:
        overrides["LAVORO_WAREHOUSE_KEY"] = warehouse_key
    return load_settings(defaults={"LAVORO_CUTOFF": DEMO_UNTIL.isoformat()}, overrides=overrides)


def demo_key(data_dir: Path, file_name: str = DEMO_KEY_FILE) -> str | None:
    path = data_dir / file_name
    if not path.is_file():
        return None
    return path.read_text(encoding="utf-8").strip().splitlines()[-1]


def cmd_ui(args: argparse.Namespace) -> int:
    if args.demo:
        data_dir = DEMO_DIR.resolve()
        key = demo_key(data_dir)
        vault_key = demo_key(data_dir, DEMO_VAULT_KEY_FILE)
        if key is None or vault_key is None:
            print("Nessuna demo trovata: eseguire prima `lavoro demo`.", file=sys.stderr)
            return 2
        warehouse_key = demo_key(data_dir, DEMO_WAREHOUSE_KEY_FILE)
        settings = _demo_settings(data_dir, key, vault_key, warehouse_key)
    else:
        settings = load_settings()
    settings.require_key()
    _check_warehouse_key(settings)
    settings.require_vault_key()
    _export_settings(settings)
    restrict_data_dir(settings)
    home = _prepare_instance(settings)
    prepare_manifest()
    _add_quarters(settings)
    from lavoro_debole.orchestration.ui import supervise

    print(f"Interfaccia Dagster su http://{UI_HOST}:{args.port} (istanza: {home})", flush=True)
    # Dagster's daemon and webserver as `dagster dev` starts them, the webserver behind a
    # check of the Host header; Ctrl-C or SIGTERM stops them all (issue 10).
    return supervise(args.port, settings.ui_allowed_hosts, PROJECT_ROOT / "workspace.yaml")


def cmd_approve(args: argparse.Namespace) -> int:
    """Approve a quarter's candidate release (one profile, or every one) and mail it once."""
    import getpass

    from lavoro_debole.exports.profiles import load_profiles, parse_quarter
    from lavoro_debole.exports.release_flow import approve_and_send
    from lavoro_debole.exports.releases import ReleaseError

    if args.tutti == (len(args.target) == 2) or not args.target:
        print(
            "lavoro: usare `lavoro approva PROFILO TRIMESTRE` o `lavoro approva --tutti TRIMESTRE`",
            file=sys.stderr,
        )
        return 2
    quarter = args.target[-1]
    try:
        parse_quarter(quarter)
    except ValueError:
        print(f"lavoro: trimestre da scrivere come 2025-Q4 (non {quarter!r})", file=sys.stderr)
        return 2
    settings = load_settings()
    profiles = load_profiles()
    names = list(profiles) if args.tutti else [args.target[0]]
    unknown = [n for n in names if n not in profiles]
    if unknown:
        print(f"lavoro: profilo sconosciuto {unknown[0]} ({', '.join(profiles)})", file=sys.stderr)
        return 2
    approver = args.da or getpass.getuser()
    smtp = settings.smtp
    failed = 0
    if not settings.warehouse_path.is_file():
        print(f"lavoro: nessun magazzino in {settings.data_dir}: eseguire prima `lavoro run`.")
        return 2
    from lavoro_debole.faults import WarehouseBusyError, connect_waiting

    try:
        con = connect_waiting(
            settings.warehouse_path, settings.warehouse_wait_s, key=settings.warehouse_key
        )
    except WarehouseBusyError as busy:
        print(busy, file=sys.stderr)
        return 1
    try:
        for name in names:
            try:
                release, delivery = approve_and_send(con, profiles[name], quarter, approver, smtp)
            except ReleaseError as error:
                print(f"{name} {quarter}: {error}")
                failed += 1
                continue
            print(f"{release.label}: approvato da {approver}. Consegna: {delivery.message}")
    finally:
        con.close()
    return 1 if failed == len(names) else 0


NEW_KEY_VARIABLE = "LAVORO_NEW_PSEUDONYM_KEY"


def cmd_ruota_chiave(args: argparse.Namespace) -> int:
    """Rotate the pseudonymisation key: the new one from the environment, never argv (``ps``
    shows a command line to every user of the machine)."""
    from lavoro_debole.ingest.rotation import RotationError, rotate_key

    settings = load_settings()
    settings.require_key()
    new_key = settings.new_pseudonym_key
    if new_key is None:
        raise SettingsError(
            f"{NEW_KEY_VARIABLE} is not set: put the new key there (make one with "
            'python -c "import secrets; print(secrets.token_hex(32))"), never on the command line.'
        )
    _check_warehouse_key(settings)  # before Dagster and dbt load; checked again under the lock
    _export_settings(settings)
    prepare_manifest()
    from lavoro_debole.orchestration.rebuild import build_warehouse

    print(f"Ricostruisco il magazzino {settings.warehouse_path} con la nuova chiave...", flush=True)
    try:
        report = rotate_key(settings, new_key, build_warehouse)
    except RotationError as exc:
        print(f"lavoro ruota-chiave: {exc}", file=sys.stderr)
        return 1
    carried = ", ".join(report.carried_tables) or "nessuna"
    print(
        f"Chiave ruotata: {report.files} file ricaricati dall'inbox, {report.persons} "
        f"pseudonimi di persona rifatti; tabelle riportate dal vecchio magazzino: {carried}.\n"
        "Il vecchio magazzino e la vecchia copia per gli analisti sono stati sostituiti.\n"
        "Ora:\n"
        f"  1. in .env mettere il valore di {NEW_KEY_VARIABLE} come LAVORO_PSEUDONYM_KEY e "
        f"togliere {NEW_KEY_VARIABLE};\n"
        "  2. distruggere la vecchia chiave e ogni sua copia di backup;\n"
        "  3. cancellare i backup del vecchio magazzino e gli estratti degli analisti fatti "
        "con la vecchia copia: hanno i vecchi pseudonimi;\n"
        "  4. se l'interfaccia (lavoro ui) era aperta, riavviarla con la nuova chiave."
    )
    return 0


ANALYSIS_LOCKDOWN = (
    "SET enable_external_access = false",
    "SET lock_configuration = true",
)
"""Run before the prompt: no file, extension or database beyond the copy, and no way back."""


def analysis_command(settings: Settings, extra: list[str]) -> list[str]:
    """The DuckDB command line on the analysts' copy, read-only and locked down.

    ``-no-init`` skips ``~/.duckdbrc``; each ``-cmd`` runs before anything the analyst
    types or passes (``-c``). ``-safe`` would be the natural addition, but in DuckDB 1.5.5
    it locks the configuration before the CLI's own start-up settings and the CLI fails.
    """
    # The venv's own command line (pinned duckdb-cli, the library's version), before any
    # other `duckdb` on PATH.
    own = Path(sys.executable).parent / "duckdb"
    command = [str(own) if own.is_file() else tool_path("duckdb"), "-readonly", "-no-init"]
    for statement in ANALYSIS_LOCKDOWN:
        command += ["-cmd", statement]
    return [*command, str(settings.analytics_path), *extra]


def cmd_analisi(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not settings.analytics_path.is_file():
        print(
            f"Nessuna copia per gli analisti in {settings.analytics_folder}: "
            "la pubblica `lavoro run` (LAVORO_ANALYTICS_DIR).",
            file=sys.stderr,
        )
        return 2
    return subprocess.call(analysis_command(settings, list(args.duckdb_args)))


def cmd_replay(args: argparse.Namespace) -> int:
    """Rebuild a past release from the inbox as it stood and say whether it is the same."""
    from lavoro_debole.exports.profiles import load_profiles
    from lavoro_debole.exports.releases import ReleaseError

    settings = load_settings()
    settings.require_key()
    settings.require_vault_key()
    profiles = load_profiles()
    if args.profilo not in profiles:
        print(
            f"lavoro: profilo sconosciuto {args.profilo} ({', '.join(profiles)})", file=sys.stderr
        )
        return 2
    if not settings.warehouse_path.is_file():
        print(f"lavoro: nessun magazzino in {settings.data_dir}.", file=sys.stderr)
        return 2
    _check_warehouse_key(settings)
    _export_settings(settings)
    prepare_manifest()
    from lavoro_debole.orchestration.replay import replay_release

    print(f"Ricostruisco {args.profilo} {args.trimestre} rilascio {args.rilascio}...", flush=True)
    try:
        result = replay_release(settings, profiles[args.profilo], args.trimestre, args.rilascio)
    except ReleaseError as error:
        print(f"lavoro ricostruisci: {error}", file=sys.stderr)
        return 1
    print(f"Ricostruito in {result.scratch} da {result.files} file dell'inbox di allora.")
    if result.equal:
        print(f"Uguale al rilascio inviato, cella per cella ({result.cells} celle).")
        return 0
    print(f"{len(result.differing)} celle diverse dal rilascio inviato:")
    for key in result.differing[:50]:
        print("  " + " | ".join(key))
    return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lavoro",
        description="Il magazzino dati della rete 'Il lavoro debole' (Provincia di Lodi).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    generate = sub.add_parser("generate", help="write a synthetic inbox into DIR/inbox")
    generate.add_argument("dir")
    generate.add_argument("--persons", type=int, default=40)
    generate.add_argument("--seed", type=int, default=1)
    generate.set_defaults(func=cmd_generate)

    run = sub.add_parser("run", help="run the whole pipeline headless on LAVORO_DATA_DIR")
    run.add_argument(
        "--verbose", action="store_true", help="show dbt's and Dagster's own lines as they come"
    )
    run.add_argument(
        "--tutto",
        action="store_true",
        help="build every dbt model again, not only those whose inputs changed",
    )
    run.set_defaults(func=cmd_run)

    init = sub.add_parser("init", help="create a data directory: DIR/inbox/<feed>/, reference/")
    init.add_argument("dir")
    init.set_defaults(func=cmd_init)

    demo = sub.add_parser("demo", help="generate a synthetic inbox in data/demo and run")
    demo.add_argument("--persons", type=int, default=40)
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--dir", default=None, help="another data directory for the demo")
    demo.set_defaults(func=cmd_demo)

    ui = sub.add_parser("ui", help="the Dagster UI (webserver and daemon) on 127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument("--demo", action="store_true", help="open the data directory of the demo")
    ui.set_defaults(func=cmd_ui)
    approve = sub.add_parser(
        "approva",
        help="approve a quarter's candidate release and mail it once (PROFILO TRIMESTRE)",
    )
    approve.add_argument("target", nargs="*", metavar="[PROFILO] TRIMESTRE")
    approve.add_argument("--tutti", action="store_true", help="every profile")
    approve.add_argument("--da", default=None, help="who approves (default: this account)")
    approve.set_defaults(func=cmd_approve)

    replay = sub.add_parser(
        "ricostruisci",
        help="rebuild a past release from the inbox as it stood and compare it cell by cell",
    )
    replay.add_argument("profilo")
    replay.add_argument("trimestre")
    replay.add_argument("rilascio", type=int)
    replay.set_defaults(func=cmd_replay)

    rotate = sub.add_parser(
        "ruota-chiave",
        help=f"rebuild every pseudonym from the inbox with the new key in {NEW_KEY_VARIABLE}",
    )
    rotate.set_defaults(func=cmd_ruota_chiave)

    analisi = sub.add_parser(
        "analisi",
        help="the analysts' copy in the DuckDB command line, read-only, external access off",
        description='Any further argument goes to duckdb: lavoro analisi -c "select ..."',
    )
    analisi.add_argument("duckdb_args", nargs=argparse.REMAINDER)
    analisi.set_defaults(func=cmd_analisi)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.umask(PRIVATE_UMASK)
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["analisi"] and argv[1:2] not in (["-h"], ["--help"]):
        # Everything after `analisi` is duckdb's, options included (argparse would take them).
        args = argparse.Namespace(func=cmd_analisi, duckdb_args=argv[1:])
    else:
        args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:
        print(f"lavoro: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
