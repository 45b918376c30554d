"""The life of a release: built as a candidate, approved by the steward, mailed once.

Orchestration (the export assets, the approval job) and ``lavoro approva`` call these
two functions; everything they decide is here, in plain Python.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb

from lavoro_debole.exports.delivery import DeliveryResult, SmtpSettings, deliver_workbook
from lavoro_debole.exports.disclosure import Protection
from lavoro_debole.exports.joint import audit_release, tables_text
from lavoro_debole.exports.profiles import FunderProfile
from lavoro_debole.exports.publish import ExportResult, build_funder_export
from lavoro_debole.exports.releases import (
    Release,
    ReleaseError,
    approve,
    files_since,
    inbox_state,
    latest_released_cells,
    mark_sent,
    next_release_seq,
    record_candidate,
    release_folder,
    released_snapshots,
    releases,
    unchanged_since_release,
)


@dataclass(frozen=True)
class CandidateOutcome:
    """What building a quarter's workbook gave: a new candidate, or nothing new."""

    export: ExportResult | None
    release: Release
    is_new: bool  # False: the data equal an approved or sent release, nothing was built

    def message(self) -> str:
        if not self.is_new:
            return (
                f"nessuna modifica rispetto al {self.release.label} "
                f"({self.release.status}): nessun nuovo candidato"
            )
        revised = self.release.cells_revised
        return (
            f"{self.release.label} candidato, da approvare "
            f"(celle riviste rispetto ai rilasci precedenti: {revised})"
        )


def build_candidate(
    con: duckdb.DuckDBPyConnection,
    profile: FunderProfile,
    quarter: str,
    cutoff: dt.date,
    exports_dir: Path,
    *,
    protection: Protection | None = None,
    generated_at: dt.datetime | None = None,
) -> CandidateOutcome:
    """Build the quarter's workbook as the candidate release (replacing a waiting one).

    Nothing leaves: a candidate is mailed only once approved. When the figures equal
    those of the quarter's approved or sent release, no candidate is made.
    """
    built_at = generated_at or dt.datetime.now()
    seq = next_release_seq(con, profile.name, quarter)
    earlier = latest_released_cells(con, profile.name)
    # every release a reader may hold, of any profile: the new one is protected with them
    history = released_snapshots(con)

    def reasons(released_quarter: str, released_seq: int, received_seq: float) -> str:
        arrived = files_since(con, received_seq)
        return f"file arrivati o corretti dopo quel rilascio: {arrived}" if arrived else ""

    try:
        export = _build_in_place(
            con,
            profile,
            quarter,
            cutoff,
            exports_dir,
            seq,
            built_at,
            protection,
            earlier,
            reasons,
            history,
        )
    except _NothingNew as same:
        return CandidateOutcome(None, same.release, False)
    path = exports_dir / profile.name / quarter / str(seq) / export.path.name
    release = record_candidate(
        con,
        profile=profile.name,
        quarter=quarter,
        release_seq=seq,
        cells=export.cells,
        workbook=path,
        received_seq=inbox_state(con),
        built_at=built_at,
        cutoff=cutoff,
        truth=export.truth,
    )
    return CandidateOutcome(export, release, True)


def _build_in_place(
    con, profile, quarter, cutoff, exports_dir, seq, built_at, protection, earlier, reasons, history
) -> ExportResult:
    """The workbook built in a scratch folder that becomes ``<quarter>/<seq>/`` only when
    it is new: an unchanged rebuild leaves nothing behind."""
    with release_folder(exports_dir, profile.name, quarter, seq) as folder:
        export = build_funder_export(
            con,
            profile,
            quarter,
            cutoff,
            folder,
            generated_at=built_at,
            protection=protection,
            earlier=earlier,
            reasons=reasons,
            history=history,
        )
        assert export.cells is not None
        same = unchanged_since_release(con, profile.name, quarter, export.cells)
        if same is not None:
            raise _NothingNew(same)
    return export


class _NothingNew(Exception):
    def __init__(self, release: Release) -> None:
        super().__init__(release.label)
        self.release = release


def approve_and_send(
    con: duckdb.DuckDBPyConnection,
    profile: FunderProfile,
    quarter: str,
    approver: str,
    smtp: SmtpSettings | None,
    *,
    now: dt.datetime | None = None,
) -> tuple[Release, DeliveryResult]:
    """Approve the quarter's candidate and mail it, once; the release becomes ``sent``.

    Without SMTP settings the release stays ``approved`` and is mailed by a later
    approval run (``send_approved``) once the mail is configured.
    """
    still_safe(con, profile, quarter)
    release = approve(con, profile.name, quarter, approver, now)
    return release, send_approved(con, profile, release, smtp, now=now)


def still_safe(con: duckdb.DuckDBPyConnection, profile: FunderProfile, quarter: str) -> None:
    """Refuse to approve a candidate that releases approved after it was built make unsafe.

    A candidate was protected together with what had been released when it was built;
    when another release (of any profile) has been approved since, the candidate is
    audited again with it, and must be rebuilt when the two together would tell a small
    figure or a small difference.
    """
    waiting = [r for r in releases(con, profile.name, quarter) if r.status == "candidate"]
    if not waiting:
        return  # approve() says there is nothing to approve
    candidate = waiting[0]
    history = released_snapshots(con)
    if not any(s.approved_at is not None and s.approved_at > candidate.built_at for s in history):
        return
    own = [
        s
        for s in released_snapshots(con, statuses=("candidate",))
        if (s.profile, s.quarter, s.release_seq)
        == (candidate.profile, candidate.quarter, candidate.release_seq)
    ]
    if not own:  # pragma: no cover - a candidate always has its cells
        return
    result = audit_release(own[0].cells, history, profile.k)
    if not result.passed:
        raise ReleaseError(
            f"{candidate.label}: dopo la sua costruzione sono stati approvati altri rilasci e "
            "insieme a loro una cella riservata o una differenza sarebbe ricavabile "
            f"(tabelle: {tables_text(result.failures)}); ricostruire il candidato "
            "(lavoro run) prima di approvarlo"
        )


def send_approved(
    con: duckdb.DuckDBPyConnection,
    profile: FunderProfile,
    release: Release,
    smtp: SmtpSettings | None,
    *,
    now: dt.datetime | None = None,
) -> DeliveryResult:
    """Mail an approved release once (a sent one is never mailed again)."""
    if release.status != "approved":
        raise ReleaseError(f"{release.label}: è {release.status}, non si spedisce")
    when = now or dt.datetime.now()
    delivery = deliver_workbook(
        con,
        profile=profile.name,
        period=f"{release.quarter} rilascio {release.release_seq}",
        recipients=profile.recipients,
        path=Path(release.workbook_path),
        smtp=smtp,
        funder_title=profile.title,
        now=when,
    )
    if delivery.status == "sent":
        mark_sent(con, release, when)
    return delivery


def approved_unsent(con: duckdb.DuckDBPyConnection, profile: str) -> list[Release]:
    return [r for r in releases(con, profile) if r.status == "approved"]
