"""The reader worker: same sheets as an in-process read, and a death or a hang refuses
one file only (a fresh worker reads the next), with nothing left running."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import duckdb
import pytest

from lavoro_debole.ingest import pipeline
from lavoro_debole.ingest.pipeline import ingest_feed
from lavoro_debole.ingest.reader_worker import ReaderWorker
from lavoro_debole.ingest.readers import ReadLimits, UnreadableFileError, read_file
from lavoro_debole.ingest.vault import attach_vault
from lavoro_debole.synthetic import hostile
from tests.factories import KEY, VAULT_KEY, d, write_xlsx


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return status != "Z"


def test_the_worker_gives_the_same_sheets_as_reading_here(
    co_like_xlsx: Path, legacy_xls: Path, district_ods: Path, desk_csv_cp1252: Path
) -> None:
    with ReaderWorker() as worker:
        for path in (co_like_xlsx, legacy_xls, district_ods, desk_csv_cp1252):
            assert worker.read(path) == read_file(path), path.name
        pid = worker.pid
    assert pid is not None and not _alive(pid)
    sheet = next(s for s in read_file(legacy_xls) if s.name == "Casi")
    assert isinstance(sheet.rows[3][1], dt.date)  # dates cross the pipe as dates


def test_a_reader_that_dies_refuses_one_file_and_a_fresh_worker_reads_the_next(
    tmp_path: Path, co_like_xlsx: Path
) -> None:
    crash = tmp_path / "crash.xlsx"
    crash.write_bytes(hostile.far_cell_undeclared_xlsx())
    with ReaderWorker() as worker:
        assert worker.read(co_like_xlsx)
        first = worker.pid
        with pytest.raises(UnreadableFileError) as refused:
            worker.read(crash)
        assert str(refused.value) == (
            "file rifiutato: il lettore si è interrotto leggendolo (memoria oltre il limite di "
            "2.048 MB, LAVORO_READER_MEMORY_MB, o file malformato)"
        )
        assert first is not None and not _alive(first)
        assert worker.read(co_like_xlsx) == read_file(co_like_xlsx)
        assert worker.pid not in (None, first)


def test_a_tiny_memory_limit_refuses_the_file_naming_the_limit(tmp_path: Path) -> None:
    """3.2 million cells (~15 MB of CSV) need far more than 300 MB as Python objects."""
    path = tmp_path / "grande.csv"
    rows = b"".join(
        f"{i:08d};b{i};c{i};d{i};e{i};f{i};g{i};h{i}\r\n".encode() for i in range(400_000)
    )
    path.write_bytes(b"a;b;c;d;e;f;g;h\r\n" + rows)
    with ReaderWorker(ReadLimits(memory_mb=300)) as worker:
        with pytest.raises(UnreadableFileError, match="limite di 300 MB") as refused:
            worker.read(path)
        assert "LAVORO_READER_MEMORY_MB" in str(refused.value)


def test_a_file_that_never_ends_is_refused_at_the_time_limit(
    tmp_path: Path, co_like_xlsx: Path
) -> None:
    fifo = tmp_path / "mai.csv"
    os.mkfifo(fifo)  # nobody writes: reading it waits for ever
    with ReaderWorker(ReadLimits(timeout_s=2)) as worker:
        start = time.monotonic()
        with pytest.raises(UnreadableFileError) as refused:
            worker.read(fifo)
        assert time.monotonic() - start < 10
        assert str(refused.value) == (
            "file rifiutato: la lettura ha superato il limite di tempo di 2 secondi "
            "(LAVORO_READER_TIMEOUT_S)"
        )
        assert worker.read(co_like_xlsx) == read_file(co_like_xlsx)


def test_the_worker_ends_with_the_feed_even_when_the_feed_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_dir = tmp_path / "inbox" / "servizi_sociali"
    feed_dir.mkdir(parents=True)
    header = ["Codice Fiscale", "Cognome", "Nome", "Cittadinanza", "Condizione", "Data presa"]
    for name in ("UdP_Lodi_casi_2024.xlsx", "UdP_Casalpusterlengo_casi_2024.xlsx"):
        write_xlsx(feed_dir / name, {"Casi": [header, ["x", "y", "z", "w", "v", d("01/01/2024")]]})
    started: list[int] = []
    real_start = ReaderWorker.start

    def recording_start(self: ReaderWorker) -> None:
        real_start(self)
        if self.pid not in started:
            started.append(self.pid)

    def failing_record(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disco pieno")

    monkeypatch.setattr(ReaderWorker, "start", recording_start)
    monkeypatch.setattr(pipeline.FileIngestor, "_record", failing_record)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    attach_vault(con, tmp_path / "vault.duckdb", VAULT_KEY)
    with pytest.raises(RuntimeError, match="disco pieno"):
        ingest_feed(con, "servizi_sociali", tmp_path / "inbox", key=KEY, feedback_dir=tmp_path)
    con.close()
    assert started and not any(_alive(pid) for pid in started)


def test_the_worker_gets_no_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LAVORO_PSEUDONYM_KEY", "k" * 40)
    monkeypatch.setenv("LAVORO_SMTP_PASSWORD", "segreto")
    with ReaderWorker() as worker:
        worker.start()
        environ = Path(f"/proc/{worker.pid}/environ").read_bytes()
    assert b"LAVORO_" not in environ and b"segreto" not in environ
