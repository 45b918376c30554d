"""The SQL of dbt_project/ is sqlfluff clean (dbt templater, duckdb dialect, lower case).

sqlfluff honours the templater only from a config in the directory it runs in, so the
linter runs inside dbt_project/, where .sqlfluff lives.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SQLFLUFF = Path(sys.executable).parent / "sqlfluff"


@pytest.mark.slow
def test_sqlfluff_lint_passes(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAVORO_")}
    env |= {"LAVORO_DATA_DIR": str(tmp_path), "LAVORO_CUTOFF": "2025-12-31"}
    result = subprocess.run(
        [str(SQLFLUFF), "lint", ".", "--disable-progress-bar"],
        cwd=REPO / "dbt_project",
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
