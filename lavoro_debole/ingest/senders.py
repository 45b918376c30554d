"""Who sent a file: the senders' list, never free text.

The list (``;``-separated, UTF-8, header on row 1) has one row per sender of each feed:

``feed;sender_id;display_name;spellings;district;consortium``

- ``display_name`` is what is stored (``ops.ingest_files.sender``, the ``cooperative``
  column) and what the funders see;
- ``spellings`` (``|``-separated) are the forms that identify the sender in a file's
  name, its title rows or, for a cooperative, the ``Cooperativa`` column; they are
  compared folded (case, accents and punctuation do not matter) and whole-word;
- ``district``: for the social services (``servizi_sociali``), the district the
  sender's cases belong to (the Comune di Lodi is in the Lodi district);
- ``consortium``: for a cooperative whose placements come in a consortium's combined
  file, the ``sender_id`` of that consortium. Such a cooperative never sends a file of
  its own; it is recognised only in the consortium file's ``Cooperativa`` column.

Further columns are kept (:attr:`Sender.extra`), so that the list can grow (the
expected cadence of each sender, for instance) without a new file.

The project ships a default (``lavoro_debole/reference/senders_default.csv``). The
steward's ``reference/senders.csv`` in the data directory extends it: a row with a
new ``feed``/``sender_id`` adds a sender, a row with the same ``feed`` and
``sender_id`` as a default row replaces it, and such a row with empty ``spellings``
removes that default sender.

A file's sender is the one listed sender of its feed whose spelling is in its name
(folder included) or title rows. A feed with one listed sender needs no match (its
folder says who sent it). A file that names no listed sender, or two, is refused with a
message that names the list to extend; nothing of the file's own text becomes a sender.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from lavoro_debole.schemas import fold

log = logging.getLogger(__name__)

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "reference" / "senders_default.csv"
STEWARD_FILE = "senders.csv"
COLUMNS = ("feed", "sender_id", "display_name", "spellings", "district", "consortium")


class SenderNotFound(Exception):
    """No listed sender (or more than one) matches a file; the message is safe to show."""


@dataclass(frozen=True)
class Sender:
    feed: str
    sender_id: str
    display_name: str
    spellings: tuple[str, ...]
    district: str | None = None
    consortium: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def sends_files(self) -> bool:
        """False for a consortium's member: its placements come in the consortium's file."""
        return self.consortium is None


def _tokens(text: str) -> list[str]:
    """Folded words; ``SantAngelo`` and ``Il_Mosaico-Servizi`` split where a person would."""
    text = re.sub(r"([a-zà-ÿ])([A-ZÀ-Þ])", r"\1 \2", str(text))
    text = re.sub(r"([A-ZÀ-Þ])([A-ZÀ-Þ][a-zà-ÿ])", r"\1 \2", text)
    text = re.sub(r"([A-Za-z])([0-9])|([0-9])([A-Za-z])", r"\1\3 \2\4", text)
    return fold(text).split()


def _find(spelling: tuple[str, ...], words: list[str]) -> list[tuple[int, int]]:
    """Spans (start, end) of ``words`` that spell ``spelling`` whole-word.

    The words may be split differently from the spelling (``UdP`` + ``Lodi`` against a
    file named ``UdPLodi``, ``Sant Angelo`` against ``SantAngelo``): what must agree is the
    letters, and both ends must fall on word boundaries.
    """
    target = "".join(spelling)
    spans = []
    for start in range(len(words)):
        joined = ""
        for end in range(start, len(words)):
            joined += words[end]
            if len(joined) >= len(target):
                if joined == target:
                    spans.append((start, end + 1))
                break
            if not target.startswith(joined):
                break
    return spans


class SenderList:
    """The senders of every feed, and the matching of files and cells against them."""

    def __init__(self, senders: Iterable[Sender]) -> None:
        self.senders = tuple(senders)
        self._spellings = {
            sender: [tuple(w) for w in (_tokens(s) for s in sender.spellings) if w]
            for sender in self.senders
        }

    def of_feed(self, feed: str) -> list[Sender]:
        return [s for s in self.senders if s.feed == feed]

    def file_senders(self, feed: str) -> list[Sender]:
        return [s for s in self.of_feed(feed) if s.sends_files]

    def matches(self, texts: Iterable[str], candidates: list[Sender]) -> list[Sender]:
        """The candidates named in ``texts``; in each text the longest spelling wins.

        ``Comune di Lodi`` holds ``Lodi``: where one match lies inside another, only the
        longer one counts, so the Comune is not also the Lodi district office.
        """
        found: list[Sender] = []
        for text in texts:
            words = _tokens(text)
            hits = [
                (start, end, sender)
                for sender in candidates
                for spelling in self._spellings[sender]
                for start, end in _find(spelling, words)
            ]
            for start, end, sender in hits:
                inside = any(
                    s <= start and end <= e and (e - s) > (end - start) and other != sender
                    for s, e, other in hits
                )
                if not inside and sender not in found:
                    found.append(sender)
        return found

    def sender_of_file(self, feed: str, file_name: str, titles: list[str]) -> Sender:
        """The listed sender of a file, from its name (folders too) and title rows."""
        candidates = self.file_senders(feed)
        if len(candidates) == 1:
            return candidates[0]
        where = (
            f"l'elenco dei mittenti (reference/{STEWARD_FILE}, flusso '{feed}', "
            "colonna 'spellings')"
        )
        if not candidates:
            raise SenderNotFound(f"nessun mittente per questo flusso nel{where[1:]}")
        path = PurePosixPath(file_name)
        texts = [*path.parent.parts, path.stem, *titles]
        found = self.matches(texts, candidates)
        if not found:
            raise SenderNotFound(
                "mittente non riconoscibile: né il nome del file né le righe del titolo "
                f"nominano un mittente del{where[1:]}; aggiungere il mittente o il modo in cui "
                "si scrive il suo nome"
            )
        if len(found) > 1:
            names = ", ".join(s.display_name for s in found)
            raise SenderNotFound(
                f"mittente ambiguo: il nome del file o le righe del titolo nominano più mittenti "
                f"del{where[1:]} ({names}); correggere l'elenco o il nome del file"
            )
        return found[0]

    def cooperative_of_cell(self, text: str, sender: Sender) -> tuple[Sender | None, str]:
        """The listed cooperative a ``Cooperativa`` cell names, or None and the reason why.

        Only a cooperative whose placements this sender sends (a member of its
        consortium, or the sender itself) is accepted.
        """
        found = self.matches([text], self.of_feed(sender.feed))
        where = f"reference/{STEWARD_FILE}, flusso '{sender.feed}'"
        if not found:
            return None, f"cooperativa non presente nell'elenco dei mittenti ({where})"
        if len(found) > 1:
            return None, f"il nome corrisponde a più cooperative dell'elenco dei mittenti ({where})"
        coop = found[0]
        if coop != sender and coop.consortium != sender.sender_id:
            return None, (
                f"cooperativa che nell'elenco dei mittenti ({where}) non è inviata da "
                f"{sender.display_name}"
            )
        return coop, ""


def read_senders_file(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=";")
        missing = [c for c in COLUMNS[:4] if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(
                f"{path.name}: mancano le colonne {', '.join(missing)} "
                f"(attese: {';'.join(COLUMNS)})"
            )
        return [
            {str(k).strip(): (v or "").strip() for k, v in row.items() if k is not None}
            for row in reader
        ]


def _sender_of_row(row: dict[str, str]) -> Sender:
    spellings = tuple(s.strip() for s in row.get("spellings", "").split("|") if s.strip())
    display = row.get("display_name") or row["sender_id"]
    return Sender(
        feed=row["feed"],
        sender_id=row["sender_id"],
        display_name=display,
        spellings=(display, *spellings) if spellings else (),
        district=row.get("district") or None,
        consortium=row.get("consortium") or None,
        extra={k: v for k, v in row.items() if k not in COLUMNS},
    )


def load_senders(reference_dir: Path | None = None) -> SenderList:
    """The default list, extended and overridden by the steward's ``reference/senders.csv``."""
    rows: dict[tuple[str, str], dict[str, str]] = {}
    sources = [DEFAULT_FILE]
    if reference_dir is not None and (reference_dir / STEWARD_FILE).is_file():
        sources.append(reference_dir / STEWARD_FILE)
    for path in sources:
        for row in read_senders_file(path):
            if row.get("feed") and row.get("sender_id"):
                rows[(row["feed"], row["sender_id"])] = row
    senders = [s for s in (_sender_of_row(row) for row in rows.values()) if s.spellings]
    ids = {(s.feed, s.sender_id) for s in senders if s.sends_files}
    for s in senders:
        if s.consortium is not None and (s.feed, s.consortium) not in ids:
            log.warning(
                "elenco dei mittenti: '%s' (flusso %s) indica il consorzio '%s', che non è "
                "nell'elenco: le sue righe saranno scartate",
                s.sender_id,
                s.feed,
                s.consortium,
            )
    return SenderList(senders)
