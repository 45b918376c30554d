"""Larger generations, argument checks, and the room's import boundary."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from stdnum.it import codicefiscale as stdnum_cf

from lavoro_debole.synthetic import generate_inbox
from tests.synthetic.conftest import read_file


def test_thousand_persons(tmp_path: Path) -> None:
    began = time.perf_counter()
    manifest = generate_inbox(tmp_path, persons=1000, seed=5)
    assert time.perf_counter() - began < 60
    co = manifest.feeds["provincia_co"].distinct_records["provincia_co"]
    assert co > 1000  # about two notifications per person or more
    assert manifest.feeds["servizi_sociali"].distinct_records["servizi_sociali"] >= 1000
    latest = max(
        (f for f in manifest.files if f.feed == "provincia_co" and f.status == "loaded"),
        key=lambda f: f.path,
    )
    sheets, _ = read_file(tmp_path / "inbox" / "provincia_co" / latest.path, "provincia_co")
    assert sum(len(s.data_rows) for s in sheets) == latest.rows_data
    workers = {str(sheets[0].rows[i][2]) for i in sheets[0].data_rows} - set(
        manifest.planted_personal_values
    )
    assert all(stdnum_cf.is_valid(cf) for cf in workers)
    # the planted problems stay a fixed handful, whatever the size
    assert latest.rows_rejected == 6


def test_small_or_short_inputs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="persons"):
        generate_inbox(tmp_path, persons=5)
    with pytest.raises(ValueError, match="period"):
        generate_inbox(tmp_path, start=date(2024, 1, 1), until=date(2024, 2, 1))


def test_other_period_still_plants_everything(tmp_path: Path) -> None:
    manifest = generate_inbox(
        tmp_path, persons=12, seed=9, start=date(2024, 1, 1), until=date(2024, 9, 30)
    )
    kinds = {p.kind for f in manifest.files for p in f.problems}
    assert {
        "missing",
        "cf_invalid",
        "piva_invalid",
        "date_invalid",
        "number_invalid",
        "yesno_invalid",
        "vocabulary",
        "date_order",
    } <= kinds
    assert {f.status for f in manifest.files} == {"loaded", "duplicate", "rejected"}


def test_room_imports_neither_dagster_nor_ingest() -> None:
    code = (
        "import sys, lavoro_debole.synthetic\n"
        "bad = [m for m in sys.modules if m.split('.')[0] == 'dagster'"
        " or m.startswith(('lavoro_debole.ingest', 'lavoro_debole.schemas'))]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
