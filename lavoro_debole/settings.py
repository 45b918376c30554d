"""Every setting of the warehouse, read from the environment in this one module.

The rooms take these values as arguments; only the command line and the Dagster
resources call :func:`load_settings`, so a test or a notebook can pass its own. Each
field of :class:`Settings` is the variable ``LAVORO_<FIELD>`` (``smtp``: the
``LAVORO_SMTP_*`` family), listed in ``.env.example`` and the README (a test checks).
A child process that must find the settings in its environment gets them from
:func:`settings_environment`, the inverse of :func:`load_settings`.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from lavoro_debole.periods import Quarter

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
DEFAULT_REFERENCE_DIR = PROJECT_ROOT / "reference"
MIN_KEY_BYTES = 32


def tool_path(name: str) -> str:
    """A command of this environment (dbt, dagster): from PATH, else beside this Python,
    so that a venv that is not activated still finds its own tools."""
    return shutil.which(name) or str(Path(sys.executable).parent / name)


class SettingsError(ValueError):
    """A setting is missing or malformed; the message says how to fix it."""


def last_complete_quarter_end(today: dt.date) -> dt.date:
    """The last day of the last quarter that ended before ``today``."""
    return Quarter.last_complete(today).end


DEFAULT_DUCKDB_MEMORY = "3GB"
"""Sized for a provincial office's 8 GiB machine: DuckDB, Python and the reader together."""
MEMORY_LIMIT = re.compile(r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
"""The SMTP port of each ``LAVORO_SMTP_TLS`` mode when ``LAVORO_SMTP_PORT`` is empty."""


class DeliverySettingsError(SettingsError):
    """An SMTP setting is malformed; the message names the variable (never its value
    when it is the password)."""


@dataclass(frozen=True)
class SmtpSettings:
    """The mail server of the funders' workbooks (``LAVORO_SMTP_*``)."""

    host: str
    port: int
    tls: Literal["starttls", "ssl", "none"]
    sender: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0


@dataclass(frozen=True)
class Settings:
    """One field per setting; ``load_settings`` reads them, the rooms take them as values."""

    data_dir: Path
    """Everything a deployment holds (inbox, reference, warehouse, vault, exports...)."""
    pseudonym_key: bytes | None = field(repr=False)
    """The secret of the keyed pseudonyms (HMAC-SHA256); see :meth:`require_key`."""
    cutoff: dt.date
    """The data's cut-off date (default: the end of the last complete quarter)."""
    new_pseudonym_key: bytes | None = field(default=None, repr=False)
    """Only for ``lavoro ruota-chiave``: the key that replaces ``pseudonym_key``."""
    analytics_dir: Path | None = None
    """The analysts' folder, outside the data directory (default: see ``default_analytics_dir``)."""
    vault_key: bytes | None = field(default=None, repr=False)
    """The key of the encrypted vault of rejected rows (``vault.duckdb``)."""
    ui_allowed_hosts: tuple[str, ...] = ()
    """Further ``Host`` values the UI answers (``LAVORO_UI_ALLOWED_HOSTS``), besides
    127.0.0.1:PORT, localhost:PORT and [::1]:PORT: the name an authenticating reverse
    proxy passes on."""
    # The reader worker's address-space limit and wall time per file (issue 9 §1).
    reader_memory_mb: int = 2048
    """The address space (MB) of the worker process that reads each partner file."""
    reader_timeout_s: float = 120.0
    """The seconds that worker may spend on one file."""
    warehouse_wait_s: float = 120.0
    """How long a run waits for another process to let go of the warehouse."""
    duckdb_memory_limit: str = DEFAULT_DUCKDB_MEMORY
    """What DuckDB may hold in memory in every process (ingest, dbt, exports, the copy);
    beyond it large operations spill to ``duckdb_temp_dir`` instead of growing."""
    max_rejected_share: float = 0.10
    """Share of a file's rows rejected above which the file fails its check."""
    export_day: int = 15
    """Day of the month after a quarter's end on which the schedule builds the funders'
    workbooks (read when the Dagster definitions load: a change needs a restart)."""
    sensor_interval: int = 30
    """Seconds between two looks of the inbox sensor at the inbox (read when the Dagster
    definitions load). A file is taken once unchanged between two looks."""
    smtp: SmtpSettings | None = None
    """The mail server of the deliveries; None without ``LAVORO_SMTP_HOST`` (deliveries
    are then recorded as skipped)."""
    warehouse_key: bytes | None = field(default=None, repr=False)
    """The key of the warehouse encrypted at rest (``LAVORO_WAREHOUSE_KEY``): set, the
    warehouse file is encrypted with DuckDB's AES-GCM; unset, it is a plain DuckDB file."""

    @property
    def inbox_dir(self) -> Path:
        return self.data_dir / "inbox"

    @property
    def reference_dir(self) -> Path:
        return self.data_dir / "reference"

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def analytics_folder(self) -> Path:
        return self.analytics_dir or default_analytics_dir(self.data_dir)

    @property
    def analytics_path(self) -> Path:
        return self.analytics_folder / "analytics.duckdb"

    @property
    def duckdb_temp_dir(self) -> Path:
        """Where DuckDB spills what exceeds its memory limit (inside the data directory:
        it may hold warehouse rows)."""
        return self.data_dir / ".duckdb_tmp"

    def duckdb_config(self) -> dict[str, str]:
        """The configuration of every DuckDB connection to the warehouse."""
        return {
            "memory_limit": self.duckdb_memory_limit,
            "temp_directory": str(self.duckdb_temp_dir),
        }

    @property
    def vault_path(self) -> Path:
        return self.data_dir / "vault.duckdb"

    @property
    def exports_dir(self) -> Path:
        return self.data_dir / "exports"

    @property
    def feedback_dir(self) -> Path:
        return self.data_dir / "feedback"

    @property
    def dagster_home(self) -> Path:
        return self.data_dir / "dagster"

    def require_key(self) -> bytes:
        """The pseudonymisation key, or a clear error saying how to make one."""
        if self.pseudonym_key is None:
            raise SettingsError(
                "LAVORO_PSEUDONYM_KEY is not set. Make one with\n"
                '  python -c "import secrets; print(secrets.token_hex(32))"\n'
                "and keep it outside the repository (for example in .env, which git ignores). "
                "Losing it makes new pseudonyms unlinkable to old ones."
            )
        return self.pseudonym_key

    def require_vault_key(self) -> bytes:
        """The vault's key, or a clear error saying how to make one."""
        if self.vault_key is None:
            raise SettingsError(
                "LAVORO_VAULT_KEY is not set: it encrypts vault.duckdb, the rejected rows "
                "with raw values. Make one with\n"
                '  python -c "import secrets; print(secrets.token_hex(32))"\n'
                "and keep it outside the repository and apart from LAVORO_PSEUDONYM_KEY. "
                "Losing it makes the vault unreadable (the feedback workbooks stay)."
            )
        return self.vault_key


def default_analytics_dir(data_dir: Path) -> Path:
    """A sibling of the data directory: ``/srv/lavoro`` -> ``/srv/lavoro-analisi``."""
    return data_dir.parent / f"{data_dir.name}-analisi"


def parse_key(raw: str | None, name: str = "LAVORO_PSEUDONYM_KEY") -> bytes | None:
    """Accept the key as text of at least 32 bytes; refuse shorter ones."""
    if raw is None or raw.strip() == "":
        return None
    key = raw.strip().encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        raise SettingsError(
            f"{name} is {len(key)} bytes long; it must be at least "
            f'{MIN_KEY_BYTES} bytes (python -c "import secrets; print(secrets.token_hex(32))").'
        )
    return key


def parse_cutoff(raw: str | None, today: dt.date | None = None) -> dt.date:
    if raw is None or raw.strip() == "":
        return last_complete_quarter_end(today or dt.date.today())
    try:
        return dt.date.fromisoformat(raw.strip())
    except ValueError as exc:
        raise SettingsError(
            "LAVORO_CUTOFF must be a date written as YYYY-MM-DD, e.g. 2025-12-31."
        ) from exc


ALLOWED_HOST = re.compile(r"^(?:[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?$")


def parse_allowed_hosts(raw: str | None) -> tuple[str, ...]:
    """``host[:port]`` values separated by commas, compared with the ``Host`` header
    as written (a proxy on port 443 sends the name alone)."""
    hosts = tuple(h.strip().lower() for h in (raw or "").split(",") if h.strip())
    for host in hosts:
        if not ALLOWED_HOST.match(host):
            raise SettingsError(
                "LAVORO_UI_ALLOWED_HOSTS must list host names or host:port values separated "
                "by commas, e.g. dati.example.org,127.0.0.1:8443 (no scheme, no path)."
            )
    return hosts


def parse_positive(name: str, raw: str | None, default: float, minimum: float) -> float:
    """A positive number setting; empty means the default."""
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        value = float("nan")
    if not value >= minimum:
        raise SettingsError(f"{name} must be a number of at least {minimum:g}, e.g. {default:g}.")
    return value


def parse_seconds(name: str, raw: str | None, default: float) -> float:
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise SettingsError(f"{name} must be a number of seconds, 0 or more (e.g. 120).")
    return value


def parse_memory_limit(raw: str | None) -> str:
    if raw is None or raw.strip() == "":
        return DEFAULT_DUCKDB_MEMORY
    value = raw.strip()
    if not MEMORY_LIMIT.match(value):
        raise SettingsError(
            "LAVORO_DUCKDB_MEMORY_LIMIT must be an amount of memory such as 3GB or 1500MB."
        )
    return value


def parse_share(name: str, raw: str | None, default: float) -> float:
    """A share between 0 and 1; empty means the default."""
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        value = float("nan")
    if not 0 <= value <= 1:
        raise SettingsError(f"{name} must be a share between 0 and 1, e.g. {default:g}.")
    return value


def parse_whole(name: str, raw: str | None, default: int, low: int, high: int) -> int:
    """A whole number between ``low`` and ``high``; empty means the default."""
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise SettingsError(f"{name} must be a whole number from {low} to {high}, e.g. {default}.")
    return value


def parse_smtp(environ: Mapping[str, str] | None = None) -> SmtpSettings | None:
    """SMTP settings from LAVORO_SMTP_*; None when LAVORO_SMTP_HOST is unset (deliveries
    are then recorded as skipped). The password is never sent without TLS: ``none`` with
    a user and password is refused."""
    env = os.environ if environ is None else environ
    host = (env.get("LAVORO_SMTP_HOST") or "").strip()
    if not host:
        return None
    tls = (env.get("LAVORO_SMTP_TLS") or "starttls").strip().lower()
    if tls not in DEFAULT_PORTS:
        raise DeliverySettingsError("LAVORO_SMTP_TLS must be one of starttls, ssl, none")
    raw_port = (env.get("LAVORO_SMTP_PORT") or "").strip()
    try:
        port = int(raw_port) if raw_port else DEFAULT_PORTS[tls]
    except ValueError:
        raise DeliverySettingsError("LAVORO_SMTP_PORT must be a port number") from None
    if not 0 < port < 65536:
        raise DeliverySettingsError("LAVORO_SMTP_PORT must be between 1 and 65535")
    user = (env.get("LAVORO_SMTP_USER") or "").strip() or None
    password = env.get("LAVORO_SMTP_PASSWORD") or None
    if (user is None) != (password is None):
        raise DeliverySettingsError(
            "LAVORO_SMTP_USER and LAVORO_SMTP_PASSWORD must be set together"
        )
    if tls == "none" and user is not None:
        raise DeliverySettingsError(
            "LAVORO_SMTP_TLS=none would send LAVORO_SMTP_USER and LAVORO_SMTP_PASSWORD in "
            "clear text: set LAVORO_SMTP_TLS to starttls or ssl, or remove the credentials "
            "(none is only for a relay on this machine or network that needs no login)"
        )
    sender = (env.get("LAVORO_SMTP_FROM") or "").strip() or (user if user and "@" in user else "")
    if "@" not in sender:
        raise DeliverySettingsError("LAVORO_SMTP_FROM must be the sender's e-mail address")
    return SmtpSettings(host, port, tls, sender, user, password)  # type: ignore[arg-type]


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    defaults: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> Settings:
    """The settings of ``environ`` (default: this process's environment); ``defaults``
    stand in for variables that are empty there, ``overrides`` replace them (``lavoro
    demo`` uses both)."""
    env = dict(os.environ if environ is None else environ)
    for name, value in (defaults or {}).items():
        if not (env.get(name) or "").strip():
            env[name] = value
    env.update(overrides or {})
    data_dir = Path(env.get("LAVORO_DATA_DIR") or "data").resolve()
    analytics = env.get("LAVORO_ANALYTICS_DIR") or ""
    analytics_dir = Path(analytics).resolve() if analytics.strip() else None
    if analytics_dir is not None and analytics_dir.is_relative_to(data_dir):
        raise SettingsError(
            "LAVORO_ANALYTICS_DIR must be outside LAVORO_DATA_DIR: the analysts' folder is "
            "group-readable, the data directory is the steward's alone."
        )
    return Settings(
        data_dir=data_dir,
        pseudonym_key=parse_key(env.get("LAVORO_PSEUDONYM_KEY")),
        cutoff=parse_cutoff(env.get("LAVORO_CUTOFF")),
        new_pseudonym_key=parse_key(
            env.get("LAVORO_NEW_PSEUDONYM_KEY"), name="LAVORO_NEW_PSEUDONYM_KEY"
        ),
        analytics_dir=analytics_dir,
        vault_key=parse_key(env.get("LAVORO_VAULT_KEY"), "LAVORO_VAULT_KEY"),
        ui_allowed_hosts=parse_allowed_hosts(env.get("LAVORO_UI_ALLOWED_HOSTS")),
        reader_memory_mb=int(
            parse_positive("LAVORO_READER_MEMORY_MB", env.get("LAVORO_READER_MEMORY_MB"), 2048, 256)
        ),
        reader_timeout_s=parse_positive(
            "LAVORO_READER_TIMEOUT_S", env.get("LAVORO_READER_TIMEOUT_S"), 120.0, 1
        ),
        warehouse_wait_s=parse_seconds(
            "LAVORO_WAREHOUSE_WAIT_S", env.get("LAVORO_WAREHOUSE_WAIT_S"), 120.0
        ),
        duckdb_memory_limit=parse_memory_limit(env.get("LAVORO_DUCKDB_MEMORY_LIMIT")),
        max_rejected_share=parse_share(
            "LAVORO_MAX_REJECTED_SHARE", env.get("LAVORO_MAX_REJECTED_SHARE"), 0.10
        ),
        export_day=parse_whole("LAVORO_EXPORT_DAY", env.get("LAVORO_EXPORT_DAY"), 15, 1, 28),
        sensor_interval=parse_whole(
            "LAVORO_SENSOR_INTERVAL", env.get("LAVORO_SENSOR_INTERVAL"), 30, 1, 86400
        ),
        smtp=parse_smtp(env),
        warehouse_key=parse_key(env.get("LAVORO_WAREHOUSE_KEY"), "LAVORO_WAREHOUSE_KEY"),
    )


def settings_environment(settings: Settings) -> dict[str, str]:
    """The ``LAVORO_*`` variables from which :func:`load_settings` reads ``settings`` back:
    for the Dagster run processes and dbt (through ``lavoro_debole.child_env``), which
    find the settings of ``lavoro run`` in their environment. Settings left unset (a
    missing key, no SMTP server) are absent."""
    env = {
        "LAVORO_DATA_DIR": str(settings.data_dir),
        "LAVORO_CUTOFF": settings.cutoff.isoformat(),
        "LAVORO_UI_ALLOWED_HOSTS": ",".join(settings.ui_allowed_hosts),
        "LAVORO_READER_MEMORY_MB": str(settings.reader_memory_mb),
        "LAVORO_READER_TIMEOUT_S": repr(settings.reader_timeout_s),
        "LAVORO_WAREHOUSE_WAIT_S": repr(settings.warehouse_wait_s),
        "LAVORO_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit,
        "LAVORO_MAX_REJECTED_SHARE": repr(settings.max_rejected_share),
        "LAVORO_EXPORT_DAY": str(settings.export_day),
        "LAVORO_SENSOR_INTERVAL": str(settings.sensor_interval),
    }
    keys = {
        "LAVORO_PSEUDONYM_KEY": settings.pseudonym_key,
        "LAVORO_NEW_PSEUDONYM_KEY": settings.new_pseudonym_key,
        "LAVORO_VAULT_KEY": settings.vault_key,
        "LAVORO_WAREHOUSE_KEY": settings.warehouse_key,
    }
    env.update({name: key.decode("utf-8") for name, key in keys.items() if key is not None})
    if settings.analytics_dir is not None:
        env["LAVORO_ANALYTICS_DIR"] = str(settings.analytics_dir)
    if settings.smtp is not None:
        smtp = settings.smtp
        env.update(
            {
                "LAVORO_SMTP_HOST": smtp.host,
                "LAVORO_SMTP_PORT": str(smtp.port),
                "LAVORO_SMTP_TLS": smtp.tls,
                "LAVORO_SMTP_FROM": smtp.sender,
            }
        )
        if smtp.user is not None and smtp.password is not None:
            env.update({"LAVORO_SMTP_USER": smtp.user, "LAVORO_SMTP_PASSWORD": smtp.password})
    return env
