"""Which partner files are still open problems (the rule of `righe_scartate`)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from lavoro_debole.ingest.problems import open_problems
from lavoro_debole.ingest.store import ensure_tables


def test_a_problem_file_is_replaced_only_by_a_later_file_of_its_sender_and_period(tmp_path: Path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_tables(con, [])
    rows = [
        # seq, feed, name, sender, status, data, rejected, reference, coverage start
        (1, "sportello", "jan.csv", "Desk", "loaded", 10, 5, "2024-01-31", "2024-01-01"),
        (2, "sportello", "feb.csv", "Desk", "loaded", 10, 0, "2024-02-29", "2024-02-01"),
        (3, "sportello", "mar.csv", "Desk", "loaded", 10, 1, "2024-03-31", "2024-03-01"),
        (
            4,
            "servizi_sociali",
            "lodi_s1.xlsx",
            "UdP Lodi",
            "loaded",
            4,
            2,
            "2024-06-30",
            "2024-01-01",
        ),
        (
            5,
            "servizi_sociali",
            "casale_2024.xls",
            "UdP Casalpusterlengo",
            "loaded",
            4,
            0,
            "2024-12-31",
            "2024-01-01",
        ),
        (
            6,
            "servizi_sociali",
            "lodi_2024.xlsx",
            "UdP Lodi",
            "loaded",
            4,
            0,
            "2024-12-31",
            "2024-01-01",
        ),
        (7, "cfp", "rotto_2024_S1.xlsx", None, "rejected", 0, 0, "2024-06-30", "2024-01-01"),
        (8, "cfp", "corsi_2023_S2.xlsx", "CFP", "loaded", 3, 0, "2023-12-31", "2023-07-01"),
        (9, "cfp", "doppio.xlsx", "CFP", "duplicate", 0, 0, "2024-06-30", "2024-01-01"),
        (10, "imprese", "collegamento.xlsx", None, "rejected", 0, 0, None, None),
        (11, "imprese", "registro_2024.xlsx", "Rete", "loaded", 5, 0, "2024-12-31", None),
    ]
    con.executemany(
        "insert into ops.ingest_files (received_seq, feed, file_name, sender, status, rows_data,"
        " rows_rejected, reference_date, coverage_start, file_sha256, rows_loaded, rows_warned,"
        " rows_skipped, received_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, 'x', 0, 0, 0, now())",
        rows,
    )
    # January (half rejected) is not replaced by February's file; March (10%) is within
    assert [p.file_name for p in open_problems(con, "sportello", 0.10)] == ["jan.csv"]
    # Lodi's S1 is replaced by Lodi's year file, not by Casalpusterlengo's
    assert open_problems(con, "servizi_sociali", 0.10) == []
    con.execute("delete from ops.ingest_files where received_seq = 6")
    assert [p.file_name for p in open_problems(con, "servizi_sociali", 0.10)] == ["lodi_s1.xlsx"]
    # a refused file: an earlier period or an unchanged copy does not replace it
    assert [(p.file_name, p.status) for p in open_problems(con, "cfp", 0.10)] == [
        ("rotto_2024_S1.xlsx", "rejected")
    ]
    # neither sender nor period known: another file does not replace it, the same name does
    assert [p.file_name for p in open_problems(con, "imprese", 0.10)] == ["collegamento.xlsx"]
    con.execute(
        "insert into ops.ingest_files (received_seq, feed, file_name, sender, status, rows_data,"
        " rows_rejected, file_sha256, rows_loaded, rows_warned, rows_skipped, received_at)"
        " values (12, 'imprese', 'collegamento.xlsx', 'Rete', 'loaded', 1, 0, 'y', 1, 0, 0, now())"
    )
    assert open_problems(con, "imprese", 0.10) == []
    con.close()
