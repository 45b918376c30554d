"""``lavoro ricostruisci``: a past release rebuilt from the inbox as it stood, and compared.

The files the release was built from are those of the ingest log up to its
``received_seq``; they are copied (with their modification times, which Q1 reads) into
a scratch data directory with the reference lists, the warehouse is built there by the
same assets as ``lavoro run`` (:func:`lavoro_debole.orchestration.rebuild.build_warehouse`,
on an ephemeral Dagster instance), and the release's workbook is built again for its
cut-off date. Every cell is compared with ``ops.release_cells``. Nothing of the data
directory changes but the scratch folder, which is kept for whoever wants to look.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lavoro_debole.exports.profiles import FunderProfile
from lavoro_debole.exports.publish import build_funder_export
from lavoro_debole.exports.releases import (
    ReleaseError,
    differing_cells,
    files_up_to,
    recorded_cells,
    released_snapshots,
    releases,
)
from lavoro_debole.ingest.warehouse_db import open_warehouse
from lavoro_debole.settings import Settings

SCRATCH_PREFIX = ".ricostruzione-"


@dataclass(frozen=True)
class ReplayResult:
    scratch: Path
    cells: int
    differing: list[tuple[str, ...]]
    files: int

    @property
    def equal(self) -> bool:
        return not self.differing


def replay_release(
    settings: Settings, profile: FunderProfile, quarter: str, release_seq: int
) -> ReplayResult:
    """Rebuild one release into a scratch folder and compare it cell by cell."""
    from lavoro_debole.orchestration.rebuild import build_warehouse

    con = open_warehouse(settings.warehouse_path, read_only=True, key=settings.warehouse_key)
    try:
        found = [r for r in releases(con, profile.name, quarter) if r.release_seq == release_seq]
        if not found:
            raise ReleaseError(f"{profile.name} {quarter}: nessun rilascio {release_seq}")
        release = found[0]
        if release.cutoff is None:
            raise ReleaseError(
                f"{release.label}: costruito prima che la data di taglio fosse registrata; "
                "non si può ricostruire"
            )
        wanted = files_up_to(con, release.received_seq)
        recorded = recorded_cells(con, profile.name, quarter, release_seq)
        # what had been released when it was built: its protection took them into account
        history = released_snapshots(con, before=release.built_at)
    finally:
        con.close()
    missing = [
        f"{feed}/{name}"
        for feed, name in wanted
        if not (settings.inbox_dir / feed / name).is_file()
        and not (settings.inbox_dir / feed / name).is_symlink()
    ]
    if missing:
        raise ReleaseError(
            f"{release.label}: {len(missing)} file di allora non sono più nella cartella "
            "inbox: non si può ricostruire"
        )
    scratch = Path(
        tempfile.mkdtemp(
            prefix=f"{SCRATCH_PREFIX}{profile.name}-{quarter}-{release_seq}-",
            dir=settings.data_dir,
        )
    )
    for feed, name in wanted:
        source = settings.inbox_dir / feed / name
        target = scratch / "inbox" / feed / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(source.readlink())
        else:
            shutil.copy2(source, target)  # its modification time: Q1's timeliness
    if settings.reference_dir.is_dir():
        shutil.copytree(settings.reference_dir, scratch / "reference")
    staged = dataclasses.replace(settings, data_dir=scratch, cutoff=release.cutoff)
    if not build_warehouse(staged, lambda: None):
        raise ReleaseError(f"{release.label}: la ricostruzione del magazzino non è riuscita")
    rebuilt_con = open_warehouse(staged.warehouse_path, read_only=True, key=staged.warehouse_key)
    try:
        export = build_funder_export(
            rebuilt_con, profile, quarter, release.cutoff, scratch / "exports", history=history
        )
    finally:
        rebuilt_con.close()
    assert export.cells is not None
    return ReplayResult(
        scratch=scratch,
        cells=len(recorded),
        differing=differing_cells(recorded, export.cells),
        files=len(wanted),
    )
