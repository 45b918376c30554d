"""Find the header row of a sheet and map its cells to a feed's canonical columns.

Partners put title rows above the header, spell headers their own way
(``Codice Fiscale``, ``Cod. Fiscale``, ``C.F.``, ``CF``), break lines inside header
cells and reorder or add columns. A header cell matches a canonical column when its
folded form equals the folded form of one of the spellings seen for that column.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from lavoro_debole.ingest.readers import Cell
from lavoro_debole.ingest.values import is_error_token, normalise_token


@dataclass(frozen=True)
class HeaderMatch:
    """Where the header is and which column holds which canonical field.

    ``unknown`` lists the columns whose header text matched no known spelling, or
    repeated a canonical column already matched further left: both are ignored and
    never stored.
    """

    row_index: int
    columns: dict[str, int]
    unknown: list[int]


def header_key(text: str) -> str:
    """The key two header spellings must share to match.

    Spaces are removed after folding, so ``C. F.``, ``C.F.`` and ``CF`` or
    ``Cod.Fiscale`` and ``Cod. Fiscale`` meet.
    """
    return normalise_token(text).replace(" ", "")


def _cell_text(cell: Cell) -> str | None:
    if cell is None or isinstance(cell, bool):
        return None
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    text = str(cell).strip()
    return text or None


def _build_lookup(variants: Mapping[str, Sequence[str]]) -> dict[str, str]:
    lookup: dict[str, str] = {}
    for canonical, spellings in variants.items():
        for spelling in spellings:
            lookup.setdefault(header_key(spelling), canonical)
    lookup.pop("", None)
    return lookup


def _match_row(row: Sequence[Cell], lookup: Mapping[str, str]) -> HeaderMatch:
    columns: dict[str, int] = {}
    unknown: list[int] = []
    for index, cell in enumerate(row):
        text = _cell_text(cell)
        if text is None:
            continue
        canonical = lookup.get(header_key(text))
        if canonical is None or canonical in columns:
            unknown.append(index)
        else:
            columns[canonical] = index
    return HeaderMatch(row_index=-1, columns=columns, unknown=unknown)


def find_header(
    rows: list[list[Cell]],
    variants: Mapping[str, Sequence[str]],
    *,
    min_matches: int = 3,
    max_scan: int = 30,
) -> HeaderMatch | None:
    """Find the header among the first ``max_scan`` rows.

    The header is the first row matching the most distinct canonical columns, if that
    is at least ``min_matches``; a title row that happens to contain one known word
    does not win.
    """
    lookup = _build_lookup(variants)
    best: HeaderMatch | None = None
    for row_index, row in enumerate(rows[:max_scan]):
        match = _match_row(row, lookup)
        score = len(match.columns)
        if score >= min_matches and (best is None or score > len(best.columns)):
            best = HeaderMatch(row_index=row_index, columns=match.columns, unknown=match.unknown)
    return best


def _is_blank_cell(cell: Cell) -> bool:
    if cell is None:
        return True
    if isinstance(cell, str):
        stripped = cell.replace("\xa0", " ").strip()
        return not stripped or is_error_token(stripped)
    return False


def is_blank_row(row: Sequence[Cell], ignore: Collection[int] = frozenset()) -> bool:
    """True when every cell is blank after trimming (errors count as blank), except ``ignore``.

    ``ignore`` holds e.g. the ``N.`` column: a row numbered but otherwise empty is blank.
    """
    return all(_is_blank_cell(cell) for index, cell in enumerate(row) if index not in ignore)


def is_total_row(row: Sequence[Cell]) -> bool:
    """True when the first non-blank cell is text starting with ``Totale`` (any case)."""
    for cell in row:
        if _is_blank_cell(cell):
            continue
        return isinstance(cell, str) and cell.replace("\xa0", " ").strip().casefold().startswith(
            "totale"
        )
    return False


def is_skipped_row(row: Sequence[Cell], ignore: Collection[int] = frozenset()) -> bool:
    """``is_blank_row(row, ignore) or is_total_row(row)`` in one pass over the row.

    The pass stops at the first non-blank cell outside ``ignore`` (usually the first
    cell): rows below the header can number 100,000s.
    """
    first = True
    for index, cell in enumerate(row):
        if cell is None:
            continue
        if isinstance(cell, str):
            # Error values never hold a space, so NBSP need not be turned into one.
            stripped = cell.strip()
            if not stripped or is_error_token(stripped):
                continue
            if first and stripped.casefold().startswith("totale"):
                return True
        first = False
        if index not in ignore:
            return False
    return True
