"""dbt's DuckDB session is bounded from the moment it opens, never re-set per cursor.

dbt-duckdb runs ``SET`` for every key of the profile's ``settings`` on each new cursor;
once a query has spilled, DuckDB refuses to set ``temp_directory`` again, even to the
same path, and every later node of the build failed (found at 200,000 persons by
``benchmarks/run_all.py``). ``config_options`` are given once, when DuckDB opens.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

PROFILE = Path(__file__).resolve().parents[2] / "dbt_project" / "profiles.yml"


@pytest.mark.parametrize("target", ["dev", "cifrato"])
def test_the_limits_are_given_when_the_database_opens(target: str):
    outputs = yaml.safe_load(PROFILE.read_text(encoding="utf-8"))["lavoro_debole"]["outputs"]
    output = outputs[target]
    assert {"memory_limit", "temp_directory"} <= set(output["config_options"])
    assert not {"memory_limit", "temp_directory"} & set(output.get("settings") or {})


def test_duckdb_refuses_to_switch_the_spill_directory_once_used(tmp_path: Path):
    """Why: the behaviour of DuckDB that per-cursor settings ran into."""
    spill = tmp_path / "tmp"
    config = {
        "memory_limit": "100MB",
        "temp_directory": str(spill),
        "threads": 1,
        "preserve_insertion_order": False,
    }
    con = duckdb.connect(str(tmp_path / "w.duckdb"), config=config)
    con.execute("create table t as select i, md5(i::varchar) s from range(2000000) r(i)")
    con.execute("select s, count(*) from t group by s order by s limit 1").fetchall()
    assert spill.is_dir()  # the query spilled
    with pytest.raises(duckdb.NotImplementedException):
        con.cursor().execute(f"set temp_directory = '{spill}'")
    assert con.cursor().execute("select 1").fetchone() == (1,)  # no SET: a cursor works
