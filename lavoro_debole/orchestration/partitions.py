"""Quarters as Dagster partitions: ``2025-Q4``, the spelling of ``indicators.md``.

Dynamic partitions, kept in the Dagster instance: a fixed list computed when the code
is loaded would miss every quarter that ends while ``lavoro ui`` keeps running, and the
quarterly schedule would then ask for a quarter Dagster does not know. The inbox sensor
adds each quarter once it is complete by the cut-off date, the schedule adds the quarter
it sends, and ``lavoro run`` / ``lavoro ui`` add them all when they start.
"""

import datetime as dt

import dagster as dg

from lavoro_debole.periods import Quarter

FIRST_QUARTER = "2023-Q1"
QUARTERS = dg.DynamicPartitionsDefinition(name="trimestri")


def quarter_of(day: dt.date) -> str:
    return str(Quarter.of(day))


def quarters_until(last: str, first: str = FIRST_QUARTER) -> list[str]:
    return [str(q) for q in Quarter.range(Quarter.parse(first), Quarter.parse(last))]


def complete_quarters(cutoff: dt.date) -> list[str]:
    """Every quarter from the programme's first to the last one ended by ``cutoff``
    (the quarters the warehouse computes indicators for)."""
    return quarters_until(str(Quarter.last_complete(cutoff + dt.timedelta(days=1))))


def missing_quarters(instance: dg.DagsterInstance, quarters: list[str]) -> list[str]:
    known = set(instance.get_dynamic_partitions(QUARTERS.name))
    return [quarter for quarter in quarters if quarter not in known]


def add_quarters(instance: dg.DagsterInstance, quarters: list[str]) -> list[str]:
    """Add the quarters the instance does not know yet; returns those added."""
    missing = missing_quarters(instance, quarters)
    if missing:
        instance.add_dynamic_partitions(QUARTERS.name, missing)
    return missing
