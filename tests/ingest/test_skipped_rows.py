"""``is_skipped_row`` is exactly ``is_blank_row or is_total_row``, in one pass."""

from __future__ import annotations

import datetime as dt
import itertools
import random

from lavoro_debole.ingest.headers import is_blank_row, is_skipped_row, is_total_row

CELLS = [
    None,
    "",
    " ",
    "\xa0",
    "\n\t",
    "#N/D",
    " #VALORE! ",
    "\xa0#REF!",
    "Err:502",
    "Totale",
    " TOTALE generale",
    "\xa0totale",
    "Tot.",
    "x Totale",
    "RSSMRA80A01E648Q",
    "Sì",
    0,
    1,
    2.5,
    True,
    False,
    dt.date(2024, 1, 31),
]


def test_every_short_row_agrees() -> None:
    for width in range(4):
        for row in itertools.product(CELLS, repeat=width):
            for ignore in (frozenset(), frozenset({0}), frozenset({1, 2})):
                expected = is_blank_row(row, ignore=ignore) or is_total_row(row)
                assert is_skipped_row(list(row), ignore) == expected, (row, ignore)


def test_random_wide_rows_agree() -> None:
    rng = random.Random(3)
    for _ in range(20000):
        row = [rng.choice(CELLS) if rng.random() < 0.4 else None for _ in range(8)]
        ignore = frozenset(rng.sample(range(8), rng.randrange(3)))
        expected = is_blank_row(row, ignore=ignore) or is_total_row(row)
        assert is_skipped_row(row, ignore) == expected, (row, ignore)
