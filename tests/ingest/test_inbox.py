"""The inbox is the inbox: what the run and the sensor read of a feed's folder."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from lavoro_debole.ingest.inbox import LINK_REASON, walk_feed_dir
from lavoro_debole.ingest.inbox_watch import WatchState, look
from lavoro_debole.ingest.pipeline import FileIngestor, inbox_files, ingest_feed
from lavoro_debole.ingest.vault import attach_vault
from lavoro_debole.schemas import FEEDS
from tests.factories import KEY, VAULT_KEY

SECRET = "VALORE-FUORI-INBOX-7731"


def touch(path: Path, mtime: float, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def messy_feed(tmp_path: Path) -> Path:
    """A feed folder with one of everything that is not a partner file, and two that are."""
    feed = tmp_path / "inbox" / "sportello"
    outside = tmp_path / "fuori"
    touch(outside / "segreto.csv", 1, SECRET.encode())
    touch(outside / "cartella" / "altro.csv", 1, SECRET.encode())
    touch(feed / "contatti_2024_04.csv", 10, b"aprile")
    touch(feed / "2024" / "maggio" / "contatti_2024_05.csv", 20, b"maggio")  # subfolder: read
    touch(feed / ".nascosto.csv", 1)
    touch(feed / ".cartella_nascosta" / "contatti.csv", 1)
    touch(feed / "visibile" / ".nascosta" / "contatti.csv", 1)
    touch(feed / "~$contatti.xlsx", 1)
    touch(feed / ".~lock.contatti.ods#", 1)
    for suffix in (".part", ".filepart", ".download", ".crdownload", ".tmp", ".partial", ".PART"):
        touch(feed / f"contatti_2024_06.csv{suffix}", 1)
    touch(feed / "Thumbs.db", 1)
    (feed / "collegamento.csv").symlink_to(outside / "segreto.csv")
    (feed / "cartella_collegata").symlink_to(outside / "cartella", target_is_directory=True)
    os.mkfifo(feed / "tubo.csv")
    return feed


def test_the_walk_reads_partner_files_only_and_reports_links(messy_feed: Path):
    listing = walk_feed_dir(messy_feed)
    assert [p.relative_to(messy_feed).as_posix() for p in listing.files] == [
        "contatti_2024_04.csv",
        "2024/maggio/contatti_2024_05.csv",
    ]
    assert sorted(link.path.name for link in listing.links) == [
        "cartella_collegata",
        "collegamento.csv",
    ]
    assert inbox_files(messy_feed) == listing.files


def test_a_link_marker_is_of_the_link_not_of_its_target(messy_feed: Path, tmp_path: Path):
    [folder, file] = sorted(walk_feed_dir(messy_feed).links, key=lambda link: link.path.name)
    assert file.marker_sha256 != folder.marker_sha256
    (tmp_path / "fuori" / "segreto.csv").write_bytes(b"changed")
    assert walk_feed_dir(messy_feed).links[-1].marker_sha256 in {
        file.marker_sha256,
        folder.marker_sha256,
    }
    broken = messy_feed / "rotto.csv"
    broken.symlink_to(tmp_path / "non-esiste.csv")
    assert broken in {link.path for link in walk_feed_dir(messy_feed).links}


def test_a_feed_folder_that_is_a_link_is_not_read(tmp_path: Path):
    touch(tmp_path / "altrove" / "contatti.csv", 1)
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "sportello").symlink_to(tmp_path / "altrove", target_is_directory=True)
    listing = walk_feed_dir(tmp_path / "inbox" / "sportello")
    assert (listing.files, listing.links) == ([], [])


def test_the_sensor_walks_the_same_files_and_announces_links_once(messy_feed: Path):
    inbox = messy_feed.parent
    state = WatchState()
    first = look(inbox, ["sportello"], state)
    assert sorted(r.path.name for r in first) == ["cartella_collegata", "collegamento.csv"]
    second = look(inbox, ["sportello"], state)
    assert sorted(r.path.name for r in second) == ["contatti_2024_04.csv", "contatti_2024_05.csv"]
    assert look(inbox, ["sportello"], state) == []


def test_links_are_recorded_as_refused_and_their_target_never_read(
    tmp_path: Path, messy_feed: Path, caplog
):
    feedback = tmp_path / "feedback"
    db = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    attach_vault(db, tmp_path / "vault.duckdb", VAULT_KEY)
    with caplog.at_level("INFO"):
        outcomes = ingest_feed(db, "sportello", messy_feed.parent, key=KEY, feedback_dir=feedback)
    refused = {o.file_name: o for o in outcomes if o.error == LINK_REASON}
    assert sorted(refused) == ["cartella_collegata", "collegamento.csv"]
    assert {o.status for o in refused.values()} == {"rejected"}
    rows = db.execute(
        "select file_name, status, error from ops.ingest_files where error = ? order by 1",
        [LINK_REASON],
    ).fetchall()
    assert [r[0] for r in rows] == ["cartella_collegata", "collegamento.csv"]
    # Nothing the target holds reached the warehouse, the feedback or the log.
    everything = str(db.execute("select * from ops.ingest_files").fetchall())
    everything += str(db.execute("select * from vault.rejected_rows").fetchall())
    assert SECRET not in everything and SECRET not in caplog.text
    for path in feedback.rglob("*"):
        assert path.is_dir() or SECRET.encode() not in path.read_bytes()
    # The next run records nothing again.
    again = ingest_feed(db, "sportello", messy_feed.parent, key=KEY, feedback_dir=feedback)
    assert [o for o in again if o.error == LINK_REASON] == []


def test_a_link_given_as_one_file_is_refused_too(tmp_path: Path, messy_feed: Path):
    db = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    attach_vault(db, tmp_path / "vault.duckdb", VAULT_KEY)
    ingestor = FileIngestor(db, FEEDS["sportello"], key=KEY, feedback_dir=tmp_path / "feedback")
    outcome = ingestor.ingest_file(messy_feed / "collegamento.csv", "collegamento.csv")
    assert (outcome.status, outcome.error) == ("rejected", LINK_REASON)
    assert ingestor.ingest_file(messy_feed / "collegamento.csv", "collegamento.csv") is None
    assert db.execute("select count(*) from raw.sportello").fetchone()[0] == 0
