"""The two things orchestration calls: publish the mart, build a funder's workbook.

``publish_indicators`` writes ``marts.indicator_published`` (k=5 over every
indicator). ``build_funder_export`` cuts a funder's workbook out of the same
protection (raised to the profile's k when it asks for more), audits exactly what the
workbook shows, and refuses to write when the audit fails.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from lavoro_debole.exports.audit import AuditFailedError, AuditResult, audit_universe
from lavoro_debole.exports.catalogue import TOTAL, non_additive_breakdowns
from lavoro_debole.exports.disclosure import (
    DEFAULT_K,
    Protection,
    check_k,
    protect,
    published_frame,
)
from lavoro_debole.exports.empty import EmptyIndicator, empty_indicators
from lavoro_debole.exports.headline import headline_keys
from lavoro_debole.exports.joint import JointAuditResult, Snapshot, protect_jointly
from lavoro_debole.exports.model import KEY_COLUMNS, DisclosureError
from lavoro_debole.exports.profiles import FunderProfile, parse_quarter
from lavoro_debole.exports.releases import release_cells
from lavoro_debole.exports.targets import target_keys
from lavoro_debole.exports.workbook import (
    SUPPRESSED,
    Revision,
    WorkbookContext,
    WorkbookLayout,
    write_workbook,
)

SOURCE_TABLE = "marts.indicator_values"
PUBLISHED_TABLE = "marts.indicator_published"
QUALITY_INDICATORS = ("Q1", "Q2", "Q3")


@dataclass(frozen=True)
class ExportResult:
    """What one funder export produced (values-free: fit for logs and Dagster metadata)."""

    profile: str
    quarter: str
    path: Path
    sha256: str
    audit: AuditResult
    k: int
    cells_shown: int
    cells_suppressed: int  # hidden cells the workbook shows as 'c'
    primary_suppressed: int  # of those, hidden by the primary rule
    complementary_suppressed: int
    layout: WorkbookLayout
    #: every cell the workbook shows (``shown`` null where hidden), ``revised`` marked
    cells: pd.DataFrame | None = None
    #: indicators with nothing publishable in the workbook's periods (told to the steward)
    empty: tuple[EmptyIndicator, ...] = ()

    def notices(self) -> list[str]:
        """The steward's Italian lines about this workbook (no figures)."""
        return [e.message() for e in self.empty]

    #: the figures behind those cells, hidden ones too (``ops.release_truth``)
    truth: pd.DataFrame | None = None
    #: the audit together with every earlier release (None: there was none)
    joint: JointAuditResult | None = None

    @property
    def cells_revised(self) -> int:
        return 0 if self.cells is None else int(self.cells["revised"].sum())

    def metadata(self) -> dict[str, object]:
        return {
            "profile": self.profile,
            "quarter": self.quarter,
            "path": str(self.path),
            "sha256": self.sha256,
            "k": self.k,
            "cells_shown": self.cells_shown,
            "cells_suppressed": self.cells_suppressed,
            "primary_suppressed": self.primary_suppressed,
            "complementary_suppressed": self.complementary_suppressed,
            "audit": self.audit.summary(),
            "empty_indicators": [e.indicator_id for e in self.empty],
            **({} if self.joint is None else {"joint_audit": self.joint.summary()}),
        }


def read_indicator_values(
    con: duckdb.DuckDBPyConnection, table: str = SOURCE_TABLE
) -> pd.DataFrame:
    """The long indicator table as a DataFrame (a fixed, trusted table name)."""
    if table not in (SOURCE_TABLE, PUBLISHED_TABLE):
        raise ValueError(f"unexpected table {table!r}")
    return con.execute(f"select * from {table}").df()


def _frame(source: duckdb.DuckDBPyConnection | pd.DataFrame) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return source
    return read_indicator_values(source)


def protect_for(frame: pd.DataFrame, k: int = DEFAULT_K) -> Protection:
    """The protection every publication shares: k=5 over everything, then raised to
    ``k`` on top of it (so a stricter funder sees a subset of what others see).

    Remembered for the same table content: one run publishes the mart and then a
    workbook per funder, each of which would otherwise redo the same search (thousands
    of LPs, ~15 s for the demo's mart). The cached arrays are read-only.
    """
    k = check_k(k)
    digest = _content_digest(frame)
    base = _remembered((digest, DEFAULT_K), lambda: protect(frame, DEFAULT_K))
    if k == DEFAULT_K:
        return base
    return _remembered((digest, k), lambda: protect(base.universe, k, seed=base.suppressed))


_PROTECTIONS: OrderedDict[tuple[str, int], Protection] = OrderedDict()
_PROTECTIONS_KEPT = 4


def _content_digest(frame: pd.DataFrame) -> str:
    digest = hashlib.sha256("\x1f".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _remembered(key: tuple[str, int], compute: Callable[[], Protection]) -> Protection:
    if key in _PROTECTIONS:
        _PROTECTIONS.move_to_end(key)
        return _PROTECTIONS[key]
    protection = compute()
    for array in (protection.primary, protection.suppressed):
        array.setflags(write=False)
    _PROTECTIONS[key] = protection
    while len(_PROTECTIONS) > _PROTECTIONS_KEPT:
        _PROTECTIONS.popitem(last=False)
    return protection


def publish_indicators(
    con: duckdb.DuckDBPyConnection,
    k: int = DEFAULT_K,
    *,
    frame: pd.DataFrame | None = None,
) -> Protection:
    """Write ``marts.indicator_published``: the input columns plus ``suppressed``,
    figures null where suppressed; replaced in one statement, after the audit passed."""
    protection = protect_for(_frame(con) if frame is None else frame, k)
    if not protection.audit.passed:  # pragma: no cover - protect() guarantees it
        raise AuditFailedError(protection.audit.summary())
    published = protection.published()
    con.execute("create schema if not exists marts")
    con.register("_lavoro_indicator_published", published)
    try:
        con.execute(
            f"create or replace table {PUBLISHED_TABLE} as "
            "select * from _lavoro_indicator_published"
        )
    finally:
        con.unregister("_lavoro_indicator_published")
    return protection


def workbook_selection(
    frame: pd.DataFrame, profile: FunderProfile, periods: list[str]
) -> np.ndarray:
    """True for each row of ``frame`` the profile's workbook shows."""
    ind = frame["indicator_id"].astype(str)
    bd = frame["breakdown"].astype(str)
    in_periods = frame["period"].astype(str).isin(periods).to_numpy()
    figures = ind.isin(profile.indicators) & (bd.eq(TOTAL) | bd.isin(profile.breakdowns))
    quality = ind.isin(QUALITY_INDICATORS)
    return in_periods & (figures | quality).to_numpy()


def cover_selection(frame: pd.DataFrame, profile: FunderProfile, quarter: str) -> np.ndarray:
    """True for each row of ``frame`` that the cover's headline figures or the sheet
    Obiettivi show beyond the tables (the totals of the previous quarter, of the same
    quarter a year before, of a target's period): the audit and the release count them
    as shown too."""
    keys = set(headline_keys(profile.headline, quarter)) | set(
        target_keys(profile.targets, quarter)
    )
    if not keys:
        return np.zeros(len(frame), dtype=bool)
    cols = frame[list(KEY_COLUMNS)].astype(str)
    return np.fromiter(
        (tuple(r) in keys for r in cols.itertuples(index=False)), dtype=bool, count=len(frame)
    )


def build_funder_export(
    source: duckdb.DuckDBPyConnection | pd.DataFrame,
    profile: FunderProfile,
    quarter: str,
    cutoff: dt.date,
    out_dir: Path,
    *,
    generated_at: dt.datetime | None = None,
    protection: Protection | None = None,
    earlier: pd.DataFrame | None = None,
    reasons: Callable[[str, int, float], str] | None = None,
    history: Sequence[Snapshot] = (),
) -> ExportResult:
    """Build, audit and write one funder's workbook for one quarter.

    ``source`` is the warehouse connection (reads ``marts.indicator_values``) or that
    table as a DataFrame; the cover's list of partners is Q1 of the quarter.
    ``protection`` lets a caller reuse one protection for several
    profiles with the same k. Raises :class:`AuditFailedError` (nothing written) when
    the workbook would let a protected figure be narrowed below the profile's k.

    ``earlier`` (``releases.latest_released_cells``) is what the profile's releases
    already showed: cells shown differently are marked ``r`` and listed in the sheet
    Revisioni, with ``reasons(quarter, release_seq, received_seq)`` of the earlier
    release saying which files arrived since.

    ``history`` (``releases.released_snapshots``) is every release a reader may already
    hold, of any profile: the workbook's pattern is then frozen where its tables did not
    change, hidden further where a difference between releases would tell too much, and
    audited together with all of them (:mod:`lavoro_debole.exports.joint`); a
    :class:`~lavoro_debole.exports.joint.JointAuditFailedError` names the tables to hold
    back, and nothing is written.
    """
    parse_quarter(quarter)
    if protection is None:
        protection = protect_for(_frame(source), profile.k)
    elif protection.k != profile.k:
        raise DisclosureError(
            f"profile {profile.name}: protection computed with k={protection.k}, "
            f"the profile asks for k={profile.k}"
        )
    frame = protection.universe.frame
    periods = profile.period_columns(quarter)
    if not (frame["period"] == quarter).any():
        raise DisclosureError(f"profile {profile.name}: {SOURCE_TABLE} has no rows for {quarter}")
    shown = workbook_selection(frame, profile, periods) | cover_selection(frame, profile, quarter)
    suppressed = protection.suppressed
    joint = None
    if history:
        jointly = protect_jointly(
            protection.universe, suppressed, shown, history, profile.k, profile.name
        )
        suppressed, joint = jointly.suppressed, jointly.audit

    # audit exactly what this workbook shows (rows it leaves out are unknown to its reader)
    audit = audit_universe(protection.universe, shown & ~suppressed, profile.k)
    if not audit.passed:
        raise AuditFailedError(f"profile {profile.name} {quarter}: {audit.summary()}")

    published = published_frame(frame, suppressed)[shown].reset_index(drop=True)
    # what is empty is judged on the pattern that leaves, the series' protection included
    final = dataclasses.replace(protection, suppressed=suppressed)
    empty = empty_indicators(final, shown, profile.indicators, quarter, periods)
    cells = release_cells(published, earlier if earlier is not None else pd.DataFrame())
    context = WorkbookContext(
        funder_title=profile.title,
        quarter=quarter,
        periods=tuple(periods),
        cutoff=cutoff,
        generated=generated_at or dt.datetime.now(),
        k=profile.k,
        indicators=profile.indicators,
        breakdowns=profile.breakdowns,
        revisions=_revisions(cells, reasons),
        non_additive=frozenset(non_additive_breakdowns(frame)),
        empty={e.indicator_id: e.reader_text() for e in empty},
        headline=profile.headline,
        targets=profile.targets,
        baselines=profile.baselines,
    )
    path = Path(out_dir) / f"lavoro_debole_{profile.name}_{quarter}.xlsx"
    layout = write_workbook(published, context, path)
    hidden = shown & suppressed
    return ExportResult(
        profile=profile.name,
        quarter=quarter,
        path=path,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        audit=audit,
        k=profile.k,
        cells_shown=int(shown.sum()),
        cells_suppressed=int(hidden.sum()),
        primary_suppressed=int((hidden & protection.primary).sum()),
        complementary_suppressed=int((hidden & ~protection.primary).sum()),
        layout=layout,
        cells=cells,
        empty=tuple(empty),
        truth=frame.loc[shown, [*KEY_COLUMNS, "value", "numerator", "denominator"]].reset_index(
            drop=True
        ),
        joint=joint,
    )


def _shown_text(value: object, suppressed: object) -> str:
    if bool(suppressed):
        return SUPPRESSED
    if value is None or pd.isna(value):
        return "–"
    number = float(value)
    return f"{number:.0f}" if number.is_integer() else f"{number:.1f}".replace(".", ",")


def _revisions(
    cells: pd.DataFrame, reasons: Callable[[str, int, float], str] | None
) -> tuple[Revision, ...]:
    revised = cells[cells["revised"].astype(bool)]
    out = []
    for row in revised.itertuples(index=False):
        released = f"rilascio {int(row.released_seq)} del {row.released_quarter}"
        out.append(
            Revision(
                indicator_id=row.indicator_id,
                period=row.period,
                breakdown=row.breakdown,
                category=row.category,
                previous=_shown_text(row.previous_shown, row.previous_suppressed),
                current=_shown_text(row.shown, row.suppressed),
                released=released,
                reason=""
                if reasons is None
                else reasons(
                    row.released_quarter, int(row.released_seq), row.released_received_seq
                ),
            )
        )
    return tuple(out)


__all__ = [
    "KEY_COLUMNS",
    "AuditFailedError",
    "ExportResult",
    "build_funder_export",
    "cover_selection",
    "protect_for",
    "publish_indicators",
    "read_indicator_values",
    "workbook_selection",
]
