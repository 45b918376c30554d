"""Which texts cannot be stored as sent, and how they are shown (values.py).

Worked out by hand: each character class the door refuses, each escape it shows.
"""

from __future__ import annotations

import datetime as dt
import os

import pandas as pd
import pytest
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from lavoro_debole.ingest.values import (
    MAX_TEXT_CHARS,
    safe_file_name,
    unusable_cells,
    unusable_text,
    visible_text,
)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Detenuto", None),
        ("Società più è ü ñ € 🙂", None),
        ("riga uno\nriga due\tcon tab\r", None),  # what Alt+Enter and tabs give: fine
        ("\u00a0spazio", None),
        ("x" * MAX_TEXT_CHARS, None),
        ("x" * (MAX_TEXT_CHARS + 1), "text_too_long"),
        ("a\x00b", "control_characters"),
        ("a\x07b", "control_characters"),
        ("a\x0bb", "control_characters"),  # vertical tab: Excel refuses it
        ("a\x1fb", "control_characters"),
        ("a\x7fb", "control_characters"),
        ("a\x85b", "control_characters"),  # C1 controls
        ("a\udc80b", "unicode_invalid"),  # a lone surrogate (a broken decoder)
        ("a\ufffeb", "unicode_invalid"),
        ("a\uffffb", "unicode_invalid"),
        ("a\ufdd0b", "unicode_invalid"),
        ("a\U0010fffeb", "unicode_invalid"),
        ("a\u202eb", "unicode_invalid"),  # right-to-left override
        ("a\u2066b", "unicode_invalid"),  # left-to-right isolate
    ],
)
def test_unusable_text(text: str, reason: str | None) -> None:
    assert unusable_text(text) == reason


def test_every_character_excel_refuses_is_unusable() -> None:
    for code in range(0x20):
        char = chr(code)
        if ILLEGAL_CHARACTERS_RE.search(char):
            assert unusable_text(f"a{char}b") == "control_characters", hex(code)


def test_unusable_cells_judges_text_cells_only() -> None:
    values = pd.Series(
        ["ok", "a\x07", None, 3331234567, 2.5, dt.date(2024, 1, 1), True, "a\x07", "y" * 1001],
        index=range(10, 19),
        dtype=object,
    )
    kinds = unusable_cells(values)
    assert list(kinds.index) == list(range(10, 19))
    assert kinds.tolist() == [
        None,
        "control_characters",
        None,
        None,
        None,
        None,
        None,
        "control_characters",
        "text_too_long",
    ]
    assert unusable_cells(pd.Series([1, 2], dtype=object)).tolist() == [None, None]
    assert unusable_cells(pd.Series([], dtype=object)).tolist() == []


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Detenuto", "Detenuto"),
        ("a\x07b\x00", "a\\x07b\\x00"),
        ("riga\nnuova", "riga\nnuova"),
        ("a\u202eb", "a\\u202eb"),
        ("a\udc80b", "a\\udc80b"),
        ("a\U0010ffffb", "a\\U0010ffffb"),
    ],
)
def test_visible_text(text: str, shown: str) -> None:
    assert visible_text(text) == shown
    assert shown.encode("utf-8")  # always valid UTF-8
    assert ILLEGAL_CHARACTERS_RE.search(shown) is None


def test_visible_text_cuts_with_a_mark() -> None:
    assert visible_text("x" * 5000, 10) == "x" * 10 + "… [troncato: 5.000 caratteri]"
    assert visible_text("x" * 10, 10) == "x" * 10
    assert visible_text("x" * 5000, None) == "x" * 5000


def test_safe_file_name() -> None:
    assert safe_file_name("UdP_Lodi_casi_2024.xlsx") == "UdP_Lodi_casi_2024.xlsx"
    assert safe_file_name("sub/Società è.xlsx") == "sub/Società è.xlsx"
    not_utf8 = os.fsdecode(b"casi_\xe8_2024.xlsx")  # a Windows-1252 name on Linux
    assert safe_file_name(not_utf8) == "casi_\\xe8_2024.xlsx"
    assert safe_file_name("casi\n2024\t.xlsx") == "casi\\x0a2024\\x09.xlsx"
    assert safe_file_name("\u202exslx.exe") == "\\u202exslx.exe"
    # Deterministic and idempotent: the same file gives the same stored name.
    for name in (not_utf8, "casi\n2024.xlsx", "\u202exslx.exe"):
        assert safe_file_name(safe_file_name(name)) == safe_file_name(name)
        assert safe_file_name(name).encode("utf-8")
    # Different odd names stay different.
    assert safe_file_name(os.fsdecode(b"a\xe8.xlsx")) != safe_file_name(os.fsdecode(b"a\xe9.xlsx"))
