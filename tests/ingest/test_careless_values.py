"""No value can crash a feed (issue 9 §2): careless and hostile cells and file names.

Each test writes real partner files (xlsx as Excel writes them, ods, csv) holding one
kind of value that cannot be stored or written as sent, runs ``ingest_feed`` on a real
DuckDB file, and checks that the feed ends, the file is recorded with its counts, the
bad rows are rejected or warned with their reason, the feedback workbook opens and
shows the value with visible escapes, and neither the value nor a library's exception
text appears in the log or ``ops.ingest_files``.

The desk's feed (``sportello``) is used throughout: ``ID contatto``, ``Data`` and
``Tipo utente`` are required, ``Anno nascita`` is an INTEGER column, ``Codice fiscale``
is optional (an invalid one is a warning), ``Richiesta principale`` is a label.
"""

from __future__ import annotations

import datetime as dt
import errno
import logging
import os
import random
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import duckdb
import openpyxl
import pytest
import xlwt
from odf.opendocument import OpenDocumentSpreadsheet
from odf.table import Table, TableCell, TableRow
from odf.text import P
from openpyxl.utils import get_column_letter

from lavoro_debole.ingest import pipeline, store
from lavoro_debole.ingest.reader_worker import ReaderWorker
from lavoro_debole.ingest.readers import Sheet, UnreadableFileError, read_file
from lavoro_debole.ingest.values import MAX_TEXT_CHARS, unusable_text
from lavoro_debole.ingest.vault import attach_vault
from lavoro_debole.schemas import FEEDS, REASONS
from lavoro_debole.synthetic import generate_inbox
from tests.factories import CF_ANNA, CF_MARIO, KEY, PLANTED_CF, VAULT_KEY, write_csv

HEADER = ["ID contatto", "Data", "Tipo utente", "Anno nascita", "Richiesta principale", "CF"]
GOOD = ["101", "01/02/2024", "Detenuto", "1980", "Lavoro", CF_MARIO]
GOOD_TOO = ["102", "02/02/2024", "Ex detenuto", "1975", "Casa", CF_ANNA]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    (tmp_path / "inbox" / "sportello").mkdir(parents=True)
    return tmp_path


@pytest.fixture
def con(data_dir: Path):
    connection = duckdb.connect(str(data_dir / "warehouse.duckdb"))
    attach_vault(connection, data_dir / "vault.duckdb", VAULT_KEY)
    yield connection
    connection.close()


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def run(con, data_dir: Path) -> list[pipeline.FileOutcome]:
    return pipeline.ingest_feed(
        con, "sportello", data_dir / "inbox", key=KEY, feedback_dir=data_dir / "feedback"
    )


# --------------------------------------------------------------------------- files


def _excel_escape(text: str) -> str:
    """Text as Excel stores it in sheet XML: characters XML cannot hold as ``_xHHHH_``."""
    out = []
    for char in text:
        if (ord(char) < 32 and char not in "\t\n\r") or char in "\ufffe\uffff":
            out.append(f"_x{ord(char):04X}_")
        else:
            out.append(escape(char))
    return "".join(out)


def write_excel_xlsx(path: Path, rows: list[list[object]]) -> Path:
    """An xlsx as Excel writes it (openpyxl refuses control characters; Excel does not)."""
    from tests.ingest.conftest import _CONTENT_TYPES, _ROOT_RELS, _WORKBOOK, _WORKBOOK_RELS

    body = []
    for r, row in enumerate(rows, start=1):
        cells = []
        for c, value in enumerate(row, start=1):
            ref = f"{get_column_letter(c)}{r}"
            if value is None:
                continue
            if isinstance(value, int | float):
                cells.append(f'<c r="{ref}"><v>{value}</v></c>')
            else:
                text = _excel_escape(str(value))
                cells.append(
                    f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'
                )
        body.append(f'<row r="{r}">{"".join(cells)}</row>')
    sheet = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData>{''.join(body)}</sheetData></worksheet>"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
    return path


def write_ods(path: Path, rows: list[list[object]]) -> Path:
    document = OpenDocumentSpreadsheet()
    table = Table(name="Contatti")
    for cells in rows:
        row = TableRow()
        for value in cells:
            if value is None:
                row.addElement(TableCell())
            elif isinstance(value, int | float):
                cell = TableCell(valuetype="float", value=str(value))
                cell.addElement(P(text=str(value)))
                row.addElement(cell)
            else:
                cell = TableCell(valuetype="string")
                cell.addElement(P(text=str(value)))
                row.addElement(cell)
        table.addElement(row)
    document.spreadsheet.addElement(table)
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))
    return path


def write_xls(path: Path, rows: list[list[object]]) -> Path:
    """Excel 97-2003 (BIFF strings hold any character)."""
    workbook = xlwt.Workbook()
    sheet = workbook.add_sheet("Contatti")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None:
                sheet.write(r, c, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(str(path))
    return path


def write_file(data_dir: Path, fmt: str, rows: list[list[object]], stem: str = "contatti") -> Path:
    path = data_dir / "inbox" / "sportello" / f"{stem}_2024_02.{fmt}"
    if fmt == "xlsx":
        return write_excel_xlsx(path, rows)
    if fmt == "xls":
        return write_xls(path, rows)
    if fmt == "ods":
        return write_ods(path, rows)
    return write_csv(path, rows, encoding="utf-8")


# --------------------------------------------------------------------------- checks


def ingest_files(con) -> list[tuple]:
    return con.execute(
        "select file_name, status, rows_data, rows_loaded, rows_rejected, rows_warned, error, "
        "feedback_file from ops.ingest_files order by received_seq"
    ).fetchall()


def rejected(con) -> list[tuple]:
    return con.execute(
        "select row_number, column_name, severity, reason, value from vault.rejected_rows "
        "order by row_number, column_name"
    ).fetchall()


def feedback_rows(data_dir: Path, name: str) -> list[tuple]:
    sheet = openpyxl.load_workbook(data_dir / "feedback" / "sportello" / name).active
    return [tuple(c.value for c in row) for row in sheet.iter_rows(min_row=5)]


def assert_not_shown(con, logs: pytest.LogCaptureFixture, *values: str) -> None:
    """None of ``values`` (nor a library's error text) in the log or ops.ingest_files."""
    shown = logs.text + "\n".join(str(r.args) for r in logs.records)
    files = str(con.execute("select * from ops.ingest_files").fetchall())
    for value in values:
        assert value not in shown
        assert value not in files
    for library_text in ("Conversion Error", "IllegalCharacterError", "cannot be used"):
        assert library_text not in shown and library_text not in files


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("fmt", ["xlsx", "xls", "csv"])
def test_control_characters_reject_or_warn_the_row_and_are_shown_escaped(con, data_dir, logs, fmt):
    # NUL in a CSV is the reader's business (a text file with NULs is not taken as one).
    nul = "\x08" if fmt == "csv" else "\x00"
    rows = [
        HEADER,
        GOOD,
        ["103", "03/02/2024", "Detenuto\x07", "1980", "", ""],  # required vocabulary
        ["104", "04/02/2024", "Detenuto", "1980", "Lavoro\x01serale", ""],  # a label
        ["105", "05/02\x1b/2024", "Detenuto", "1980", "", ""],  # a date
        ["106", "06/02/2024", "Detenuto", "1980", "", f"RSSMRA80{nul}A01E648Q"],  # optional CF
        ["107", "07/02/2024", "Detenuto", "1980", "Corso\x7f", ""],  # DEL
        GOOD_TOO,
    ]
    write_file(data_dir, fmt, rows)
    [outcome] = run(con, data_dir)

    # 7 data rows: 103, 104, 105, 107 rejected; 106 loads without its CF (a warning).
    assert (outcome.status, outcome.rows_data, outcome.rows_loaded) == ("loaded", 7, 3)
    assert (outcome.rows_rejected, outcome.rows_warned) == (4, 1)
    control = REASONS["control_characters"]
    assert rejected(con) == [
        (3, "Tipo utente", "error", control, "Detenuto\\x07"),
        (4, "Richiesta principale", "error", control, "Lavoro\\x01serale"),
        (5, "Data", "error", control, "05/02\\x1b/2024"),
        (6, "CF", "warning", control + "; il valore è stato ignorato e la riga caricata",
         f"RSSMRA80\\x{ord(nul):02x}A01E648Q"),
        (7, "Richiesta principale", "error", control, "Corso\\x7f"),
    ]  # fmt: skip
    loaded = con.execute(
        "select contact_id, person_id is null from raw.sportello order by row_number"
    ).fetchall()
    assert loaded == [("101", False), ("106", True), ("102", False)]
    stored = str(con.execute("select * from raw.sportello").fetchall())
    assert "\\x" not in stored and "\x07" not in stored and nul not in stored

    [(_name, status, *_counts, error, feedback)] = ingest_files(con)
    assert (status, error, feedback) == ("loaded", None, outcome.feedback_file)
    shown = feedback_rows(data_dir, feedback)
    assert [(r[1], r[2], r[3]) for r in shown] == [
        ("3", "Tipo utente", "Detenuto\\x07"),
        ("4", "Richiesta principale", "Lavoro\\x01serale"),
        ("5", "Data", "05/02\\x1b/2024"),
        ("6", "CF", f"RSSMRA80\\x{ord(nul):02x}A01E648Q"),
        ("7", "Richiesta principale", "Corso\\x7f"),
    ]
    assert_not_shown(con, logs, "Detenuto\x07", "serale", "RSSMRA80", CF_MARIO)
    assert run(con, data_dir) == []  # recorded: the next run does not take it again


@pytest.mark.parametrize("fmt", ["xlsx", "xls", "ods", "csv"])
def test_a_phone_number_as_year_of_birth_is_out_of_range_not_a_crash(con, data_dir, logs, fmt):
    phone = 3331234567  # over INTEGER's 2,147,483,647
    rows = [
        HEADER,
        GOOD,
        ["103", "03/02/2024", "Detenuto", phone if fmt != "csv" else str(phone), "", ""],
        ["104", "04/02/2024", "Detenuto", "3.331.234.567", "", ""],  # written the Italian way
        ["105", "05/02/2024", "Detenuto", "-2147483649", "", ""],
        ["106", "06/02/2024", "Detenuto", "2147483647", "", ""],  # the largest INTEGER: fine
    ]
    write_file(data_dir, fmt, rows)
    [outcome] = run(con, data_dir)

    assert (outcome.status, outcome.rows_data, outcome.rows_loaded, outcome.rows_rejected) == (
        "loaded",
        5,
        2,
        3,
    )
    reason = REASONS["integer_out_of_range"]
    assert rejected(con) == [
        (3, "Anno nascita", "error", reason, str(phone)),
        (4, "Anno nascita", "error", reason, "3.331.234.567"),
        (5, "Anno nascita", "error", reason, "-2147483649"),
    ]
    assert con.execute("select birth_year from raw.sportello order by row_number").fetchall() == [
        (1980,),
        (2147483647,),
    ]
    shown = feedback_rows(data_dir, outcome.feedback_file)
    assert [r[3] for r in shown] == [str(phone), "3.331.234.567", "-2147483649"]
    assert_not_shown(con, logs, str(phone), "3.331.234.567", "2147483649")


@pytest.mark.parametrize("fmt", ["ods", "csv", "xlsx", "xls"])
def test_odd_unicode_and_overlong_text_are_rejected_with_their_reason(con, data_dir, logs, fmt):
    long_text = "Richiesta " + "molto lunga " * 200  # 2,410 characters
    assert len(long_text) > MAX_TEXT_CHARS
    rows = [
        HEADER,
        GOOD,
        ["103", "03/02/2024", "Detenuto", "1980", "Lavoro\u202eorates", ""],  # RLO override
        ["104", "04/02/2024", "Detenuto", "1980", "Casa\u2066x\u2069", ""],  # isolates
        ["105", "05/02/2024", "Detenuto", "1980", long_text, ""],
        ["106", "06/02/2024", "Detenuto", "1980", "Società è più", ""],  # ordinary accents
    ]
    if fmt == "csv":  # U+FFFE is not allowed in XML, so only a CSV can carry it
        rows.append(["107", "07/02/2024", "Detenuto", "1980", "Corso\ufffe", ""])
    write_file(data_dir, fmt, rows)
    [outcome] = run(con, data_dir)

    odd, too_long = REASONS["unicode_invalid"], REASONS["text_too_long"]
    expected = [
        (3, "Richiesta principale", "error", odd, "Lavoro\\u202eorates"),
        (4, "Richiesta principale", "error", odd, "Casa\\u2066x\\u2069"),
        (5, "Richiesta principale", "error", too_long, None),
    ]
    if fmt == "csv":
        expected.append((7, "Richiesta principale", "error", odd, "Corso\\ufffe"))
    got = rejected(con)
    assert [g[:4] for g in got] == [e[:4] for e in expected]
    assert [g[4] for g in got if g[0] != 5] == [e[4] for e in expected if e[0] != 5]
    # The overlong value is kept cut, with a mark saying how long it was.
    [shown_long] = [g[4] for g in got if g[0] == 5]
    assert shown_long.startswith(long_text[:MAX_TEXT_CHARS]) and "troncato: 2.410" in shown_long
    assert (outcome.rows_loaded, outcome.rows_rejected) == (2, len(expected))
    assert con.execute("select main_request from raw.sportello order by row_number").fetchall() == [
        ("Lavoro",),
        ("Società è più",),
    ]
    feedback = feedback_rows(data_dir, outcome.feedback_file)
    assert feedback[0][3] == "Lavoro\\u202eorates" and feedback[2][3] == shown_long
    assert_not_shown(con, logs, "orates", "molto lunga")


def test_lone_surrogates_from_a_broken_decoder_are_rejected_and_storable(
    con, data_dir, logs, monkeypatch
):
    """A reader that decoded badly (surrogate escapes): the value is neither stored in
    raw nor breaks the insert of the rejected row (DuckDB wants valid UTF-8)."""
    path = write_file(data_dir, "csv", [HEADER, GOOD])
    sheet = Sheet(
        None,
        [HEADER, GOOD, ["103", "03/02/2024", "Detenuto", "1980", "Lav\udce0ro", ""]],
        hidden=False,
    )
    monkeypatch.setattr(ReaderWorker, "read", lambda self, p: [sheet] if p == path else [])
    [outcome] = run(con, data_dir)
    assert (outcome.status, outcome.rows_loaded, outcome.rows_rejected) == ("loaded", 1, 1)
    assert rejected(con) == [
        (3, "Richiesta principale", "error", REASONS["unicode_invalid"], "Lav\\udce0ro")
    ]
    assert feedback_rows(data_dir, outcome.feedback_file)[0][3] == "Lav\\udce0ro"


def test_an_unexpected_exception_refuses_that_file_without_its_text_and_the_others_load(
    con, data_dir, logs, monkeypatch
):
    write_file(data_dir, "csv", [HEADER, GOOD], stem="primo")
    second = write_file(data_dir, "csv", [HEADER, GOOD_TOO], stem="secondo")
    os.utime(second, (second.stat().st_mtime + 10,) * 2)  # received after the first
    real_person_columns = pipeline.person_columns
    calls = []

    def broken(values, key):
        calls.append(1)
        if len(calls) == 1:  # a library failing on the first file, its message a value
            raise ValueError(f"invalid literal: {PLANTED_CF}")
        return real_person_columns(values, key)

    monkeypatch.setattr(pipeline, "person_columns", broken)
    first_outcome, second_outcome = run(con, data_dir)

    assert first_outcome.status == "rejected" and first_outcome.rows_loaded == 0
    assert "errore imprevisto" in first_outcome.error and "ValueError" in first_outcome.error
    assert second_outcome.status == "loaded" and second_outcome.rows_loaded == 1
    assert [(r[0], r[1], r[3]) for r in ingest_files(con)] == [
        ("primo_2024_02.csv", "rejected", 0),
        ("secondo_2024_02.csv", "loaded", 1),
    ]
    assert con.execute("select contact_id from raw.sportello").fetchall() == [("102",)]
    assert_not_shown(con, logs, PLANTED_CF, "invalid literal")
    assert any("ValueError" in r.getMessage() for r in logs.records)
    assert run(con, data_dir) == []  # recorded: it does not fail every run again


def test_a_warehouse_error_on_insert_names_the_file_and_sheet_never_the_value(
    con, data_dir, logs, monkeypatch
):
    """A DuckDB error while the rows go in (its text carries the value): the file's
    transaction is rolled back and the file refused, naming where it happened."""
    write_excel_xlsx(data_dir / "inbox" / "sportello" / "contatti.xlsx", [HEADER, GOOD])
    real_append = store.append_frame

    def failing(connection, table, frame):
        if table.startswith("raw."):
            real_append(connection, table, frame)  # half the file is in, then it fails
            raise duckdb.ConversionException(f"Could not convert '{CF_MARIO}' to INT32")
        real_append(connection, table, frame)

    monkeypatch.setattr(store, "append_frame", failing)
    [outcome] = run(con, data_dir)
    assert outcome.status == "rejected"
    assert "ConversionException" in outcome.error and "registrazione nel magazzino" in outcome.error
    assert con.execute("select count(*) from raw.sportello").fetchone() == (0,)  # rolled back
    assert [r[1] for r in ingest_files(con)] == ["rejected"]
    assert_not_shown(con, logs, CF_MARIO, "Could not convert")


def test_a_failure_in_a_column_names_the_sheet_and_the_column(con, data_dir, logs, monkeypatch):
    write_excel_xlsx(data_dir / "inbox" / "sportello" / "contatti.xlsx", [HEADER, GOOD])

    def broken(values, *args, **kwargs):
        raise TypeError(f"bad {CF_MARIO}")

    monkeypatch.setattr(pipeline, "parse_numbers", broken)
    [outcome] = run(con, data_dir)
    assert outcome.status == "rejected"
    assert "foglio 'Calcoli', colonna 'Anno nascita'" in outcome.error
    assert "TypeError" in outcome.error
    assert_not_shown(con, logs, CF_MARIO)


def test_a_full_disk_stops_the_run_and_the_file_is_taken_again_next_time(
    con, data_dir, logs, monkeypatch
):
    write_file(data_dir, "csv", [HEADER, GOOD])
    real_append = store.append_frame

    def full(connection, table, frame):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store, "append_frame", full)
    with pytest.raises(OSError):
        run(con, data_dir)
    assert ingest_files(con) == []  # not recorded: nothing is lost
    monkeypatch.setattr(store, "append_frame", real_append)
    [outcome] = run(con, data_dir)
    assert (outcome.status, outcome.rows_loaded) == ("loaded", 1)


def test_feedback_that_cannot_be_written_leaves_the_file_recorded(con, data_dir, logs, monkeypatch):
    write_file(data_dir, "csv", [HEADER, GOOD, ["103", "03/02/2024", "Boh\x07", "", "", ""]])

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, f"No space left on device: {CF_MARIO}")

    monkeypatch.setattr(pipeline, "write_feedback_workbook", no_space)
    [outcome] = run(con, data_dir)
    assert (outcome.status, outcome.rows_loaded, outcome.rows_rejected) == ("loaded", 1, 1)
    assert outcome.feedback_file is None
    assert "spazio su disco esaurito" in outcome.error
    [(_name, status, data, loaded, rejected_n, _warned, error, feedback)] = ingest_files(con)
    assert (status, data, loaded, rejected_n, feedback) == ("loaded", 2, 1, 1, None)
    assert error == outcome.error
    assert [r[4] for r in rejected(con)] == ["Boh\\x07"]  # the problems are kept
    assert any("feedback" in r.getMessage() and "spazio" in r.getMessage() for r in logs.records)
    assert_not_shown(con, logs, CF_MARIO, "Boh", "No space left")
    assert run(con, data_dir) == []  # recorded: not failing again at every run


def test_feedback_folder_that_is_a_file_is_reported_and_the_file_recorded(con, data_dir, logs):
    """A real failure of the writer, no monkeypatch: ``feedback/sportello`` is a file."""
    (data_dir / "feedback").mkdir()
    (data_dir / "feedback" / "sportello").write_text("not a folder")
    write_file(data_dir, "csv", [HEADER, GOOD, ["103", "03/02/2024", "Boh", "", "", ""]])
    [outcome] = run(con, data_dir)
    assert (outcome.status, outcome.rows_loaded, outcome.rows_rejected) == ("loaded", 1, 1)
    assert outcome.feedback_file is None and "FileExistsError" in outcome.error
    assert [r[1] for r in ingest_files(con)] == ["loaded"]


def _name_bytes_fit(name: str) -> bool:
    return len(name.encode("utf-8")) <= 255


@pytest.mark.parametrize(
    ("raw_name", "stored"),
    [
        ("c" * 244 + ".csv", "c" * 244 + ".csv"),
        ("è" * 120 + ".csv", "è" * 120 + ".csv"),  # 240 bytes: the feedback name is cut
        (os.fsdecode(b"contatti_\xff\xfe_2024.csv"), "contatti_\\xff\\xfe_2024.csv"),
        ("contatti\nfebbraio.csv", "contatti\\x0afebbraio.csv"),
        ("\u202evsc.contatti.csv", "\\u202evsc.contatti.csv"),
    ],
)
def test_odd_file_names_are_stored_safely_and_recognised_again(
    con, data_dir, logs, raw_name, stored
):
    bad_row = ["103", "03/02/2024", "Boh", "", "", ""]
    path = write_csv(data_dir / "inbox" / "sportello" / raw_name, [HEADER, GOOD, bad_row])
    assert path.exists()
    [outcome] = run(con, data_dir)
    assert (outcome.status, outcome.rows_loaded, outcome.rows_rejected) == ("loaded", 1, 1)
    assert outcome.file_name == stored
    (name,) = con.execute("select file_name from ops.ingest_files").fetchone()
    assert name == stored and name.encode("utf-8")  # valid UTF-8 in and out of DuckDB
    assert con.execute("select distinct file_name from raw.sportello").fetchall() == [(stored,)]
    feedback = data_dir / "feedback" / "sportello" / outcome.feedback_file
    assert feedback.is_file() and _name_bytes_fit(feedback.name)
    assert "\n" not in feedback.name and "\u202e" not in feedback.name
    title = openpyxl.load_workbook(feedback).active["A1"].value
    assert title == f"Righe non caricate del file: {stored}"
    assert all("\n" not in r.getMessage() for r in logs.records)
    assert run(con, data_dir) == []  # the same file is recognised on the next run


def test_a_file_that_cannot_be_opened_is_said_and_tried_again(con, data_dir, logs, monkeypatch):
    locked = write_file(data_dir, "csv", [HEADER, GOOD], stem="bloccato")
    write_file(data_dir, "csv", [HEADER, GOOD_TOO], stem="libero")
    real_sha = pipeline.sha256_of

    def no_permission(path):
        if path == locked:
            raise PermissionError(errno.EACCES, f"Permission denied: {CF_MARIO}")
        return real_sha(path)

    monkeypatch.setattr(pipeline, "sha256_of", no_permission)
    outcomes = run(con, data_dir)
    assert [(o.file_name, o.status) for o in outcomes] == [
        ("bloccato_2024_02.csv", "rejected"),
        ("libero_2024_02.csv", "loaded"),
    ]
    assert "PermissionError" in outcomes[0].error
    assert [r[0] for r in ingest_files(con)] == ["libero_2024_02.csv"]  # not recorded
    assert_not_shown(con, logs, CF_MARIO, "Permission denied")
    monkeypatch.setattr(pipeline, "sha256_of", real_sha)
    [again] = run(con, data_dir)  # readable now: loaded
    assert (again.file_name, again.status, again.rows_loaded) == (
        "bloccato_2024_02.csv",
        "loaded",
        1,
    )


def test_a_failure_noting_the_feedback_never_records_the_file_twice(
    con, data_dir, logs, monkeypatch
):
    write_file(data_dir, "csv", [HEADER, GOOD, ["103", "03/02/2024", "Boh", "", "", ""]])

    def broken(*args, **kwargs):
        raise duckdb.ConstraintException(f"constraint on {CF_MARIO}")

    monkeypatch.setattr(store, "set_feedback", broken)
    [outcome] = run(con, data_dir)
    assert (outcome.status, outcome.rows_loaded, outcome.rows_rejected) == ("loaded", 1, 1)
    assert outcome.feedback_file is not None  # written, only not noted
    assert [r[1] for r in ingest_files(con)] == ["loaded"]
    assert_not_shown(con, logs, CF_MARIO)


# --------------------------------------------------------------------------- anywhere

HOSTILE = [
    "x\x07",
    "\x00",
    "a\udc80",  # a broken decoder
    "\ufffe",
    "\u202e",
    "y" * 5000,
    3331234567,
    -(2**63),
    2**70,
    1e308,
    float("inf"),
    float("-inf"),
    float("nan"),
    True,
    False,
    dt.date(1, 1, 1),
    dt.date(9999, 12, 31),
    dt.datetime(2024, 1, 1, 12, 30),
    dt.time(1, 2),
    "=1+1",
    "1" * 400,
    -5,
    0.5,
    "💥" * 10,
]


def test_hostile_cells_anywhere_in_a_generated_inbox_never_crash_a_feed(
    tmp_path, logs, monkeypatch
):
    """3% of the data cells of every file of a generated inbox replaced by a hostile
    value (as a reader could give it): every feed ends, every file is recorded with
    the status and data rows the generator made it with, each row loaded or rejected, nothing
    unshowable stored past the door, every feedback workbook opens."""
    manifest = generate_inbox(tmp_path, persons=40, seed=2)
    expected = {(f.feed, f.path): (f.status, f.rows_data) for f in manifest.files}

    rng = random.Random(9)
    mutated: dict[Path, list[Sheet]] = {}
    for feed in FEEDS.values():
        for path in pipeline.inbox_files(tmp_path / "inbox" / feed.name):
            sheets = []
            try:
                read = read_file(path)
            except UnreadableFileError:
                continue  # the generator's broken files stay broken
            for sheet in read:
                rows = [list(row) for row in sheet.rows]
                match = pipeline._choose_entity(feed, sheet)
                start = len(rows) if match is None else match[1].row_index + 1
                for row in rows[start:]:
                    for i, cell in enumerate(row):
                        if cell is not None and rng.random() < 0.03:
                            row[i] = rng.choice(HOSTILE)
                sheets.append(Sheet(sheet.name, rows, sheet.hidden))
            mutated[path] = sheets
    real_read = ReaderWorker.read
    monkeypatch.setattr(
        ReaderWorker,
        "read",
        lambda self, path: mutated[path] if path in mutated else real_read(self, path),
    )

    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    attach_vault(con, tmp_path / "vault.duckdb", VAULT_KEY)
    outcomes = {}
    for feed in FEEDS:
        for o in pipeline.ingest_feed(
            con, feed, tmp_path / "inbox", key=KEY, feedback_dir=tmp_path / "feedback"
        ):
            outcomes[(feed, o.file_name)] = o
    assert {k: (o.status, o.rows_data) for k, o in outcomes.items()} == expected
    assert not any("imprevisto" in (o.error or "") for o in outcomes.values())
    assert sum(o.rows_rejected for o in outcomes.values()) > 100  # the values did bite
    for o in outcomes.values():
        if o.status == "loaded":
            assert o.rows_data == o.rows_loaded + o.rows_rejected
            assert o.error is None
    recorded = con.execute("select count(*) from ops.ingest_files").fetchone()[0]
    assert recorded == len(outcomes)

    for (table,) in con.execute(
        "select table_name from information_schema.tables where table_schema = 'raw'"
    ).fetchall():
        for row in con.execute(f"select * from raw.{table}").fetchall():
            for cell in row:
                if isinstance(cell, str):
                    assert unusable_text(cell) is None, table
    for (value,) in con.execute("select value from vault.rejected_rows").fetchall():
        assert value is None or (len(value) < 1100 and "\x07" not in value)
    for o in outcomes.values():
        if o.feedback_file:
            openpyxl.load_workbook(tmp_path / "feedback" / o.feed / o.feedback_file)
    assert "y" * 100 not in logs.text and "\x07" not in logs.text and "Error" not in logs.text
