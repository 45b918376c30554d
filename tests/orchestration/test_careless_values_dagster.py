"""Careless values through the Dagster ingest asset: nothing of them in the event log.

The same kinds of cell as ``tests/ingest/test_careless_values.py`` (a control
character, a phone number as year of birth) and a library failing with a value in its
message, materialised in process; every event of the run, serialised, is searched for
the values and the library's text.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from lavoro_debole.ingest import pipeline
from lavoro_debole.orchestration.ingest_assets import build_ingest_asset
from lavoro_debole.orchestration.resources import WarehouseResource
from lavoro_debole.schemas import FEEDS
from tests.factories import CF_ANNA, CF_MARIO, KEY, PLANTED_CF, VAULT_KEY, write_csv

HEADER = ["ID contatto", "Data", "Tipo utente", "Anno nascita", "CF"]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAVORO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LAVORO_PSEUDONYM_KEY", KEY.decode())
    monkeypatch.setenv("LAVORO_VAULT_KEY", VAULT_KEY.decode())
    monkeypatch.setenv("LAVORO_CUTOFF", "2024-12-31")
    return tmp_path


def test_no_value_nor_library_text_reaches_the_event_log(data_dir: Path, monkeypatch):
    folder = data_dir / "inbox" / "sportello"
    write_csv(
        folder / "a_contatti_2024_02.csv",
        [
            HEADER,
            ["101", "01/02/2024", "Detenuto", "1980", CF_MARIO],
            ["102", "02/02/2024", "Detenuto\x07riservato", "1980", ""],
            ["103", "03/02/2024", "Detenuto", "3331234567", ""],
        ],
        encoding="utf-8",
    )
    write_csv(
        folder / "b_contatti_2024_03.csv",
        [HEADER, ["104", "01/03/2024", "Detenuto", "1975", CF_ANNA]],
        encoding="utf-8",
    )
    real = pipeline.person_columns

    def broken(values, key):
        if CF_ANNA in values.tolist():  # the second file only
            raise RuntimeError(f"cannot hash {PLANTED_CF}")
        return real(values, key)

    monkeypatch.setattr(pipeline, "person_columns", broken)
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [build_ingest_asset(FEEDS["sportello"])],
        resources={"warehouse": WarehouseResource()},
        instance=instance,
        raise_on_error=False,
    )
    assert result.success
    [materialization] = result.asset_materializations_for_node("ingest_sportello")
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    assert metadata["Righe caricate"] == 1
    assert metadata["Righe scartate"] == 2
    assert metadata["File rifiutati"] == 1
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert "RuntimeError" in checks["righe_scartate"].description
    assert "b_contatti_2024_03.csv" in checks["righe_scartate"].description

    events = "\n".join(dg.serialize_value(entry) for entry in instance.all_logs(result.run_id))
    for value in (CF_MARIO, CF_ANNA, PLANTED_CF, "riservato", "3331234567", "cannot hash"):
        assert value not in events
    for library_text in ("Conversion Error", "IllegalCharacterError", "Traceback"):
        assert library_text not in events


def test_a_feedback_that_could_not_be_written_fails_the_check_saying_why(
    data_dir: Path, monkeypatch
):
    """One bad row of 20 (under the 10% threshold), but its feedback was not written:
    the steward is told, since the partner cannot be."""
    rows = [HEADER] + [[str(100 + i), "01/02/2024", "Detenuto", "1980", ""] for i in range(19)]
    rows.append(["200", "01/02/2024", "Boh", "1980", ""])
    write_csv(data_dir / "inbox" / "sportello" / "contatti_2024_02.csv", rows, encoding="utf-8")
    # The feedback folder is a file: a real failure of the writer.
    (data_dir / "feedback").mkdir()
    (data_dir / "feedback" / "sportello").write_text("not a folder")
    result = dg.materialize(
        [build_ingest_asset(FEEDS["sportello"])],
        resources={"warehouse": WarehouseResource()},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["righe_scartate"].passed is False
    assert "riepilogo per il partner non scritto (FileExistsError)" in (
        checks["righe_scartate"].description
    )
    assert checks["conservazione_righe"].passed is True
