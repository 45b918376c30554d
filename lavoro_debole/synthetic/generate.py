"""Write a whole synthetic inbox and the manifest of what the ingest should make of it."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

from lavoro_debole.synthetic.feeds import FEED_BUILDERS, PLANTED_PERSONAL_VALUES
from lavoro_debole.synthetic.layout import FileSpec
from lavoro_debole.synthetic.manifest import (
    Correction,
    FeedExpectation,
    FileExpectation,
    Manifest,
    PlantedProblem,
)
from lavoro_debole.synthetic.workbook import (
    SheetSpec,
    csv_bytes,
    ods_bytes,
    write_bytes,
    xls_bytes,
    xlsx_bytes,
)
from lavoro_debole.synthetic.world import SOCIAL_COOPERATIVES, build_world

FEEDS = tuple(FEED_BUILDERS)
ENTITIES = {
    "provincia_co": ("provincia_co",),
    "provincia_tirocini": ("provincia_tirocini",),
    "servizi_sociali": ("servizi_sociali",),
    "cfp": ("cfp_corsi", "cfp_iscritti"),
    "cooperative": ("cooperative",),
    "sportello": ("sportello",),
    "imprese": ("imprese",),
}
SKIPPED_KINDS = frozenset(("title", "header", "blank", "total"))


def social_cooperatives() -> list[tuple[str, str]]:
    """The type-B social cooperatives the generator employs people in: (name, P.IVA).

    The same list every time, so the steward's reference CSV (or a dbt seed) can be made
    from it and the CO extract's employer codes match it.
    """
    return [(name, vat) for name, vat, _ in SOCIAL_COOPERATIVES]


def render(spec: FileSpec) -> bytes:
    """The bytes of one partner file."""
    if spec.raw is not None:
        return spec.raw
    if spec.fmt == "xlsx":
        return xlsx_bytes(spec.sheets)
    if spec.fmt == "xls":
        return xls_bytes(spec.sheets)
    if spec.fmt == "ods":
        return ods_bytes(spec.sheets)
    if spec.fmt == "csv":
        (sheet,) = spec.sheets
        return csv_bytes(sheet.rows, spec.csv_encoding, date_format=spec.csv_date_format)
    raise ValueError(f"unknown format {spec.fmt}")


def _is_blank(row: list) -> bool:
    return all(v is None or v == "" for v in row)


@dataclass
class _Counts:
    data: int = 0
    rejected: int = 0
    warned: int = 0
    skipped: int = 0


def _count_sheet(
    sheet: SheetSpec, csv: bool, counts: _Counts, problems: list[PlantedProblem]
) -> list[tuple[str, tuple]]:
    """Add one data sheet's rows to ``counts``; return the keys of the rows that load."""
    last = len(sheet.rows)
    while last > 0 and _is_blank(sheet.rows[last - 1]) and not csv:
        last -= 1
    keys: list[tuple[str, tuple]] = []
    for index in range(last):
        kind = sheet.kinds[index]
        if kind in SKIPPED_KINDS:
            counts.skipped += 1
            continue
        counts.data += 1
        row_problems = sheet.problems.get(index, [])
        severities = {p.severity for p in row_problems}
        if "error" in severities:
            counts.rejected += 1
        else:
            if "warning" in severities:
                counts.warned += 1
            if index in sheet.keys:
                keys.append(sheet.keys[index])
        for p in row_problems:
            problems.append(
                PlantedProblem(
                    None if csv else sheet.name,
                    index + 1,
                    p.column,
                    p.canonical_column,
                    p.kind,
                    p.severity,
                )
            )
    return keys


def summarise(spec: FileSpec, sha256: str) -> tuple[FileExpectation, list[tuple[str, tuple]]]:
    """The expected ingest log line for one file, and the record keys its loaded rows carry."""
    counts = _Counts()
    problems: list[PlantedProblem] = []
    keys: list[tuple[str, tuple]] = []
    read: list[str | None] = []
    ignored: list[str] = []
    if spec.status == "loaded":
        for sheet in spec.sheets:
            if sheet.hidden or not sheet.counted:
                ignored.append(sheet.name)
                continue
            read.append(None if spec.fmt == "csv" else sheet.name)
            keys += _count_sheet(sheet, spec.fmt == "csv", counts, problems)
    else:
        ignored = [s.name for s in spec.sheets]
    expectation = FileExpectation(
        feed=spec.feed,
        path=spec.name,
        format=spec.fmt,
        sender=spec.sender,
        status=spec.status,
        reference_date=spec.reference.isoformat() if spec.reference else None,
        received_order=0,
        sha256=sha256,
        rows_data=counts.data,
        rows_rejected=counts.rejected,
        rows_warned=counts.warned,
        rows_skipped=counts.skipped,
        rows_loaded=counts.data - counts.rejected,
        sheets_read=read,
        sheets_ignored=ignored,
        problems=problems,
        duplicate_of=spec.duplicate_of,
        note=spec.note,
    )
    return expectation, keys


def _mark_repeated_content(expectations: list[tuple[date, FileExpectation]]) -> None:
    """A file whose bytes equal an earlier one's loads once: the later copy is a duplicate.

    This happens naturally (a month without contacts, a quarter in which nothing changed
    gives the same header-only or same cumulative file). Its rows are already counted
    through the first copy, so the distinct-record counts do not change.
    """
    first_by_sha: dict[str, FileExpectation] = {}
    for _, item in expectations:
        first = first_by_sha.setdefault(item.sha256, item)
        if first is item or item.status == "rejected":
            continue
        item.status = "duplicate"
        item.duplicate_of = first.path
        item.rows_data = item.rows_rejected = item.rows_warned = 0
        item.rows_skipped = item.rows_loaded = 0
        item.sheets_read, item.sheets_ignored, item.problems = [], [], []
        if not item.note:
            item.note = "same bytes as a file received earlier"


def generate_inbox(
    data_dir: Path,
    persons: int = 40,
    seed: int = 1,
    start: date = date(2023, 1, 1),
    until: date = date(2025, 12, 31),
) -> Manifest:
    """Write ``data_dir/inbox/<feed>/…`` for all seven feeds and ``data_dir/manifest.json``.

    The same arguments give the same bytes and the same file times, so an ingest test
    that fails can be replayed exactly.
    """
    if persons < 10:
        raise ValueError("persons must be at least 10 so that every habit can be planted")
    if (until - start).days < 200:
        raise ValueError("the period must span at least about seven months")
    data_dir = Path(data_dir)
    world = build_world(persons, seed, start, until)
    inbox = data_dir / "inbox"
    expectations: list[tuple[date, FileExpectation]] = []
    distinct: dict[str, set[int]] = {e: set() for feed in FEEDS for e in ENTITIES[feed]}
    corrections: list[Correction] = []
    for feed in FEEDS:
        corrected_in: str | None = None
        for spec in FEED_BUILDERS[feed](world, seed):
            if spec.duplicate_of is not None:
                data = (inbox / feed / spec.duplicate_of).read_bytes()
            else:
                data = render(spec)
            write_bytes(inbox / feed / spec.name, data)
            sha = hashlib.sha256(data).hexdigest()
            expectation, keys = summarise(spec, sha)
            expectations.append((spec.received, expectation))
            for entity, key in keys:
                distinct[entity].add(hash(key))
            if feed == "provincia_co" and spec.status == "loaded":
                if corrected_in is not None:
                    corrections.append(
                        Correction(
                            feed,
                            "one notification (same Codice Comunicazione) shows other "
                            "Ore Settimanali Medie in the later extract",
                            corrected_in,
                            spec.name,
                        )
                    )
                    corrected_in = None
                elif spec.note.startswith("one notification"):
                    corrected_in = spec.name
            if spec.note.startswith("corrected re-send"):
                original = spec.name.replace("_rettifica", "")
                corrections.append(Correction(feed, spec.note, original, spec.name))
            spec.sheets = []  # free the rows before the next file
    expectations.sort(key=lambda item: (item[0], item[1].feed, item[1].path))
    _mark_repeated_content(expectations)
    for order, (received, expectation) in enumerate(expectations, start=1):
        expectation.received_order = order
        stamp = datetime.combine(received, time(8, 0), tzinfo=UTC).timestamp() + order
        path = inbox / expectation.feed / expectation.path
        os.utime(path, (stamp, stamp))
    files = [e for _, e in expectations]
    feeds = {
        feed: FeedExpectation(
            feed=feed,
            files=sum(1 for f in files if f.feed == feed),
            distinct_records={entity: len(distinct[entity]) for entity in ENTITIES[feed]},
        )
        for feed in FEEDS
    }
    manifest = Manifest(
        seed=seed,
        persons=persons,
        start=start.isoformat(),
        until=until.isoformat(),
        files=files,
        feeds=feeds,
        corrections=corrections,
        planted_personal_values=list(PLANTED_PERSONAL_VALUES),
    )
    (data_dir / "manifest.json").write_text(manifest.to_json() + "\n", encoding="utf-8")
    return manifest
