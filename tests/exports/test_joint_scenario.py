"""Two quarters in sequence on a generated inbox (issue 12 §4): the first release of
every funder approved; files added, some late for the first quarter; the second
release built and approved. An attacker written here, over every workbook read back
with openpyxl (funders talk), pins no small cell and no small difference below k."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest
from joint_attacker import KEYS, View, attack

from lavoro_debole.exports.catalogue import BREAKDOWN_LABELS, TOTAL, indicator_info
from lavoro_debole.synthetic import generate_inbox

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LAVORO = Path(sys.executable).parent / "lavoro"
K = 5
#: files that arrive only after the first release: the desk's contacts of May (late
#: for 2025-Q2, which both quarters' workbooks show), of August and September (late for
#: 2025-Q3) and everything of the fourth quarter
LATE = (
    "sportello/sportello_contatti_2025_05.csv",
    "sportello/sportello_contatti_2025_08.csv",
    "sportello/sportello_contatti_2025_09.csv",
    "sportello/sportello_contatti_2025_10.csv",
    "sportello/sportello_contatti_2025_11.csv",
    "sportello/sportello_contatti_2025_12.csv",
    "provincia_tirocini/Tirocini_BorseLavoro_Provincia_Lodi_2025_T3.xlsx",
    "provincia_tirocini/Tirocini_BorseLavoro_Provincia_Lodi_2025_T4.xlsx",
    "imprese/Rete_Imprese_contatti_2025_T4.xlsx",
)


def _lavoro(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LAVORO), *args],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )


def _truth(data_dir: Path) -> pd.DataFrame:
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        frame = con.execute(
            "select indicator_id, period, breakdown, category, value, numerator, denominator"
            " from marts.indicator_values"
        ).df()
        rows = con.execute(
            "select profile, quarter, release_seq, status, workbook_path from ops.releases"
            " order by profile, quarter, release_seq"
        ).fetchall()
    finally:
        con.close()
    return frame, rows


def _read_workbook(path: Path, periods: list[str]) -> pd.DataFrame:
    """The cells of a workbook's sheet Dati: keys and whether each shows ``c``."""
    labels = {
        ("T" + p.split("-Q")[1] + " " + p[:4]) if "-Q" in p else f"Anno {p}": p for p in periods
    }
    breakdowns = {v: k for k, v in BREAKDOWN_LABELS.items()}
    ws = openpyxl.load_workbook(path, read_only=True)["Dati"]
    out = []
    for row in ws.iter_rows(min_row=2, values_only=True):
        # the category's code (column "Codice categoria"), not the name shown beside it
        code, _name, period, breakdown, _label, value, *_ = row
        category = row[11]
        if code is None or str(code).startswith("Q"):
            continue
        bd = breakdowns.get(breakdown, breakdown)
        out.append(
            {
                "indicator_id": code,
                "period": labels[period],
                "breakdown": bd,
                "category": TOTAL if bd == TOTAL else category,
                "shown": value,
                "suppressed": value == "c",
            }
        )
    return pd.DataFrame(out)


def _view(version: str, cells: pd.DataFrame, truth: pd.DataFrame) -> View:
    merged = cells.merge(truth, on=KEYS, how="left", validate="one_to_one")
    # the truth read back lines up with what the workbook shows: every count shown
    # equals the warehouse's figure of that time
    counts = merged[
        ~merged["suppressed"]
        & merged["indicator_id"].map(lambda i: indicator_info(i).kind == "count")
        & merged["value"].notna()
    ]
    assert len(counts) > 50
    assert (counts["shown"].astype(float) == counts["value"]).all()
    return View(version, merged)


def test_two_quarters_are_safe_together(tmp_path: Path):
    data_dir = tmp_path / "dati"
    source = tmp_path / "fonte"
    generate_inbox(source, persons=20, seed=11)
    shutil.copytree(source / "inbox", data_dir / "inbox")
    held = tmp_path / "tardivi"
    for name in LATE:
        (held / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(data_dir / "inbox" / name, held / name)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LAVORO_")},
        "LAVORO_DATA_DIR": str(data_dir),
        "LAVORO_ANALYTICS_DIR": str(tmp_path / "analisi"),
        "LAVORO_PSEUDONYM_KEY": "joint-test-key-0123456789abcdef0123456789",
        "LAVORO_VAULT_KEY": "joint-test-vault-0123456789abcdef01234567",
        "LAVORO_CUTOFF": "2025-09-30",
        "DAGSTER_HOME": str(data_dir / "dagster"),
    }
    first = _lavoro(env, "run")
    assert first.returncode in (0, 3), first.stdout[-3000:] + first.stderr[-3000:]
    approved = _lavoro(env, "approva", "--tutti", "2025-Q3", "--da", "Referente")
    assert approved.returncode == 0, approved.stdout + approved.stderr
    truth1, releases1 = _truth(data_dir)
    assert {(r[0], r[1], r[3]) for r in releases1} == {
        ("cassa_ammende", "2025-Q3", "approved"),
        ("regione_lombardia", "2025-Q3", "approved"),
    }

    for name in LATE:
        shutil.move(held / name, data_dir / "inbox" / name)
    env["LAVORO_CUTOFF"] = "2025-12-31"
    second = _lavoro(env, "run")
    assert second.returncode in (0, 3), second.stdout[-3000:] + second.stderr[-3000:]
    approved = _lavoro(env, "approva", "--tutti", "2025-Q4", "--da", "Referente")
    assert approved.returncode == 0, approved.stdout + approved.stderr
    truth2, releases2 = _truth(data_dir)
    assert [(r[0], r[1], r[3]) for r in releases2] == [
        ("cassa_ammende", "2025-Q3", "approved"),
        ("cassa_ammende", "2025-Q4", "approved"),
        ("regione_lombardia", "2025-Q3", "approved"),
        ("regione_lombardia", "2025-Q4", "approved"),
    ]

    periods = sorted(set(truth1["period"]) | set(truth2["period"]))
    views = []
    for _profile, quarter, _seq, _status, path in releases2:
        cells = _read_workbook(Path(path), periods)
        assert len(cells) > 100
        views.append(
            _view(
                "v1" if quarter == "2025-Q3" else "v2",
                cells,
                truth1 if quarter == "2025-Q3" else truth2,
            )
        )

    # the late files changed figures both quarters' workbooks show
    both = views[0].cells.merge(views[1].cells, on=KEYS, suffixes=("_1", "_2"))
    changed = both[(both["value_1"] - both["value_2"]).abs() > 0]
    assert len(changed) > 0
    findings = attack(views, "v2", K)
    differences = [f for f in findings if f.what == "differenza"]
    # small differences on cells the first releases showed: a per-release protection
    # would show them again and let the two workbooks tell the late contacts apart
    shown_before = {
        tuple(r)
        for view in views
        if view.version == "v1"
        for r in view.cells.loc[~view.cells["suppressed"], KEYS].to_numpy()
    }
    assert any(f.key in shown_before for f in differences)
    narrow = [(f.what, f.key, f.quantity) for f in findings if f.width < K - 1e-7]
    assert narrow == []
