"""Hostile and broken files: each is refused with its reason, and nothing else changes.

The readers' limits (``ReadLimits``) are checked on files built byte by byte
(``lavoro_debole.synthetic.hostile``), mostly with small limits passed as a parameter so
that the files stay small; one CSV goes just over the real default. Then every kind is
dropped into a generated inbox: the run ends, each hostile file is refused with its
reason in ``ops.ingest_files.error``, and the raw tables equal those of the same inbox
without them.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import duckdb
import openpyxl
import pytest
import xlwt

from lavoro_debole.ingest.pipeline import ingest_feed
from lavoro_debole.ingest.readers import (
    DEFAULT_LIMITS,
    ReadLimits,
    UnreadableFileError,
    read_file,
)
from lavoro_debole.ingest.vault import attach_vault
from lavoro_debole.schemas import FEEDS
from lavoro_debole.synthetic import generate_inbox, hostile
from tests.factories import KEY, VAULT_KEY


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _refused(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> str:
    with pytest.raises(UnreadableFileError) as refused:
        read_file(path, limits)
    return str(refused.value)


def _xls_bytes() -> bytes:
    workbook = xlwt.Workbook()
    sheet = workbook.add_sheet("Casi")
    sheet.write(0, 0, "Codice fiscale")
    sheet.write(1, 0, "x")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- sheet dimensions ------------------------------------------------------------------


def test_a_single_far_cell_is_refused_before_the_grid_is_allocated(tmp_path: Path) -> None:
    path = _write(tmp_path / "far.xlsx", hostile.far_cell_xlsx("Dati"))
    assert path.stat().st_size < 2000
    assert _refused(path) == (
        "file rifiutato: il foglio 'Dati' dichiara 17.179.869.184 celle (fino alla riga "
        "1.048.576, colonna 16.384), oltre il limite di 30.000.000"
    )


def test_the_used_range_counts_from_a1_even_without_a_declared_dimension(
    tmp_path: Path,
) -> None:
    """openpyxl writes a dimension; without one, calamine's own range is checked."""
    workbook = openpyxl.Workbook()
    workbook.active.title = "Dati"
    workbook.active["J20"] = "x"
    path = workbook_path = tmp_path / "lontano.xlsx"
    workbook.save(workbook_path)
    limits = ReadLimits(max_cells=199)
    assert "'Dati' dichiara 200 celle (fino alla riga 20, colonna 10)" in _refused(path, limits)
    assert read_file(path, ReadLimits(max_cells=200))[0].rows[19][9] == "x"


def test_data_far_down_keeps_its_row_numbers_within_the_limits(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    workbook.active["C5000"] = "in fondo"
    path = tmp_path / "in_fondo.xlsx"
    workbook.save(path)
    (sheet,) = read_file(path)
    assert len(sheet.rows) == 5000 and sheet.rows[4999] == [None, None, "in fondo"]


def test_rows_and_columns_have_their_own_limits(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    workbook.active.title = "Dati"
    workbook.active["B30"] = "x"
    path = tmp_path / "righe.xlsx"
    workbook.save(path)
    assert "dichiara 30 righe, oltre il limite di 29" in _refused(path, ReadLimits(max_rows=29))
    assert "dichiara 2 colonne, oltre il limite di 1" in _refused(path, ReadLimits(max_columns=1))


# --- zip entries -----------------------------------------------------------------------


def test_a_zip_bomb_sheet_is_refused_from_the_central_directory(tmp_path: Path) -> None:
    path = _write(tmp_path / "bomba.xlsx", hostile.zip_bomb_xlsx(20 * 1024 * 1024))
    assert path.stat().st_size < 100_000
    reason = _refused(path)
    assert reason.startswith("file rifiutato: una parte dell'archivio è compressa ")
    assert reason.endswith(":1, oltre il limite di 200:1 (sospetta bomba zip)")


def test_an_entry_expanding_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "grande.xlsx", hostile.zip_bomb_xlsx(3 * 1024 * 1024))
    limits = ReadLimits(max_entry_bytes=2 * 1024 * 1024)
    assert _refused(path, limits) == (
        "file rifiutato: una parte dell'archivio si espande a 3 MB, oltre il limite di 2 MB"
    )
    # Under both limits (the ratio is looked at beyond 16 MB) the same file loads.
    assert read_file(path)[0].rows == [["a"]]


def test_bytes_on_disk_are_checked_before_reading(tmp_path: Path) -> None:
    path = _write(tmp_path / "grande.csv", b"a;b\r\n" * 1000)
    assert _refused(path, ReadLimits(max_file_bytes=4999)) == (
        "file rifiutato: il file è di 5.000 byte, oltre il limite di 4.999 byte"
    )


# --- ODS repeats -----------------------------------------------------------------------


def test_an_ods_row_repeated_with_data_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "ripetuto.ods", hostile.ods_repeated_rows(100_000_000, "Casi"))
    assert path.stat().st_size < 1000
    assert _refused(path) == (
        "file rifiutato: il foglio 'Casi' ripete righe piene per 300.000.000 celle (fino alla "
        "riga 100.000.000, colonna 3), oltre il limite di 30.000.000"
    )


def test_an_ods_cell_repeated_with_data_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "ripetuto.ods", hostile.ods_repeated_cell(1_000_000_000))
    assert "ripete una cella piena su 1.000.000.000 celle" in _refused(path)


def test_libreoffices_blank_repeats_after_the_data_still_load(tmp_path: Path) -> None:
    path = _write(tmp_path / "normale.ods", hostile.ods_trailing_blank_repeats())
    (sheet,) = read_file(path)
    assert sheet.rows == [["Codice fiscale", "Nome"], ["X", "Y"]]


# --- password protection ---------------------------------------------------------------


def test_an_encrypted_ods_says_password_protected(tmp_path: Path) -> None:
    plain = hostile.ods_trailing_blank_repeats()
    assert read_file(_write(tmp_path / "aperto.ods", plain))[0].rows[1] == ["X", "Y"]
    path = _write(tmp_path / "protetto.ods", hostile.encrypted_ods(plain))
    assert _refused(path) == "file protetto da password"


def test_an_encrypted_xls_says_password_protected(tmp_path: Path) -> None:
    plain = _xls_bytes()
    assert read_file(_write(tmp_path / "aperto.xls", plain))[0].rows == [["Codice fiscale"], ["x"]]
    path = _write(tmp_path / "protetto.xls", hostile.encrypted_xls(plain))
    assert _refused(path) == "file protetto da password"


# --- HTML and CSV ----------------------------------------------------------------------


def test_html_colspans_wider_than_a_sheet_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "export.xls", hostile.html_colspans(1000, 100, 999))
    assert _refused(path) == (
        "file rifiutato: la riga 1 della tabella HTML ha più di 16.384 colonne"
    )


def test_html_cells_over_the_cell_limit_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "export.xls", hostile.html_colspans(100, 2, 10))
    assert read_file(path, ReadLimits(max_cells=2000))[0].rows[99][10] == "x"
    assert _refused(path, ReadLimits(max_cells=1999)) == (
        "file rifiutato: la tabella HTML ha più di 1.999 celle"
    )


def test_a_csv_line_over_the_limit_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "riga.csv", hostile.long_line_csv(2000))
    assert _refused(path, ReadLimits(max_line_bytes=1999)) == (
        "file rifiutato: la riga 2 del CSV è lunga 2.000 byte, oltre il limite di 1.999"
    )


def test_a_csv_line_just_over_the_real_default_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "riga.csv", hostile.long_line_csv(DEFAULT_LIMITS.max_line_bytes + 1))
    assert _refused(path) == (
        "file rifiutato: la riga 2 del CSV è lunga 1.048.577 byte, oltre il limite di 1.048.576"
    )


def test_a_csv_field_over_the_limit_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "campo.csv", b'a;b\r\n1;"' + b"x\r\n" * 50 + b'"\r\n')
    assert _refused(path, ReadLimits(max_field_chars=100)) == (
        "file rifiutato: alla riga 35 del CSV un campo supera 100 caratteri"
    )
    assert len(read_file(path)[0].rows) == 2


def test_csv_rows_and_cells_over_the_limits_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "tante.csv", b"a;b;c\r\n" * 10)
    assert "il CSV ha 11 righe, oltre il limite di 10" in _refused(path, ReadLimits(max_rows=10))
    assert "il CSV ha fino a 31 celle, oltre il limite di 30" in _refused(
        path, ReadLimits(max_cells=30)
    )


def test_nul_bytes_anywhere_in_a_csv_are_removed_and_noted(tmp_path: Path) -> None:
    body = b"Codice fiscale;Nome\r\n" + b"".join(
        f"CF{i:06d};Nome {i}\r\n".encode() for i in range(10_000)
    )
    assert len(body) > 128 * 1024  # NULs far beyond the 64 KiB that are sniffed
    path = _write(tmp_path / "nul.csv", hostile.csv_with_nuls(body, every=5000))
    (sheet,) = read_file(path)
    (clean,) = read_file(_write(tmp_path / "pulito.csv", body))
    assert sheet.rows == clean.rows and len(sheet.rows) == 10_001
    nuls = len(body) // 5000
    assert sheet.notes == (
        f"il file conteneva {nuls} caratteri NUL (byte zero), rimossi prima della lettura",
    )
    assert clean.notes == ()


def test_a_file_mostly_of_nul_bytes_is_still_not_a_csv(tmp_path: Path) -> None:
    path = _write(tmp_path / "binario.csv", b"a;b\r\n" + b"\x00" * 100_000)
    assert "formato non riconosciuto" in _refused(path)


# --- a generated inbox with hostile files dropped in ----------------------------------

HOSTILE = {
    # (feed, file name): (bytes builder, the reason expected in ops.ingest_files.error)
    ("servizi_sociali", "UdP_Lodi_casi_2025_lontano.xlsx"): (
        lambda: hostile.far_cell_xlsx("Casi"),
        "file rifiutato: il foglio 'Casi' dichiara 17.179.869.184 celle",
    ),
    ("servizi_sociali", "UdP_Lodi_casi_2025_crash.xlsx"): (
        lambda: hostile.far_cell_undeclared_xlsx("Casi"),
        "file rifiutato: il lettore si è interrotto leggendolo (memoria oltre il limite di "
        "2.048 MB",
    ),
    ("provincia_co", "CO_estrazione_bomba.xlsx"): (
        lambda: hostile.zip_bomb_xlsx(20 * 1024 * 1024),
        "(sospetta bomba zip)",
    ),
    ("servizi_sociali", "UdP_Lodi_casi_2025_ripetuto.ods"): (
        lambda: hostile.ods_repeated_rows(100_000_000, "Casi"),
        "file rifiutato: il foglio 'Casi' ripete righe piene per 300.000.000 celle",
    ),
    ("provincia_tirocini", "tirocini_web.xls"): (
        lambda: hostile.html_colspans(1000, 100, 999),
        "file rifiutato: la riga 1 della tabella HTML ha più di 16.384 colonne",
    ),
    ("sportello", "sportello_riga_lunga.csv"): (
        lambda: hostile.long_line_csv(DEFAULT_LIMITS.max_line_bytes + 10),
        "file rifiutato: la riga 2 del CSV è lunga 1.048.586 byte",
    ),
    ("servizi_sociali", "UdP_Lodi_casi_2025_protetto.ods"): (
        lambda: hostile.encrypted_ods(hostile.ods_trailing_blank_repeats("Casi")),
        "file illeggibile: file protetto da password",
    ),
    ("cfp", "cfp_protetto.xls"): (
        lambda: hostile.encrypted_xls(_xls_bytes()),
        "file illeggibile: file protetto da password",
    ),
}


def _ingest_all(data_dir: Path) -> tuple[duckdb.DuckDBPyConnection, list]:
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"))
    attach_vault(con, data_dir / "vault.duckdb", VAULT_KEY)
    outcomes = []
    for feed in FEEDS:
        outcomes += ingest_feed(
            con, feed, data_dir / "inbox", key=KEY, feedback_dir=data_dir / "feedback"
        )
    return con, outcomes


def _table_rows(con: duckdb.DuckDBPyConnection, table: str, where: str = "") -> list:
    """Every row but the receipt time and number (refused files take numbers too)."""
    columns = ", ".join(
        f'"{name}"'
        for (name,) in con.execute(
            "select column_name from duckdb_columns() where (schema_name || '.' || table_name = ? "
            "or (database_name = 'vault' and database_name || '.' || table_name = ?)) "
            "and column_name not in ('received_at', 'received_seq') order by column_index",
            [table, table],
        ).fetchall()
    )
    return con.execute(f"select {columns} from {table} {where} order by all").fetchall()


def _reader_workers_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[1]) == pid and b"reader_worker" in cmdline:
            found.append(int(entry.name))
    return found


def test_a_hostile_inbox_ends_refusing_each_hostile_file_and_loads_the_rest(
    tmp_path: Path,
) -> None:
    clean_dir = tmp_path / "pulito"
    generate_inbox(clean_dir, persons=40, seed=2)
    hostile_dir = tmp_path / "ostile"
    shutil.copytree(clean_dir / "inbox", hostile_dir / "inbox")  # copy2 keeps the mtimes
    latest = max(p.stat().st_mtime for p in (clean_dir / "inbox").rglob("*") if p.is_file())
    for offset, ((feed, name), (build, _)) in enumerate(HOSTILE.items()):
        path = hostile_dir / "inbox" / feed / name
        path.write_bytes(build())
        # Received after every good file: the good files keep their receipt numbers.
        os.utime(path, (latest + 60 + offset, latest + 60 + offset))

    clean, _ = _ingest_all(clean_dir)
    dirty, outcomes = _ingest_all(hostile_dir)
    assert _reader_workers_of(os.getpid()) == []  # every worker ended with its feed

    refused = {(o.feed, o.file_name): o for o in outcomes if (o.feed, o.file_name) in HOSTILE}
    assert set(refused) == set(HOSTILE)
    for key, (_, reason) in HOSTILE.items():
        assert refused[key].status == "rejected", key
        assert refused[key].error.startswith(reason) or reason in refused[key].error, (
            key,
            refused[key].error,
        )
        stored = dirty.execute(
            "select status, error from ops.ingest_files where feed = ? and file_name = ?",
            list(key),
        ).fetchone()
        assert stored == ("rejected", refused[key].error)

    hostile_names = ", ".join(f"'{name}'" for _, name in HOSTILE)
    # Every good file: the same outcome, row for row, as without the hostile files.
    assert _table_rows(
        dirty, "ops.ingest_files", f"where file_name not in ({hostile_names})"
    ) == _table_rows(clean, "ops.ingest_files")
    tables = [
        f"raw.{table}"
        for (table,) in clean.execute(
            "select table_name from duckdb_tables() where schema_name = 'raw' order by 1"
        ).fetchall()
    ]
    assert "raw.provincia_co" in tables and "raw.servizi_sociali" in tables
    for table in [*tables, "vault.rejected_rows"]:
        assert _table_rows(dirty, table) == _table_rows(clean, table), table
    assert clean.execute("select count(*) from raw.servizi_sociali").fetchone()[0] > 0
    clean.close()
    dirty.close()


def test_a_csv_with_nuls_loads_the_same_rows_and_its_record_says_so(tmp_path: Path) -> None:
    """A NUL is never data: removed, the file loads exactly as without, with a note."""
    clean_dir = tmp_path / "pulito"
    generate_inbox(clean_dir, persons=20, seed=3)
    nul_dir = tmp_path / "nul"
    shutil.copytree(clean_dir / "inbox", nul_dir / "inbox")
    csvs = sorted((nul_dir / "inbox" / "sportello").glob("*.csv"))
    assert csvs
    with_nuls = set()
    for path in csvs:
        stat = path.stat()
        data = hostile.csv_with_nuls(path.read_bytes(), every=300)
        path.write_bytes(data)
        os.utime(path, (stat.st_atime, stat.st_mtime))
        if b"\x00" in data:
            with_nuls.add(path.name)
    assert with_nuls
    runs = {}
    for name, data_dir in (("clean", clean_dir), ("nul", nul_dir)):
        con = duckdb.connect(str(data_dir / "warehouse.duckdb"))
        attach_vault(con, data_dir / "vault.duckdb", VAULT_KEY)
        outcomes = ingest_feed(
            con, "sportello", data_dir / "inbox", key=KEY, feedback_dir=data_dir / "feedback"
        )
        runs[name] = (con, {o.file_name: o for o in outcomes})
    clean_con, clean_outcomes = runs["clean"]
    nul_con, nul_outcomes = runs["nul"]
    for path in csvs:
        outcome, before = nul_outcomes[path.name], clean_outcomes[path.name]
        if before.status != "loaded":
            continue
        assert outcome.status == "loaded" and outcome.rows_loaded == before.rows_loaded
        if path.name not in with_nuls:
            assert outcome.error is None
            continue
        assert outcome.error is not None and outcome.error.startswith("avviso: il file conteneva ")
        assert outcome.error.endswith("caratteri NUL (byte zero), rimossi prima della lettura")
    columns = [
        c
        for (c,) in clean_con.execute(
            "select column_name from duckdb_columns() where table_name = 'sportello' "
            "and column_name not in ('received_at', 'file_sha256') order by column_index"
        ).fetchall()
    ]
    query = f"select {', '.join(columns)} from raw.sportello order by all"
    assert nul_con.execute(query).fetchall() == clean_con.execute(query).fetchall()
    assert clean_con.execute("select count(*) from raw.sportello").fetchone()[0] > 0
    clean_con.close()
    nul_con.close()
