"""Parsers of Italian cell values: each form of validation-rules.md, worked out by hand."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from lavoro_debole.ingest.values import (
    clean_text,
    is_error_token,
    normalise_token,
    parse_dates,
    parse_numbers,
    parse_yes_no,
)

TODAY = dt.date(2025, 6, 1)  # two-digit years: 00..26 -> 20yy, 27..99 -> 19yy


def _one_date(value: object) -> tuple[dt.date | None, bool]:
    parsed, invalid = parse_dates(pd.Series([value], dtype=object), today=TODAY)
    return parsed.iloc[0], bool(invalid.iloc[0])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.date(2024, 3, 17), dt.date(2024, 3, 17)),
        (dt.datetime(2024, 3, 17, 10, 30), dt.date(2024, 3, 17)),
        (pd.Timestamp("2024-03-17 08:00"), dt.date(2024, 3, 17)),
        ("17/03/2024", dt.date(2024, 3, 17)),
        ("7/3/2024", dt.date(2024, 3, 7)),
        ("07/03/24", dt.date(2024, 3, 7)),
        ("7/3/24", dt.date(2024, 3, 7)),
        ("1/1/26", dt.date(2026, 1, 1)),  # 26 = current yy + 1 -> 2026
        ("1/1/27", dt.date(1927, 1, 1)),
        ("10/12/89", dt.date(1989, 12, 10)),
        ("17-03-2024", dt.date(2024, 3, 17)),
        ("17.03.2024", dt.date(2024, 3, 17)),
        ("2024-03-17", dt.date(2024, 3, 17)),
        ("2024-03-17 14:45:00", dt.date(2024, 3, 17)),
        ("2024-03-17T14:45", dt.date(2024, 3, 17)),
        ("  17/03/2024\xa0", dt.date(2024, 3, 17)),
        ("29/02/2024", dt.date(2024, 2, 29)),
        (45368, dt.date(2024, 3, 17)),  # Excel serial: 1899-12-30 + 45368 days
        (45368.0, dt.date(2024, 3, 17)),
        ("45368", dt.date(2024, 3, 17)),
        (1, dt.date(1899, 12, 31)),
        (2958465, dt.date(9999, 12, 31)),
    ],
)
def test_parse_dates_accepts(value: object, expected: dt.date) -> None:
    assert _one_date(value) == (expected, False)


@pytest.mark.parametrize(
    "value",
    [
        "31/02/2024",
        "29/02/2023",
        "32/01/2024",
        "01/13/2024",
        "2024-02-30",
        "ieri",
        "17 marzo 2024",
        "17/03",
        "17/03/2024/1",
        0,
        2958466,
        45368.5,
        True,
        "-3",
    ],
)
def test_parse_dates_rejects(value: object) -> None:
    assert _one_date(value) == (None, True)


@pytest.mark.parametrize("value", [None, np.nan, "", "   ", "n.d.", "N.D.", "nd", "-", "#N/D"])
def test_parse_dates_no_value_is_null_not_invalid(value: object) -> None:
    assert _one_date(value) == (None, False)


def test_parse_dates_keeps_index_and_mixes_types() -> None:
    values = pd.Series(
        ["17/03/2024", None, "31/02/2024", dt.date(2024, 1, 2), "17/03/2024"],
        index=[10, 11, 12, 13, 14],
        dtype=object,
    )
    parsed, invalid = parse_dates(values, today=TODAY)
    assert list(parsed.index) == [10, 11, 12, 13, 14]
    march_17, january_2 = dt.date(2024, 3, 17), dt.date(2024, 1, 2)
    assert parsed.tolist() == [march_17, None, None, january_2, march_17]
    assert invalid.tolist() == [False, False, True, False, False]
    assert invalid.dtype == bool


def test_parse_dates_does_not_confuse_true_with_serial_one() -> None:
    parsed, invalid = parse_dates(pd.Series([1, True, 1.0], dtype=object), today=TODAY)
    assert parsed.tolist() == [dt.date(1899, 12, 31), None, dt.date(1899, 12, 31)]
    assert invalid.tolist() == [False, True, False]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1.150,50", 1150.5),
        ("€ 500,00", 500.0),
        ("500 €", 500.0),
        ("€500", 500.0),
        ("EUR 1.200", 1200.0),
        ("32,5", 32.5),
        ("32.5", 32.5),
        ("1.150", 1150.0),
        ("1.150.000", 1150000.0),
        ("1 150,50", 1150.5),
        ("1\xa0150,50", 1150.5),
        ("20", 20.0),
        (" 20 ", 20.0),
        ("-3,5", -3.5),
        ("1,150.25", 1150.25),
        (",5", 0.5),
        (20, 20.0),
        (32.5, 32.5),
    ],
)
def test_parse_numbers_accepts(value: object, expected: float) -> None:
    parsed, invalid = parse_numbers(pd.Series([value], dtype=object))
    assert parsed.iloc[0] == expected
    assert not invalid.iloc[0]


@pytest.mark.parametrize(
    "value", ["venti", "12 ore", "1,2,3", "1.15.0", "€", True, dt.date(2024, 1, 1), "1..5"]
)
def test_parse_numbers_rejects(value: object) -> None:
    parsed, invalid = parse_numbers(pd.Series([value], dtype=object))
    assert math.isnan(parsed.iloc[0])
    assert invalid.iloc[0]


def test_parse_numbers_no_value_and_dtype() -> None:
    parsed, invalid = parse_numbers(pd.Series([None, "", "n.d.", "-", "#VALORE!", 3], dtype=object))
    assert parsed.dtype == "float64"
    assert parsed.isna().tolist() == [True, True, True, True, True, False]
    assert invalid.tolist() == [False] * 6


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Sì", True),
        ("Si", True),
        ("SI", True),
        ("sì", True),
        ("S", True),
        ("X", True),
        ("x", True),
        ("1", True),
        ("Vero", True),
        ("True", True),
        (1, True),
        (1.0, True),
        (True, True),
        ("No", False),
        ("NO", False),
        ("0", False),
        ("Falso", False),
        ("False", False),
        (0, False),
        (False, False),
        (None, None),
        ("", None),
        (" ", None),
    ],
)
def test_parse_yes_no_accepts(value: object, expected: bool | None) -> None:
    parsed, invalid = parse_yes_no(pd.Series([value], dtype=object))
    assert parsed.iloc[0] is expected
    assert not invalid.iloc[0]


@pytest.mark.parametrize("value", ["forse", "Sìì", 2, "da valutare", dt.date(2024, 1, 1)])
def test_parse_yes_no_rejects(value: object) -> None:
    parsed, invalid = parse_yes_no(pd.Series([value], dtype=object))
    assert parsed.iloc[0] is None
    assert invalid.iloc[0]


def test_clean_text() -> None:
    values = pd.Series(
        [
            "  Basile\xa0",
            "Affidamento  in\nprova",
            "n.d.",
            "N.D.",
            "-",
            "#N/D",
            "",
            None,
            1609822300000001.0,
            1397160985,
            32.5,
            dt.date(2024, 1, 2),
            dt.datetime(2024, 1, 2, 10, 5),
            dt.datetime(2024, 1, 2),
            True,
        ],
        dtype=object,
    )
    assert clean_text(values).tolist() == [
        "Basile",
        "Affidamento in prova",
        None,
        None,
        None,
        None,
        None,
        None,
        "1609822300000001",
        "1397160985",
        "32.5",
        "02/01/2024",
        "02/01/2024 10:05",
        "02/01/2024",
        "VERO",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Codice Fiscale", "codice fiscale"),
        ("Codice\nFiscale ", "codice fiscale"),
        ("Codice\r\nfiscale\xa0allievo", "codice fiscale allievo"),
        ("  Cod.  Fiscale", "cod fiscale"),
        ("C.F.", "cf"),
        ("Nazionalità", "nazionalita"),
        ("NAZIONALITA'", "nazionalita"),
        ("Libertà vigilata", "liberta vigilata"),
        ("Indennità mensile (€)", "indennita mensile"),
        ("Ex-detenuto", "ex detenuto"),
        ("Svantaggio L.381/91", "svantaggio l381 91"),
        ("N.", "n"),
    ],
)
def test_normalise_token(text: str, expected: str) -> None:
    assert normalise_token(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("#N/D", True), (" #valore! ", True), ("#DIV/0!", True), ("Err:502", True), ("#", False)],
)
def test_is_error_token(text: str, expected: bool) -> None:
    assert is_error_token(text) is expected


def test_parsers_handle_many_rows_quickly() -> None:
    dates = pd.Series([f"{day % 28 + 1:02d}/03/2024" for day in range(200_000)], dtype=object)
    parsed, invalid = parse_dates(dates, today=TODAY)
    assert parsed.iloc[199_999] == dt.date(2024, 3, 24)  # 199999 % 28 = 23 -> day 24
    assert not invalid.any()
