"""The walk of one partner file through the door.

read → find the header → classify rows → parse values → validate (Pandera) →
pseudonymise → load, with every physical row accounted for in ``ops.ingest_files``
and every problem kept, with its raw value, only in the encrypted vault
(``vault.rejected_rows``) and the partner's feedback workbook. Nothing here logs or
raises a personal value.
"""

from __future__ import annotations

import datetime as dt
import errno
import gc
import hashlib
import logging
import re
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pandera.pandas as pa

from lavoro_debole.ingest import store
from lavoro_debole.ingest.feedback import write_feedback_workbook, write_refusal_workbook
from lavoro_debole.ingest.headers import HeaderMatch, find_header, is_skipped_row
from lavoro_debole.ingest.identifiers import employer_columns, person_columns
from lavoro_debole.ingest.inbox import LINK_REASON, Link, walk_feed_dir
from lavoro_debole.ingest.keys import ensure_key
from lavoro_debole.ingest.personal import (
    _PARTICLES,
    CF,
    EMAIL,
    PHONE,
    mask_personal,
    name_tokens,
    personal_kind,
)
from lavoro_debole.ingest.reader_worker import ReaderWorker
from lavoro_debole.ingest.readers import DEFAULT_LIMITS, ReadLimits, Sheet, UnreadableFileError
from lavoro_debole.ingest.reference_dates import (
    Coverage,
    coverage_from_name,
    coverage_from_title,
)
from lavoro_debole.ingest.senders import Sender, SenderList, SenderNotFound, load_senders
from lavoro_debole.ingest.values import (
    clean_text,
    clean_text_then,
    clean_text_value,
    map_distinct,
    parse_dates,
    parse_numbers,
    parse_yes_no,
    safe_file_name,
    unusable_cells,
    visible_text,
)
from lavoro_debole.schemas import FEEDS, REASONS, Column, ContextRefused, Entity, Feed, fold
from lavoro_debole.schemas import normalise_cf as _normalise_cf
from lavoro_debole.schemas import normalise_piva as _normalise_piva

log = logging.getLogger(__name__)

MULTI_SEPARATORS = re.compile(r"\s*[,;/]\s*|\s+e\s+")
INTEGER_RANGE = (-(2**31), 2**31 - 1)
"""What an ``integer`` column holds (``store.KIND_TYPES``: INTEGER)."""
ENVIRONMENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    MemoryError,
    duckdb.IOException,
    duckdb.OutOfMemoryException,
    duckdb.FatalException,
    duckdb.InterruptException,
)
"""Failures of the machine, not of the file (a full disk, no memory): the run stops
and the file is not recorded, so that the next run takes it again."""
_FEEDBACK_FAILURES = {
    errno.ENOSPC: "spazio su disco esaurito",
    errno.EDQUOT: "quota del disco esaurita",
    errno.EACCES: "permesso negato sulla cartella dei riepiloghi",
    errno.EPERM: "permesso negato sulla cartella dei riepiloghi",
    errno.EROFS: "cartella dei riepiloghi in sola lettura",
}


@dataclass
class Problem:
    """One failing (row, column, rule), with the value as sent (restricted)."""

    index: int
    column: str
    kind: str
    severity: str = "error"
    detail: str = ""


@dataclass
class FileOutcome:
    """One row of ``ops.ingest_files``: counts only, never a personal value."""

    feed: str
    file_name: str
    file_sha256: str
    status: str
    rows_data: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_warned: int = 0
    rows_skipped: int = 0
    error: str | None = None
    reference_date: dt.date | None = None
    coverage_start: dt.date | None = None
    coverage_end: dt.date | None = None
    sender: str | None = None
    received_seq: int = 0
    received_at: dt.datetime = field(default_factory=dt.datetime.now)
    sheets_read: str | None = None
    sheets_ignored: str | None = None
    feedback_file: str | None = None
    file_modified_at: dt.datetime | None = None
    """When the file was saved in the inbox (its mtime): Q1 judges timeliness on it."""


class FileRefused(Exception):
    """The whole file cannot be loaded; the message is safe to show (no values)."""


@dataclass
class _SheetRows:
    sheet: Sheet
    entity: Entity
    header: HeaderMatch
    data_rows: list[int]
    skipped: int


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _modified_at(path: Path) -> dt.datetime | None:
    """The file's modification time as a local timestamp (None when it cannot be read)."""
    try:
        return dt.datetime.fromtimestamp(path.lstat().st_mtime)
    except (OSError, OverflowError, ValueError):
        return None


def inbox_files(feed_dir: Path) -> list[Path]:
    """Files of one feed in the order they were received (mtime, then name).

    The walk is :func:`lavoro_debole.ingest.inbox.walk_feed_dir`: symbolic links are not
    followed, hidden files and folders, office lock files and partial downloads are not
    partner files (yet); visible subfolders are read.
    """
    return walk_feed_dir(feed_dir).files


# --------------------------------------------------------------------------- reading


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _title_texts(rows: list[list[object]], header_row: int) -> list[str]:
    return [
        text for row in rows[:header_row] for text in (_cell_text(c).strip() for c in row) if text
    ]


def _choose_entity(feed: Feed, sheet: Sheet) -> tuple[Entity, HeaderMatch] | None:
    """The entity whose headers this sheet matches best (Corsi vs Iscritti)."""
    best: tuple[int, Entity, HeaderMatch] | None = None
    for entity in feed.entities:
        match = find_header(sheet.rows, entity.header_variants)
        if match is None:
            continue
        score = len(match.columns)
        # Prefer the entity that explains more of the header; ties go to the one
        # with more of its own required columns present.
        required = sum(1 for name in entity.required_columns if name in match.columns)
        key = score * 100 + required
        if best is None or key > best[0]:
            best = (key, entity, match)
    return None if best is None else (best[1], best[2])


def _classify_rows(sheet: Sheet, entity: Entity, header: HeaderMatch) -> _SheetRows:
    rownum_columns = {
        index for name, index in header.columns.items() if entity.column(name).kind == "rownum"
    }
    data_rows: list[int] = []
    skipped = header.row_index + 1  # title rows and the header row itself
    rows = sheet.rows
    for index in range(header.row_index + 1, len(rows)):
        if is_skipped_row(rows[index], rownum_columns):
            skipped += 1
        else:
            data_rows.append(index)
    return _SheetRows(sheet, entity, header, data_rows, skipped)


def _raw_frame(
    sheet: Sheet, entity: Entity, header: HeaderMatch, data_rows: list[int]
) -> pd.DataFrame:
    """The stored columns of the data rows, cells as sent (object dtype)."""
    rows = sheet.rows
    width = max((len(r) for r in rows), default=0)
    stored = [
        (name, col)
        for name, col in header.columns.items()
        if col < width and entity.column(name).stored
    ]
    data = [rows[i] for i in data_rows]
    if data and all(len(row) == width for row in data):
        # Readers give rows of one width: one 2-D object array, then its columns.
        grid = np.array(data, dtype=object)
        raw = pd.DataFrame(
            grid[:, [col for _, col in stored]], columns=[name for name, _ in stored], dtype=object
        )
    else:
        raw = pd.DataFrame(
            {name: [row[col] if col < len(row) else None for row in data] for name, col in stored},
            dtype=object,
        )
    raw.index = pd.RangeIndex(len(data_rows))
    return raw


# --------------------------------------------------------------------------- parsing


def _first_upper(text: str) -> str:
    return text[0].upper() + text[1:]


def _piva_of_cell(value: object) -> str | None:
    """A P.IVA cell as sent -> its normalised text (numbers regain their leading zeros)."""
    if isinstance(value, int | float):
        value = _normalise_piva(value)
    return _normalise_piva(clean_text_value(value))


def _map_vocab(raw: pd.Series, column: Column) -> pd.Series:
    """Each variant to its canonical value; an unknown text stays as sent (and fails)."""
    index = column.variants_index()
    return clean_text_then(raw, lambda text: index.get(fold(text), text))


def _map_multi(raw: pd.Series, column: Column) -> pd.Series:
    index = column.variants_index()
    order = list(column.vocabulary)

    def canonical(text: str) -> str:
        items = [item for item in MULTI_SEPARATORS.split(text) if item.strip()]
        mapped = [index.get(fold(item)) for item in items]
        if any(m is None for m in mapped):
            return text  # fails the vocabulary check with the partner's own text
        return ",".join(v for v in order if v in mapped)

    return clean_text_then(raw, canonical)


def _parse_column(raw: pd.Series, column: Column, problems: list[Problem]) -> pd.Series:
    """Cells as sent -> typed values; unparseable cells become problems and nulls.

    A text that cannot be stored as sent (control characters, odd Unicode, overlong)
    is a problem of its own, whatever the column's kind, and is parsed as a null.
    """
    unusable = unusable_cells(raw)
    unusable_mask = unusable.notna()
    if bool(unusable_mask.any()):
        for index, reason_key in unusable[unusable_mask].items():
            problems.append(Problem(int(index), column.name, reason_key, column.on_invalid))
        raw = raw.where(~unusable_mask, None)
    invalid: pd.Series | None = None
    kind = column.kind
    if kind == "date":
        parsed, invalid = parse_dates(raw)
        bad_kind = "date_invalid"
    elif kind in ("number", "integer"):
        parsed, invalid = parse_numbers(raw)
        bad_kind = "number_invalid"
        infinite = np.isinf(parsed.to_numpy())
        if infinite.any():
            invalid = invalid | infinite
            parsed = parsed.where(~infinite)
        if kind == "integer":
            fractional = parsed.notna() & (parsed % 1 != 0)
            invalid = invalid | fractional
            low, high = INTEGER_RANGE
            outside = parsed.notna() & ~fractional & ((parsed < low) | (parsed > high))
            for index in outside[outside].index:
                problems.append(
                    Problem(int(index), column.name, "integer_out_of_range", column.on_invalid)
                )
            parsed = parsed.where(~(fractional | outside)).astype("Int64")
    elif kind == "yesno":
        parsed, invalid = parse_yes_no(raw)
        bad_kind = "yesno_invalid"
    elif kind == "cf":
        parsed = clean_text_then(raw, _normalise_cf)
    elif kind in ("piva", "employer_code"):
        parsed = map_distinct(raw, _piva_of_cell)
    elif kind == "vocab":
        parsed = _map_vocab(raw, column)
    elif kind == "multi":
        parsed = _map_multi(raw, column)
    elif kind == "label":
        parsed = clean_text_then(raw, _first_upper)
    else:
        parsed = clean_text(raw)
    if invalid is not None and bool(invalid.any()):
        for index in invalid[invalid].index:
            problems.append(Problem(int(index), column.name, bad_kind, column.on_invalid))
    return parsed


_SCHEMAS: dict[str, pa.DataFrameSchema] = {}


def _schema_of(entity: Entity) -> pa.DataFrameSchema:
    """Each entity's Pandera schema, built once per process (not once per file)."""
    if entity.table not in _SCHEMAS:
        _SCHEMAS[entity.table] = entity.pandera_schema()
    return _SCHEMAS[entity.table]


def _validate(frame: pd.DataFrame, entity: Entity, problems: list[Problem]) -> None:
    """Run the entity's Pandera schema lazily and turn failure cases into problems."""
    already = {(p.index, p.column) for p in problems}
    try:
        _schema_of(entity).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        for case in cases.itertuples(index=False):
            check = str(case.check)
            index = case.index
            if index is None or (isinstance(index, float) and pd.isna(index)):
                continue
            index = int(index)
            if check.startswith("date_order:"):
                _, end, start = check.split(":")
                if case.column != end:
                    continue
                problems.append(Problem(index, end, "date_order", detail=start))
                continue
            column_name = str(case.column)
            if (index, column_name) in already:
                continue
            kind = "missing" if check == "not_nullable" else check
            severity = "error"
            if column_name in {c.name for c in entity.columns}:
                severity = entity.column(column_name).on_invalid
            problems.append(Problem(index, column_name, kind, severity))


# --------------------------------------------------------------------------- screening

SCREENED_KINDS = frozenset({"label", "text", "vocab", "multi"})
"""Kinds of kept column whose cells are screened for personal values."""
NAME_GROUPS = {
    "surname": "person",
    "first_name": "person",
    "full_name": "person",
    "worker_name": "person",
    "student_name": "person",
    "social_worker": "staff",
    "volunteer": "staff",
    "contact_person": "contact",
}
"""Dropped columns that name a person; surname and first name together are one person."""
NAME = "name"
PERSONAL_REASON = "dato personale in una colonna descrittiva: "
PERSONAL_WHAT = {
    CF: "sembra un codice fiscale",
    PHONE: "sembra un numero di telefono",
    EMAIL: "sembra un indirizzo e-mail",
    NAME: "contiene il nome della persona della riga",
}


class _RowNames:
    """The persons a row's dropped name columns name, as folded words, read on demand."""

    def __init__(self, part: _SheetRows, columns: dict[str, int]) -> None:
        groups: dict[str, list[int]] = {}
        for name, index in columns.items():
            groups.setdefault(NAME_GROUPS[name], []).append(index)
        self._groups = list(groups.values())
        self._rows = part.sheet.rows
        self._data_rows = part.data_rows
        self._cache: dict[int, list[frozenset[str]]] = {}

    @classmethod
    def of(cls, part: _SheetRows) -> _RowNames | None:
        columns = {
            name: index
            for name, index in part.header.columns.items()
            if name in NAME_GROUPS and part.entity.column(name).kind == "drop"
        }
        return cls(part, columns) if columns else None

    def named_in(self, index: int, words: set[str]) -> bool:
        """True when ``words`` (a cell's folded words) hold two words of a person's name."""
        people = self._cache.get(index)
        if people is None:
            row = self._rows[self._data_rows[index]]
            if not self._may_name(row, words):
                return False
            people = [
                tokens
                for indices in self._groups
                if len(tokens := name_tokens(row[i] for i in indices if i < len(row))) >= 2
            ]
            self._cache[index] = people
        return any(len(words & person) >= 2 for person in people)

    def _may_name(self, row: list[object], words: set[str]) -> bool:
        """False only when no person of ``row`` can hold two of ``words``: the check of
        most rows, without folding their names.

        A name's words (:func:`name_tokens`) are words of three letters or more that are
        not particles; for a plain ASCII cell they are its runs of letters and digits,
        lower-cased, so each is a substring of the lower-cased cell. Fewer than two such
        words of ``words`` in the row's name cells: no person can match. A cell that is
        not plain ASCII text (accents fold away) is always checked in full.
        """
        candidates = [w for w in words if len(w) >= 3 and w not in _PARTICLES]
        if len(candidates) < 2:
            return False
        texts = []
        for indices in self._groups:
            for i in indices:
                if i >= len(row):
                    continue
                cell = row[i]
                if cell is None or isinstance(cell, bool | int | float):
                    continue  # never a word of a name (name_tokens skips them)
                if type(cell) is not str or not cell.isascii():
                    return True
                texts.append(cell.lower())
        hay = "\x00".join(texts)
        return sum(1 for w in candidates if w in hay) >= 2


# --------------------------------------------------------------------------- the file


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while files are processed (one, or a feed's).

    A big file's grid is millions of cell objects and none of them is cyclic, yet the
    collector would walk them all again at each full collection (~6% of an ingest's
    time); they are freed by reference counting when the file is done. The collector
    is switched back on (if it was on) afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _ReadAhead:
    """Reads the next file in the reader worker while the current one is processed.

    The worker (a separate process with memory and time limits, see
    :mod:`~lavoro_debole.ingest.reader_worker`) parses file n+1 while this process
    validates, pseudonymises and loads file n; a helper thread waits for its answer
    and unpickles it. One file ahead only: memory holds at most two files' cells.
    The worker ends with the feed (``with``), also on an exception.
    """

    def __init__(self, limits: ReadLimits = DEFAULT_LIMITS) -> None:
        self._worker = ReaderWorker(limits)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lavoro-read")
        self._pending: dict[Path, Future[list[Sheet]]] = {}

    def __enter__(self) -> _ReadAhead:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for future in self._pending.values():
            future.cancel()
        self._executor.shutdown(wait=True)
        self._worker.close()

    def start(self, path: Path) -> None:
        if path not in self._pending:
            self._pending[path] = self._executor.submit(self._worker.read, path)

    def sheets(self, path: Path) -> list[Sheet]:
        """The file's sheets: read ahead if it was started, else read now."""
        future = self._pending.pop(path, None)
        if future is None:
            future = self._executor.submit(self._worker.read, path)
        return future.result()


def _where_in(sheet: Sheet, entity: Entity, header: HeaderMatch, column: str | None) -> str:
    """'foglio …, colonna …' as the partner names them, safe to show."""
    parts = [] if sheet.name is None else [f"foglio '{visible_text(sheet.name, 100)}'"]
    if column is not None:
        sent = header.columns.get(column)
        text = "" if sent is None else _cell_text(sheet.rows[header.row_index][sent]).strip()
        parts.append(f"colonna '{visible_text(text or entity.column(column).headers[0], 100)}'")
    return ", ".join(parts)


class FileIngestor:
    """Ingests the files of one feed into an open DuckDB connection."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        feed: Feed,
        *,
        key: bytes,
        feedback_dir: Path,
        senders: SenderList | None = None,
        inbox_dir: Path | None = None,
        limits: ReadLimits = DEFAULT_LIMITS,
    ) -> None:
        """Refuses (:class:`~lavoro_debole.ingest.keys.WrongKeyError`) before writing
        anything when ``key`` is not the one the warehouse was built with; ``inbox_dir``
        lets a warehouse older than the key's fingerprint be verified from its files."""
        ensure_key(con, key, inbox_dir)
        self.con = con
        self.feed = feed
        self.key = key
        self.feedback_dir = feedback_dir
        self.senders = senders if senders is not None else load_senders()
        self._sender: Sender | None = None
        self._read_ahead: _ReadAhead | None = None
        self._where: str | None = None
        """Where the walk is (sheet, column), for the reason of an unexpected failure."""
        self.limits = limits
        self._worker: ReaderWorker | None = None
        store.ensure_tables(con, feed.entities)

    def __enter__(self) -> FileIngestor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """End the reader worker that :meth:`ingest_file` started, if any."""
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    def ingest_dir(self, feed_dir: Path) -> list[FileOutcome]:
        """Ingest the feed's new files in the order they were received.

        While one file is validated and loaded, the next one is read in the reader
        worker (see :class:`_ReadAhead`); the warehouse is written from this thread only.
        """
        listing = walk_feed_dir(feed_dir)
        links = [
            outcome
            for link in listing.links
            if (outcome := self._refuse_link(link, link.path.relative_to(feed_dir).as_posix()))
        ]
        new_files = []
        outcomes = []
        for path in listing.files:
            file_name = safe_file_name(path.relative_to(feed_dir).as_posix())
            try:
                sha = sha256_of(path)
            except OSError as exc:
                outcomes.append(self._unreadable(file_name, exc))
                continue
            if not store.known_file(self.con, self.feed.name, file_name, sha):
                new_files.append((path, file_name, sha))
        with (
            store.one_checkpoint(self.con),
            _collector_paused(),
            _ReadAhead(self.limits) as ahead,
        ):
            self._read_ahead = ahead
            try:
                if new_files and store.known_content(self.con, new_files[0][2]) is None:
                    ahead.start(new_files[0][0])
                for index, (path, file_name, sha) in enumerate(new_files):
                    if index + 1 < len(new_files):
                        next_path, _, next_sha = new_files[index + 1]
                        if store.known_content(self.con, next_sha) is None:
                            ahead.start(next_path)
                    outcomes.append(self._ingest_new_file(path, file_name, sha))
            finally:
                self._read_ahead = None
        return links + outcomes

    def _refuse_link(self, link: Link, file_name: str) -> FileOutcome | None:
        """A new symbolic link is recorded as refused; its target is never read."""
        sha = link.marker_sha256
        if store.known_file(self.con, self.feed.name, file_name, sha):
            return None
        outcome = FileOutcome(self.feed.name, file_name, sha, status="rejected", error=LINK_REASON)
        outcome.received_seq = store.next_received_seq(self.con)
        self._record(outcome, [], [])
        log.warning(
            "%s: %s è un collegamento simbolico: non letto",
            self.feed.name,
            mask_personal(file_name),
        )
        return outcome

    def _unreadable(self, file_name: str, exc: OSError) -> FileOutcome:
        """A file that cannot even be opened (no permission): said, not recorded, so
        that the next run tries it again; the other files go on."""
        failure = type(exc).__name__
        log.warning(
            "%s: file %s cannot be opened (%s): tried again next run",
            self.feed.name,
            mask_personal(file_name),
            failure,
        )
        return FileOutcome(
            self.feed.name,
            file_name,
            "",
            status="rejected",
            error=f"file non apribile ({failure}): sarà riprovato alla prossima elaborazione",
        )

    def ingest_file(self, path: Path, file_name: str) -> FileOutcome | None:
        """Ingest one file; None when this very file was already processed.

        A symbolic link is never followed: it is recorded as refused, as in a folder walk.
        """
        file_name = safe_file_name(file_name)
        if path.is_symlink():
            return self._refuse_link(Link(path, path.lstat().st_mtime), file_name)
        sha = sha256_of(path)
        if store.known_file(self.con, self.feed.name, file_name, sha):
            return None
        with _collector_paused():
            return self._ingest_new_file(path, file_name, sha)

    def _ingest_new_file(self, path: Path, file_name: str, sha: str) -> FileOutcome:
        """The walk of one new file; whatever a library raises on its content becomes a
        refused file (never an exception, never the library's text), and the walk goes
        on with the next file. A failure of the machine (:data:`ENVIRONMENT_ERRORS`)
        stops the run without recording the file."""
        self._where = None
        try:
            return self._walk_new_file(path, file_name, sha)
        except ENVIRONMENT_ERRORS:
            raise
        except Exception as exc:
            failure = type(exc).__name__
        # Outside the except block: nothing raised from here on carries the library's
        # exception (and its text) as context.
        return self._refuse_after_failure(file_name, sha, failure)

    def _refuse_after_failure(self, file_name: str, sha: str, failure: str) -> FileOutcome:
        where = f" ({self._where})" if self._where else ""
        outcome = FileOutcome(self.feed.name, file_name, sha, status="rejected")
        outcome.received_seq = store.next_received_seq(self.con)
        outcome.error = (
            f"errore imprevisto durante l'elaborazione del file{where}, di tipo {failure}: "
            "il file non è stato caricato; segnalarlo al responsabile tecnico"
        )
        self._record(outcome, [], [])
        log.error(
            "%s: file %s refused after an unexpected %s%s",
            self.feed.name,
            file_name,
            failure,
            where,
        )
        return outcome

    def _walk_new_file(self, path: Path, file_name: str, sha: str) -> FileOutcome:
        outcome = FileOutcome(self.feed.name, file_name, sha, status="loaded")
        outcome.received_seq = store.next_received_seq(self.con)
        outcome.file_modified_at = _modified_at(path)
        earlier = store.known_content(self.con, sha)
        if earlier is not None:
            # Not loaded again, but still a file received for the period its name states
            # (completeness, Q1): an unchanged quarterly re-extraction is a real sending.
            outcome.status = "duplicate"
            outcome.sender = earlier[1]
            self._apply_coverage(outcome, coverage_from_name(Path(file_name).name))
            outcome.error = (
                f"stesso contenuto del file già ricevuto '{mask_personal(earlier[0])}': "
                "non ricaricato"
            )
            self._record(outcome, [], [])
            log.info(
                "%s: %s is a duplicate of an earlier file", self.feed.name, mask_personal(file_name)
            )
            return outcome
        try:
            frames, problems_rows = self._read_and_validate(path, file_name, outcome)
        except FileRefused as refused:
            outcome.status = "rejected"
            outcome.error = str(refused)
            if outcome.reference_date is None:
                # the period its name states: a later file of that period replaces it
                self._apply_coverage(outcome, coverage_from_name(Path(file_name).name))
            self._record(outcome, [], [])
            self._write_feedback(outcome, [], refusal=outcome.error)
            log.warning(
                "%s: file %s refused: %s", self.feed.name, mask_personal(file_name), refused
            )
            return outcome
        self._where = "registrazione nel magazzino"
        self._record(outcome, frames, problems_rows)
        self._where = None
        if problems_rows:
            # After the file is recorded: a feedback that cannot be written never makes
            # the file come back at every run.
            self._write_feedback(outcome, problems_rows)
        log.info(
            "%s: %s loaded %d rows, rejected %d, skipped %d",
            self.feed.name,
            mask_personal(file_name),
            outcome.rows_loaded,
            outcome.rows_rejected,
            outcome.rows_skipped,
        )
        return outcome

    def _write_feedback(
        self,
        outcome: FileOutcome,
        problem_rows: list[dict[str, object]],
        refusal: str | None = None,
    ) -> None:
        """The partner's workbook (its rejected rows, or the reason its whole file was
        refused); a failure (a full disk) is reported, without values, in the file's log
        line and ``ops.ingest_files.error``, and the run goes on."""
        try:
            if refusal is not None:
                path = write_refusal_workbook(
                    self.feedback_dir / self.feed.name,
                    outcome.file_name,
                    outcome.file_sha256,
                    refusal,
                )
            else:
                path = write_feedback_workbook(
                    self.feedback_dir / self.feed.name,
                    outcome.file_name,
                    outcome.file_sha256,
                    problem_rows,
                )
        except Exception as exc:
            failure = _FEEDBACK_FAILURES.get(getattr(exc, "errno", None), type(exc).__name__)
            if refusal is not None:
                outcome.error = f"{refusal}; riepilogo per il partner non scritto ({failure})"
            else:
                outcome.error = (
                    f"riepilogo per il partner non scritto ({failure}): le righe scartate sono "
                    "registrate nel deposito riservato (vault.rejected_rows)"
                )
            log.error(
                "%s: feedback for %s not written (%s)",
                self.feed.name,
                mask_personal(outcome.file_name),
                failure,
            )
        else:
            outcome.feedback_file = path.name
        # The file is recorded already: a failure to note this never records it twice.
        try:
            store.set_feedback(
                self.con,
                outcome.file_sha256,
                outcome.received_seq,
                outcome.feedback_file,
                outcome.error,
            )
        except duckdb.Error as exc:
            log.error(
                "%s: the feedback of %s could not be noted in ops.ingest_files (%s)",
                self.feed.name,
                mask_personal(outcome.file_name),
                type(exc).__name__,
            )

    # ------------------------------------------------------------------ internals

    def _read_and_validate(
        self, path: Path, file_name: str, outcome: FileOutcome
    ) -> tuple[list[tuple[Entity, pd.DataFrame]], list[dict[str, object]]]:
        try:
            sheets = self._read(path)
        except UnreadableFileError as exc:
            reason = str(exc)
            if not reason.startswith("file rifiutato:"):  # over a limit: says so itself
                reason = f"file illeggibile: {reason}"
            raise FileRefused(reason) from None
        notes = [note for sheet in sheets for note in sheet.notes]
        if notes:
            outcome.error = "avviso: " + "; ".join(dict.fromkeys(notes))
            log.warning("%s: %s: %s", self.feed.name, file_name, outcome.error)
        chosen: list[_SheetRows] = []
        ignored: list[str] = []
        for sheet in sheets:
            match = None if sheet.hidden else _choose_entity(self.feed, sheet)
            if match is None:
                ignored.append(sheet.name or "(csv)")
                continue
            chosen.append(_classify_rows(sheet, *match))
        if not chosen:
            expected = ", ".join(
                col.headers[0]
                for entity in self.feed.entities
                for col in entity.columns
                if col.required
            )
            raise FileRefused(
                "nessun foglio con un'intestazione riconoscibile per questo flusso "
                f"(colonne attese, tra le altre: {expected})"
            )
        for part in chosen:
            missing = [
                part.entity.column(name).headers[0]
                for name in part.entity.required_columns
                if name not in part.header.columns
            ]
            if missing:
                where = (
                    f"foglio '{visible_text(mask_personal(part.sheet.name), 100)}', "
                    if part.sheet.name
                    else ""
                )
                raise FileRefused(
                    f"{where}riga {part.header.row_index + 1}: manca la colonna obbligatoria "
                    + ", ".join(f"'{m}'" for m in missing)
                )
        titles = _title_texts(chosen[0].sheet.rows, chosen[0].header.row_index)
        coverage = coverage_from_title(titles) or coverage_from_name(Path(file_name).name)
        self._apply_coverage(outcome, coverage)
        outcome.sender, context = self._sender_and_context(file_name, titles)
        outcome.sheets_read = visible_text(
            ", ".join(mask_personal(p.sheet.name or "(csv)") for p in chosen)
        )
        outcome.sheets_ignored = visible_text(", ".join(mask_personal(n) for n in ignored)) or None

        frames: list[tuple[Entity, pd.DataFrame]] = []
        problem_rows: list[dict[str, object]] = []
        for part in chosen:
            outcome.rows_skipped += part.skipped
            outcome.rows_data += len(part.data_rows)
            frame, rejected = self._process_sheet(part, outcome, file_name, context, problem_rows)
            frames.append((part.entity, frame))
            outcome.rows_loaded += len(frame)
            outcome.rows_rejected += rejected
        return frames, problem_rows

    def _read(self, path: Path) -> list[Sheet]:
        """The file's sheets, always read in a worker process (never in this one)."""
        if self._read_ahead is not None:
            return self._read_ahead.sheets(path)
        if self._worker is None:
            self._worker = ReaderWorker(self.limits)
        return self._worker.read(path)

    def _apply_coverage(self, outcome: FileOutcome, coverage: Coverage | None) -> None:
        if coverage is None:
            return
        outcome.reference_date = coverage.reference_date
        outcome.coverage_start = coverage.start
        outcome.coverage_end = coverage.end

    def _sender_and_context(self, file_name: str, titles: list[str]) -> tuple[str, dict[str, str]]:
        """The file's sender from the senders' list, and the columns it fills (the feed's
        context hook, :attr:`~lavoro_debole.schemas.Feed.context`).

        Never from free text: a file whose name and title rows name no listed sender of
        its feed (or two) is refused, saying which list to extend.
        """
        try:
            sender = self.senders.sender_of_file(self.feed.name, file_name, titles)
        except SenderNotFound as refused:
            raise FileRefused(str(refused)) from None
        self._sender = sender
        context: dict[str, str] = {}
        if self.feed.context is not None:
            try:
                context = dict(self.feed.context(sender, self.senders.of_feed(self.feed.name)))
            except ContextRefused as refused:
                raise FileRefused(str(refused)) from None
        return sender.display_name, context

    def _process_sheet(
        self,
        part: _SheetRows,
        outcome: FileOutcome,
        file_name: str,
        context: dict[str, str],
        problem_rows: list[dict[str, object]],
    ) -> tuple[pd.DataFrame, int]:
        entity, sheet, header = part.entity, part.sheet, part.header
        raw = _raw_frame(sheet, entity, header, part.data_rows)
        row_numbers = [index + 1 for index in part.data_rows]
        problems: list[Problem] = []
        parsed = pd.DataFrame(index=raw.index)
        for col in entity.columns:
            if not col.stored:
                continue
            if col.name in raw.columns:
                self._where = _where_in(sheet, entity, header, col.name)
                parsed[col.name] = _parse_column(raw[col.name], col, problems)
            else:
                parsed[col.name] = pd.Series([None] * len(raw), index=raw.index, dtype=object)
        for name, value in context.items():
            if name not in raw.columns or parsed[name].isna().all():
                parsed[name] = value
        self._where = _where_in(sheet, entity, header, None)
        self._screen(part, raw, parsed, problems)
        _validate(parsed, entity, problems)

        headers_as_sent = {
            name: visible_text(_cell_text(sheet.rows[header.row_index][col]).strip(), 200)
            for name, col in header.columns.items()
        }
        sheet_name = None if sheet.name is None else visible_text(sheet.name, 200)
        rejected_index: set[int] = set()
        warned_index: set[int] = set()
        for problem in problems:
            if problem.severity == "error":
                rejected_index.add(problem.index)
            else:
                warned_index.add(problem.index)
        declared = {c.name: c for c in entity.columns}
        for problem in sorted(problems, key=lambda p: (p.index, p.column)):
            header_text = headers_as_sent.get(problem.column) or (
                declared[problem.column].headers[0]
                if problem.column in declared
                else problem.column
            )
            value = raw.at[problem.index, problem.column] if problem.column in raw.columns else None
            problem_rows.append(
                {
                    "feed": self.feed.name,
                    "file_sha256": outcome.file_sha256,
                    "file_name": file_name,
                    "sheet": sheet_name,
                    "row_number": row_numbers[problem.index],
                    "column_name": header_text,
                    "severity": problem.severity,
                    "reason": self._reason(problem, entity, headers_as_sent),
                    "value": None if value is None else visible_text(_cell_text(value)),
                }
            )
        # A warning drops the offending value; the row still loads.
        for problem in problems:
            if problem.severity == "warning" and problem.index not in rejected_index:
                parsed.at[problem.index, problem.column] = None
        outcome.rows_warned += len(warned_index - rejected_index)

        good = parsed.drop(index=sorted(rejected_index))
        self._where = _where_in(sheet, entity, header, None)
        good = self._to_raw(
            good, entity, sheet, file_name, outcome, [row_numbers[i] for i in good.index]
        )
        return good, len(rejected_index)

    def _screen(
        self, part: _SheetRows, raw: pd.DataFrame, parsed: pd.DataFrame, problems: list[Problem]
    ) -> None:
        """What parsed but must not pass the door: the second step after parsing.

        A consortium file's ``Cooperativa`` cells must each name a cooperative of the
        senders' list that this sender sends (the cell becomes its display name, else
        the row is rejected). Every kept label and free-text cell is screened for a
        personal value (a CF, a phone number, an e-mail address, or the name of the
        person of the same row from its dropped name columns): the value is dropped
        from the row and kept only with the problem (rejected rows, feedback); the row
        is warned or rejected as the column's ``on_invalid`` says.
        """
        entity = part.entity
        matched = self.feed.sender_column
        if matched is not None and matched in entity.context_columns and matched in raw.columns:
            self._match_cooperatives(parsed, matched, problems)
        columns = [
            col
            for col in entity.columns
            if col.kind in SCREENED_KINDS
            and col.name in raw.columns
            and col.name not in entity.context_columns
        ]
        if not columns or parsed.empty:
            return
        names = _RowNames.of(part)
        flagged: list[tuple[int, Column, str]] = []
        for col in columns:
            values = parsed[col.name].to_numpy(dtype=object)
            present = ~pd.isna(values)
            if not present.any():
                continue
            kinds = {v: personal_kind(str(v)) for v in pd.unique(values[present])}
            # Only a cell of two words or more can hold a name (surname and name).
            words = {}
            if names is not None:
                words = {
                    v: w
                    for v, k in kinds.items()
                    if k is None and len(w := set(fold(str(v)).split())) >= 2
                }
            if all(k is None for k in kinds.values()) and not words:
                continue  # the usual case: nothing to look at row by row
            for index in np.flatnonzero(present):
                value = values[index]
                kind = kinds[value]
                if kind is not None:
                    flagged.append((int(index), col, kind))
                elif (
                    value in words
                    and names is not None
                    and names.named_in(int(index), words[value])
                ):
                    flagged.append((int(index), col, NAME))
        for index, col, kind in flagged:
            parsed.at[index, col.name] = None
            problems.append(
                Problem(
                    index,
                    col.name,
                    "personal_value",
                    col.on_invalid,
                    detail=PERSONAL_REASON + PERSONAL_WHAT[kind],
                )
            )

    def _match_cooperatives(
        self, parsed: pd.DataFrame, column: str, problems: list[Problem]
    ) -> None:
        """Each ``Cooperativa`` cell to the display name of a listed cooperative, or a problem."""
        assert self._sender is not None
        values = parsed[column]
        present = values[values.notna()]
        verdicts = {
            v: self.senders.cooperative_of_cell(str(v), self._sender)
            for v in pd.unique(present.to_numpy(dtype=object))
        }
        for index, value in present.items():
            coop, reason = verdicts[value]
            if coop is None:
                parsed.at[index, column] = None
                problems.append(Problem(int(index), column, "cooperative_unlisted", detail=reason))
            else:
                parsed.at[index, column] = coop.display_name

    def _reason(self, problem: Problem, entity: Entity, headers: dict[str, str]) -> str:
        reason = REASONS.get(problem.kind, problem.kind)
        if problem.kind == "vocabulary":
            allowed = ", ".join(entity.column(problem.column).vocabulary)
            reason = f"{reason}; valori ammessi: {allowed}"
        elif problem.kind == "date_order":
            start = headers.get(problem.detail) or entity.column(problem.detail).headers[0]
            reason = f"{reason} ('{start}')"
        elif problem.kind in ("personal_value", "cooperative_unlisted"):
            reason = problem.detail
        elif problem.kind == "missing" and problem.column in entity.context_columns:
            reason = "nome non indicato nella colonna, nel titolo o nel nome del file"
        if problem.severity == "warning":
            reason += "; il valore è stato ignorato e la riga caricata"
        return reason

    def _to_raw(
        self,
        good: pd.DataFrame,
        entity: Entity,
        sheet: Sheet,
        file_name: str,
        outcome: FileOutcome,
        row_numbers: list[int],
    ) -> pd.DataFrame:
        """Pseudonymise and add lineage: the frame as ``raw.<table>`` stores it."""
        good = good.reset_index(drop=True)
        out = pd.DataFrame(
            {
                "file_sha256": outcome.file_sha256,
                # Lineage past the door: the names with their personal-looking parts masked
                # (the file's key is its sha256; the name as received stays in ops).
                "file_name": mask_personal(file_name),
                "sheet": None if sheet.name is None else mask_personal(sheet.name),
                "row_number": pd.Series(row_numbers, dtype="int64"),
                "reference_date": outcome.reference_date,
                "received_seq": outcome.received_seq,
                "sender": outcome.sender,
            },
            index=good.index,
        )
        if entity.derive is not None and not good.empty:
            good = entity.derive(good)
        for name in entity.context_columns:
            out[name] = good[name] if name in good.columns else None
        for col in entity.columns:
            if not col.stored or col.name in entity.context_columns:
                continue
            if col.kind == "cf":
                out = out.join(person_columns(good[col.name], self.key))
            elif col.kind == "employer_code":
                out = out.join(employer_columns(good[col.name], self.key))
            else:
                out[col.name] = good[col.name]
        for name in entity.derived_columns:
            out[name] = good[name] if name in good.columns else None
        return out

    def _record(
        self,
        outcome: FileOutcome,
        frames: list[tuple[Entity, pd.DataFrame]],
        problem_rows: list[dict[str, object]],
    ) -> None:
        """Write the file's problems to the vault, then its rows and its log line to the
        warehouse in one transaction.

        DuckDB writes one attached database per transaction, so the vault's rows are
        committed first: a crash before the warehouse's commit leaves only vault rows of a
        file the warehouse does not know, which the rerun of that file replaces.
        """
        if outcome.status != "duplicate":  # a duplicate's sha is its original's
            store.replace_rejected_rows(self.con, outcome.file_sha256, pd.DataFrame(problem_rows))
        self.con.execute("begin transaction")
        try:
            for entity, frame in frames:
                store.append_frame(self.con, f"raw.{entity.table}", frame)
            store.append_frame(self.con, "ops.ingest_files", pd.DataFrame([asdict(outcome)]))
            self.con.execute("commit")
        except Exception:
            self.con.execute("rollback")
            raise


def ingest_feed(
    con: duckdb.DuckDBPyConnection,
    feed_name: str,
    inbox_dir: Path,
    *,
    key: bytes,
    feedback_dir: Path,
    senders: SenderList | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> list[FileOutcome]:
    """Ingest every new file of one feed; returns what happened to each.

    ``senders``: the senders' list (:func:`~lavoro_debole.ingest.senders.load_senders`);
    the project's default when not given.
    """
    feed = FEEDS[feed_name]
    with FileIngestor(
        con,
        feed,
        key=key,
        feedback_dir=feedback_dir,
        senders=senders,
        inbox_dir=inbox_dir,
        limits=limits,
    ) as ingestor:
        return ingestor.ingest_dir(inbox_dir / feed_name)
