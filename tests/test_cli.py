"""The `lavoro` command's own behaviour (the pipeline itself is in test_end_to_end)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from lavoro_debole.cli import main
from lavoro_debole.settings import (
    SettingsError,
    last_complete_quarter_end,
    load_settings,
    parse_key,
)

LAVORO = Path(sys.executable).parent / "lavoro"


def test_run_refuses_to_start_without_a_key_and_says_how_to_make_one(tmp_path: Path):
    completed = subprocess.run(
        [str(LAVORO), "run"],
        env={"LAVORO_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2
    assert "LAVORO_PSEUDONYM_KEY" in completed.stderr
    assert "secrets.token_hex(32)" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_short_keys_and_bad_cutoffs_are_refused():
    with pytest.raises(SettingsError, match="at least 32 bytes"):
        parse_key("too-short")
    with pytest.raises(SettingsError, match="YYYY-MM-DD"):
        load_settings({"LAVORO_CUTOFF": "31/12/2025"})


def test_default_cutoff_is_the_end_of_the_last_complete_quarter():
    assert last_complete_quarter_end(dt.date(2026, 11, 26)) == dt.date(2026, 9, 30)
    assert last_complete_quarter_end(dt.date(2026, 1, 1)) == dt.date(2025, 12, 31)
    assert last_complete_quarter_end(dt.date(2026, 3, 31)) == dt.date(2025, 12, 31)


def test_generate_writes_an_inbox_and_its_manifest(tmp_path: Path, capsys):
    assert main(["generate", str(tmp_path), "--persons", "12", "--seed", "5"]) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["persons"] == 12 and manifest["seed"] == 5
    feeds = {p.name for p in (tmp_path / "inbox").iterdir()}
    assert feeds == {
        "provincia_co",
        "provincia_tirocini",
        "servizi_sociali",
        "cfp",
        "cooperative",
        "sportello",
        "imprese",
    }
    assert f"{len(manifest['files'])} file" in capsys.readouterr().out


@pytest.mark.slow
def test_run_before_any_complete_quarter_builds_the_warehouse_but_no_workbook(tmp_path: Path):
    (tmp_path / "inbox").mkdir()
    completed = subprocess.run(
        [str(LAVORO), "run"],
        env={
            "LAVORO_DATA_DIR": str(tmp_path),
            "LAVORO_PSEUDONYM_KEY": "cli-test-key-0123456789abcdef0123456789",
            "LAVORO_VAULT_KEY": "cli-test-vault-key-0123456789abcdef0123",
            "LAVORO_CUTOFF": "2023-03-30",
            "DAGSTER_HOME": str(tmp_path / "dagster"),
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    assert "Nessun trimestre chiuso entro la data di taglio 30/03/2023" in completed.stdout
    assert "Esito: completato" in completed.stdout
    assert (tmp_path / "warehouse.duckdb").is_file()
    assert not list(tmp_path.glob("exports/**/*.xlsx"))


def test_run_refuses_to_start_without_a_vault_key(tmp_path: Path):
    (tmp_path / "inbox").mkdir()  # a data directory ready for a run, but for the key
    completed = subprocess.run(
        [str(LAVORO), "run"],
        env={
            "LAVORO_DATA_DIR": str(tmp_path),
            "LAVORO_PSEUDONYM_KEY": "cli-test-key-0123456789abcdef0123456789",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2
    assert "LAVORO_VAULT_KEY" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "warehouse.duckdb").exists()
    with pytest.raises(SettingsError, match="LAVORO_VAULT_KEY is 5 bytes"):
        load_settings({"LAVORO_VAULT_KEY": "corta"})


def test_every_lavoro_command_creates_files_for_its_owner_only(tmp_path: Path):
    target = tmp_path / "dati"
    completed = subprocess.run(
        [str(LAVORO), "generate", str(target), "--persons", "10"],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    paths = [target, *target.rglob("*")]
    assert len(paths) > 10
    for path in paths:
        mode = path.stat().st_mode & 0o777
        assert mode == (0o700 if path.is_dir() else 0o600), (path.name, oct(mode))


def test_analytics_dir_defaults_to_a_sibling_of_the_data_dir(tmp_path: Path):
    settings = load_settings({"LAVORO_DATA_DIR": str(tmp_path / "dati")})
    assert settings.analytics_path == tmp_path / "dati-analisi" / "analytics.duckdb"
    assert settings.vault_path == tmp_path / "dati" / "vault.duckdb"
    other = load_settings(
        {"LAVORO_DATA_DIR": str(tmp_path / "dati"), "LAVORO_ANALYTICS_DIR": str(tmp_path / "a")}
    )
    assert other.analytics_path == tmp_path / "a" / "analytics.duckdb"


def test_analisi_without_a_copy_says_where_it_looked(tmp_path: Path):
    completed = subprocess.run(
        [str(LAVORO), "analisi", "-c", "select 1"],
        env={"LAVORO_DATA_DIR": str(tmp_path / "dati"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2
    assert "dati-analisi" in completed.stderr


def test_analytics_dir_inside_the_data_dir_is_refused(tmp_path: Path):
    with pytest.raises(SettingsError, match="outside LAVORO_DATA_DIR"):
        load_settings(
            {"LAVORO_DATA_DIR": str(tmp_path), "LAVORO_ANALYTICS_DIR": str(tmp_path / "analisi")}
        )


def test_analisi_locks_down_before_any_argument_of_the_analyst(tmp_path: Path):
    from lavoro_debole.cli import analysis_command

    settings = load_settings({"LAVORO_DATA_DIR": str(tmp_path / "dati")})
    command = analysis_command(settings, ["-c", "select 1"])
    assert command[0] == str(Path(sys.executable).parent / "duckdb")
    assert command[1:] == [
        "-readonly",
        "-no-init",
        "-cmd",
        "SET enable_external_access = false",
        "-cmd",
        "SET lock_configuration = true",
        str(tmp_path / "dati-analisi" / "analytics.duckdb"),
        "-c",
        "select 1",
    ]
    version = subprocess.run(
        [command[0], "-version"], capture_output=True, text=True, timeout=60
    ).stdout
    assert version.startswith(f"v{duckdb.__version__} ")
