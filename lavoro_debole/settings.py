"""Every setting of the warehouse, read from the environment in this one module.

The rooms take these values as arguments; only the command line and the Dagster
resources call :func:`load_settings`, so a test or a notebook can pass its own.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

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
    quarter_start_month = 3 * ((today.month - 1) // 3) + 1
    return dt.date(today.year, quarter_start_month, 1) - dt.timedelta(days=1)


DEFAULT_DUCKDB_MEMORY = "3GB"
"""Sized for a provincial office's 8 GiB machine: DuckDB, Python and the reader together."""
MEMORY_LIMIT = re.compile(r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    pseudonym_key: bytes | None
    cutoff: dt.date
    new_pseudonym_key: bytes | None = None
    """Only for ``lavoro ruota-chiave``: the key that replaces ``pseudonym_key``."""
    analytics_dir: Path | None = None
    """The analysts' folder, outside the data directory (default: see ``default_analytics_dir``)."""
    vault_key: bytes | None = None
    """The key of the encrypted vault of rejected rows (``vault.duckdb``)."""
    ui_allowed_hosts: tuple[str, ...] = ()
    """Further ``Host`` values the UI answers (``LAVORO_UI_ALLOWED_HOSTS``), besides
    127.0.0.1:PORT, localhost:PORT and [::1]:PORT: the name an authenticating reverse
    proxy passes on."""
    # The reader worker's address-space limit and wall time per file (issue 9 §1).
    reader_memory_mb: int = 2048
    reader_timeout_s: float = 120.0
    warehouse_wait_s: float = 120.0
    """How long a run waits for another process to let go of the warehouse."""
    duckdb_memory_limit: str = DEFAULT_DUCKDB_MEMORY
    """What DuckDB may hold in memory in every process (ingest, dbt, exports, the copy);
    beyond it large operations spill to ``duckdb_temp_dir`` instead of growing."""
    warehouse_key: bytes | None = None
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


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
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
        warehouse_key=parse_key(env.get("LAVORO_WAREHOUSE_KEY"), "LAVORO_WAREHOUSE_KEY"),
    )
