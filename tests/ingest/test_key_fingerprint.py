"""One key for one warehouse: the fingerprint is recorded once, another key is refused
before anything is written, and a warehouse older than the fingerprint fails closed."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from lavoro_debole.exports.analytics import COPY_FILE, PUBLISHED, publish_analytics
from lavoro_debole.ingest.keys import (
    KeyCheck,
    WrongKeyError,
    check_warehouse_file,
    recorded_fingerprint,
)
from lavoro_debole.ingest.pipeline import ingest_feed
from lavoro_debole.ingest.vault import attach_vault, detach_vault
from lavoro_debole.synthetic import generate_inbox
from tests.factories import VAULT_KEY, create_published_tables

KEY = b"fingerprint-test-key-0123456789abcdef0123"
OTHER_KEY = b"another-fingerprint-key-0123456789abcdef0"
FEEDS = ("cfp", "imprese")
LAVORO = Path(sys.executable).parent / "lavoro"


def expected_fingerprint(key: bytes) -> str:
    """Worked out here, not by the module under test."""
    return hmac.new(key, b"lavoro-debole/key-fingerprint/v1", hashlib.sha256).hexdigest()


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("fingerprint")
    generate_inbox(data_dir, persons=10, seed=4)
    return data_dir / "inbox"


def ingest(con: duckdb.DuckDBPyConnection, inbox: Path, feed: str, key: bytes, feedback: Path):
    """The feed's ingest, with the vault beside the feedback folder attached meanwhile."""
    attach_vault(con, feedback.parent / "vault.duckdb", VAULT_KEY)
    try:
        return ingest_feed(con, feed, inbox, key=key, feedback_dir=feedback)
    finally:
        detach_vault(con)


def everything(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    tables = con.execute(
        "select table_schema, table_name from information_schema.tables order by all"
    ).fetchall()
    return {
        f"{s}.{t}": sorted(map(repr, con.execute(f'select * from "{s}"."{t}"').fetchall()))
        for s, t in tables
    }


def files_under(path: Path) -> dict[str, bytes]:
    if not path.exists():
        return {}
    return {str(p): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_the_first_ingest_records_the_fingerprint_once(inbox: Path, tmp_path: Path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    assert recorded_fingerprint(con) is None
    ingest(con, inbox, "cfp", KEY, tmp_path / "feedback")
    rows = con.execute("select * from ops.warehouse_meta").fetchall()
    assert rows == [("key_fingerprint", expected_fingerprint(KEY))]
    assert KEY.decode() not in repr(rows)
    ingest(con, inbox, "imprese", KEY, tmp_path / "feedback")
    assert con.execute("select * from ops.warehouse_meta").fetchall() == rows
    con.close()
    # The right key is accepted again from a fresh connection.
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    before = con.execute("select count(*) from ops.ingest_files").fetchone()[0]
    assert before > 0
    assert ingest(con, inbox, "cfp", KEY, tmp_path / "feedback") == []  # nothing new
    con.close()
    assert check_warehouse_file(tmp_path / "warehouse.duckdb", KEY, inbox) is KeyCheck.RECORDED


def test_another_key_is_refused_before_anything_is_written(inbox: Path, tmp_path: Path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    ingest(con, inbox, "cfp", KEY, tmp_path / "feedback")
    before, feedback = everything(con), files_under(tmp_path / "feedback")
    for feed in FEEDS:  # a feed already loaded and one never seen
        with pytest.raises(WrongKeyError) as refused:
            ingest(con, inbox, feed, OTHER_KEY, tmp_path / "feedback")
        message = str(refused.value)
        assert "\n" not in message
        assert "ruota-chiave" in message and ".env" in message
        assert expected_fingerprint(KEY)[:8] in message
        assert expected_fingerprint(KEY)[:9] not in message
        assert expected_fingerprint(OTHER_KEY)[:9] not in message
        assert KEY.decode() not in message and OTHER_KEY.decode() not in message
    assert everything(con) == before
    assert not any(t.startswith("raw.imprese") for t in before)  # ... so no table was created
    assert files_under(tmp_path / "feedback") == feedback
    con.close()


def test_the_analysts_copy_never_holds_the_fingerprint(inbox: Path, tmp_path: Path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    ingest(con, inbox, "cfp", KEY, tmp_path / "feedback")
    create_published_tables(con)
    con.close()
    publish_analytics(
        tmp_path / "warehouse.duckdb",
        tmp_path / "analisi",
        pseudonym_key=KEY,
        cutoff=dt.date(2025, 12, 31),
    )
    copy = duckdb.connect(str(tmp_path / "analisi" / COPY_FILE), read_only=True)
    tables = copy.execute("select table_schema from information_schema.tables").fetchall()
    schemas = {schema for (schema,) in tables}
    copy.close()
    assert schemas == {table.split(".")[0] for table in PUBLISHED}
    assert "ops" not in schemas
    assert expected_fingerprint(KEY).encode() not in (tmp_path / "analisi" / COPY_FILE).read_bytes()


def legacy_warehouse(inbox: Path, tmp_path: Path) -> Path:
    """A warehouse as built before the fingerprint existed: pseudonyms, no ops.warehouse_meta."""
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    for feed in FEEDS:
        ingest(con, inbox, feed, KEY, tmp_path / "feedback")
    con.execute("drop table ops.warehouse_meta")
    assert con.execute("select count(distinct person_id) from raw.cfp_iscritti").fetchone()[0] > 0
    con.close()
    return path


def test_an_older_warehouse_accepts_its_key_once_the_inbox_confirms_it(inbox: Path, tmp_path: Path):
    path = legacy_warehouse(inbox, tmp_path)
    con = duckdb.connect(str(path))
    before = everything(con)
    with pytest.raises(WrongKeyError, match="non tornano con questa chiave"):
        ingest(con, inbox, "cfp", OTHER_KEY, tmp_path / "feedback")
    assert everything(con) == before  # not even the fingerprint table
    assert ingest(con, inbox, "cfp", KEY, tmp_path / "feedback") == []
    assert recorded_fingerprint(con) == expected_fingerprint(KEY)
    con.close()
    assert check_warehouse_file(path, KEY, inbox) is KeyCheck.RECORDED


def test_an_older_warehouse_without_its_files_fails_closed(inbox: Path, tmp_path: Path):
    path = legacy_warehouse(inbox, tmp_path)
    elsewhere = tmp_path / "inbox_vuota"
    elsewhere.mkdir()
    for key in (KEY, OTHER_KEY):  # without evidence even the right key is not taken on trust
        with pytest.raises(WrongKeyError, match="prima che se ne registrasse la chiave"):
            check_warehouse_file(path, key, elsewhere)
    # A file changed since it was loaded is no evidence either.
    changed = tmp_path / "inbox_cambiata"
    shutil.copytree(inbox, changed)
    for name in (p for p in changed.rglob("*") if p.is_file()):
        name.write_bytes(name.read_bytes() + b"\0")
    with pytest.raises(WrongKeyError, match="prima che se ne registrasse la chiave"):
        check_warehouse_file(path, KEY, changed)
    con = duckdb.connect(str(path))
    assert recorded_fingerprint(con) is None
    con.close()


def test_a_warehouse_without_pseudonyms_takes_the_key_of_its_first_ingest(
    inbox: Path, tmp_path: Path
):
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema ops")
    con.execute("create table ops.deliveries (profile varchar)")  # written, but nothing keyed
    ingest(con, inbox, "cfp", OTHER_KEY, tmp_path / "feedback")
    assert recorded_fingerprint(con) == expected_fingerprint(OTHER_KEY)
    con.close()


def test_lavoro_run_with_another_key_says_so_in_one_line_and_exits_2(inbox: Path, tmp_path: Path):
    data_dir = tmp_path / "data"
    shutil.copytree(inbox, data_dir / "inbox")
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"))
    ingest(con, data_dir / "inbox", "cfp", KEY, data_dir / "feedback")
    con.close()
    before = files_under(data_dir)
    completed = subprocess.run(
        [str(LAVORO), "run"],
        env={
            "LAVORO_DATA_DIR": str(data_dir),
            "LAVORO_PSEUDONYM_KEY": OTHER_KEY.decode(),
            "LAVORO_VAULT_KEY": VAULT_KEY.decode(),
            "LAVORO_CUTOFF": "2025-12-31",
            "DAGSTER_HOME": str(data_dir / "dagster"),
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 2, completed.stdout[-2000:] + completed.stderr[-2000:]
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert lines[0].startswith("lavoro: ") and "lavoro ruota-chiave" in lines[0]
    assert OTHER_KEY.decode() not in completed.stdout + completed.stderr
    assert expected_fingerprint(KEY)[:9] not in completed.stderr
    assert files_under(data_dir) == before  # nothing written, not even Dagster's instance


def rotation_env(monkeypatch: pytest.MonkeyPatch, data_dir: Path, key: bytes, new: str | None):
    monkeypatch.setenv("LAVORO_DATA_DIR", str(data_dir))
    monkeypatch.setenv("LAVORO_PSEUDONYM_KEY", key.decode())
    monkeypatch.setenv("LAVORO_CUTOFF", "2025-12-31")
    if new is None:
        monkeypatch.delenv("LAVORO_NEW_PSEUDONYM_KEY", raising=False)
    else:
        monkeypatch.setenv("LAVORO_NEW_PSEUDONYM_KEY", new)


def test_the_rotation_refuses_before_building_anything(
    inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    """No new key, the same key, a new key too short, an old key that is not the
    warehouse's, no warehouse: each refused, and the data directory stays as it was."""
    from lavoro_debole.cli import main

    data_dir = tmp_path / "data"
    shutil.copytree(inbox, data_dir / "inbox")
    monkeypatch.setenv("PATH", os.environ.get("PATH", "/usr/bin:/bin"))  # main may extend it
    rotation_env(monkeypatch, data_dir, KEY, "a-brand-new-key-0123456789abcdef0123456789")
    assert main(["ruota-chiave"]) == 1  # no warehouse yet: nothing to rotate
    assert "nessun magazzino" in capsys.readouterr().err
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"))
    ingest(con, data_dir / "inbox", "cfp", KEY, data_dir / "feedback")
    con.close()
    before = files_under(data_dir)
    cases = [
        (KEY, None, "LAVORO_NEW_PSEUDONYM_KEY is not set"),
        (KEY, KEY.decode(), "uguale a LAVORO_PSEUDONYM_KEY"),
        (KEY, "short-key", "LAVORO_NEW_PSEUDONYM_KEY is 9 bytes long"),
        (OTHER_KEY, "a-brand-new-key-0123456789abcdef0123456789", "lavoro ruota-chiave"),
    ]
    for key, new, expected in cases:
        rotation_env(monkeypatch, data_dir, key, new)
        assert main(["ruota-chiave"]) == 2
        err = capsys.readouterr().err
        assert expected in err
        assert len(err.strip().splitlines()) == 1
        assert files_under(data_dir) == before
