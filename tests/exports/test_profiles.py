"""Funder profiles: the shipped files load; mistakes name the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from lavoro_debole.exports.profiles import (
    PROFILES_DIR,
    ProfileError,
    load_profile,
    load_profiles,
    resolve_periods,
)

GOOD = """\
name: fondazione
title: Fondazione Comunitaria della Provincia di Lodi
recipients: [bandi@example.org]
indicators: [A1, "D*"]
breakdowns: [sesso]
periods: [quarter]
k: 6
"""


def test_shipped_profiles() -> None:
    profiles = load_profiles(PROFILES_DIR)
    assert set(profiles) == {"regione_lombardia", "cassa_ammende"}
    regione = profiles["regione_lombardia"]
    assert regione.indicators[0] == "A1" and regione.indicators[-1] == "F4"
    assert len(regione.indicators) == 21 and "distretto" in regione.breakdowns
    cassa = profiles["cassa_ammende"]
    assert [i[0] for i in cassa.indicators] == ["A"] * 4 + ["B"] * 3 + ["D"] * 6
    assert cassa.k == 5 and cassa.recipients


def test_a_steward_adds_a_funder_by_adding_a_file(tmp_path: Path) -> None:
    (tmp_path / "fondazione.yaml").write_text(GOOD, encoding="utf-8")
    profile = load_profiles(tmp_path)["fondazione"]
    assert profile.indicators == ("A1", "D1", "D2", "D3", "D4", "D5", "D6")
    assert profile.breakdowns == ("sesso",) and profile.k == 6
    assert profile.period_columns("2024-Q3") == ["2024-Q3"]


@pytest.mark.parametrize(
    ("change", "field", "why"),
    [
        (("k: 6", "k: 2"), "k", "never set below 3"),
        (("k: 6", "k: cinque"), "k", "whole number"),
        (("k: 6", "k: true"), "k", "whole number"),
        (("[bandi@example.org]", "[bandi.example.org]"), "recipients", "entry 1"),
        (("[bandi@example.org]", "[]"), "recipients", "non-empty"),
        (('[A1, "D*"]', '[A1, "X*"]'), "indicators", "'X*' matches no indicator"),
        (("[sesso]", "[genere]"), "breakdowns", "'genere' is not a breakdown"),
        (("[quarter]", "[semestre]"), "periods", "'semestre' is not one of"),
        (("name: fondazione", "name: altra"), "name", "must equal the file name"),
        (("name: fondazione", "name: Fondazione X"), "name", "lower-case"),
        (("k: 6", "k: 6\nsoglia: 7"), "soglia", "unknown field"),
        (("title: Fondazione Comunitaria della Provincia di Lodi\n", ""), "title", "required"),
    ],
)
def test_errors_name_the_file_and_the_field(
    tmp_path: Path, change: tuple[str, str], field: str, why: str
) -> None:
    path = tmp_path / "fondazione.yaml"
    path.write_text(GOOD.replace(*change), encoding="utf-8")
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    message = str(err.value)
    assert message.startswith(f"{path}: field '{field}'")
    assert why in message


def test_invalid_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "rotto.yaml"
    path.write_text("name: rotto\nrecipients: [a@b.it\n", encoding="utf-8")
    with pytest.raises(ProfileError, match=r"rotto\.yaml: not valid YAML \(line \d+\)"):
        load_profile(path)


def test_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "lista.yaml"
    path.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ProfileError, match=r"lista\.yaml: a profile must be a mapping"):
        load_profile(path)


@pytest.mark.parametrize(
    ("options", "quarter", "expected"),
    [
        (["quarter"], "2024-Q3", ["2024-Q3"]),
        (["year_to_date"], "2024-Q3", ["2024-Q1", "2024-Q2", "2024-Q3"]),
        (["year_to_date"], "2024-Q4", ["2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4", "2024"]),
        (["previous_four_quarters"], "2024-Q2", ["2023-Q3", "2023-Q4", "2024-Q1", "2024-Q2"]),
        (
            ["quarter", "year_to_date", "previous_four_quarters"],
            "2025-Q1",
            ["2024-Q2", "2024-Q3", "2024-Q4", "2025-Q1"],
        ),
    ],
)
def test_periods(options: list[str], quarter: str, expected: list[str]) -> None:
    assert resolve_periods(options, quarter) == expected


def test_bad_quarter() -> None:
    with pytest.raises(ProfileError, match="2024-Q3"):
        resolve_periods(["quarter"], "2024-T3")
