"""The inbox sensor's logic: a file is announced once per content, and only when copied."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from lavoro_debole.ingest.inbox_watch import WatchState, look


def write(path: Path, data: bytes, mtime: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


def test_a_file_is_announced_once_it_stops_changing_and_only_once(tmp_path: Path):
    inbox = tmp_path / "inbox"
    state = WatchState()
    target = write(inbox / "sportello" / "contatti_2024_05.csv", b"ID;Data\n1;", 100)
    assert look(inbox, ["sportello"], state) == []  # first sight: may still be copying
    write(target, b"ID;Data\n1;01/05/2024\n", 101)  # it grew
    assert look(inbox, ["sportello"], state) == []
    [ready] = look(inbox, ["sportello"], state)  # unchanged since the last look
    assert (ready.feed, ready.path.name) == ("sportello", "contatti_2024_05.csv")
    assert look(inbox, ["sportello"], state) == []  # never twice


def test_part_files_wait_and_the_same_content_under_another_name_is_not_announced(
    tmp_path: Path,
):
    inbox = tmp_path / "inbox"
    state = WatchState()
    partial = write(inbox / "cfp" / "corsi_2024_S1.xlsx.part", b"PK...", 100)
    assert look(inbox, ["cfp"], state) == []
    assert look(inbox, ["cfp"], state) == []  # a .part name is never ready
    final = partial.with_name("corsi_2024_S1.xlsx")
    partial.rename(final)
    look(inbox, ["cfp"], state)
    [ready] = look(inbox, ["cfp"], state)
    assert ready.path == final
    shutil.copy2(final, final.with_name("copia corsi.xlsx"))
    look(inbox, ["cfp"], state)
    assert look(inbox, ["cfp"], state) == []  # same bytes: already announced


def test_the_state_survives_the_sensor_cursor(tmp_path: Path):
    inbox = tmp_path / "inbox"
    write(inbox / "imprese" / "contatti_2024.xlsx", b"data", 100)
    state = WatchState()
    look(inbox, ["imprese"], state)
    restored = WatchState.from_json(state.to_json())
    [ready] = look(inbox, ["imprese"], restored)
    again = WatchState.from_json(restored.to_json())
    assert look(inbox, ["imprese"], again) == []
    assert ready.sha256 in again.announced
