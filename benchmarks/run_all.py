"""Every line of issue 14's table, measured on generated inboxes: ``make bench``.

Not a test: run it by hand (``make bench``, or ``.venv/bin/python benchmarks/run_all.py
[--quick]``) and read the table, which is also written to ``benchmarks/results.md``.
Every measured thing runs as a fresh process; a sampler adds up the resident memory of
that process and all its descendants (reader worker, dbt, DuckDB) every 100 ms, so a
peak is of the whole process tree at one moment (shared pages count once per process:
an upper bound). The largest single process's max RSS (``getrusage(RUSAGE_CHILDREN)``
in a fresh wrapper) is reported beside it.

- national size (200,000 persons; ``--quick``: 3,000): ``lavoro run`` end to end on a
  fresh data directory, each Dagster step's time and peak memory; the plain read of
  every file (fastexcel, and python-calamine, with DuckDB ``read_csv`` for the CSVs);
  the ingest alone (``ingest_benchmark.py``'s ingest phase) and its ratio to each read;
- demo size (``lavoro demo``'s 40 persons): a clean ``lavoro run``, then one with one new
  file of the contact desk (``sportello``, taken from an inbox of another seed), then one
  with nothing new, as ratios to the clean run;
- 2,000 persons (``--quick``: 500) ``lavoro run`` end to end.

Figures are noisy on a shared machine; the ratios are steadier.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from benchmarks.hostile_benchmark import _tree_rss_mib  # noqa: E402
from benchmarks.ingest_benchmark import KEY, VAULT_KEY  # noqa: E402

CUTOFF = "2025-12-31"
DEMO_PERSONS = 40
DESK_FEED = "sportello"
LAVORO = Path(sys.executable).parent / "lavoro"


# --- phases run in a fresh process ------------------------------------------------


def _inbox_files(data_dir: Path) -> list[Path]:
    return sorted(p for p in (data_dir / "inbox").rglob("*") if p.is_file())


def _read_csv_duckdb(con, path: Path, scratch: Path) -> int:
    """Every row of a CSV through DuckDB's reader, all as text. DuckDB has no cp1252:
    a file that is not UTF-8 is transcoded first (as the stack notes say), timed too."""
    query = (
        "select count(*) from read_csv(?, all_varchar = true, header = false, "
        "null_padding = true, strict_mode = false)"
    )
    raw = path.read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        scratch.write_bytes(raw.decode("cp1252", errors="replace").encode("utf-8"))
        path = scratch
    return con.execute(query, [str(path)]).fetchone()[0]


def phase_read(data_dir: Path, reader: str) -> dict:
    """The plain read of every file: workbooks with ``reader``, CSVs with DuckDB."""
    import duckdb

    con = duckdb.connect()
    scratch = data_dir.parent / f".read_scratch_{os.getpid()}.csv"
    seconds: dict[str, float] = defaultdict(float)
    rows: dict[str, int] = defaultdict(int)
    total_start = time.perf_counter()
    for path in _inbox_files(data_dir):
        fmt = path.suffix.lower().lstrip(".")
        start = time.perf_counter()
        count = 0
        try:
            if fmt == "csv":
                count = _read_csv_duckdb(con, path, scratch)
            elif reader == "fastexcel":
                import fastexcel

                workbook = fastexcel.read_excel(str(path))
                for name in workbook.sheet_names:
                    sheet = workbook.load_sheet(name, header_row=None, dtypes="string")
                    count += sheet.height
            else:
                from python_calamine import CalamineWorkbook

                workbook = CalamineWorkbook.from_path(str(path))
                for name in workbook.sheet_names:
                    count += len(workbook.get_sheet_by_name(name).to_python())
        except Exception:  # the corrupt and the protected files planted on purpose
            count = 0
        seconds[fmt] += time.perf_counter() - start
        rows[fmt] += count
    scratch.unlink(missing_ok=True)
    return {
        "seconds": time.perf_counter() - total_start,
        "by_format": dict(seconds),
        "rows": dict(rows),
    }


def phase_steps(data_dir: Path, since: float) -> dict:
    """Each step of the Dagster runs started in this data directory since ``since``."""
    os.environ["DAGSTER_HOME"] = str((data_dir / "dagster").resolve())
    from dagster import DagsterInstance

    instance = DagsterInstance.get()
    steps = [
        {"step": s.step_key, "start": s.start_time, "end": s.end_time}
        for run in instance.get_runs(limit=50)
        for s in instance.get_run_step_stats(run.run_id)
        if s.start_time and s.end_time and s.start_time >= since
    ]
    return {"steps": sorted(steps, key=lambda s: s["start"])}


# --- measuring a process tree -----------------------------------------------------


def wrap(command: list[str]) -> None:
    """Run ``command``; print its exit code, the largest descendant's max RSS and the CPU
    time of all its descendants (steadier than wall time on a shared machine)."""
    import resource

    completed = subprocess.run(command, capture_output=True, text=True)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = usage.ru_maxrss / 1024
    # the tail goes only into the raw figures under the (ignored) work directory
    tail = (completed.stdout[-1500:] + completed.stderr[-1500:]) if completed.returncode else ""
    cpu = usage.ru_utime + usage.ru_stime
    print(
        json.dumps(
            {
                "returncode": completed.returncode,
                "max_single_mib": peak,
                "cpu_seconds": cpu,
                "tail": tail,
            }
        )
    )


def measure(command: list[str], env: dict[str, str] | None = None) -> dict:
    """Wall time, sampled whole-tree peak and its timeline, largest single process."""
    process = subprocess.Popen(
        [sys.executable, __file__, "--wrap", "--", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, **(env or {})},
    )
    timeline: list[tuple[float, float]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            timeline.append((time.time(), _tree_rss_mib(process.pid)))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    start = time.perf_counter()
    sampler.start()
    out, _ = process.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    result = json.loads(out.strip().splitlines()[-1])
    result.update(
        wall_seconds=wall,
        peak_tree_mib=max((m for _, m in timeline), default=0.0),
        timeline=timeline,
    )
    return result


def measure_phase(phase: str, data_dir: Path, *extra: str) -> dict:
    """A phase of this script in a fresh process; its own timing plus the tree's memory."""
    out = data_dir.parent / f".{phase}_{data_dir.name}.json"
    command = [sys.executable, __file__, "--phase", phase, "--data-dir", str(data_dir)]
    result = measure([*command, "--out", str(out), *extra])
    result.update(json.loads(out.read_text(encoding="utf-8")))
    out.unlink()
    return result


def measure_ingest(data_dir: Path) -> dict:
    """``ingest_benchmark.py``'s ingest phase (every feed through ``ingest_feed``)."""
    out = data_dir.parent / f".ingest_{data_dir.name}.json"
    script = PROJECT_ROOT / "benchmarks" / "ingest_benchmark.py"
    command = [sys.executable, "-c", _INGEST_TO_FILE, str(script), str(data_dir), str(out)]
    result = measure(command)
    result.update(json.loads(out.read_text(encoding="utf-8")))
    out.unlink()
    return result


_INGEST_TO_FILE = """
import json, sys
from pathlib import Path
sys.path.insert(0, str(Path(sys.argv[1]).parent.parent))
from benchmarks.ingest_benchmark import phase_ingest
Path(sys.argv[3]).write_text(json.dumps(phase_ingest(Path(sys.argv[2]))))
"""


def run_env(data_dir: Path) -> dict[str, str]:
    extra = {}
    if os.environ.get("LAVORO_DUCKDB_MEMORY_LIMIT"):  # as the operator set it
        extra["LAVORO_DUCKDB_MEMORY_LIMIT"] = os.environ["LAVORO_DUCKDB_MEMORY_LIMIT"]
    return {
        **extra,
        "LAVORO_DATA_DIR": str(data_dir),
        "LAVORO_PSEUDONYM_KEY": KEY,
        "LAVORO_VAULT_KEY": VAULT_KEY,
        "LAVORO_CUTOFF": CUTOFF,
        "LAVORO_ANALYTICS_DIR": str(data_dir.parent / f"{data_dir.name}-analisi"),
    }


def lavoro_run(data_dir: Path) -> dict:
    """``lavoro run`` on ``data_dir``, measured, with each Dagster step's time and peak."""
    since = time.time()
    result = measure([str(LAVORO), "run"], run_env(data_dir))
    steps = measure_phase("steps", data_dir, "--since", str(since))["steps"]
    timeline = result.pop("timeline")
    for step in steps:
        inside = [m for t, m in timeline if step["start"] <= t <= step["end"]]
        step["seconds"] = step["end"] - step["start"]
        step["peak_tree_mib"] = max(inside, default=float("nan"))
    result["steps"] = steps
    # 3: the run completed, with the checks of the planted wrong files failing
    result["ok"] = result["returncode"] in (0, 3)
    return result


def fresh_run_dir(source: Path, name: str) -> Path:
    """A new data directory holding only a copy of ``source``'s inbox."""
    target = source.parent / name
    for old in (target, target.parent / f"{target.name}-analisi"):
        if old.exists():
            shutil.rmtree(old)
    shutil.copytree(source / "inbox", target / "inbox")
    return target


def generated(workdir: Path, persons: int, seed: int = 1) -> Path:
    from lavoro_debole.synthetic import generate_inbox

    data_dir = workdir / f"persons_{persons}" if seed == 1 else workdir / f"p{persons}_s{seed}"
    if not (data_dir / "manifest.json").exists():
        start = time.perf_counter()
        generate_inbox(data_dir, persons=persons, seed=seed, until=dt.date.fromisoformat(CUTOFF))
        print(f"[{persons}] generated in {time.perf_counter() - start:.0f} s", flush=True)
    return data_dir


def add_desk_file(data_dir: Path, other: Path) -> str:
    """One new file of the contact desk: the first of another seed's inbox, renamed."""
    source = sorted((other / "inbox" / DESK_FEED).iterdir())[0]
    name = f"{source.stem}_nuovo{source.suffix}"
    shutil.copy2(source, data_dir / "inbox" / DESK_FEED / name)
    return name


# --- the whole benchmark ----------------------------------------------------------


CASES = ("demo", "small_run", "read", "ingest", "national_run")
"""What ``--only`` can choose (demo: its three runs; read: both plain reads)."""


def bench(workdir: Path, national: int, small: int, raw: Path, cases: set[str]) -> dict:
    results: dict = {"national": national, "small": small, "demo": DEMO_PERSONS}
    results["memory_limit"] = os.environ.get("LAVORO_DUCKDB_MEMORY_LIMIT", "default")

    def say(text: str) -> None:
        # the figures so far kept at each step: a report can be made of them (--from-json)
        raw.write_text(json.dumps(results, indent=1), encoding="utf-8")
        print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)

    if "demo" in cases:
        demo = generated(workdir, DEMO_PERSONS)
        other = generated(workdir, DEMO_PERSONS, seed=2)
        run_dir = fresh_run_dir(demo, f"run_{DEMO_PERSONS}")
        results["demo_clean"] = lavoro_run(run_dir)
        say(f"demo clean run {results['demo_clean']['wall_seconds']:.1f} s")
        results["demo_nothing_new"] = lavoro_run(run_dir)
        say(f"demo, nothing new {results['demo_nothing_new']['wall_seconds']:.1f} s")
        add_desk_file(run_dir, other)
        results["demo_one_new"] = lavoro_run(run_dir)
        say(f"demo, one new desk file {results['demo_one_new']['wall_seconds']:.1f} s")

    if "small_run" in cases:
        small_dir = generated(workdir, small)
        results["small_run"] = lavoro_run(fresh_run_dir(small_dir, f"run_{small}"))
        say(f"{small} persons run {results['small_run']['wall_seconds']:.1f} s")

    big = generated(workdir, national)
    if "read" in cases:
        for key, phase in (
            ("read_fastexcel", "read-fastexcel"),
            ("read_calamine", "read-calamine"),
        ):
            results[key] = measure_phase(phase, big)
            results[key].pop("timeline", None)
            say(f"{phase} {results[key]['seconds']:.1f} s")
    if "ingest" in cases:
        results["ingest"] = measure_ingest(big)
        results["ingest"].pop("timeline", None)
        say(f"ingest {results['ingest']['seconds']:.1f} s")
    if "national_run" in cases:
        results["national_run"] = lavoro_run(fresh_run_dir(big, f"run_{national}"))
        say(f"{national} persons run {results['national_run']['wall_seconds']:.1f} s")
    return results


def _gib(mib: float) -> str:
    return f"{mib / 1024:.2f} GiB"


def machine() -> str:
    with open("/proc/meminfo") as handle:
        total_kib = int(handle.readline().split()[1])
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} cores, {total_kib / 1024**2:.0f} GiB, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}; load average at the end "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min)"
    )


def report(r: dict) -> str:
    """The tables; a case not measured (a run stopped half-way) is said so."""
    r = dict(r)  # the raw figures stay as measured
    missing = {"wall_seconds": float("nan"), "cpu_seconds": float("nan"), "seconds": float("nan")}
    missing.update(peak_tree_mib=float("nan"), max_single_mib=float("nan"), ok=False, rows=0)
    missing.update(steps=[], by_format={})
    for key in (
        "read_fastexcel",
        "read_calamine",
        "ingest",
        "national_run",
        "demo_clean",
        "demo_one_new",
        "demo_nothing_new",
        "small_run",
    ):
        r.setdefault(key, {**missing, "rows": {} if key.startswith("read") else 0})
    n, s = r["national"], r["small"]
    fx, cal, ing = r["read_fastexcel"], r["read_calamine"], r["ingest"]
    run, clean = r["national_run"], r["demo_clean"]

    def run_row(case: str, res: dict, goal: str, base: dict | None = None) -> str:
        ratio = (
            f" (×{res['wall_seconds'] / base['wall_seconds']:.2f} the clean run)" if base else ""
        )
        ok = "" if res["ok"] else " **failed**"
        if res["wall_seconds"] != res["wall_seconds"]:  # nan: the benchmark stopped before
            ok = " **not measured**"
        return (
            f"| {case} | {res['wall_seconds']:.1f} s{ratio}{ok} | {res['cpu_seconds']:.1f} s "
            f"| {_gib(res['peak_tree_mib'])} "
            f"| {_gib(res['max_single_mib'])} | {goal} |"
        )

    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} on {machine()}.",
        "",
        "| case | time | CPU time, whole tree | peak memory, whole process tree "
        "| largest single process | goal |",
        "|---|---|---|---|---|---|",
        run_row(f"{n:,} persons, `lavoro run` end to end", run, "≤ 60 s, peak ≤ 2 GiB"),
        f"| same inbox, just reading every file (fastexcel + DuckDB read_csv) | "
        f"{fx['seconds']:.1f} s | {fx['cpu_seconds']:.1f} s | {_gib(fx['peak_tree_mib'])} | "
        f"{_gib(fx['max_single_mib'])} "
        "| — |",
        f"| same inbox, just reading every file (python-calamine + DuckDB read_csv) | "
        f"{cal['seconds']:.1f} s | {cal['cpu_seconds']:.1f} s | {_gib(cal['peak_tree_mib'])} | "
        f"{_gib(cal['max_single_mib'])} | — |",
        f"| ingest alone at {n:,} persons ({ing['rows']:,} physical rows) | "
        f"{ing['seconds']:.1f} s (×{ing['seconds'] / fx['seconds']:.1f} the fastexcel read, "
        f"×{ing['seconds'] / cal['seconds']:.1f} the calamine read) | {ing['cpu_seconds']:.1f} s "
        f"(×{ing['cpu_seconds'] / fx['cpu_seconds']:.1f} the fastexcel read's, "
        f"×{ing['cpu_seconds'] / cal['cpu_seconds']:.1f} the calamine read's) | "
        f"{_gib(ing['peak_tree_mib'])} | {_gib(ing['max_single_mib'])} | ≤ 3× |",
        run_row(f"demo size ({r['demo']} persons), clean run", clean, "—"),
        run_row("demo size, one new desk file, `lavoro run`", r["demo_one_new"], "≤ 0.4×", clean),
        run_row("demo size, nothing new, `lavoro run`", r["demo_nothing_new"], "≤ 0.2×", clean),
        run_row(f"{s:,} persons end to end", r["small_run"], "≤ 15 s"),
        "",
        "Plain read by format (seconds):",
        "",
        "| format | fastexcel | python-calamine | rows |",
        "|---|---:|---:|---:|",
    ]
    for fmt in sorted(fx["by_format"]):
        lines.append(
            f"| {fmt} | {fx['by_format'][fmt]:.2f} | {cal['by_format'].get(fmt, 0):.2f} | "
            f"{fx['rows'].get(fmt, 0):,} |"
        )
    for label, res in (
        (f"{n:,} persons", run),
        (f"{s:,} persons", r["small_run"]),
        (f"demo size, clean run ({clean['wall_seconds']:.1f} s)", clean),
        (
            f"demo size, one new desk file ({r['demo_one_new']['wall_seconds']:.1f} s)",
            r["demo_one_new"],
        ),
        (
            f"demo size, nothing new ({r['demo_nothing_new']['wall_seconds']:.1f} s)",
            r["demo_nothing_new"],
        ),
    ):
        lines += [
            "",
            f"Steps of `lavoro run`, {label} (the rest of the wall time is start-up, the "
            "manifest check and the summary):",
            "",
            "| step | s | peak MiB, whole tree |",
            "|---|---:|---:|",
        ]
        for step in res["steps"]:
            peak = step["peak_tree_mib"]
            shown = "—" if peak != peak else f"{peak:.0f}"  # nan: shorter than one sample
            lines.append(f"| {step['step']} | {step['seconds']:.1f} | {shown} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a try")
    parser.add_argument("--workdir", type=Path, default=PROJECT_ROOT / "data" / "bench")
    parser.add_argument("--results", type=Path, default=PROJECT_ROOT / "benchmarks" / "results.md")
    parser.add_argument(
        "--phase", choices=["read-fastexcel", "read-calamine", "steps"], help=argparse.SUPPRESS
    )
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--since", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--wrap", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--from-json", type=Path, nargs="+", help="only the report, of earlier raw figures"
    )
    parser.add_argument(
        "--only", choices=CASES, nargs="+", default=list(CASES), help="measure only these cases"
    )
    parser.add_argument("command", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.wrap:
        wrap(args.command)
        return
    if args.phase:
        if args.phase == "steps":
            result = phase_steps(args.data_dir, args.since)
        else:
            result = phase_read(args.data_dir, args.phase.removeprefix("read-"))
        args.out.write_text(json.dumps(result), encoding="utf-8")
        return
    national, small = (3_000, 500) if args.quick else (200_000, 2_000)
    args.workdir = args.workdir.resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    name = "results_quick" if args.quick else "results_all"
    if set(args.only) != set(CASES):
        name += "_" + "_".join(args.only)
    raw = args.workdir / f"{name}.json"
    if args.from_json:
        results = {}
        for path in args.from_json:  # later files add to (or replace) earlier ones
            results.update(json.loads(path.read_text(encoding="utf-8")))
    else:
        results = bench(args.workdir, national, small, raw, set(args.only))
    table = report(results)
    print(table)
    if not args.quick:
        args.results.write_text(
            "# Benchmark figures (`make bench`)\n\n" + table + "\n", encoding="utf-8"
        )
        print(f"\nwritten to {args.results}")
    if not args.from_json:
        raw.write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
