"""Reference date and covered period from file names and title rows."""

from __future__ import annotations

import datetime as dt

import pytest

from lavoro_debole.ingest.reference_dates import (
    Coverage,
    coverage_from_name,
    coverage_from_title,
)

D = dt.date


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "CO_Provincia_Lodi_estrazione_20251231.xlsx",
            Coverage(D(2025, 12, 31), None, D(2025, 12, 31)),
        ),
        ("estrazione 31-12-2025.xls", Coverage(D(2025, 12, 31), None, D(2025, 12, 31))),
        (
            "inbox/provincia_co/estrazione_30.09.2024.xls",
            Coverage(D(2024, 9, 30), None, D(2024, 9, 30)),
        ),
        ("tirocini_2024_T3.xlsx", Coverage(D(2024, 9, 30), D(2024, 7, 1), D(2024, 9, 30))),
        ("tirocini_2024-T3.xlsx", Coverage(D(2024, 9, 30), D(2024, 7, 1), D(2024, 9, 30))),
        ("T3_2024.xlsx", Coverage(D(2024, 9, 30), D(2024, 7, 1), D(2024, 9, 30))),
        ("Mosaico_3trim2024.ods", Coverage(D(2024, 9, 30), D(2024, 7, 1), D(2024, 9, 30))),
        ("q1 2025.xlsx", Coverage(D(2025, 3, 31), D(2025, 1, 1), D(2025, 3, 31))),
        ("Arca_2025_S1.xlsx", Coverage(D(2025, 6, 30), D(2025, 1, 1), D(2025, 6, 30))),
        ("cfp_S2_2024.xlsx", Coverage(D(2024, 12, 31), D(2024, 7, 1), D(2024, 12, 31))),
        ("sportello_contatti_2024_04.csv", Coverage(D(2024, 4, 30), D(2024, 4, 1), D(2024, 4, 30))),
        ("sportello_contatti_2024_02.csv", Coverage(D(2024, 2, 29), D(2024, 2, 1), D(2024, 2, 29))),
        ("contatti maggio 2024.csv", Coverage(D(2024, 5, 31), D(2024, 5, 1), D(2024, 5, 31))),
        ("Maggio_2024.csv", Coverage(D(2024, 5, 31), D(2024, 5, 1), D(2024, 5, 31))),
        ("contatti_set_2024.csv", Coverage(D(2024, 9, 30), D(2024, 9, 1), D(2024, 9, 30))),
        ("contatti_DIC2023.csv", Coverage(D(2023, 12, 31), D(2023, 12, 1), D(2023, 12, 31))),
        ("casi_2025.ods", Coverage(D(2025, 12, 31), D(2025, 1, 1), D(2025, 12, 31))),
        ("anno 2023.xlsx", Coverage(D(2023, 12, 31), D(2023, 1, 1), D(2023, 12, 31))),
        ("casi_2024_v2.xlsx", Coverage(D(2024, 12, 31), D(2024, 1, 1), D(2024, 12, 31))),
        (
            "UdP_SantAngeloLodigiano_casi_2025.ods",  # "angelo" and "lodigiano" are no months
            Coverage(D(2025, 12, 31), D(2025, 1, 1), D(2025, 12, 31)),
        ),
        (
            "CO_2025_T4_estrazione_20260115.xlsx",
            Coverage(D(2026, 1, 15), D(2025, 10, 1), D(2025, 12, 31)),
        ),
    ],
)
def test_coverage_from_name(name: str, expected: Coverage) -> None:
    assert coverage_from_name(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "tirocini.xlsx",
        "elenco_01397160985_v2.xlsx",  # a P.IVA holds no date
        "coop 12345678901 v3.ods",
        "estrazione_20250231.xlsx",  # no 31 February: no date at all
    ],
)
def test_coverage_from_name_without_dates(name: str) -> None:
    assert coverage_from_name(name) is None


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (["Estrazione al 30/09/2024"], Coverage(D(2024, 9, 30), None, D(2024, 9, 30))),
        (["Situazione al 30.09.2024"], Coverage(D(2024, 9, 30), None, D(2024, 9, 30))),
        (
            [
                "PROVINCIA DI LODI - Centro per l'Impiego",
                "Comunicazioni Obbligatorie (UNILAV) - dal 01/01/2023",
                "Estrazione al 31/12/2025",
            ],
            Coverage(D(2025, 12, 31), D(2023, 1, 1), D(2025, 12, 31)),
        ),
        (
            ["Ufficio di Piano", "Registro prese in carico area penale - anno 2025"],
            Coverage(D(2025, 12, 31), D(2025, 1, 1), D(2025, 12, 31)),
        ),
        (
            ["Periodo 01/04/2024 - 30/06/2024"],
            Coverage(D(2024, 6, 30), D(2024, 4, 1), D(2024, 6, 30)),
        ),
        (
            ["Inserimenti dal 01/01/2024 al 30/06/2024"],
            Coverage(D(2024, 6, 30), D(2024, 1, 1), D(2024, 6, 30)),
        ),
        (["III trimestre 2024"], Coverage(D(2024, 9, 30), D(2024, 7, 1), D(2024, 9, 30))),
        (["1° semestre 2025"], Coverage(D(2025, 6, 30), D(2025, 1, 1), D(2025, 6, 30))),
        (["Contatti di aprile 2024"], Coverage(D(2024, 4, 30), D(2024, 4, 1), D(2024, 4, 30))),
        (
            ["Dati dal 2023 - situazione al 31/12/2025"],
            Coverage(D(2025, 12, 31), D(2023, 1, 1), D(2025, 12, 31)),
        ),
    ],
)
def test_coverage_from_title(cells: list[str], expected: Coverage) -> None:
    assert coverage_from_title(cells) == expected


def test_coverage_from_title_without_dates() -> None:
    assert coverage_from_title(["Cooperativa Il Mosaico Servizi"]) is None
    assert coverage_from_title([]) is None
