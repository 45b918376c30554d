"""One settings module (issue 15 §3): every ``LAVORO_`` variable is read in
``lavoro_debole/settings.py`` only, is a field of ``Settings``, and is documented in
``.env.example`` and in the README's settings table."""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import pytest

import lavoro_debole
from lavoro_debole.settings import (
    DeliverySettingsError,
    Settings,
    SettingsError,
    SmtpSettings,
    load_settings,
    settings_environment,
)

REPO = Path(__file__).resolve().parents[1]
PACKAGE = Path(lavoro_debole.__file__).parent
SETTINGS_PY = PACKAGE / "settings.py"
VARIABLE = re.compile(r"\bLAVORO_[A-Z0-9_]*[A-Z0-9]\b")
SMTP_VARIABLES = {
    "LAVORO_SMTP_HOST",
    "LAVORO_SMTP_PORT",
    "LAVORO_SMTP_TLS",
    "LAVORO_SMTP_USER",
    "LAVORO_SMTP_PASSWORD",
    "LAVORO_SMTP_FROM",
}
TEST_ONLY = {"LAVORO_REQUIRE_CHROMIUM", "LAVORO_CHROMIUM", "LAVORO_REQUIRE_LIBREOFFICE"}


def _files(*patterns: str, under: Path = REPO) -> list[Path]:
    return sorted(
        p
        for pattern in patterns
        for p in under.glob(pattern)
        if p.is_file() and not {"target", "logs", "__pycache__"} & set(p.parts)
    )


def _names(paths: list[Path]) -> set[str]:
    return {name for path in paths for name in VARIABLE.findall(path.read_text("utf-8"))}


def _code_variables() -> set[str]:
    """Every variable named by the pipeline: its Python, dbt project, Makefile, CI."""
    paths = _files("lavoro_debole/**/*.py", "dbt_project/**/*.sql", "dbt_project/**/*.yml")
    return _names([*paths, *_files("Makefile", ".ci/*", "workspace.yaml")])


def _env_example() -> set[str]:
    text = (REPO / ".env.example").read_text("utf-8")
    return set(re.findall(r"^#? ?(LAVORO_[A-Z0-9_]+)=", text, re.MULTILINE))


def _readme_tables() -> tuple[set[str], set[str]]:
    """The variables of the README's settings table and of its table for the tests."""
    text = (REPO / "README.md").read_text("utf-8")
    section = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    deployment, _, tests = section.partition("Only for the tests")
    rows = re.compile(r"^\| `(LAVORO_[A-Z0-9_]+)` \|", re.MULTILINE)
    return set(rows.findall(deployment)), set(rows.findall(tests))


def _field_variables() -> dict[str, set[str]]:
    return {
        f.name: SMTP_VARIABLES if f.name == "smtp" else {f"LAVORO_{f.name.upper()}"}
        for f in dataclasses.fields(Settings)
    }


def test_every_variable_of_the_code_is_documented_in_both_places():
    code = _code_variables()
    own_examples = Path(__file__)
    tests = _names([p for p in _files("tests/**/*.py") if p != own_examples]) - code
    deployment_table, tests_table = _readme_tables()
    assert "LAVORO_SENSOR_INTERVAL" in code  # the scan sees the code (a test that can fail)
    assert sorted(code - _env_example()) == []
    assert sorted(code - TEST_ONLY - deployment_table) == []
    assert sorted(tests - TEST_ONLY) == [], "a variable only the tests read: document it"
    assert sorted(TEST_ONLY - tests_table) == []
    assert sorted(TEST_ONLY - _env_example()) == []
    # and nothing documented that nothing reads
    assert sorted(deployment_table - code) == []
    assert sorted(_env_example() - code - TEST_ONLY) == []


def test_every_setting_is_a_field_and_every_field_a_documented_variable():
    fields = _field_variables()
    from_fields = set().union(*fields.values())
    read_in_settings = set(VARIABLE.findall(SETTINGS_PY.read_text("utf-8")))
    code = _code_variables()
    assert sorted(code - TEST_ONLY - from_fields) == [], "a variable without a Settings field"
    assert sorted(from_fields - read_in_settings) == [], "a field that settings.py never reads"
    deployment_table, _ = _readme_tables()
    assert sorted(from_fields - deployment_table) == []
    assert sorted(from_fields - _env_example()) == []


def test_every_field_has_a_docstring():
    tree = ast.parse(SETTINGS_PY.read_text("utf-8"))
    [cls] = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Settings"]
    undocumented = []
    for node, after in zip(cls.body, [*cls.body[1:], None], strict=True):
        if isinstance(node, ast.AnnAssign):
            documented = (
                isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            )
            if not documented:
                undocumented.append(ast.unparse(node.target))
    assert undocumented == []
    required = [f.name for f in dataclasses.fields(Settings) if f.default is dataclasses.MISSING]
    assert required == ["data_dir", "pseudonym_key", "cutoff"]  # the rest have defaults


def _environ_reads(path: Path) -> list[str]:
    """``LAVORO_`` names this module reads or writes through ``os.environ``/``getenv``,
    as literals or as module constants."""
    tree = ast.parse(path.read_text("utf-8"))
    constants = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }

    def lavoro(arg: ast.AST | None) -> str | None:
        value = arg.value if isinstance(arg, ast.Constant) else None
        if isinstance(arg, ast.Name):
            value = constants.get(arg.id)
        return value if isinstance(value, str) and value.startswith("LAVORO_") else None

    def is_environ(node: ast.AST) -> bool:
        return isinstance(node, ast.Attribute) and node.attr == "environ"

    found = []
    for node in ast.walk(tree):
        args: list[ast.AST | None] = []
        if isinstance(node, ast.Subscript) and is_environ(node.value):
            args = [node.slice]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and (is_environ(node.func.value) or node.func.attr == "getenv")
        ):
            args = list(node.args)
            for arg in node.args:
                if isinstance(arg, ast.Dict):
                    args.extend(arg.keys)
        found.extend(name for arg in args if (name := lavoro(arg)))
    return found


def test_no_other_module_reads_a_setting_from_the_environment():
    offenders = {
        str(path.relative_to(REPO)): reads
        for path in _files("lavoro_debole/**/*.py")
        if path != SETTINGS_PY and (reads := _environ_reads(path))
    }
    assert offenders == {}


def test_the_check_finds_a_read(tmp_path: Path):
    module = tmp_path / "m.py"
    module.write_text(
        'import os\nNAME = "LAVORO_X"\n'
        'a = os.environ.get("LAVORO_A")\nb = os.environ[NAME]\nc = os.getenv("LAVORO_C")\n'
        'os.environ.update({"LAVORO_D": "1"})\nd = os.environ.get("PATH")\n',
        encoding="utf-8",
    )
    assert sorted(_environ_reads(module)) == ["LAVORO_A", "LAVORO_C", "LAVORO_D", "LAVORO_X"]


# -- values --------------------------------------------------------------------------------

FULL = {
    "LAVORO_DATA_DIR": "/srv/lavoro",
    "LAVORO_PSEUDONYM_KEY": "p" * 40,
    "LAVORO_CUTOFF": "2025-09-30",
    "LAVORO_NEW_PSEUDONYM_KEY": "n" * 40,
    "LAVORO_ANALYTICS_DIR": "/srv/analisi",
    "LAVORO_VAULT_KEY": "v" * 40,
    "LAVORO_UI_ALLOWED_HOSTS": "dati.example.org,127.0.0.1:8443",
    "LAVORO_READER_MEMORY_MB": "1024",
    "LAVORO_READER_TIMEOUT_S": "45.5",
    "LAVORO_WAREHOUSE_WAIT_S": "0",
    "LAVORO_DUCKDB_MEMORY_LIMIT": "1500MB",
    "LAVORO_MAX_REJECTED_SHARE": "0.25",
    "LAVORO_EXPORT_DAY": "3",
    "LAVORO_SENSOR_INTERVAL": "7",
    "LAVORO_SMTP_HOST": "smtp.example.org",
    "LAVORO_SMTP_PORT": "2525",
    "LAVORO_SMTP_TLS": "ssl",
    "LAVORO_SMTP_USER": "rete@example.org",
    "LAVORO_SMTP_PASSWORD": "segretissima",
    "LAVORO_SMTP_FROM": "osservatorio@example.org",
}


def test_every_variable_reaches_its_field():
    settings = load_settings(FULL)
    assert settings.data_dir == Path("/srv/lavoro")
    assert settings.cutoff == dt.date(2025, 9, 30)
    assert settings.analytics_dir == Path("/srv/analisi")
    assert settings.ui_allowed_hosts == ("dati.example.org", "127.0.0.1:8443")
    assert (settings.reader_memory_mb, settings.reader_timeout_s) == (1024, 45.5)
    assert (settings.warehouse_wait_s, settings.duckdb_memory_limit) == (0.0, "1500MB")
    assert (settings.max_rejected_share, settings.export_day) == (0.25, 3)
    assert settings.sensor_interval == 7
    assert settings.smtp == SmtpSettings(
        "smtp.example.org",
        2525,
        "ssl",
        "osservatorio@example.org",
        "rete@example.org",
        "segretissima",
    )
    assert set(settings_environment(settings)) == set(FULL)


def test_defaults():
    settings = load_settings({"LAVORO_CUTOFF": "2025-12-31"})
    assert (settings.max_rejected_share, settings.export_day, settings.sensor_interval) == (
        0.10,
        15,
        30,
    )
    assert settings.smtp is None


NO_LOGIN = {
    **{k: v for k, v in FULL.items() if k not in {"LAVORO_SMTP_USER", "LAVORO_SMTP_PASSWORD"}},
    "LAVORO_SMTP_TLS": "none",
}


@pytest.mark.parametrize("env", [FULL, {"LAVORO_CUTOFF": "2024-03-31"}, NO_LOGIN])
def test_the_environment_built_from_settings_reads_back_the_same(env: dict[str, str]):
    settings = load_settings(env)
    assert load_settings(settings_environment(settings)) == settings


def test_defaults_and_overrides():
    env = {"LAVORO_CUTOFF": "", "LAVORO_DATA_DIR": "/a", "LAVORO_EXPORT_DAY": "4"}
    settings = load_settings(
        env, defaults={"LAVORO_CUTOFF": "2025-12-31"}, overrides={"LAVORO_DATA_DIR": "/b"}
    )
    assert (settings.cutoff, settings.data_dir, settings.export_day) == (
        dt.date(2025, 12, 31),
        Path("/b"),
        4,
    )
    given = load_settings({"LAVORO_CUTOFF": "2024-06-30"}, defaults={"LAVORO_CUTOFF": "2025-12-31"})
    assert given.cutoff == dt.date(2024, 6, 30)


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("LAVORO_MAX_REJECTED_SHARE", "dieci"),
        ("LAVORO_MAX_REJECTED_SHARE", "1.5"),
        ("LAVORO_EXPORT_DAY", "31"),
        ("LAVORO_EXPORT_DAY", "0"),
        ("LAVORO_EXPORT_DAY", "quindici"),
        ("LAVORO_SENSOR_INTERVAL", "-5"),
        ("LAVORO_SENSOR_INTERVAL", "2.5"),
    ],
)
def test_a_malformed_value_names_its_variable_not_its_value(name: str, raw: str):
    with pytest.raises(SettingsError, match=name) as err:
        load_settings({name: raw})
    assert raw not in str(err.value)


def test_an_smtp_error_is_a_settings_error_without_the_password():
    env = {**FULL, "LAVORO_SMTP_TLS": "none"}
    with pytest.raises(DeliverySettingsError, match="LAVORO_SMTP_TLS=none") as err:
        load_settings(env)
    assert isinstance(err.value, SettingsError) and "segretissima" not in str(err.value)


def test_the_definitions_take_the_sensor_interval_and_export_day_from_the_settings(
    tmp_path: Path,
):
    script = (
        "from lavoro_debole.orchestration.sensors import inbox_sensor\n"
        "from lavoro_debole.orchestration.export_assets import quarterly_exports\n"
        "print(inbox_sensor.minimum_interval_seconds, quarterly_exports.cron_schedule)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LAVORO_DATA_DIR": str(tmp_path)}
    env |= {"LAVORO_SENSOR_INTERVAL": "7", "LAVORO_EXPORT_DAY": "3"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.split("\n")[-2] == "7 0 7 3 1,4,7,10 *"


def test_no_key_or_password_shows_in_the_settings_repr():
    """A Settings printed by mistake (a log line, a traceback's locals) names no secret."""
    secrets = {
        "LAVORO_PSEUDONYM_KEY": "p" * 40,
        "LAVORO_NEW_PSEUDONYM_KEY": "n" * 40,
        "LAVORO_VAULT_KEY": "v" * 64,
        "LAVORO_WAREHOUSE_KEY": "w" * 64,
        "LAVORO_SMTP_HOST": "smtp.example.org",
        "LAVORO_SMTP_USER": "mittente@example.org",
        "LAVORO_SMTP_PASSWORD": "s" * 20,
    }
    settings = load_settings({"LAVORO_DATA_DIR": "/tmp/lavoro-repr", **secrets})
    assert settings.warehouse_key == b"w" * 64  # read, only not shown
    shown = repr(settings)
    for name, value in secrets.items():
        if "KEY" in name or "PASSWORD" in name:
            assert value not in shown, name
