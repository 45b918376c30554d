"""What `lavoro run` prints and returns, seen from a terminal (a subprocess whose stdout is
not a TTY): exit codes, the summary of this run, no dbt/Dagster lines unless asked, and
nothing written inside the installation.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from lavoro_debole.ingest.personal import mask_personal
from lavoro_debole.orchestration.dbt_paths import dbt_paths, invocation_target, prune_invocations
from lavoro_debole.orchestration.run import Progress, _captured
from lavoro_debole.synthetic import generate_inbox

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LAVORO = BIN / "lavoro"
KEY = "cli-run-test-key-0123456789abcdef012345678"
VAULT_KEY = "cli-run-test-vault-key-0123456789abcdef0123"
ANSI = re.compile(r"\x1b\[")
DBT_NODE_LINE = re.compile(r"\d+ of \d+ (START|OK|PASS)")
NOT_THE_INSTALL = {".venv", ".git", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis"}
"""Skipped when listing the installation: the venv, git, and caches of Python and the tools
of the test session itself (a run writes none of them)."""


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        "LAVORO_DATA_DIR": str(data_dir),
        "LAVORO_PSEUDONYM_KEY": KEY,
        "LAVORO_VAULT_KEY": VAULT_KEY,
        "LAVORO_CUTOFF": "2025-12-31",
        "DAGSTER_HOME": str(data_dir / "dagster"),
        "PATH": f"{BIN}:/usr/bin:/bin",
        "HOME": str(data_dir / "home"),
    }
    env.update(extra)
    return env


def _run(data_dir: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LAVORO), "run", *args],
        env=_env(data_dir, **extra),
        cwd=data_dir,
        capture_output=True,
        text=True,
        timeout=900,
    )


def _listing(root: Path, skip: Path) -> dict[str, float]:
    """Every file and folder of the installation with its mtime (``skip``: the test's data)."""
    found: dict[str, float] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if d not in NOT_THE_INSTALL and (here / d) != skip]
        for name in [*dirnames, *filenames]:
            path = here / name
            found[str(path.relative_to(root))] = path.lstat().st_mtime
    return found


def _show(completed: subprocess.CompletedProcess) -> str:
    return f"exit {completed.returncode}\n{completed.stdout[-4000:]}\n{completed.stderr[-3000:]}"


# --- fast ---------------------------------------------------------------------------


def test_a_data_dir_without_inbox_is_refused_in_one_line_and_not_created(tmp_path: Path):
    missing = tmp_path / "datii"  # a typo of the data directory
    completed = _run(tmp_path, LAVORO_DATA_DIR=str(missing))
    assert completed.returncode == 2, _show(completed)
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert f"lavoro init {missing}" in lines[0]
    assert completed.stdout == ""
    assert not missing.exists()


def test_init_creates_every_feed_folder_and_the_reference_templates(tmp_path: Path):
    target = tmp_path / "dati"
    completed = subprocess.run(
        [str(LAVORO), "init", str(target)], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, _show(completed)
    feeds = {p.name for p in (target / "inbox").iterdir()}
    assert feeds == {
        "provincia_co",
        "provincia_tirocini",
        "servizi_sociali",
        "cfp",
        "cooperative",
        "sportello",
        "imprese",
    }
    example = target / "reference" / "cooperative_sociali.esempio.csv"
    assert example.read_text(encoding="utf-8").startswith("ragione_sociale;partita_iva")
    # the example is not the active list: the project's default stays in force
    assert not (target / "reference" / "cooperative_sociali.csv").exists()
    assert "lavoro run" in completed.stdout
    # run again: nothing is overwritten
    example.write_text("ragione_sociale;partita_iva\n", encoding="utf-8")
    assert subprocess.run([str(LAVORO), "init", str(target)], timeout=120).returncode == 0
    assert example.read_text(encoding="utf-8") == "ragione_sociale;partita_iva\n"


def test_mask_personal_hides_codici_fiscali_phones_and_emails_but_not_dates():
    assert mask_personal("rossi_RSSMRA80A01F205X.xlsx") == "rossi_[CF].xlsx"
    assert mask_personal("casi mario.rossi@example.it 2025.csv") == "casi [e-mail] 2025.csv"
    assert mask_personal("richiamare 339 123 4567 domani") == "richiamare [telefono] domani"
    assert mask_personal("sportello_contatti_2025_12.csv") == "sportello_contatti_2025_12.csv"
    assert mask_personal("estrazione_20251231.xlsx") == "estrazione_20251231.xlsx"
    assert mask_personal("CO 2025-12-31.xlsx") == "CO 2025-12-31.xlsx"


def test_only_the_last_dbt_invocations_are_kept(tmp_path: Path):
    target_root, log_dir = dbt_paths(tmp_path)
    assert target_root == tmp_path / "dbt" / "target" and log_dir == tmp_path / "dbt" / "logs"
    folders = []
    for age in range(5):
        folder = invocation_target(tmp_path, "abcdef0123456789")
        folder.mkdir(parents=True)
        (folder / "run_results.json").write_text("{}", encoding="utf-8")
        os.utime(folder, (1_000_000 + age, 1_000_000 + age))
        folders.append(folder)
    assert len({f.name for f in folders}) == 5
    removed = prune_invocations(tmp_path, keep=3)
    assert sorted(removed) == sorted(folders[:2])
    assert sorted(p for p in target_root.iterdir()) == sorted(folders[2:])


# --- the pipeline, end to end -------------------------------------------------------


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory):
    """A generated inbox (with its planted refusals and wrong rows), one `lavoro run`, and
    a listing of the installation before and after it."""
    data_dir = tmp_path_factory.mktemp("planted")
    manifest = generate_inbox(data_dir, persons=20, seed=3)
    before = _listing(PROJECT_ROOT, data_dir)
    completed = _run(data_dir)
    after = _listing(PROJECT_ROOT, data_dir)
    return data_dir, manifest, completed, before, after


@pytest.mark.slow
def test_checks_failed_exit_3_with_the_refused_files_and_the_feedback_to_send(planted):
    data_dir, manifest, completed, _, _ = planted
    out = completed.stdout
    assert completed.returncode == 3, _show(completed)
    assert "Traceback" not in out + completed.stderr
    assert not ANSI.search(out + completed.stderr)
    assert len(out.splitlines()) < 80, out
    assert not DBT_NODE_LINE.search(out), "dbt's per-node lines without --verbose"
    assert " - dagster - " not in out + completed.stderr
    # progress: one line per step, the seven feeds by name
    for feed in ("cfp", "cooperative", "imprese", "provincia_co", "sportello"):
        assert re.search(rf"^\s+\[\d+/14\] flusso {feed}: fatto", out, re.M), out
    # this run: every generated file is new
    assert f"File nuovi: {len(manifest.files)} " in out
    refused = [f for f in manifest.files if f.status == "rejected"]
    assert refused
    for f in refused:
        line = next(x for x in out.splitlines() if f"{f.feed}/{Path(f.path).name}:" in x)
        assert "illeggibile" in line or "intestazione" in line, line
    # the failed checks name the feedback workbooks to send, and they exist
    assert "Controlli non superati" in out
    sent = re.findall(r"riepilogo per il partner: (feedback/\S+\.xlsx)", out)
    assert sent
    for relative in sent:
        assert (data_dir / relative).is_file(), relative
    assert "Esito: completato, ma con controlli non superati" in out
    assert "exports/cassa_ammende/2025-Q4/" in out


@pytest.mark.slow
def test_a_run_writes_nothing_inside_the_installation(planted):
    data_dir, _, completed, before, after = planted
    assert completed.returncode == 3, _show(completed)
    appeared = sorted(set(after) - set(before))
    changed = sorted(p for p in before if p in after and after[p] != before[p])
    assert appeared == [] and changed == []
    target_root, log_dir = dbt_paths(data_dir)
    assert any(target_root.glob("*/run_results.json"))
    assert (log_dir / "dbt.log").is_file()


@pytest.mark.slow
def test_a_run_without_new_files_keeps_the_open_problems_and_verbose_shows_dbt(planted):
    data_dir, _, first, _, _ = planted
    assert first.returncode == 3, _show(first)
    # --tutto: with nothing new dbt would not run at all (issue 14 §1); rebuilt on request,
    # its lines show under --verbose.
    completed = _run(data_dir, "--verbose", "--tutto")
    # Nothing new: the files with too many rejected rows are still to be corrected, so
    # righe_scartate stays red (open problems, ingest/problems.py) and the run exits 3.
    assert completed.returncode == 3, _show(completed)
    assert "File nuovi: 0 " in completed.stdout
    assert "Esito: completato" in completed.stdout
    assert "Controlli non superati" in completed.stdout
    assert DBT_NODE_LINE.search(completed.stdout), "--verbose shows dbt's lines"
    assert " - dagster - " in completed.stderr
    # two invocations so far, both kept (the last three are)
    assert len([p for p in dbt_paths(data_dir)[0].iterdir() if p.is_dir()]) == 2


@pytest.mark.slow
def test_a_clean_inbox_with_a_mid_quarter_cutoff_exits_0_and_says_why_only_q3(tmp_path: Path):
    manifest = generate_inbox(tmp_path, persons=12, seed=4)
    for f in manifest.files:
        if f.status == "rejected":
            (tmp_path / "inbox" / f.feed / f.path).unlink()
    # no file above the threshold: every rejected share is at most 100%
    completed = _run(tmp_path, LAVORO_CUTOFF="2025-11-15", LAVORO_MAX_REJECTED_SHARE="1.0")
    assert completed.returncode == 0, _show(completed)
    out = completed.stdout
    said = [line for line in out.splitlines() if "a metà trimestre" in line]
    assert said == [
        "Data di taglio 15/11/2025 a metà trimestre: cartelle di lavoro solo per 2025-Q3, "
        "l'ultimo trimestre chiuso."
    ]
    assert "Traceback" not in out + completed.stderr
    assert "Esito: completato" in out and "rifiutati 0" in out
    built = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.glob("exports/**/*.xlsx"))
    assert built and all("/2025-Q3/" in p for p in built), built


@pytest.mark.slow
def test_init_then_run_on_an_empty_inbox_builds_no_workbook_and_exits_0(tmp_path: Path):
    data_dir = tmp_path / "nuova"
    assert subprocess.run([str(LAVORO), "init", str(data_dir)], timeout=120).returncode == 0
    completed = _run(data_dir)
    assert completed.returncode == 0, _show(completed)
    assert "Nessun file ricevuto finora" in completed.stdout
    assert "File nuovi: 0 " in completed.stdout
    assert not list(data_dir.glob("exports/**/*.xlsx"))


@pytest.mark.slow
def test_a_failing_dbt_exits_1_and_shows_dbt_s_error_lines(tmp_path: Path):
    generate_inbox(tmp_path, persons=10, seed=2)
    fake_bin = tmp_path / "finto"
    fake_bin.mkdir()
    fake = fake_bin / "dbt"
    fake.write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do if [ "$a" = build ]; then\n'
        '  echo "Compilation Error in model stg_finto (models/finto.sql)"\n'
        '  echo "  errore di prova del test: dbt non riesce"\n'
        "  exit 2\n"
        "fi; done\n"
        f'exec {BIN / "dbt"} "$@"\n',
        encoding="utf-8",
    )
    fake.chmod(0o755)
    completed = _run(tmp_path, PATH=f"{fake_bin}:{BIN}:/usr/bin:/bin")
    assert completed.returncode == 1, _show(completed)
    out = completed.stdout
    assert "Esito: NON completato" in out
    assert "Compilation Error in model stg_finto" in out
    assert "errore di prova del test: dbt non riesce" in out
    assert "modelli e test (dbt): NON riuscito" in out
    assert "modelli e test (dbt): dbt non è riuscito" in out
    assert "Traceback" not in out + completed.stderr
    assert not ANSI.search(out + completed.stderr)
    assert not list(tmp_path.glob("exports/**/*.xlsx"))


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _event(kind: str, step: str) -> SimpleNamespace:
    return SimpleNamespace(
        dagster_event=SimpleNamespace(event_type_value=kind), step_key=step, user_message=""
    )


def test_on_a_terminal_the_spinner_does_not_let_dbt_s_lines_through():
    terminal = _Terminal()
    progress = Progress(terminal, verbose=False)
    assert progress.tty
    progress.phase("Magazzino", 1)
    captured = io.StringIO()
    with _captured(captured):
        progress.on_event(_event("STEP_START", "warehouse_models"))
        print("1 of 181 START sql table model staging.stg_cfp__courses")
        progress.on_event(_event("STEP_SUCCESS", "warehouse_models"))
    progress.close()
    assert "START sql table model" in captured.getvalue()
    assert "START sql table model" not in terminal.getvalue()
    assert "[1/1] modelli e test (dbt): fatto" in terminal.getvalue()


def test_off_a_terminal_one_plain_line_per_step():
    out = io.StringIO()
    progress = Progress(out, verbose=False)
    progress.phase("Magazzino", 2)
    for step in ("ingest_cfp", "warehouse_models"):
        progress.on_event(_event("STEP_START", step))
    progress.on_event(_event("STEP_SUCCESS", "ingest_cfp"))
    progress.on_event(_event("STEP_FAILURE", "warehouse_models"))
    lines = out.getvalue().splitlines()
    assert lines[0] == "Magazzino"
    assert re.fullmatch(r"  \[1/2\] flusso cfp: fatto \(\d+\.\d s\)", lines[1])
    assert re.fullmatch(r"  \[2/2\] modelli e test \(dbt\): NON riuscito \(\d+\.\d s\)", lines[2])
    assert len(lines) == 3 and not ANSI.search(out.getvalue())


@pytest.mark.slow
def test_demo_still_succeeds_although_its_planted_files_fail_their_checks(tmp_path: Path):
    env = _env(tmp_path)
    del env["LAVORO_DATA_DIR"], env["LAVORO_PSEUDONYM_KEY"]
    completed = subprocess.run(
        [str(LAVORO), "demo", "--persons", "10", "--dir", str(tmp_path / "demo")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert completed.returncode == 0, _show(completed)
    assert "controlli non superati" in completed.stdout
    assert "errori piantati" in completed.stdout
    assert list((tmp_path / "demo").glob("exports/**/*.xlsx"))
