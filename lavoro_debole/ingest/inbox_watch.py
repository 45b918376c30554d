"""Which inbox files are new and completely copied: the inbox sensor's logic, without Dagster.

The folder walk is the run's own (:func:`lavoro_debole.ingest.inbox.walk_feed_dir`):
hidden files, lock files and partial downloads (``.part`` and similar) are never
ready. A file is ready when its size and modification time are the same as at the
previous look: a file still being copied changes between two looks. Each ready file
is announced once per content (its sha256), whatever its name. A symbolic link is
announced too (once per link text, never reading its target), so that a run records
it as refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from lavoro_debole.ingest.inbox import walk_feed_dir
from lavoro_debole.ingest.pipeline import sha256_of
from lavoro_debole.ingest.warehouse_db import open_warehouse


@dataclass(frozen=True)
class ReadyFile:
    feed: str
    path: Path
    sha256: str


@dataclass
class WatchState:
    """What the watcher remembers between looks (kept in the sensor's cursor)."""

    sizes: dict[str, list[float]] = field(default_factory=dict)
    announced: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, object]:
        return {"sizes": self.sizes, "announced": sorted(self.announced)}

    @classmethod
    def from_json(cls, data: dict[str, object] | None) -> WatchState:
        if not data:
            return cls()
        return cls(
            sizes={k: list(v) for k, v in dict(data.get("sizes", {})).items()},
            announced=set(data.get("announced", [])),
        )


def look(inbox_dir: Path, feeds: list[str], state: WatchState) -> list[ReadyFile]:
    """Files that became ready since the last look; updates ``state`` in place."""
    ready: list[ReadyFile] = []
    seen_now: dict[str, list[float]] = {}
    for feed in feeds:
        listing = walk_feed_dir(inbox_dir / feed)
        for path in listing.files:
            try:
                stat = path.stat()
            except OSError:
                continue  # gone since the walk
            signature = [float(stat.st_size), stat.st_mtime]
            key = path.as_posix()
            seen_now[key] = signature
            if state.sizes.get(key) != signature:
                continue  # new or still changing: look again next time
            sha = sha256_of(path)
            if sha in state.announced:
                continue
            state.announced.add(sha)
            ready.append(ReadyFile(feed, path, sha))
        for link in listing.links:
            sha = link.marker_sha256
            if sha not in state.announced:
                state.announced.add(sha)
                ready.append(ReadyFile(feed, link.path, sha))
    state.sizes = seen_now
    return ready


class WarehouseBusy(Exception):
    """The warehouse is open for writing: whether a file is new cannot be told now."""


def not_yet_ingested(
    warehouse_path: Path,
    inbox_dir: Path,
    ready: list[ReadyFile],
    *,
    warehouse_key: bytes | None = None,
) -> list[ReadyFile]:
    """The ready files the warehouse has not processed yet (same feed, name and content).

    On the UI's first start the watcher has no memory and finds every file of the inbox
    ready; those already loaded must not launch a run (it would rebuild everything and
    turn every failed check green). Raises :class:`WarehouseBusy` while a run holds the
    warehouse: the sensor then looks again at its next tick.
    """
    if not ready or not warehouse_path.exists():
        return ready
    try:
        con = open_warehouse(warehouse_path, read_only=True, key=warehouse_key)
    except duckdb.Error:
        raise WarehouseBusy(str(warehouse_path)) from None
    try:
        try:
            known = set(
                con.execute("select feed, file_name, file_sha256 from ops.ingest_files").fetchall()
            )
        except duckdb.CatalogException:
            return ready  # a warehouse with no ingest log yet
    finally:
        con.close()
    return [
        item
        for item in ready
        if (item.feed, item.path.relative_to(inbox_dir / item.feed).as_posix(), item.sha256)
        not in known
    ]
