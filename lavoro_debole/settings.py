"""Every setting of the warehouse, read from the environment in this one module.

The rooms take these values as arguments; only the command line and the Dagster
resources call :func:`load_settings`, so a test or a notebook can pass its own.
"""

from __future__ import annotations

import datetime as dt
import os
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


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    pseudonym_key: bytes | None
    cutoff: dt.date
    warehouse_wait_s: float = 120.0
    """How long a run waits for another process to let go of the warehouse."""

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
    def analytics_path(self) -> Path:
        return self.data_dir / "analytics.duckdb"

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


def parse_key(raw: str | None) -> bytes | None:
    """Accept the key as text of at least 32 bytes; refuse shorter ones."""
    if raw is None or raw.strip() == "":
        return None
    key = raw.strip().encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        raise SettingsError(
            f"LAVORO_PSEUDONYM_KEY is {len(key)} bytes long; it must be at least "
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


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    return Settings(
        data_dir=Path(env.get("LAVORO_DATA_DIR") or "data").resolve(),
        pseudonym_key=parse_key(env.get("LAVORO_PSEUDONYM_KEY")),
        cutoff=parse_cutoff(env.get("LAVORO_CUTOFF")),
        warehouse_wait_s=parse_seconds(
            "LAVORO_WAREHOUSE_WAIT_S", env.get("LAVORO_WAREHOUSE_WAIT_S"), 120.0
        ),
    )
