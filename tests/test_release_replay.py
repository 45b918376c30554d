"""Releases over time on a generated inbox: a sent release stays as sent, a later one
revises it in the open, and `lavoro ricostruisci` rebuilds the first one from the inbox
as it stood, cell by cell."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from lavoro_debole.synthetic import generate_inbox

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LAVORO = Path(sys.executable).parent / "lavoro"


def _lavoro(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LAVORO), *args],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )


def test_a_sent_release_is_kept_revised_in_the_open_and_replayed(tmp_path: Path):
    data_dir = tmp_path / "dati"
    source = tmp_path / "fonte"
    generate_inbox(source, persons=20, seed=11)
    # the inbox of the first release: everything but the desk's December file
    shutil.copytree(source / "inbox", data_dir / "inbox")
    late = data_dir / "inbox" / "sportello" / "sportello_contatti_2025_12.csv"
    held_back = tmp_path / late.name
    shutil.move(late, held_back)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LAVORO_")},
        "LAVORO_DATA_DIR": str(data_dir),
        "LAVORO_ANALYTICS_DIR": str(tmp_path / "analisi"),
        "LAVORO_PSEUDONYM_KEY": "replay-test-key-0123456789abcdef0123456",
        "LAVORO_VAULT_KEY": "replay-test-vault-0123456789abcdef012345",
        "LAVORO_CUTOFF": "2025-12-31",
        "DAGSTER_HOME": str(data_dir / "dagster"),
    }
    first = _lavoro(env, "run")
    assert first.returncode in (0, 3), first.stdout[-3000:] + first.stderr[-3000:]
    approved = _lavoro(env, "approva", "regione_lombardia", "2025-Q4", "--da", "Referente")
    assert approved.returncode == 0, approved.stdout + approved.stderr
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    path, sha = con.execute(
        "select workbook_path, sha256 from ops.releases where profile = 'regione_lombardia'"
    ).fetchone()
    con.close()

    # the December file arrives late: release 2 of the same quarter, its cells revised
    shutil.copy2(held_back, late)
    second = _lavoro(env, "run")
    assert second.returncode in (0, 3), second.stdout[-3000:] + second.stderr[-3000:]
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    rows = con.execute(
        "select release_seq, status, cells_revised from ops.releases"
        " where profile = 'regione_lombardia' order by release_seq"
    ).fetchall()
    revised = con.execute(
        "select distinct indicator_id from ops.release_cells where profile = 'regione_lombardia'"
        " and release_seq = 2 and revised"
    ).fetchall()
    con.close()
    assert [r[:2] for r in rows] == [(1, "approved"), (2, "candidate")]
    assert rows[1][2] > 0 and ("A3",) in revised  # the desk's contacts of December
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == sha  # kept as sent

    warehouse = data_dir / "warehouse.duckdb"
    before = hashlib.sha256(warehouse.read_bytes()).hexdigest()
    replay = _lavoro(env, "ricostruisci", "regione_lombardia", "2025-Q4", "1")
    assert replay.returncode == 0, replay.stdout[-3000:] + replay.stderr[-3000:]
    assert "Uguale al rilascio inviato, cella per cella" in replay.stdout
    # and the candidate built on the later inbox is not the first release
    other = _lavoro(env, "ricostruisci", "regione_lombardia", "2025-Q4", "2")
    assert other.returncode == 0, other.stdout[-3000:] + other.stderr[-3000:]
    # the replays wrote only their scratch folders
    assert hashlib.sha256(warehouse.read_bytes()).hexdigest() == before
    assert len(list(data_dir.glob(".ricostruzione-regione_lombardia-2025-Q4-*"))) >= 2
