"""The walk of one partner file through the door.

read → find the header → classify rows → parse values → validate (Pandera) →
pseudonymise → load, with every physical row accounted for in ``ops.ingest_files``
and every problem kept, with its raw value, only in ``ops.rejected_rows`` and the
partner's feedback workbook. Nothing here logs or raises a personal value.
"""

from __future__ import annotations

import datetime as dt
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
from lavoro_debole.ingest.feedback import write_feedback_workbook
from lavoro_debole.ingest.headers import HeaderMatch, find_header, is_skipped_row
from lavoro_debole.ingest.identifiers import employer_columns, person_columns
from lavoro_debole.ingest.reader_worker import ReaderWorker
from lavoro_debole.ingest.readers import DEFAULT_LIMITS, ReadLimits, Sheet, UnreadableFileError
from lavoro_debole.ingest.reference_dates import (
    Coverage,
    coverage_from_name,
    coverage_from_title,
)
from lavoro_debole.ingest.values import (
    clean_text,
    clean_text_then,
    clean_text_value,
    map_distinct,
    parse_dates,
    parse_numbers,
    parse_yes_no,
)
from lavoro_debole.schemas import FEEDS, REASONS, Column, Entity, Feed, fold
from lavoro_debole.schemas import normalise_cf as _normalise_cf
from lavoro_debole.schemas import normalise_piva as _normalise_piva
from lavoro_debole.schemas.servizi_sociali import district_of

log = logging.getLogger(__name__)

IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial")
MULTI_SEPARATORS = re.compile(r"\s*[,;/]\s*|\s+e\s+")


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


def inbox_files(feed_dir: Path) -> list[Path]:
    """Files of one feed in the order they were received (mtime, then name).

    Files still being copied (``.part`` and similar), office lock files (``~$``) and
    hidden files are not partner files yet.
    """
    if not feed_dir.is_dir():
        return []
    files = [
        path
        for path in feed_dir.rglob("*")
        if path.is_file()
        and not path.name.startswith((".", "~$"))
        and not path.name.lower().endswith(IGNORED_SUFFIXES)
    ]
    return sorted(files, key=lambda p: (p.stat().st_mtime, p.relative_to(feed_dir).as_posix()))


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
    """Cells as sent -> typed values; unparseable cells become problems and nulls."""
    invalid: pd.Series | None = None
    kind = column.kind
    if kind == "date":
        parsed, invalid = parse_dates(raw)
        bad_kind = "date_invalid"
    elif kind in ("number", "integer"):
        parsed, invalid = parse_numbers(raw)
        bad_kind = "number_invalid"
        if kind == "integer":
            fractional = parsed.notna() & (parsed % 1 != 0)
            invalid = invalid | fractional
            parsed = parsed.where(~fractional).astype("Int64")
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


# --------------------------------------------------------------------------- context


def _strip_legal_form(text: str) -> str:
    folded = fold(text)
    for suffix in (
        "societa cooperativa sociale onlus",
        "societa cooperativa sociale",
        "cooperativa sociale onlus",
        "cooperativa sociale",
        "soc coop sociale",
        "soc coop soc",
        "scs",
        "onlus",
    ):
        folded = folded.replace(suffix, " ")
    return re.sub(r"\s+", " ", folded).strip()


def _split_camel(stem: str) -> str:
    words = re.sub(r"([a-z])([A-Z])", r"\1 \2", stem.replace("_", " ").replace("-", " "))
    return re.sub(r"\s+", " ", words).strip()


def cooperative_from_context(file_name: str, titles: list[str], known: list[str]) -> str | None:
    """The cooperative a single-coop file comes from: its title row, else its file name.

    A name from the steward's list of cooperatives is preferred so that the same
    cooperative is spelled alike across its files.
    """
    haystacks = [fold(t) for t in titles] + [fold(_split_camel(Path(file_name).stem))]
    haystacks.append(fold(Path(file_name).stem).replace(" ", ""))
    for name in known:
        core = _strip_legal_form(name)
        if core and any(core in h or core.replace(" ", "") in h for h in haystacks):
            return name
    for title in titles:
        head = re.split(r"\s+[-–:|]\s+", title)[0].strip()
        if head and not re.fullmatch(r"[\d\W]+", head):
            return head
    stem = re.sub(r"[_\-\s]*\d{4}.*$", "", Path(file_name).stem)
    words = re.sub(
        r"\b(inserimenti|lavoratori|elenco|report)\b", "", _split_camel(stem), flags=re.I
    )
    words = re.sub(r"\s+", " ", words).strip()
    return words or None


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


class FileIngestor:
    """Ingests the files of one feed into an open DuckDB connection."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        feed: Feed,
        *,
        key: bytes,
        feedback_dir: Path,
        known_cooperatives: list[str] | None = None,
        limits: ReadLimits = DEFAULT_LIMITS,
    ) -> None:
        self.con = con
        self.feed = feed
        self.key = key
        self.feedback_dir = feedback_dir
        self.known_cooperatives = known_cooperatives or []
        self.limits = limits
        self._read_ahead: _ReadAhead | None = None
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
        new_files = []
        for path in inbox_files(feed_dir):
            file_name = path.relative_to(feed_dir).as_posix()
            sha = sha256_of(path)
            if not store.known_file(self.con, self.feed.name, file_name, sha):
                new_files.append((path, file_name, sha))
        outcomes = []
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
        return outcomes

    def ingest_file(self, path: Path, file_name: str) -> FileOutcome | None:
        """Ingest one file; None when this very file was already processed."""
        sha = sha256_of(path)
        if store.known_file(self.con, self.feed.name, file_name, sha):
            return None
        with _collector_paused():
            return self._ingest_new_file(path, file_name, sha)

    def _ingest_new_file(self, path: Path, file_name: str, sha: str) -> FileOutcome:
        outcome = FileOutcome(self.feed.name, file_name, sha, status="loaded")
        outcome.received_seq = store.next_received_seq(self.con)
        earlier = store.known_content(self.con, sha)
        if earlier is not None:
            # Not loaded again, but still a file received for the period its name states
            # (completeness, Q1): an unchanged quarterly re-extraction is a real sending.
            outcome.status = "duplicate"
            outcome.sender = earlier[1]
            self._apply_coverage(outcome, coverage_from_name(Path(file_name).name))
            outcome.error = f"stesso contenuto del file già ricevuto '{earlier[0]}': non ricaricato"
            self._record(outcome, [], [])
            log.info("%s: %s is a duplicate of an earlier file", self.feed.name, file_name)
            return outcome
        try:
            frames, problems_rows = self._read_and_validate(path, file_name, outcome)
        except FileRefused as refused:
            outcome.status = "rejected"
            outcome.error = str(refused)
            self._record(outcome, [], [])
            log.warning("%s: file %s refused: %s", self.feed.name, file_name, refused)
            return outcome
        if problems_rows:
            outcome.feedback_file = write_feedback_workbook(
                self.feedback_dir / self.feed.name, file_name, sha, problems_rows
            ).name
        self._record(outcome, frames, problems_rows)
        log.info(
            "%s: %s loaded %d rows, rejected %d, skipped %d",
            self.feed.name,
            file_name,
            outcome.rows_loaded,
            outcome.rows_rejected,
            outcome.rows_skipped,
        )
        return outcome

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
                where = f"foglio '{part.sheet.name}', " if part.sheet.name else ""
                raise FileRefused(
                    f"{where}riga {part.header.row_index + 1}: manca la colonna obbligatoria "
                    + ", ".join(f"'{m}'" for m in missing)
                )
        titles = _title_texts(chosen[0].sheet.rows, chosen[0].header.row_index)
        coverage = coverage_from_title(titles) or coverage_from_name(Path(file_name).name)
        self._apply_coverage(outcome, coverage)
        outcome.sender, context = self._sender_and_context(file_name, titles, chosen)
        outcome.sheets_read = ", ".join(p.sheet.name or "(csv)" for p in chosen)
        outcome.sheets_ignored = ", ".join(ignored) or None

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

    def _sender_and_context(
        self, file_name: str, titles: list[str], chosen: list[_SheetRows]
    ) -> tuple[str, dict[str, str]]:
        if self.feed.name == "servizi_sociali":
            found = district_of(Path(file_name).stem)
            for title in titles:
                if found is not None:
                    break
                found = district_of(title)
            if found is None:
                raise FileRefused(
                    "distretto non riconoscibile: il nome del file o la riga del titolo devono "
                    "nominare Lodi, Casalpusterlengo, Sant'Angelo Lodigiano o il Comune di Lodi"
                )
            district, sender = found
            return sender, {"district": district}
        if self.feed.name == "cooperative":
            has_column = all("cooperative" in part.header.columns for part in chosen)
            name = cooperative_from_context(file_name, titles, self.known_cooperatives)
            if has_column:
                return (name or "Consorzio"), {}
            if name is None:
                raise FileRefused(
                    "cooperativa non riconoscibile: manca la colonna 'Cooperativa' e il titolo o "
                    "il nome del file non la nominano"
                )
            return name, {"cooperative": name}
        return self.feed.default_sender, {}

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
                parsed[col.name] = _parse_column(raw[col.name], col, problems)
            else:
                parsed[col.name] = pd.Series([None] * len(raw), index=raw.index, dtype=object)
        for name, value in context.items():
            if name not in raw.columns or parsed[name].isna().all():
                parsed[name] = value
        _validate(parsed, entity, problems)

        headers_as_sent = {
            name: _cell_text(sheet.rows[header.row_index][col]).strip()
            for name, col in header.columns.items()
        }
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
                    "sheet": sheet.name,
                    "row_number": row_numbers[problem.index],
                    "column_name": header_text,
                    "severity": problem.severity,
                    "reason": self._reason(problem, entity, headers_as_sent),
                    "value": None if value is None else _cell_text(value),
                }
            )
        # A warning drops the offending value; the row still loads.
        for problem in problems:
            if problem.severity == "warning" and problem.index not in rejected_index:
                parsed.at[problem.index, problem.column] = None
        outcome.rows_warned += len(warned_index - rejected_index)

        good = parsed.drop(index=sorted(rejected_index))
        good = self._to_raw(
            good, entity, sheet, file_name, outcome, [row_numbers[i] for i in good.index]
        )
        return good, len(rejected_index)

    def _reason(self, problem: Problem, entity: Entity, headers: dict[str, str]) -> str:
        reason = REASONS.get(problem.kind, problem.kind)
        if problem.kind == "vocabulary":
            allowed = ", ".join(entity.column(problem.column).vocabulary)
            reason = f"{reason}; valori ammessi: {allowed}"
        elif problem.kind == "date_order":
            start = headers.get(problem.detail) or entity.column(problem.detail).headers[0]
            reason = f"{reason} ('{start}')"
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
                "file_name": file_name,
                "sheet": sheet.name,
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
        """Write the file's rows, its problems and its log line in one transaction."""
        self.con.execute("begin transaction")
        try:
            for entity, frame in frames:
                store.append_frame(self.con, f"raw.{entity.table}", frame)
            if problem_rows:
                store.append_frame(self.con, "ops.rejected_rows", pd.DataFrame(problem_rows))
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
    known_cooperatives: list[str] | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> list[FileOutcome]:
    """Ingest every new file of one feed; returns what happened to each."""
    feed = FEEDS[feed_name]
    with FileIngestor(
        con,
        feed,
        key=key,
        feedback_dir=feedback_dir,
        known_cooperatives=known_cooperatives,
        limits=limits,
    ) as ingestor:
        return ingestor.ingest_dir(inbox_dir / feed_name)
