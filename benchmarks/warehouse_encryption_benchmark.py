"""What encrypting the warehouse at rest costs DuckDB (issue 10 §5).

Not a test: ``.venv/bin/python benchmarks/warehouse_encryption_benchmark.py WAREHOUSE
[--rounds 3]`` takes a built warehouse (plain, or encrypted with ``LAVORO_WAREHOUSE_KEY``
set), writes it again as a plain and as an encrypted file (``COPY FROM DATABASE``, as a
rebuild writes every table) and reads every table of each back in full, each ``--rounds``
times, and prints the best wall and CPU time of each. CPU time is the steadier figure on
a shared machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import duckdb

from lavoro_debole.ingest.vault import load_encryption
from lavoro_debole.ingest.warehouse_db import KEY_VARIABLE, attach_warehouse, open_warehouse
from lavoro_debole.settings import parse_key

BENCH_KEY = b"warehouse-encryption-benchmark-key-0123456789"


def _timed(action, *arguments) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    action(*arguments)
    return time.perf_counter() - wall, time.process_time() - cpu


def _write(source: Path, source_key: bytes | None, target: Path, key: bytes | None) -> None:
    target.unlink(missing_ok=True)
    con = duckdb.connect()
    try:
        load_encryption(con)
        if source_key is None:
            con.execute(f"attach '{source}' as origine (read_only)")
        else:
            attach_warehouse(con, source, source_key, alias="origine", read_only=True)
        options = "" if key is None else f" (encryption_key '{key.decode()}')"
        con.execute(f"attach '{target}' as copia{options}")
        con.execute("copy from database origine to copia")
        con.execute("checkpoint copia")
    finally:
        con.close()


def _read(path: Path, key: bytes | None) -> None:
    con = open_warehouse(path, read_only=True, key=key)
    try:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where database_name = current_database()"
        ).fetchall()
        for schema, table in tables:
            con.execute(f'select * from "{schema}"."{table}"').fetchall()
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    source_key = parse_key(os.environ.get(KEY_VARIABLE), KEY_VARIABLE)
    with tempfile.TemporaryDirectory() as scratch:
        results = {}
        for label, key in (("in chiaro", None), ("cifrato", BENCH_KEY)):
            target = Path(scratch) / f"{label.replace(' ', '_')}.duckdb"
            writes = [
                _timed(_write, args.warehouse, source_key, target, key) for _ in range(args.rounds)
            ]
            reads = [_timed(_read, target, key) for _ in range(args.rounds)]
            results[label] = (min(writes), min(reads), target.stat().st_size)
        for label, ((w_wall, w_cpu), (r_wall, r_cpu), size) in results.items():
            print(
                f"{label:10s} scrittura {w_wall:6.2f} s (CPU {w_cpu:6.2f} s)  "
                f"lettura {r_wall:6.2f} s (CPU {r_cpu:6.2f} s)  {size / 2**20:6.1f} MiB"
            )


if __name__ == "__main__":
    main()
