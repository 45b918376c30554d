"""The ``lavoro`` command: generate a synthetic inbox, run the pipeline, open the UI.

It drives Dagster (in process for ``run``, ``dagster dev`` for ``ui``); it is not a
second orchestrator. Every setting comes from the environment (see ``.env.example``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from lavoro_debole.settings import (
    DBT_PROJECT_DIR,
    PROJECT_ROOT,
    Settings,
    SettingsError,
    load_settings,
    tool_path,
)

MANIFEST_READY = "LAVORO_DBT_MANIFEST_READY"
DEMO_DIR = Path("data") / "demo"
DEMO_KEY_FILE = "CHIAVE_DIMOSTRATIVA.txt"
DEMO_UNTIL = dt.date(2025, 12, 31)
UI_HOST = "127.0.0.1"
"""Never another address: reach the UI from elsewhere through an authenticating proxy."""
INSTANCE_TEMPLATE = Path(__file__).parent / "orchestration" / "dagster.yaml"


def _prepare_instance(settings: Settings) -> Path:
    """Point Dagster at the data directory's own instance, with the project's settings."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings.dagster_home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists():
        shutil.copyfile(INSTANCE_TEMPLATE, target)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def dbt_manifest_is_stale() -> bool:
    """True when the manifest is missing or older than any file of the dbt project."""
    manifest = DBT_PROJECT_DIR / "target" / "manifest.json"
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    generated = {"target", "logs", "dbt_packages"}
    return any(
        path.is_file()
        and not generated & set(path.relative_to(DBT_PROJECT_DIR).parts)
        and path.stat().st_mtime > built
        for path in DBT_PROJECT_DIR.rglob("*")
    )


def ensure_dbt_manifest() -> None:
    """Parse the dbt project when its manifest is missing or stale (``make install`` does it
    too); a stale manifest would not know the models and tests dbt then runs."""
    # The runs started from here need not parse it again (prepare_if_dev would, in
    # every run's process under dagster dev).
    os.environ[MANIFEST_READY] = "1"
    if not dbt_manifest_is_stale():
        return
    print("Preparo il progetto dbt (dbt parse)...", flush=True)
    subprocess.run(
        [
            tool_path("dbt"),
            "parse",
            "--quiet",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
        ],
        check=True,
        cwd=PROJECT_ROOT,
    )


def _export_settings(settings: Settings) -> None:
    """Make the resolved settings visible to Dagster and to dbt's subprocess, and this
    environment's tools (dbt, dagster) findable even when the venv is not activated."""
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    os.environ["LAVORO_DATA_DIR"] = str(settings.data_dir)
    os.environ["LAVORO_CUTOFF"] = settings.cutoff.isoformat()
    if settings.pseudonym_key is not None:
        os.environ["LAVORO_PSEUDONYM_KEY"] = settings.pseudonym_key.decode("utf-8")


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


def run_pipeline(settings: Settings, verbose: bool = False) -> int:
    """Materialise every asset through Dagster, in this process, then print a summary."""
    settings.require_key()
    _export_settings(settings)
    _prepare_instance(settings)
    ensure_dbt_manifest()
    from lavoro_debole.orchestration.run import run_everything

    return run_everything(settings, verbose=verbose)


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
    return run_pipeline(settings, verbose=args.verbose)


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
    print(f"Genero un'inbox sintetica di {args.persons} persone in {data_dir}...", flush=True)
    generate_inbox(data_dir, persons=args.persons, seed=args.seed, until=DEMO_UNTIL)
    env = {
        "LAVORO_DATA_DIR": str(data_dir),
        "LAVORO_PSEUDONYM_KEY": key,
        "LAVORO_CUTOFF": os.environ.get("LAVORO_CUTOFF") or DEMO_UNTIL.isoformat(),
    }
    code = run_pipeline(load_settings(env))
    if code == 3:
        # `make demo` must succeed: the synthetic inbox plants its wrong files on purpose.
        print("Demo: i controlli non superati sono voluti (l'inbox sintetica ha errori piantati).")
        return 0
    return code


def demo_key(data_dir: Path) -> str | None:
    path = data_dir / DEMO_KEY_FILE
    if not path.is_file():
        return None
    return path.read_text(encoding="utf-8").strip().splitlines()[-1]


def cmd_ui(args: argparse.Namespace) -> int:
    if args.demo:
        data_dir = DEMO_DIR.resolve()
        key = demo_key(data_dir)
        if key is None:
            print("Nessuna demo trovata: eseguire prima `lavoro demo`.", file=sys.stderr)
            return 2
        os.environ.update(
            {
                "LAVORO_DATA_DIR": str(data_dir),
                "LAVORO_PSEUDONYM_KEY": key,
                "LAVORO_CUTOFF": os.environ.get("LAVORO_CUTOFF") or DEMO_UNTIL.isoformat(),
            }
        )
    settings = load_settings()
    settings.require_key()
    _export_settings(settings)
    home = _prepare_instance(settings)
    ensure_dbt_manifest()
    _add_quarters(settings)
    dagster = tool_path("dagster")
    print(f"Interfaccia Dagster su http://{UI_HOST}:{args.port} (istanza: {home})", flush=True)
    command = [
        dagster,
        "dev",
        "-w",
        str(PROJECT_ROOT / "workspace.yaml"),
        "-h",
        UI_HOST,
        "-p",
        str(args.port),
    ]
    return subprocess.call(command, cwd=PROJECT_ROOT)


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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:
        print(f"lavoro: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
