"""What in a feed's inbox folder is a partner file: the one walk the run and the sensor share.

A partner file is a regular file inside ``inbox/<feed>/`` or one of its visible
subfolders. Everything else is not read:

- a symbolic link (to a file or a folder) is never followed: what it points to is
  outside the inbox, or could be. It is reported as a :class:`Link`, so that the run
  records it as refused ("collegamento simbolico: non letto") without reading its
  target;
- hidden files and folders (any part of the path starting with ``.``), office lock
  files (``~$…``, ``.~lock.…#``) and the droppings of file managers are not partner
  files;
- partial downloads and copies in progress (``.part``, ``.filepart``, ``.download``,
  ``.crdownload``, ``.tmp``, ``.partial``) are not partner files *yet*;
- anything that is neither a regular file nor a folder (a pipe, a socket) is skipped:
  opening a pipe would block the run.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PARTIAL_SUFFIXES = (".part", ".filepart", ".download", ".crdownload", ".tmp", ".partial")
"""Names of files still being copied or downloaded (compared in lower case)."""
SYSTEM_FILES = frozenset({"thumbs.db", "desktop.ini"})
LINK_REASON = "collegamento simbolico: non letto (mettere nella cartella il file vero e proprio)"


@dataclass(frozen=True)
class Link:
    """A symbolic link found in a feed's folder: recorded as refused, never followed."""

    path: Path
    mtime: float

    @property
    def marker_sha256(self) -> str:
        """A stand-in for the content's hash: of the link's own text, not of its target."""
        try:
            target = os.readlink(self.path)
        except OSError:
            target = ""
        return hashlib.sha256(b"lavoro-symlink\0" + os.fsencode(target)).hexdigest()


@dataclass(frozen=True)
class InboxListing:
    files: list[Path]
    """Partner files, in the order they were received (mtime, then relative name)."""
    links: list[Link]
    """Symbolic links, in the same order."""


def is_ignored_name(name: str) -> bool:
    """A file or folder name that never holds a partner file (hidden, lock, partial)."""
    lower = name.lower()
    return name.startswith((".", "~$")) or lower.endswith(PARTIAL_SUFFIXES) or lower in SYSTEM_FILES


def walk_feed_dir(feed_dir: Path) -> InboxListing:
    """The partner files and the symbolic links of one feed's folder (see the module doc).

    The feed's folder itself must be a real folder: a symbolic link in its place is
    not followed either (nothing is read, and a warning says so).
    """
    if feed_dir.is_symlink():
        log.warning("cartella del flusso %s: collegamento simbolico, non letta", feed_dir.name)
        return InboxListing([], [])
    if not feed_dir.is_dir():
        return InboxListing([], [])
    files: list[tuple[float, str, Path]] = []
    links: list[tuple[float, str, Link]] = []
    pending = [feed_dir]
    while pending:
        folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            log.warning("cartella dell'inbox non leggibile: non letta")
            continue
        for entry in entries:
            if is_ignored_name(entry.name):
                continue
            path = Path(entry.path)
            relative = path.relative_to(feed_dir).as_posix()
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISLNK(info.st_mode):
                links.append((info.st_mtime, relative, Link(path, info.st_mtime)))
            elif stat.S_ISDIR(info.st_mode):
                pending.append(path)
            elif stat.S_ISREG(info.st_mode):
                files.append((info.st_mtime, relative, path))
    return InboxListing(
        [path for _, _, path in sorted(files, key=lambda item: item[:2])],
        [link for _, _, link in sorted(links, key=lambda item: item[:2])],
    )
