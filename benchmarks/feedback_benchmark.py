"""Speed of the partners' feedback workbook (issue 9 §7: linear feedback).

Not a test: run it by hand (``.venv/bin/python benchmarks/feedback_benchmark.py`` or
``--rows 12000 100000``) and read the table. For each size it writes the feedback
workbook of that many problem rows (synthetic values, a few with characters Excel
refuses, a few formulas) with :func:`write_feedback_workbook`, each size in a fresh
process so that peak memory (max RSS) belongs to that size alone, then reads the file
back to check that every row is there.

``cpu s`` is the process's CPU time: on a shared machine it is the fairer figure.

Target: 100,000 rows in seconds (the old writer re-walked the sheet for every row:
12,000 rows took 49 s, 100,000 about an hour).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REASONS = (
    "codice fiscale non valido (lunghezza, struttura o carattere di controllo)",
    "data non valida o inesistente (formato atteso gg/mm/aaaa)",
    "valore non previsto; valori ammessi: Detenuto, Ex detenuto, In misura alternativa",
)


def problems(count: int) -> list[dict[str, object]]:
    rows = []
    for index in range(count):
        if index % 97 == 0:
            value: object = f"Detenuto\x07{index}"
        elif index % 89 == 0:
            value = f"=1+{index}"
        else:
            value = f"RSSMRA80A01F2{index % 1000:03d}X"
        rows.append(
            {
                "sheet": "Contatti 2024",
                "row_number": index + 5,
                "column_name": ("C.F.", "Data", "Tipo utente")[index % 3],
                "severity": "error" if index % 10 else "warning",
                "reason": REASONS[index % 3],
                "value": value,
            }
        )
    return rows


def measure(count: int) -> dict:
    sys.path.insert(0, str(PROJECT_ROOT))
    from openpyxl import load_workbook

    from lavoro_debole.ingest.feedback import write_feedback_workbook

    rows = problems(count)
    with tempfile.TemporaryDirectory() as folder:
        start, cpu_start = time.perf_counter(), time.process_time()
        path = write_feedback_workbook(Path(folder), "contatti_2024.xlsx", "0" * 64, rows)
        seconds = time.perf_counter() - start
        cpu_seconds = time.process_time() - cpu_start
        size = path.stat().st_size
        sheet = load_workbook(path, read_only=True).active
        written = sum(1 for _ in sheet.iter_rows(min_row=5, values_only=True))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "rows": count,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "rows_per_second": count / seconds,
        "mib_file": size / 2**20,
        "peak_mib": peak,
        "complete": written == count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[12_000, 100_000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(measure(args.one)))
        return
    print(
        f"{'rows':>9} {'seconds':>8} {'cpu s':>6} {'rows/s':>9} {'file MiB':>9} "
        f"{'peak MiB':>9} complete"
    )
    for count in args.rows:
        child = subprocess.run(
            [sys.executable, __file__, "--one", str(count)],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(child.stdout.strip().splitlines()[-1])
        print(
            f"{result['rows']:>9,} {result['seconds']:>8.1f} {result['cpu_seconds']:>6.1f} "
            f"{result['rows_per_second']:>9,.0f} "
            f"{result['mib_file']:>9.1f} {result['peak_mib']:>9.0f} {result['complete']}"
        )


if __name__ == "__main__":
    main()
