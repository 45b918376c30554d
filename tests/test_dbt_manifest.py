"""One way to prepare the dbt manifest (issue 15 §3): ``prepare_manifest``, called by
``make install``, the command line and the ``DbtProject``'s preparer."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from lavoro_debole import dbt_manifest
from lavoro_debole.dbt_manifest import manifest_is_stale, prepare_manifest
from lavoro_debole.settings import DBT_PROJECT_DIR, PROJECT_ROOT

SECRETS = {
    "LAVORO_PSEUDONYM_KEY": "chiave-di-prova-0123456789abcdef0123456789",
    "LAVORO_VAULT_KEY": "chiave-del-caveau-0123456789abcdef",
    "LAVORO_SMTP_PASSWORD": "password-di-prova",
}


def _project(tmp_path: Path) -> Path:
    """A copy of the dbt project without what dbt generated."""
    project = tmp_path / "dbt_project"
    shutil.copytree(
        DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages")
    )
    return project


def _age(path: Path, seconds: float) -> None:
    stat = path.stat()
    os.utime(path, (stat.st_atime - seconds, stat.st_mtime - seconds))


def test_stale_when_missing_or_older_than_a_file_of_the_project(tmp_path: Path):
    project = tmp_path / "p"
    (project / "models").mkdir(parents=True)
    model = project / "models" / "m.sql"
    model.write_text("select 1", encoding="utf-8")
    assert manifest_is_stale(project)  # no manifest yet
    manifest = project / "target" / "manifest.json"
    manifest.parent.mkdir()
    manifest.write_text("{}", encoding="utf-8")
    _age(model, 100)
    assert not manifest_is_stale(project)
    # what dbt itself writes does not count
    for generated in ("target/partial_parse.msgpack", "logs/dbt.log", "dbt_packages/x/a.sql"):
        (project / generated).parent.mkdir(parents=True, exist_ok=True)
        (project / generated).write_text("x", encoding="utf-8")
    _age(manifest, 10)
    assert not manifest_is_stale(project)
    model.write_text("select 2", encoding="utf-8")  # newer than the manifest
    assert manifest_is_stale(project)


def test_a_real_parse_then_nothing_until_a_file_changes(tmp_path: Path, monkeypatch):
    project = _project(tmp_path)
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LAVORO_DATA_DIR", str(tmp_path / "data"))
    assert prepare_manifest(project_dir=project) is True
    manifest = json.loads((project / "target" / "manifest.json").read_text(encoding="utf-8"))
    models = {node["name"] for node in manifest["nodes"].values()}
    assert "indicator_values" in models or any(m.startswith("stg_") for m in models)
    assert prepare_manifest(project_dir=project) is False  # fresh: not parsed again
    _age(project / "target" / "manifest.json", 100)
    (project / "models" / "README.md").write_text("nuovo\n", encoding="utf-8")
    assert prepare_manifest(project_dir=project) is True  # a file newer than it


def test_dbt_parse_gets_the_minimal_environment(tmp_path: Path, monkeypatch):
    calls = []
    monkeypatch.setattr(
        dbt_manifest.subprocess, "run", lambda cmd, **kw: calls.append((cmd, kw["env"]))
    )
    environ = {**SECRETS, "LAVORO_DATA_DIR": "/dati", "PATH": "/usr/bin"}
    assert prepare_manifest(force=True, environ=environ) is True
    [(cmd, env)] = calls
    assert cmd[1:3] == ["parse", "--quiet"]
    assert env == {"LAVORO_DATA_DIR": "/dati", "PATH": "/usr/bin"}


def test_every_route_goes_through_prepare_manifest(monkeypatch):
    from lavoro_debole.orchestration import dbt_project

    called = []
    monkeypatch.setattr(dbt_project, "prepare_manifest", lambda: called.append(1) or True)
    monkeypatch.delenv("DAGSTER_IS_DEV_CLI", raising=False)
    assert dbt_project.prepare_if_dev() is False
    assert called == []  # not under dagster dev: the manifest of the install is used
    monkeypatch.setenv("DAGSTER_IS_DEV_CLI", "1")
    assert dbt_project.prepare_if_dev() is True
    assert called == [1]
    source = Path(dbt_project.__file__).read_text(encoding="utf-8")
    assert ".prepare_if_dev()" not in source  # dagster-dbt's own preparation is not used
    # make install prepares it with the same function
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    [recipe] = re.findall(r"^\$\(MANIFEST\):.*\n\t(.*)$", makefile, re.MULTILINE)
    assert recipe.strip() == "$(BIN)/python -m lavoro_debole.dbt_manifest --force"
    # and nothing else in the package starts dbt parse
    starting_parse = [
        path.name
        for path in (PROJECT_ROOT / "lavoro_debole").rglob("*.py")
        if re.search(r"[\"']parse[\"']", path.read_text(encoding="utf-8"))
    ]
    assert starting_parse == ["dbt_manifest.py"]


def test_the_module_runs_as_a_command(monkeypatch):
    seen = []
    monkeypatch.setattr(dbt_manifest, "prepare_manifest", lambda force: seen.append(force))
    dbt_manifest.main(["--force"])
    dbt_manifest.main([])
    assert seen == [True, False]
