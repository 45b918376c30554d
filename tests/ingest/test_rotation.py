"""The steps of the key rotation (``lavoro_debole.ingest.rotation``) with a builder that
only ingests, so that each way of stopping is fast to try. The whole command, with
dbt and Dagster, is in ``tests/test_key_rotation.py``."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import shutil
from pathlib import Path

import duckdb
import pytest

from lavoro_debole.ingest.keys import KeyCheck, check_warehouse_file, key_fingerprint
from lavoro_debole.ingest.pipeline import ingest_feed
from lavoro_debole.ingest.rotation import STAGING_NAME, RotationError, rotate_key
from lavoro_debole.ingest.vault import attach_vault
from lavoro_debole.settings import Settings, default_analytics_dir
from lavoro_debole.synthetic import generate_inbox
from tests.factories import VAULT_KEY

OLD = b"rotation-steps-old-key-0123456789abcdef01"
NEW = b"rotation-steps-new-key-fedcba9876543210fe"
FEEDS = ("cfp", "servizi_sociali")
RECEIPTS = (
    "select feed, file_name, file_sha256, status, rows_loaded, received_seq, received_at "
    "from ops.ingest_files order by all"
)


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("rotation_steps")
    generate_inbox(data_dir, persons=10, seed=8)
    return data_dir / "inbox"


def ingest_all(settings: Settings, key: bytes) -> None:
    con = duckdb.connect(str(settings.warehouse_path))
    try:
        attach_vault(con, settings.vault_path, settings.require_vault_key())
        for feed in FEEDS:
            ingest_feed(con, feed, settings.inbox_dir, key=key, feedback_dir=settings.feedback_dir)
    finally:
        con.close()


def ingesting_builder(staged: Settings, after_ingest) -> bool:
    ingest_all(staged, staged.require_key())
    after_ingest()
    # Where the rebuild publishes it: the staging directory's own analysts' folder, beside
    # it (orchestration/rebuild.py), since the copy must be outside its data directory.
    folder = default_analytics_dir(staged.data_dir)
    folder.mkdir(exist_ok=True)
    (folder / staged.analytics_path.name).write_bytes(b"new analysts' copy")
    return True


@pytest.fixture
def settings(inbox: Path, tmp_path: Path) -> Settings:
    data_dir = tmp_path / "data"
    shutil.copytree(inbox, data_dir / "inbox")
    settings = Settings(
        data_dir=data_dir, pseudonym_key=OLD, cutoff=dt.date(2025, 12, 31), vault_key=VAULT_KEY
    )
    ingest_all(settings, OLD)
    con = duckdb.connect(str(settings.warehouse_path))
    # Received long ago, in another order than a rebuild would give.
    con.execute(
        "update ops.ingest_files set received_at = timestamp '2024-01-01' "
        "+ to_days(cast(received_seq as integer)), received_seq = 1000 - received_seq"
    )
    for table in ("cfp_corsi", "cfp_iscritti", "servizi_sociali"):
        con.execute(f"update raw.{table} set received_seq = 1000 - received_seq")
    con.execute("create table ops.deliveries (profile varchar, period varchar)")
    con.execute("insert into ops.deliveries values ('regione_lombardia', '2025-Q3')")
    con.close()
    settings.analytics_path.parent.mkdir()
    settings.analytics_path.write_bytes(b"old analysts' copy")
    return settings


def person_ids(path: Path) -> set[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            r[0]
            for r in con.execute(
                "select person_id from raw.cfp_iscritti union select person_id from "
                "raw.servizi_sociali"
            ).fetchall()
            if r[0] is not None
        }
    finally:
        con.close()


def snapshot(settings: Settings) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in settings.data_dir.iterdir()
        if p.is_file()
    }


def query(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_rotation_rebuilds_every_pseudonym_and_keeps_the_receipts(settings: Settings):
    old_ids = person_ids(settings.warehouse_path)
    receipts = query(settings.warehouse_path, RECEIPTS)
    report = rotate_key(settings, NEW, ingesting_builder)
    new_ids = person_ids(settings.warehouse_path)
    assert len(new_ids) == len(old_ids) > 5 and not new_ids & old_ids
    assert report.persons == len(new_ids)
    assert report.carried_tables == ("ops.deliveries",)
    assert query(settings.warehouse_path, RECEIPTS) == receipts
    # The raw rows' lineage follows the receipts (dbt picks the latest copy by it).
    assert query(
        settings.warehouse_path,
        "select distinct r.received_seq = f.received_seq from raw.servizi_sociali r "
        "join ops.ingest_files f using (file_sha256) where f.status = 'loaded'",
    ) == [(True,)]
    assert query(settings.warehouse_path, "select * from ops.deliveries") == [
        ("regione_lombardia", "2025-Q3")
    ]
    assert query(settings.warehouse_path, "select value from ops.warehouse_meta") == [
        (key_fingerprint(NEW),)
    ]
    assert settings.analytics_path.read_bytes() == b"new analysts' copy"
    data = settings.warehouse_path.read_bytes()
    assert not [i for i in old_ids if i.encode() in data]
    assert not (settings.data_dir / STAGING_NAME).exists()
    assert not Path(str(settings.warehouse_path) + ".wal").exists()
    with pytest.raises(Exception, match="ruota-chiave"):
        check_warehouse_file(settings.warehouse_path, OLD, settings.inbox_dir)
    assert check_warehouse_file(settings.warehouse_path, NEW, settings.inbox_dir) is (
        KeyCheck.RECORDED
    )


def refused(settings: Settings, build, match: str) -> None:
    before = snapshot(settings)
    with pytest.raises(RotationError, match=match):
        rotate_key(settings, NEW, build)
    assert snapshot(settings) == before
    assert not (settings.data_dir / STAGING_NAME).exists()
    assert check_warehouse_file(settings.warehouse_path, OLD, settings.inbox_dir) is (
        KeyCheck.RECORDED
    )


def test_a_failed_build_changes_nothing(settings: Settings):
    def failing(staged: Settings, after_ingest) -> bool:
        ingest_all(staged, staged.require_key())
        return False

    refused(settings, failing, "non è riuscita")

    def raising(staged: Settings, after_ingest) -> bool:
        ingest_all(staged, staged.require_key())
        raise RuntimeError("guasto simulato")

    before = snapshot(settings)
    with pytest.raises(RuntimeError):
        rotate_key(settings, NEW, raising)
    assert snapshot(settings) == before
    assert not (settings.data_dir / STAGING_NAME).exists()


def test_a_file_missing_from_the_inbox_stops_the_rotation(settings: Settings):
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    (name,) = con.execute(
        "select file_name from ops.ingest_files where feed = 'cfp' and status = 'loaded' "
        "order by received_seq limit 1"
    ).fetchone()
    con.close()
    os.unlink(settings.inbox_dir / "cfp" / name)
    refused(
        settings, ingesting_builder, r"non sono più nell.inbox o non si caricano più \(cfp: 1\)"
    )


def test_a_write_to_the_old_warehouse_meanwhile_stops_the_rotation(settings: Settings):
    def meanwhile(staged: Settings, after_ingest) -> bool:
        ingesting_builder(staged, after_ingest)
        con = duckdb.connect(str(settings.warehouse_path))
        con.execute("insert into ops.deliveries values ('cassa_ammende', '2025-Q4')")
        con.close()
        return True

    with pytest.raises(RotationError, match="è cambiato durante la rotazione"):
        rotate_key(settings, NEW, meanwhile)
    assert settings.analytics_path.read_bytes() == b"old analysts' copy"
    assert check_warehouse_file(settings.warehouse_path, OLD, settings.inbox_dir) is (
        KeyCheck.RECORDED
    )
    assert not (settings.data_dir / STAGING_NAME).exists()


def test_an_ops_table_holding_pseudonyms_is_not_carried(settings: Settings):
    con = duckdb.connect(str(settings.warehouse_path))
    con.execute("create table ops.extra as select person_id from raw.cfp_iscritti")
    con.close()
    refused(settings, ingesting_builder, "ops.extra del magazzino contiene pseudonimi")


def test_a_leftover_staging_directory_is_replaced(settings: Settings):
    leftover = settings.data_dir / STAGING_NAME
    (leftover / "inbox").mkdir(parents=True)
    (leftover / "warehouse.duckdb").write_bytes(b"half a rotation")
    rotate_key(settings, NEW, ingesting_builder)
    assert not leftover.exists()
    assert query(settings.warehouse_path, "select value from ops.warehouse_meta") == [
        (key_fingerprint(NEW),)
    ]


def test_an_older_warehouse_is_verified_from_the_inbox_then_rotated(settings: Settings):
    con = duckdb.connect(str(settings.warehouse_path))
    con.execute("drop table ops.warehouse_meta")
    con.close()
    with pytest.raises(Exception, match="non tornano con questa chiave"):
        rotate_key(dataclasses.replace(settings, pseudonym_key=NEW), OLD, ingesting_builder)
    rotate_key(settings, NEW, ingesting_builder)
    assert query(settings.warehouse_path, "select value from ops.warehouse_meta") == [
        (key_fingerprint(NEW),)
    ]


def test_an_old_analysts_copy_without_a_new_one_is_deleted(settings: Settings):
    def without_copy(staged: Settings, after_ingest) -> bool:
        ingest_all(staged, staged.require_key())
        after_ingest()
        return True

    rotate_key(settings, NEW, without_copy)
    assert not settings.analytics_path.exists()
    assert sorted(p.name for p in settings.data_dir.iterdir()) == [
        "feedback",
        "inbox",
        "vault.duckdb",
        "warehouse.duckdb",
    ]


WAREHOUSE_KEY = b"rotation-steps-warehouse-key-0123456789ab"


def _ingest_encrypted(settings: Settings, key: bytes) -> None:
    from lavoro_debole.ingest.warehouse_db import open_warehouse

    con = open_warehouse(settings.warehouse_path, key=settings.warehouse_key)
    try:
        attach_vault(con, settings.vault_path, settings.require_vault_key())
        for feed in FEEDS:
            ingest_feed(con, feed, settings.inbox_dir, key=key, feedback_dir=settings.feedback_dir)
    finally:
        con.close()


def test_an_encrypted_warehouse_rotates_into_an_encrypted_warehouse(inbox: Path, tmp_path: Path):
    """The rotation opens the old and the rebuilt warehouse with LAVORO_WAREHOUSE_KEY, and
    the warehouse it swaps in is encrypted under the same key."""
    from lavoro_debole.ingest.warehouse_db import is_encrypted, open_warehouse

    data_dir = tmp_path / "data"
    shutil.copytree(inbox, data_dir / "inbox")
    settings = Settings(
        data_dir=data_dir,
        pseudonym_key=OLD,
        cutoff=dt.date(2025, 12, 31),
        vault_key=VAULT_KEY,
        warehouse_key=WAREHOUSE_KEY,
    )
    _ingest_encrypted(settings, OLD)

    def ids() -> set[str]:
        con = open_warehouse(settings.warehouse_path, read_only=True, key=WAREHOUSE_KEY)
        try:
            rows = con.execute(
                "select person_id from raw.servizi_sociali where person_id is not null"
            ).fetchall()
            return {r[0] for r in rows}
        finally:
            con.close()

    old_ids = ids()

    def builder(staged: Settings, after_ingest) -> bool:
        assert staged.warehouse_key == WAREHOUSE_KEY
        _ingest_encrypted(staged, staged.require_key())
        after_ingest()
        return True

    report = rotate_key(settings, NEW, builder)
    assert is_encrypted(settings.warehouse_path) is True
    new_ids = ids()
    assert len(new_ids) == len(old_ids) > 5 and not new_ids & old_ids
    assert report.persons > 5
    data = settings.warehouse_path.read_bytes()
    assert not [i for i in new_ids | old_ids if i.encode() in data]
