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

``--joint`` also times the protection of a release together with the earlier ones
(issue 12 §4: frozen tables, protected differences, the joint audit): as if the latest
quarter's release were built again, over the releases of the earlier quarters the
warehouse has approved or sent when it has some, else over one simulated earlier
release of the latest quarter's workbook (every breakdown) whose past quarters had a
few figures smaller by 1 or 2 (files that arrived late since).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path

import numpy as np

from lavoro_debole.exports.audit import audit_universe
from lavoro_debole.exports.joint import Snapshot, protect_jointly
from lavoro_debole.exports.publish import protect_for, read_indicator_values
from lavoro_debole.exports.releases import released_snapshots
from lavoro_debole.ingest.warehouse_db import KEY_VARIABLE, open_warehouse
from lavoro_debole.settings import parse_key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--joint", action="store_true", help="also time the joint protection")
    args = parser.parse_args()
    # a deployment's warehouse encrypted at rest opens with LAVORO_WAREHOUSE_KEY
    key = parse_key(os.environ.get(KEY_VARIABLE), KEY_VARIABLE)
    con = open_warehouse(args.warehouse, read_only=True, key=key)
    frame = read_indicator_values(con)
    history = released_snapshots(con)
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
    if args.joint:
        _joint(protection, history, args.k)


def _joint(protection, history, k: int) -> None:
    frame = protection.universe.frame
    quarters = sorted(p for p in frame["period"].unique() if "-Q" in p)
    shown = frame["period"].isin(quarters[-4:]).to_numpy()
    # as if the latest quarter's release were built now: the earlier quarters' releases
    latest = max((s.quarter for s in history), default=None)
    history = [s for s in history if s.quarter != latest]
    if not history:
        earlier = frame.loc[shown, ["indicator_id", "period", "breakdown", "category"]].copy()
        rng = np.random.default_rng(0)
        values = frame.loc[shown, ["value", "numerator", "denominator"]].to_numpy(float)
        late = (
            (frame.loc[shown, "period"] != quarters[-1]).to_numpy()
            & (values[:, 0] >= 3)
            & np.isnan(values[:, 2])
            & (rng.random(len(values)) < 0.05)
        )
        values[late, 0] -= rng.integers(1, 3, int(late.sum()))
        earlier[["value", "numerator", "denominator"]] = values
        earlier["suppressed"] = protection.suppressed[shown]
        history = [Snapshot("simulato", quarters[-2], 1, dt.datetime(2000, 1, 1), earlier)]
    universe = protection.universe
    universe.range_cache.clear()
    profile = history[-1].profile  # its unchanged tables stay frozen
    started = time.perf_counter()
    joint = protect_jointly(universe, protection.suppressed, shown, history, k, profile)
    took = time.perf_counter() - started
    differences = sum(c.kind == "differenza" for c in joint.audit.checks)
    print(
        f"joint protection with {len(history)} earlier releases: {took:.2f} s, "
        f"{int(joint.frozen.sum())} cells frozen, {int(joint.added.sum())} more hidden, "
        f"{differences} small differences audited, passed={joint.audit.passed}"
    )


if __name__ == "__main__":
    main()
