"""Where dbt writes when a run builds the models: under the data directory, never in the
installation.

dagster-dbt gives every invocation its own target folder (``target/<op>-<run>-<id>``),
by default inside ``dbt_project/``: about 12 MB a run, forever. Here each invocation's
target is ``<data dir>/dbt/target/<run>-<id>``, dbt's log is ``<data dir>/dbt/logs/``, and
only the last :data:`KEEP_INVOCATIONS` target folders are kept. The prepared manifest in
``dbt_project/target/manifest.json`` (made at install) is only read.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

KEEP_INVOCATIONS = 3


def dbt_paths(data_dir: Path) -> tuple[Path, Path]:
    """``(target root, log folder)`` of dbt for a data directory."""
    root = Path(data_dir) / "dbt"
    return root / "target", root / "logs"


def invocation_target(data_dir: Path, run_id: str | None = None) -> Path:
    """A new target folder for one dbt invocation (not created: dbt creates it)."""
    target_root, _ = dbt_paths(data_dir)
    stem = f"{run_id[:8]}-" if run_id else ""
    return target_root / f"{stem}{uuid.uuid4().hex[:8]}"


def prune_invocations(data_dir: Path, keep: int = KEEP_INVOCATIONS) -> list[Path]:
    """Remove all but the ``keep`` most recent invocation folders; returns those removed."""
    target_root, _ = dbt_paths(data_dir)
    if not target_root.is_dir():
        return []
    folders = sorted(
        (p for p in target_root.iterdir() if p.is_dir() and not p.is_symlink()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    removed = folders[keep:]
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
    return removed
