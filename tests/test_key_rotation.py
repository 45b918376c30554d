"""`lavoro ruota-chiave` on a generated inbox: the same indicators with new pseudonyms,
nothing of the old key left anywhere in the data directory, and a rotation that fails
half-way leaves the old warehouse as it was.

One module fixture runs the whole story once (a run, a failed rotation, a rotation);
each test asserts on one part of it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from lavoro_debole.cli import main
from lavoro_debole.exports.delivery import DELIVERIES_DDL
from lavoro_debole.ingest.keys import KeyCheck, check_warehouse_file
from lavoro_debole.ingest.rotation import STAGING_NAME
from lavoro_debole.settings import DBT_PROJECT_DIR
from lavoro_debole.synthetic import generate_inbox

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LAVORO = Path(sys.executable).parent / "lavoro"
OLD_KEY = "rotation-test-old-key-0123456789abcdef012"
NEW_KEY = "rotation-test-new-key-fedcba9876543210fed"
VAULT_KEY = "rotation-test-vault-key-0123456789abcdef0"
CUTOFF = "2025-12-31"
INDICATORS = "select * from marts.indicator_values order by all"
RECEIPTS = (
    "select feed, file_name, file_sha256, status, rows_data, rows_loaded, rows_rejected, "
    "received_seq, received_at from ops.ingest_files order by all"
)
DELIVERY = ("regione_lombardia", "2025-Q3", "uffici@example.org", "ab" * 32, "sent", "inviata")


def fingerprint(key: str) -> str:
    return hmac.new(key.encode(), b"lavoro-debole/key-fingerprint/v1", hashlib.sha256).hexdigest()


def environment(data_dir: Path, key: str, new_key: str | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "LAVORO_DATA_DIR": str(data_dir),
        "LAVORO_PSEUDONYM_KEY": key,
        "LAVORO_VAULT_KEY": VAULT_KEY,
        "LAVORO_CUTOFF": CUTOFF,
        "DAGSTER_HOME": str(data_dir / "dagster"),
    }
    env.pop("LAVORO_NEW_PSEUDONYM_KEY", None)
    if new_key is not None:
        env["LAVORO_NEW_PSEUDONYM_KEY"] = new_key
    return env


def lavoro(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LAVORO), *args],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )


def pseudonyms(path: Path) -> set[str]:
    """Every pseudonym the warehouse holds: persons, and sole traders' CFs (cf:<pseudonym>)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        found: set[str] = set()
        for schema, table, column in con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where column_name in ('person_id', 'employer_code')"
        ).fetchall():
            values = con.execute(f'select distinct "{column}" from "{schema}"."{table}"').fetchall()
            found.update(
                v.removeprefix("cf:")
                for (v,) in values
                if v is not None and (column == "person_id" or v.startswith("cf:"))
            )
        return found
    finally:
        con.close()


def query(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def analytics_dir(data_dir: Path) -> Path:
    """The analysts' folder, by default beside the data directory."""
    return data_dir.parent / f"{data_dir.name}-analisi"


def holding(directories: list[Path], values: set[str]) -> dict[str, int]:
    """File -> how many of ``values`` its bytes contain."""
    encoded = [v.encode("ascii") for v in values]
    found = {}
    for path in (p for directory in directories for p in directory.rglob("*")):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            hits = sum(1 for v in encoded if v in data)
            if hits:
                found[str(path)] = hits
    return found


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> dict:
    data_dir = tmp_path_factory.mktemp("rotation")
    generate_inbox(data_dir, persons=20, seed=11)
    warehouse = data_dir / "warehouse.duckdb"
    first = lavoro("run", env=environment(data_dir, OLD_KEY))
    # 3: built, with the checks red on the generator's planted bad rows (as lavoro demo)
    assert first.returncode == 3, first.stdout[-3000:] + first.stderr[-3000:]
    con = duckdb.connect(str(warehouse))
    con.execute(DELIVERIES_DDL)
    con.execute(
        "insert into ops.deliveries values (?, ?, ?, ?, timestamp '2025-10-15 07:00', ?, ?)",
        list(DELIVERY),
    )
    con.close()
    old = {
        "indicators": query(warehouse, INDICATORS),
        "receipts": query(warehouse, RECEIPTS),
        "pseudonyms": pseudonyms(warehouse),
        "holding": holding([data_dir, analytics_dir(data_dir)], pseudonyms(warehouse)),
        # The analysts' copy holds pseudonyms of its own (re-keyed from the warehouse's).
        "copy_pseudonyms": pseudonyms(analytics_dir(data_dir) / "analytics.duckdb"),
    }
    old["copy_holding"] = holding([data_dir, analytics_dir(data_dir)], old["copy_pseudonyms"])

    # A rotation that fails half-way: the third feed's ingest raises.
    from lavoro_debole.orchestration import ingest_assets

    real_ingest = ingest_assets.ingest_feed
    calls: list[str] = []

    def failing_ingest(con, feed_name, *args, **kwargs):
        calls.append(feed_name)
        if len(calls) == 3:
            raise RuntimeError("guasto simulato")
        return real_ingest(con, feed_name, *args, **kwargs)

    before_failure = {p.name: sha256(p) for p in data_dir.glob("*.duckdb")}
    # Hidden entries the runs keep (DuckDB's spill folder): not left by the rotation.
    hidden_before = {p.name for p in data_dir.iterdir() if p.name.startswith(".")}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment(data_dir, OLD_KEY, NEW_KEY).items():
            patch.setenv(name, value)
        patch.setattr(ingest_assets, "ingest_feed", failing_ingest)
        failed_rc = main(["ruota-chiave"])
    failed = {
        "rc": failed_rc,
        "calls": list(calls),
        "unchanged": {p.name: sha256(p) for p in data_dir.glob("*.duckdb")} == before_failure,
        "leftovers": sorted(
            p.name
            for p in data_dir.iterdir()
            if p.name.startswith(".") and p.name not in hidden_before
        ),
        "old_key": check_warehouse_file(warehouse, OLD_KEY.encode(), data_dir / "inbox"),
    }

    rotated = lavoro("ruota-chiave", env=environment(data_dir, OLD_KEY, NEW_KEY))
    old_key_run = lavoro("run", env=environment(data_dir, OLD_KEY))
    return {
        "data_dir": data_dir,
        "old": old,
        "failed": failed,
        "rotated": rotated,
        "old_key_run": old_key_run,
    }


def test_the_rotation_succeeds_and_says_what_to_do_next(story):
    rotated = story["rotated"]
    assert rotated.returncode == 0, rotated.stdout[-3000:] + rotated.stderr[-3000:]
    assert "Chiave ruotata" in rotated.stdout
    assert "LAVORO_NEW_PSEUDONYM_KEY come LAVORO_PSEUDONYM_KEY" in rotated.stdout
    for key in (OLD_KEY, NEW_KEY):
        assert key not in rotated.stdout + rotated.stderr


def test_the_indicators_and_the_receipts_are_the_same_as_before(story):
    warehouse = story["data_dir"] / "warehouse.duckdb"
    assert story["rotated"].returncode == 0
    assert query(warehouse, INDICATORS) == story["old"]["indicators"]
    assert len(story["old"]["indicators"]) > 1000
    # When each file was received (Q2 counts by it) is the old warehouse's, not today's.
    assert query(warehouse, RECEIPTS) == story["old"]["receipts"]
    # Which quarters were delivered is not in the inbox: carried over.
    assert query(warehouse, "select * from ops.deliveries") == [
        (*DELIVERY[:4], dt.datetime(2025, 10, 15, 7, 0), *DELIVERY[4:])
    ]


def test_every_pseudonym_is_new_and_none_of_the_old_is_left(story):
    data_dir = story["data_dir"]
    old_ids = story["old"]["pseudonyms"]
    old_copy_ids = story["old"]["copy_pseudonyms"]
    everywhere = [data_dir, analytics_dir(data_dir)]
    assert story["rotated"].returncode == 0
    # The scan finds pseudonyms where they are: before, the warehouse's in the warehouse,
    # the copy's (re-keyed) in the copy.
    assert {Path(p).name for p in story["old"]["holding"]} == {"warehouse.duckdb"}
    assert {Path(p).name for p in story["old"]["copy_holding"]} == {"analytics.duckdb"}
    new_ids = pseudonyms(data_dir / "warehouse.duckdb")
    new_copy_ids = pseudonyms(analytics_dir(data_dir) / "analytics.duckdb")
    assert len(new_ids) == len(old_ids) > 20
    assert len(new_copy_ids) == len(old_copy_ids) > 20
    assert not new_ids & old_ids and not new_copy_ids & old_copy_ids
    assert holding(everywhere, old_ids) == {}
    assert holding(everywhere, old_copy_ids) == {}
    assert holding([DBT_PROJECT_DIR / "target"], old_ids | old_copy_ids) == {}
    assert {Path(p).name for p in holding(everywhere, new_ids)} == {"warehouse.duckdb"}
    assert {Path(p).name for p in holding(everywhere, new_copy_ids)} == {"analytics.duckdb"}
    assert not (data_dir / "warehouse.duckdb.wal").exists()
    assert not (data_dir / STAGING_NAME).exists()


def test_the_warehouse_now_carries_the_new_key_and_refuses_the_old(story):
    data_dir = story["data_dir"]
    assert story["rotated"].returncode == 0
    meta = query(data_dir / "warehouse.duckdb", "select name, value from ops.warehouse_meta")
    assert meta == [("key_fingerprint", fingerprint(NEW_KEY))]
    inbox = data_dir / "inbox"
    assert check_warehouse_file(data_dir / "warehouse.duckdb", NEW_KEY.encode(), inbox) is (
        KeyCheck.RECORDED
    )
    refused = story["old_key_run"]
    assert refused.returncode == 2, refused.stdout[-2000:] + refused.stderr[-2000:]
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "ruota-chiave" in lines[0]
    assert fingerprint(NEW_KEY)[:8] in lines[0] and fingerprint(NEW_KEY)[:9] not in lines[0]


def test_a_rotation_that_fails_half_way_leaves_the_old_warehouse_working(story):
    failed = story["failed"]
    assert failed["rc"] == 1
    # It did fail half-way: two feeds were ingested into the new warehouse first (Dagster
    # then runs the other feeds' steps, but nothing after the ingest).
    assert len(failed["calls"]) >= 3
    assert failed["unchanged"]
    assert failed["leftovers"] == []
    assert failed["old_key"] is KeyCheck.RECORDED
