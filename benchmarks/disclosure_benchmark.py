"""Speed of the disclosure search and its audit on a real mart.

Not a test: ``.venv/bin/python benchmarks/disclosure_benchmark.py WAREHOUSE [--k 5]`` reads
``marts.indicator_values`` from a built warehouse (for example ``data/demo/warehouse.duckdb``
after ``make demo``, with ``LAVORO_WAREHOUSE_KEY`` from ``CHIAVE_MAGAZZINO_DIMOSTRATIVA.txt``:
the demo's warehouse is encrypted at rest), then times, in this process, the whole
protection (primary and complementary suppression with every audit of the search) and
one final audit of everything the mart publishes, and counts the linear programmes the
audit built and solved. Issue 14 asks that the search cost what HiGHS costs: each
attacker programme is built once per group of hidden cells and re-solved by changing
its objective.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from lavoro_debole.exports.audit import audit_universe
from lavoro_debole.exports.publish import protect_for, read_indicator_values
from lavoro_debole.ingest.warehouse_db import KEY_VARIABLE, open_warehouse
from lavoro_debole.settings import parse_key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    # a deployment's warehouse encrypted at rest opens with LAVORO_WAREHOUSE_KEY
    key = parse_key(os.environ.get(KEY_VARIABLE), KEY_VARIABLE)
    con = open_warehouse(args.warehouse, read_only=True, key=key)
    frame = read_indicator_values(con)
    con.close()
    started = time.perf_counter()
    protection = protect_for(frame, args.k)
    protected = time.perf_counter() - started
    universe = protection.universe
    started = time.perf_counter()
    universe.range_cache.clear()
    audit = audit_universe(universe, ~protection.suppressed, args.k)
    audited = time.perf_counter() - started
    print(f"cells {len(frame)}, hidden {int(protection.suppressed.sum())}, k={args.k}")
    print(f"protection (search with its audits): {protected:.2f} s")
    quantities = len(audit.cells)
    print(f"final audit: {audited:.2f} s, {quantities} protected quantities, passed={audit.passed}")
    print(f"attacker programmes built: {len(getattr(universe, 'programmes', ()))}")


if __name__ == "__main__":
    main()
