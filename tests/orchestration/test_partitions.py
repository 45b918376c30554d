"""The workbooks' quarters: which exist for a cut-off date, added once to the instance."""

import datetime as dt

import dagster as dg

from lavoro_debole.orchestration.partitions import add_quarters, complete_quarters


def test_the_quarters_are_those_complete_by_the_cutoff():
    assert complete_quarters(dt.date(2023, 3, 31)) == ["2023-Q1"]
    assert complete_quarters(dt.date(2023, 3, 30)) == []
    assert complete_quarters(dt.date(2024, 7, 1))[-2:] == ["2024-Q1", "2024-Q2"]
    assert len(complete_quarters(dt.date(2025, 12, 31))) == 12


def test_quarters_are_added_once():
    instance = dg.DagsterInstance.ephemeral()
    assert add_quarters(instance, ["2023-Q1", "2023-Q2"]) == ["2023-Q1", "2023-Q2"]
    assert add_quarters(instance, ["2023-Q1", "2023-Q2", "2023-Q3"]) == ["2023-Q3"]
    assert instance.get_dynamic_partitions("trimestri") == ["2023-Q1", "2023-Q2", "2023-Q3"]
