"""Speed and memory of the door and of the dbt build, on generated inboxes.

Not a test: run it by hand (``make bench`` or ``.venv/bin/python benchmarks/ingest_benchmark.py
--persons 1000 100000``) and read the table. For each inbox size it measures, each in a
fresh process so that peak memory (max RSS) belongs to that phase alone:

- ``read``: the fastest plain reader just reading every file (python-calamine for
  workbooks, the csv module for CSVs): the floor the ingest is compared with;
- ``ingest``: the whole ingest (reading, header detection, parsing, Pandera validation,
  pseudonymisation, loading into DuckDB) as the warehouse runs it, ``ingest_feed`` for
  every feed: the next file is read in the reader worker process while one is
  processed, and the checkpoint and the closing of the warehouse count (peak memory:
  this process's; ``hostile_benchmark.py`` measures the whole process tree);
- ``by-format``: the same work file by file with nothing read ahead, timed per format,
  to show where the time goes;
- ``dbt``: ``dbt build`` (models and tests) on the loaded warehouse.

Targets (issue 2 and 3): at 100,000 persons the ingest within 3x the plain read and under
2 GiB; the dbt build under 2 minutes and 4 GiB.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import resource
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
KEY = "benchmark-key-not-secret-0123456789abcdef"
VAULT_KEY = "benchmark-vault-key-not-secret-0123456789ab"


def _format_of(path: Path) -> str:
    return path.suffix.lower().lstrip(".")


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase_read(data_dir: Path) -> dict:
    from python_calamine import CalamineWorkbook

    seconds: dict[str, float] = defaultdict(float)
    rows: dict[str, int] = defaultdict(int)
    for path in sorted((data_dir / "inbox").rglob("*")):
        if not path.is_file():
            continue
        fmt = _format_of(path)
        start = time.perf_counter()
        try:
            if fmt == "csv":
                raw = path.read_bytes()
                try:
                    text = raw.decode("utf-8-sig")
                except UnicodeDecodeError:
                    text = raw.decode("cp1252")
                count = sum(1 for _ in csv.reader(io.StringIO(text), delimiter=";"))
            else:
                workbook = CalamineWorkbook.from_path(str(path))
                count = sum(
                    len(workbook.get_sheet_by_name(n).to_python()) for n in workbook.sheet_names
                )
        except Exception:  # the corrupt file planted on purpose
            count = 0
        seconds[fmt] += time.perf_counter() - start
        rows[fmt] += count
    return {"seconds": dict(seconds), "rows": dict(rows), "peak_mib": _peak_mib()}


def _fresh_warehouse(data_dir: Path):
    """A new warehouse with a new vault attached, as the ingest asset opens them."""
    import duckdb

    from lavoro_debole.ingest.vault import attach_vault

    for name in ("warehouse.duckdb", "vault.duckdb"):
        (data_dir / name).unlink(missing_ok=True)
        (data_dir / f"{name}.wal").unlink(missing_ok=True)
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"))
    attach_vault(con, data_dir / "vault.duckdb", VAULT_KEY.encode())
    return con


def phase_ingest(data_dir: Path) -> dict:
    """The whole ingest as the warehouse runs it: ``ingest_feed`` for every feed (files
    read one ahead in the reader worker, one checkpoint per feed), closing included."""
    from lavoro_debole.ingest.pipeline import ingest_feed
    from lavoro_debole.schemas import FEEDS

    con = _fresh_warehouse(data_dir)
    start = time.perf_counter()
    rows = 0
    for feed in FEEDS:
        for outcome in ingest_feed(
            con, feed, data_dir / "inbox", key=KEY.encode(), feedback_dir=data_dir / "feedback"
        ):
            rows += outcome.rows_data + outcome.rows_skipped
    con.close()
    return {
        "seconds": time.perf_counter() - start,
        "rows": rows,
        "peak_mib": _peak_mib(),
    }


def phase_by_format(data_dir: Path) -> dict:
    """The ingest file by file, nothing read ahead, timed per format."""
    from lavoro_debole.ingest import store
    from lavoro_debole.ingest.pipeline import FileIngestor, inbox_files
    from lavoro_debole.schemas import FEEDS

    con = _fresh_warehouse(data_dir)
    seconds: dict[str, float] = defaultdict(float)
    rows: dict[str, int] = defaultdict(int)
    checkpoint = 0.0
    for feed in FEEDS.values():
        ingestor = FileIngestor(con, feed, key=KEY.encode(), feedback_dir=data_dir / "feedback")
        feed_dir = data_dir / "inbox" / feed.name
        # One checkpoint per feed, as ingest_dir does (timed apart: it has no format).
        with store.one_checkpoint(con):
            for path in inbox_files(feed_dir):
                start = time.perf_counter()
                outcome = ingestor.ingest_file(path, path.relative_to(feed_dir).as_posix())
                seconds[_format_of(path)] += time.perf_counter() - start
                if outcome is not None:
                    rows[_format_of(path)] += outcome.rows_data + outcome.rows_skipped
            files_done = time.perf_counter()
        checkpoint += time.perf_counter() - files_done
    start = time.perf_counter()
    con.close()
    checkpoint += time.perf_counter() - start
    return {
        "seconds": dict(seconds),
        "checkpoint_seconds": checkpoint,
        "rows": dict(rows),
        "peak_mib": _peak_mib(),
    }


def phase_dbt(data_dir: Path) -> dict:
    env = {**os.environ, "LAVORO_DATA_DIR": str(data_dir), "LAVORO_CUTOFF": "2025-12-31"}
    dbt = Path(sys.executable).parent / "dbt"
    start = time.perf_counter()
    completed = subprocess.run(
        [
            str(dbt),
            "build",
            "--quiet",
            "--project-dir",
            "dbt_project",
            "--profiles-dir",
            "dbt_project",
            "--target-path",
            str(data_dir / "dbt_target"),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "seconds": elapsed,
        "ok": completed.returncode == 0,
        "peak_mib": peak,
        "tail": completed.stdout[-2000:] + completed.stderr[-2000:],
    }


def run_phase(phase: str, data_dir: Path) -> dict:
    """Each phase in a fresh interpreter: its max RSS is its own."""
    completed = subprocess.run(
        [sys.executable, __file__, "--phase", phase, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT_ROOT,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def bench(persons: int, workdir: Path) -> dict:
    from lavoro_debole.synthetic import generate_inbox

    data_dir = workdir / f"persons_{persons}"
    if not (data_dir / "manifest.json").exists():
        start = time.perf_counter()
        generate_inbox(data_dir, persons=persons, seed=1)
        print(f"[{persons}] generated in {time.perf_counter() - start:.1f} s", flush=True)
    read = run_phase("read", data_dir)
    print(f"[{persons}] plain read done", flush=True)
    by_format = run_phase("by-format", data_dir)
    print(f"[{persons}] ingest file by file done", flush=True)
    ingest = run_phase("ingest", data_dir)
    print(f"[{persons}] whole ingest done", flush=True)
    dbt = run_phase("dbt", data_dir)
    print(f"[{persons}] dbt build done (ok={dbt['ok']})", flush=True)
    return {"persons": persons, "read": read, "by_format": by_format, "ingest": ingest, "dbt": dbt}


def report(results: list[dict]) -> str:
    lines = [
        "Whole ingest, as the warehouse runs it (next file read ahead in the reader worker"
        " process, checkpoint and close included):",
        "",
        "| persons | physical rows | plain read s | whole ingest s | ratio | ingest peak MiB |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        t_read = sum(r["read"]["seconds"].values())
        t_ing = r["ingest"]["seconds"]
        lines.append(
            f"| {r['persons']:,} | {r['ingest']['rows']:,} | {t_read:.2f} | {t_ing:.2f} | "
            f"{t_ing / t_read:.2f}x | {r['ingest']['peak_mib']:.0f} |"
        )
    lines += [
        "",
        "Per format, files one after another with nothing read ahead:",
        "",
        "| persons | format | rows | plain read s | ingest s | ingest rows/s | ratio |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        by_format = r["by_format"]
        for fmt in sorted(by_format["seconds"]):
            rows = by_format["rows"].get(fmt, 0)
            t_read = r["read"]["seconds"].get(fmt, 0.0)
            t_ing = by_format["seconds"][fmt]
            rate = rows / t_ing if t_ing else 0
            ratio = t_ing / t_read if t_read else float("nan")
            lines.append(
                f"| {r['persons']:,} | {fmt} | {rows:,} | {t_read:.2f} | {t_ing:.2f} | "
                f"{rate:,.0f} | {ratio:.1f}x |"
            )
        t_checkpoint = by_format["checkpoint_seconds"]
        lines.append(f"| {r['persons']:,} | checkpoint | | | {t_checkpoint:.2f} | | |")
        t_read = sum(r["read"]["seconds"].values())
        t_ing = sum(by_format["seconds"].values()) + t_checkpoint
        lines.append(
            f"| {r['persons']:,} | **all** | {sum(by_format['rows'].values()):,} | "
            f"{t_read:.2f} | {t_ing:.2f} | | {t_ing / t_read:.1f}x |"
        )
    lines += [
        "",
        "| persons | read peak MiB | dbt build s | dbt peak MiB | dbt ok |",
        "|---:|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['persons']:,} | {r['read']['peak_mib']:.0f} | "
            f"{r['dbt']['seconds']:.1f} | {r['dbt']['peak_mib']:.0f} | {r['dbt']['ok']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--workdir", type=Path, default=PROJECT_ROOT / "data" / "bench")
    parser.add_argument(
        "--phase", choices=["read", "by-format", "ingest", "dbt"], help=argparse.SUPPRESS
    )
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phases = {
            "read": phase_read,
            "by-format": phase_by_format,
            "ingest": phase_ingest,
            "dbt": phase_dbt,
        }
        print(json.dumps(phases[args.phase](args.data_dir)))
        return
    results = [bench(n, args.workdir) for n in args.persons]
    table = report(results)
    print(table)
    out = args.workdir / "results.json"
    out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(f"\nraw figures: {out}")


if __name__ == "__main__":
    main()
