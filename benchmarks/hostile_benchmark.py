"""Wall time and peak memory of the ingest over a hostile inbox, against a clean run.

Not a test: run it by hand (``.venv/bin/python benchmarks/hostile_benchmark.py --persons
1000 100000``). For each size it generates an inbox (or reuses the one of
``ingest_benchmark.py`` in the same work directory), copies it and drops in every kind
of hostile file of issue 9 (``lavoro_debole.synthetic.hostile``): a far cell, a far
cell without a declared dimension (calamine aborts on it), a zip bomb sheet, ODS
repeats, an HTML "xls" of wide colspans and one of 32 million spanned cells, a CSV of
one 150 MB line, a 250 MB CSV, an encrypted .xls and .ods. Each ingest runs in a fresh
process; a sampler adds up the resident memory of that process and all its children
(the reader worker) every 50 ms, so the peak is of the whole process tree at one
moment.

Target (issue 9): the hostile run stays within 3 GiB and within twice the clean run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from benchmarks.ingest_benchmark import KEY, _fresh_warehouse  # noqa: E402


def hostile_files(bomb_bytes: int) -> dict[tuple[str, str], bytes]:
    """(feed, file name) -> bytes of every hostile kind."""
    from lavoro_debole.synthetic import hostile

    from_xlwt = _xls_bytes()
    return {
        ("servizi_sociali", "UdP_Lodi_casi_2025_lontano.xlsx"): hostile.far_cell_xlsx("Casi"),
        ("servizi_sociali", "UdP_Lodi_casi_2025_crash.xlsx"): hostile.far_cell_undeclared_xlsx(),
        ("provincia_co", "CO_estrazione_bomba.xlsx"): hostile.zip_bomb_xlsx(bomb_bytes),
        ("servizi_sociali", "UdP_Lodi_casi_2025_righe.ods"): hostile.ods_repeated_rows(10**8),
        ("servizi_sociali", "UdP_Lodi_casi_2025_cella.ods"): hostile.ods_repeated_cell(10**9),
        ("provincia_tirocini", "tirocini_web_largo.xls"): hostile.html_colspans(1000, 100, 999),
        ("provincia_tirocini", "tirocini_web_celle.xls"): hostile.html_colspans(2000, 16, 999),
        ("sportello", "sportello_riga_lunga.csv"): hostile.long_line_csv(150 * 1024 * 1024),
        ("sportello", "sportello_enorme.csv"): b"a;b\r\n" * (250 * 1024 * 1024 // 5),
        ("cfp", "cfp_protetto.xls"): hostile.encrypted_xls(from_xlwt),
        ("servizi_sociali", "UdP_Lodi_casi_2025_protetto.ods"): hostile.encrypted_ods(
            hostile.ods_trailing_blank_repeats()
        ),
    }


def _xls_bytes() -> bytes:
    import io

    import xlwt

    workbook = xlwt.Workbook()
    sheet = workbook.add_sheet("Casi")
    sheet.write(0, 0, "Codice fiscale")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def phase_ingest(data_dir: Path) -> dict:
    from lavoro_debole.ingest.pipeline import ingest_feed
    from lavoro_debole.schemas import FEEDS

    con = _fresh_warehouse(data_dir)
    start = time.perf_counter()
    refused = {}
    for feed in FEEDS:
        for outcome in ingest_feed(
            con, feed, data_dir / "inbox", key=KEY.encode(), feedback_dir=data_dir / "feedback"
        ):
            if outcome.status == "rejected":
                refused[outcome.file_name] = outcome.error
    con.close()
    return {"seconds": time.perf_counter() - start, "refused": refused}


def _tree_rss_mib(root: int) -> float:
    """Resident memory of ``root`` and all its descendants, now."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total = 0
    for pid in rss:
        node = pid
        while node and node != root:
            node = parents.get(node, 0)
        if node == root:
            total += rss[pid]
    return total / 1024 / 1024


def run_measured(data_dir: Path) -> dict:
    process = subprocess.Popen(
        [sys.executable, __file__, "--phase", "ingest", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=PROJECT_ROOT,
    )
    peak = 0.0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_mib(process.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    start = time.perf_counter()
    sampler.start()
    out, _ = process.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    result = json.loads(out.strip().splitlines()[-1])
    result.update(wall_seconds=wall, peak_tree_mib=peak)
    return result


def bench(persons: int, workdir: Path, bomb_bytes: int) -> dict:
    from lavoro_debole.synthetic import generate_inbox

    clean = workdir / f"persons_{persons}"
    if not (clean / "manifest.json").exists():
        generate_inbox(clean, persons=persons, seed=1)
    dirty = workdir / f"hostile_{persons}"
    if dirty.exists():
        shutil.rmtree(dirty)
    shutil.copytree(clean / "inbox", dirty / "inbox")
    for (feed, name), data in hostile_files(bomb_bytes).items():
        (dirty / "inbox" / feed / name).write_bytes(data)
    print(f"[{persons}] inboxes ready", flush=True)
    result = {"persons": persons, "clean": run_measured(clean), "hostile": run_measured(dirty)}
    shutil.rmtree(dirty)
    return result


def report(results: list[dict]) -> str:
    lines = [
        "| persons | clean s | hostile s | clean peak MiB (tree) | hostile peak MiB (tree) |"
        " ratio | files refused |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        clean, dirty = r["clean"], r["hostile"]
        lines.append(
            f"| {r['persons']:,} | {clean['wall_seconds']:.1f} | {dirty['wall_seconds']:.1f} | "
            f"{clean['peak_tree_mib']:.0f} | {dirty['peak_tree_mib']:.0f} | "
            f"{dirty['peak_tree_mib'] / clean['peak_tree_mib']:.2f}x | "
            f"{len(dirty['refused']) - len(clean['refused'])} more |"
        )
    lines.append("")
    for name, reason in sorted(results[-1]["hostile"]["refused"].items()):
        if name not in results[-1]["clean"]["refused"]:
            lines.append(f"- {name}: {reason}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--workdir", type=Path, default=PROJECT_ROOT / "data" / "bench")
    parser.add_argument(
        "--bomb-gib", type=float, default=2.0, help="how far the zip bomb sheet inflates"
    )
    parser.add_argument("--phase", choices=["ingest"], help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase_ingest(args.data_dir)))
        return
    bomb = int(args.bomb_gib * 1024**3)
    results = [bench(n, args.workdir, bomb) for n in args.persons]
    print(report(results))
    out = args.workdir / "hostile_results.json"
    out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(f"\nraw figures: {out}")


if __name__ == "__main__":
    main()
