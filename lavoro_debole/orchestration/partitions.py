"""Quarters as Dagster partitions: ``2025-Q4``, the spelling of ``indicators.md``."""

import datetime as dt

import dagster as dg

FIRST_QUARTER = "2023-Q1"


def quarter_of(day: dt.date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def quarters_until(last: str, first: str = FIRST_QUARTER) -> list[str]:
    year, quarter = int(first[:4]), int(first[-1])
    end_year, end_quarter = int(last[:4]), int(last[-1])
    keys = []
    while (year, quarter) <= (end_year, end_quarter):
        keys.append(f"{year}-Q{quarter}")
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    return keys


def quarter_partitions(today: dt.date | None = None) -> dg.StaticPartitionsDefinition:
    """Every quarter from the programme's first to the last complete one."""
    from lavoro_debole.settings import last_complete_quarter_end

    last = quarter_of(last_complete_quarter_end(today or dt.date.today()))
    return dg.StaticPartitionsDefinition(quarters_until(last))
