"""Releases: a workbook sent to a funder is kept as sent, approved first, revised in the open.

``ops.releases`` has one row per release of a profile's quarter (numbered 1, 2, … per
profile and quarter) with its status: ``candidate`` (built, waiting for the steward),
``approved`` (signed off, to be mailed once), ``sent``, ``superseded`` (a later release
of the same quarter was approved). ``ops.release_cells`` keeps every cell the workbook
shows, so that a later release can say which cells it revises and why, and so that a
release can be rebuilt and compared. Workbooks live in
``exports/<profile>/<quarter>/<release_seq>/``: a candidate built again before approval
replaces the previous candidate (same number, same folder); an approved or sent release
is never touched again (indicators.md, "Releases").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from lavoro_debole.exports.model import KEY_COLUMNS
from lavoro_debole.exports.names import feed_name

RELEASES_DDL = """
create table if not exists ops.releases (
    profile varchar not null,
    quarter varchar not null,
    release_seq integer not null,
    status varchar not null,
    built_at timestamp not null,
    approved_by varchar,
    approved_at timestamp,
    sent_at timestamp,
    workbook_path varchar not null,
    sha256 varchar not null,
    received_seq integer not null,
    cells_revised integer not null,
    cutoff date
)
"""
RELEASES_MIGRATIONS = (
    # the cut-off the release was built for: a replay needs it
    "alter table ops.releases add column if not exists cutoff date",
)
RELEASE_CELLS_DDL = """
create table if not exists ops.release_cells (
    profile varchar not null,
    quarter varchar not null,
    release_seq integer not null,
    indicator_id varchar not null,
    period varchar not null,
    breakdown varchar not null,
    category varchar not null,
    shown double,
    numerator double,
    denominator double,
    suppressed boolean not null,
    revised boolean not null
)
"""
RELEASE_TRUTH_DDL = """
create table if not exists ops.release_truth (
    profile varchar not null,
    quarter varchar not null,
    release_seq integer not null,
    indicator_id varchar not null,
    period varchar not null,
    breakdown varchar not null,
    category varchar not null,
    value double,
    numerator double,
    denominator double
)
"""
"""The figures behind each cell a release showed (hidden ones too), as they stood when it
was built: the joint disclosure control of a later release needs them (what the reader
holds is in ``ops.release_cells``; this is what the attacker's unknowns were)."""
RELEASED = ("approved", "sent", "superseded")
"""Statuses of a release that left, or may leave, the warehouse: what a reader may know."""
VALUE_TOLERANCE = 1e-9


class ReleaseError(ValueError):
    """A release cannot be approved, sent or found; the message says why (no values)."""


@dataclass(frozen=True)
class Release:
    profile: str
    quarter: str
    release_seq: int
    status: str
    built_at: dt.datetime
    approved_by: str | None
    approved_at: dt.datetime | None
    sent_at: dt.datetime | None
    workbook_path: str
    sha256: str
    received_seq: int
    cells_revised: int
    cutoff: dt.date | None = None

    @property
    def label(self) -> str:
        return f"{self.profile} {self.quarter} rilascio {self.release_seq}"


def ensure_release_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists ops")
    con.execute(RELEASES_DDL)
    for migration in RELEASES_MIGRATIONS:
        con.execute(migration)
    con.execute(RELEASE_CELLS_DDL)
    con.execute(RELEASE_TRUTH_DDL)


def _has_ledger(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "select count(*) from duckdb_tables() where database_name = current_database()"
        " and schema_name = 'ops' and table_name = 'releases'"
    ).fetchone()
    return bool(row[0])


def releases(
    con: duckdb.DuckDBPyConnection, profile: str | None = None, quarter: str | None = None
) -> list[Release]:
    """Every release (of a profile, of a quarter), oldest first (none in a warehouse that
    never built one; the connection may be read-only)."""
    if not _has_ledger(con):
        return []
    rows = con.execute(
        """
        select profile, quarter, release_seq, status, built_at, approved_by, approved_at,
               sent_at, workbook_path, sha256, received_seq, cells_revised, cutoff
        from ops.releases
        where (? is null or profile = ?) and (? is null or quarter = ?)
        order by profile, quarter, release_seq
        """,
        [profile, profile, quarter, quarter],
    ).fetchall()
    return [Release(*row) for row in rows]


def next_release_seq(con: duckdb.DuckDBPyConnection, profile: str, quarter: str) -> int:
    """The number a new build takes: the waiting candidate's, else one more than the last."""
    existing = releases(con, profile, quarter)
    for release in existing:
        if release.status == "candidate":
            return release.release_seq
    return max((r.release_seq for r in existing), default=0) + 1


def latest_released_cells(con: duckdb.DuckDBPyConnection, profile: str) -> pd.DataFrame:
    """For every cell an approved or sent release of the profile showed, what the latest
    such release showed, with that release's quarter, number and inbox state."""
    ensure_release_tables(con)
    return con.execute(
        """
        select c.indicator_id, c.period, c.breakdown, c.category, c.shown, c.numerator,
               c.denominator, c.suppressed, c.quarter as released_quarter,
               c.release_seq as released_seq, r.received_seq as released_received_seq
        from ops.release_cells as c
        inner join ops.releases as r using (profile, quarter, release_seq)
        where c.profile = ? and r.status in ('approved', 'sent', 'superseded')
        qualify row_number() over (
            partition by c.indicator_id, c.period, c.breakdown, c.category
            order by r.approved_at desc, r.release_seq desc
        ) = 1
        """,
        [profile],
    ).df()


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    both_null = pd.isna(a) & pd.isna(b)
    close = np.abs(np.nan_to_num(a.astype(float)) - np.nan_to_num(b.astype(float)))
    return both_null | (~pd.isna(a) & ~pd.isna(b) & (close <= VALUE_TOLERANCE))


def release_cells(shown: pd.DataFrame, earlier: pd.DataFrame) -> pd.DataFrame:
    """The cells a workbook shows, each marked ``revised`` where an earlier release of
    the same profile showed the same cell with another value or another suppression.

    ``shown`` is the published table cut to the workbook (value null where suppressed);
    the result keeps the earlier state (``previous_*``) for the sheet of revisions.
    """
    cells = shown[[*KEY_COLUMNS, "value", "numerator", "denominator", "suppressed"]].copy()
    cells = cells.rename(columns={"value": "shown"})
    cells["suppressed"] = cells["suppressed"].astype(bool)
    for column in ("shown", "numerator", "denominator"):
        cells.loc[cells["suppressed"], column] = np.nan
    if earlier.empty:
        cells["revised"] = False
        for column in ("previous_shown", "previous_suppressed", "released_quarter"):
            cells[column] = None
        cells["released_seq"] = np.nan
        cells["released_received_seq"] = np.nan
        return cells
    before = earlier.rename(
        columns={
            "shown": "previous_shown",
            "numerator": "previous_numerator",
            "denominator": "previous_denominator",
            "suppressed": "previous_suppressed",
        }
    )
    merged = cells.merge(before, on=list(KEY_COLUMNS), how="left")
    known = merged["previous_suppressed"].notna().to_numpy()
    same = (
        _same(merged["shown"].to_numpy(), merged["previous_shown"].to_numpy())
        & _same(merged["numerator"].to_numpy(), merged["previous_numerator"].to_numpy())
        & _same(merged["denominator"].to_numpy(), merged["previous_denominator"].to_numpy())
        & (merged["suppressed"].to_numpy() == merged["previous_suppressed"].eq(True).to_numpy())
    )
    merged["revised"] = known & ~same
    return merged.drop(columns=["previous_numerator", "previous_denominator"])


def record_candidate(
    con: duckdb.DuckDBPyConnection,
    *,
    profile: str,
    quarter: str,
    release_seq: int,
    cells: pd.DataFrame,
    workbook: Path,
    received_seq: int,
    built_at: dt.datetime,
    cutoff: dt.date | None = None,
    truth: pd.DataFrame | None = None,
) -> Release:
    """Record a built workbook as the quarter's candidate, replacing a waiting candidate.

    ``truth`` holds the figures behind every cell shown (``ops.release_truth``)."""
    ensure_release_tables(con)
    current = {r.release_seq: r for r in releases(con, profile, quarter)}
    if release_seq in current and current[release_seq].status != "candidate":
        raise ReleaseError(
            f"{profile} {quarter}: il rilascio {release_seq} è già "
            f"{current[release_seq].status} e non si sostituisce"
        )
    sha = hashlib.sha256(workbook.read_bytes()).hexdigest()
    rows = cells[[*KEY_COLUMNS, "shown", "numerator", "denominator", "suppressed", "revised"]]
    rows = rows.assign(profile=profile, quarter=quarter, release_seq=release_seq)
    truth_rows = (
        pd.DataFrame(columns=[*KEY_COLUMNS, "value", "numerator", "denominator"])
        if truth is None
        else truth[[*KEY_COLUMNS, "value", "numerator", "denominator"]]
    ).assign(profile=profile, quarter=quarter, release_seq=release_seq)
    con.execute("begin transaction")
    try:
        for table in ("release_cells", "release_truth"):
            con.execute(
                f"delete from ops.{table} where profile = ? and quarter = ? and release_seq = ?",
                [profile, quarter, release_seq],
            )
        con.execute(
            "delete from ops.releases where profile = ? and quarter = ? and release_seq = ?",
            [profile, quarter, release_seq],
        )
        con.execute(
            "insert into ops.releases (profile, quarter, release_seq, status, built_at,"
            " workbook_path, sha256, received_seq, cells_revised, cutoff)"
            " values (?, ?, ?, 'candidate', ?, ?, ?, ?, ?, ?)",
            [
                profile,
                quarter,
                release_seq,
                built_at,
                str(workbook),
                sha,
                received_seq,
                int(rows["revised"].sum()),
                cutoff,
            ],
        )
        con.execute(
            "insert into ops.release_cells select profile, quarter, release_seq, indicator_id,"
            " period, breakdown, category, shown, numerator, denominator, suppressed, revised"
            " from rows"
        )
        con.register("_lavoro_release_truth", truth_rows)
        try:
            con.execute(
                "insert into ops.release_truth select profile, quarter, release_seq,"
                " indicator_id, period, breakdown, category, cast(value as double),"
                " cast(numerator as double), cast(denominator as double)"
                " from _lavoro_release_truth"
            )
        finally:
            con.unregister("_lavoro_release_truth")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return next(r for r in releases(con, profile, quarter) if r.release_seq == release_seq)


def approve(
    con: duckdb.DuckDBPyConnection,
    profile: str,
    quarter: str,
    approver: str,
    when: dt.datetime | None = None,
) -> Release:
    """Sign off the quarter's candidate; earlier releases of that quarter are superseded."""
    approver = " ".join(approver.split())
    if not approver:
        raise ReleaseError("serve il nome di chi approva")
    waiting = [r for r in releases(con, profile, quarter) if r.status == "candidate"]
    if not waiting:
        raise ReleaseError(f"{profile} {quarter}: nessun rilascio candidato da approvare")
    candidate = waiting[0]
    if not Path(candidate.workbook_path).is_file() or (
        hashlib.sha256(Path(candidate.workbook_path).read_bytes()).hexdigest() != candidate.sha256
    ):
        raise ReleaseError(
            f"{candidate.label}: la cartella di lavoro su disco non è quella costruita; "
            "ricostruirla prima di approvarla"
        )
    con.execute("begin transaction")
    try:
        con.execute(
            "update ops.releases set status = 'superseded' where profile = ? and quarter = ?"
            " and status in ('approved', 'sent')",
            [profile, quarter],
        )
        con.execute(
            "update ops.releases set status = 'approved', approved_by = ?, approved_at = ?"
            " where profile = ? and quarter = ? and release_seq = ?",
            [approver, when or dt.datetime.now(), profile, quarter, candidate.release_seq],
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return next(r for r in releases(con, profile, quarter) if r.status == "approved")


def mark_sent(con: duckdb.DuckDBPyConnection, release: Release, when: dt.datetime) -> None:
    con.execute(
        "update ops.releases set status = 'sent', sent_at = ? where profile = ? and quarter = ?"
        " and release_seq = ? and status = 'approved'",
        [when, release.profile, release.quarter, release.release_seq],
    )


def unchanged_since_release(
    con: duckdb.DuckDBPyConnection, profile: str, quarter: str, cells: pd.DataFrame
) -> Release | None:
    """The approved or sent release of this quarter that shows exactly these cells, if any:
    building it again would only make a candidate with nothing new to approve."""
    for release in reversed(releases(con, profile, quarter)):
        if release.status not in ("approved", "sent"):
            continue
        before = recorded_cells(con, profile, quarter, release.release_seq)
        return None if differing_cells(before, cells) else release
    return None


@contextmanager
def release_folder(exports_dir: Path, profile: str, quarter: str, seq: int) -> Iterator[Path]:
    """A fresh folder to build a release in, moved to ``<profile>/<quarter>/<seq>/`` when
    the block ends without error (replacing a candidate's folder of the same number);
    on error nothing of it is left."""
    parent = exports_dir / profile / quarter
    created = [p for p in (parent, parent.parent) if not p.exists()]
    parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{seq}.", suffix=".tmp", dir=parent))
    try:
        yield scratch
        target = parent / str(seq)
        if target.exists():
            shutil.rmtree(target)
        os.replace(scratch, target)
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
        for folder in created:  # a refused build leaves no empty folder behind either
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()


def files_since(con: duckdb.DuckDBPyConnection, received_seq: int | float | None) -> str:
    """Which partner files arrived after an inbox state, by feed, for a revision's reason."""
    if received_seq is None or (isinstance(received_seq, float) and np.isnan(received_seq)):
        return ""
    rows = con.execute(
        "select feed, count(*) from ops.ingest_files where received_seq > ?"
        " and status <> 'rejected' group by feed order by feed",
        [int(received_seq)],
    ).fetchall()
    return ", ".join(f"{feed_name(feed)}: {n} file" for feed, n in rows)


def inbox_state(con: duckdb.DuckDBPyConnection) -> int:
    """The highest ``received_seq`` of the ingest log: the inbox a release is built from."""
    row = con.execute("select coalesce(max(received_seq), 0) from ops.ingest_files").fetchone()
    return int(row[0])


def recorded_cells(
    con: duckdb.DuckDBPyConnection, profile: str, quarter: str, release_seq: int
) -> pd.DataFrame:
    """The cells a release showed, as ``ops.release_cells`` keeps them."""
    return con.execute(
        "select indicator_id, period, breakdown, category, shown, numerator, denominator,"
        " suppressed from ops.release_cells where profile = ? and quarter = ?"
        " and release_seq = ?",
        [profile, quarter, release_seq],
    ).df()


def differing_cells(recorded: pd.DataFrame, rebuilt: pd.DataFrame) -> list[tuple[str, ...]]:
    """Keys of the cells whose value, rate parts or suppression differ, or that only one
    of the two shows (the keys name indicator, period, breakdown and category only)."""
    columns = [*KEY_COLUMNS, "shown", "numerator", "denominator", "suppressed"]
    merged = recorded[columns].merge(
        rebuilt[columns], on=list(KEY_COLUMNS), how="outer", suffixes=("", "_b"), indicator=True
    )
    both = merged["_merge"].to_numpy() == "both"
    same = (
        both
        & _same(merged["shown"].to_numpy(), merged["shown_b"].to_numpy())
        & _same(merged["numerator"].to_numpy(), merged["numerator_b"].to_numpy())
        & _same(merged["denominator"].to_numpy(), merged["denominator_b"].to_numpy())
        & (merged["suppressed"].eq(True).to_numpy() == merged["suppressed_b"].eq(True).to_numpy())
    )
    rows = merged.loc[~same, list(KEY_COLUMNS)]
    return sorted(tuple(str(v) for v in r) for r in rows.itertuples(index=False))


def files_up_to(con: duckdb.DuckDBPyConnection, received_seq: int) -> list[tuple[str, str]]:
    """(feed, file name) of every file received up to an inbox state, refused ones too."""
    return con.execute(
        "select distinct feed, file_name from ops.ingest_files where received_seq <= ?"
        " order by feed, file_name",
        [received_seq],
    ).fetchall()


def released_snapshots(
    con: duckdb.DuckDBPyConnection,
    *,
    before: dt.datetime | None = None,
    statuses: tuple[str, ...] = RELEASED,
) -> list:
    """Every release a reader may hold (approved, sent or superseded, of every profile),
    each with the cells it showed and the figures behind them
    (:class:`lavoro_debole.exports.joint.Snapshot`), oldest approval first.

    ``before`` keeps only releases approved before that moment (a replay of a release
    takes into account what had been released when it was built). A release recorded
    before ``ops.release_truth`` existed gives its shown figures only: its hidden cells
    are left out of the attacker's model.
    """
    from lavoro_debole.exports.joint import Snapshot

    if not _has_ledger(con):
        return []
    has_truth = bool(
        con.execute(
            "select count(*) from duckdb_tables() where database_name = current_database()"
            " and schema_name = 'ops' and table_name = 'release_truth'"
        ).fetchone()[0]
    )
    truth_join = (
        "left join ops.release_truth as t using (profile, quarter, release_seq, indicator_id,"
        " period, breakdown, category)"
        if has_truth
        else ""
    )
    value = "t.value" if has_truth else "null"
    numerator = "t.numerator" if has_truth else "null"
    denominator = "t.denominator" if has_truth else "null"
    out = []
    for release in releases(con):
        if release.status not in statuses:
            continue
        if before is not None and (release.approved_at is None or release.approved_at >= before):
            continue
        cells = con.execute(
            f"""
            select c.indicator_id, c.period, c.breakdown, c.category,
                   coalesce({value}, case when c.suppressed then null else c.shown end) as value,
                   coalesce({numerator}, c.numerator) as numerator,
                   coalesce({denominator}, c.denominator) as denominator,
                   c.suppressed
            from ops.release_cells as c {truth_join}
            where c.profile = ? and c.quarter = ? and c.release_seq = ?
            """,
            [release.profile, release.quarter, release.release_seq],
        ).df()
        out.append(
            Snapshot(
                profile=release.profile,
                quarter=release.quarter,
                release_seq=release.release_seq,
                approved_at=release.approved_at,
                cells=cells,
            )
        )
    out.sort(key=lambda s: (s.approved_at or dt.datetime.min, s.profile, s.quarter))
    return out
