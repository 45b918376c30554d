"""Print layout: margins that leave room for the footer, tables kept on one page.

Pages are printed fit to width (``fitToWidth=1``, ``fitToHeight=0``), so the scale is
the printable width over the sheet's width, and a page holds the printable height over
that scale. Row heights are counted as the workbook sets them (15 points unless
taller), which is at least what Excel and LibreOffice draw, so a break is never late.
A table that would cross a page starts on a new one when it fits on one page; a longer
table starts on a new page when fewer than its heading and a few rows would be left.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string
from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.worksheet import Worksheet

#: inches; the footer sits ``FOOTER`` from the paper's edge, inside the bottom margin
TOP, BOTTOM, HEADER, FOOTER, SIDE = 0.75, 0.9, 0.3, 0.35, 0.5
A4_LONG, A4_SHORT = 842.0, 595.0  # points
DEFAULT_ROW = 15.0  # points
MIN_ROWS_AFTER_HEADING = 3


def print_margins(ws: Worksheet) -> None:
    """Margins with the footer fully inside the bottom margin (it was clipped)."""
    m = ws.page_margins
    m.left = m.right = SIDE
    m.top, m.bottom, m.header, m.footer = TOP, BOTTOM, HEADER, FOOTER
    # every row as tall as Excel draws it (LibreOffice would make them shorter), so the
    # pages are the same in both and the row breaks below fall where they should
    ws.sheet_format.defaultRowHeight = DEFAULT_ROW
    ws.sheet_format.customHeight = True


@dataclass
class Blocks:
    """Tables of one sheet: (first row, last row, rows of heading kept with the body)."""

    items: list[tuple[int, int, int]] = field(default_factory=list)

    def add(self, first: int, last: int, heading: int) -> None:
        self.items.append((first, last, heading))


def _row_height(ws: Worksheet, r: int) -> float:
    h = ws.row_dimensions[r].height if r in ws.row_dimensions else None
    return float(h) if h else DEFAULT_ROW


def _sheet_width_points(ws: Worksheet, last_col: int) -> float:
    total = 0.0
    for c in range(1, last_col + 1):
        dim = ws.column_dimensions.get(get_column_letter(c))
        width = dim.width if dim is not None and dim.width else 8.43
        total += (width * 7 + 5) * 0.75  # characters -> pixels -> points
    for chart in ws._charts:  # a chart sticking out widens the printed area
        anchor = chart.anchor
        if isinstance(anchor, str):
            col = column_index_from_string(coordinate_from_string(anchor)[0]) - 1
        else:
            col = anchor._from.col
        left = sum(
            ((ws.column_dimensions[get_column_letter(c)].width or 8.43) * 7 + 5) * 0.75
            for c in range(1, col + 1)
        )
        total = max(total, left + chart.width / 2.54 * 72)
    return total


def page_capacity(ws: Worksheet, title_rows: int, last_col: int) -> float:
    """Points of sheet rows one printed page holds (below the repeated title rows)."""
    landscape = ws.page_setup.orientation == "landscape"
    paper_w, paper_h = (A4_LONG, A4_SHORT) if landscape else (A4_SHORT, A4_LONG)
    m = ws.page_margins
    printable_w = paper_w - 72 * (m.left + m.right)
    printable_h = paper_h - 72 * (m.top + m.bottom)
    scale = min(1.0, printable_w / max(_sheet_width_points(ws, last_col), 1.0))
    titles = sum(_row_height(ws, r) for r in range(1, title_rows + 1))
    return printable_h / scale - titles - DEFAULT_ROW  # a row's slack for rounding


def keep_blocks_on_pages(
    ws: Worksheet, blocks: Blocks, title_rows: int, first_row: int, last_col: int
) -> list[int]:
    """Insert row breaks before tables that would cross a page; returns the rows broken
    after (as openpyxl's ``Break(id=...)``)."""
    capacity = page_capacity(ws, title_rows, last_col)
    breaks: list[int] = []
    used = 0.0
    r = first_row
    for first, last, heading in sorted(blocks.items):
        while r < first:  # rows between tables (the charts, blank rows)
            used += _row_height(ws, r)
            if used > capacity:
                used = _row_height(ws, r)
            r += 1
        height = sum(_row_height(ws, x) for x in range(first, last + 1))
        head = sum(_row_height(ws, x) for x in range(first, min(last, first + heading) + 1))
        head += MIN_ROWS_AFTER_HEADING * DEFAULT_ROW
        fits_here = used + height <= capacity
        fits_a_page = height <= capacity
        if used > 0 and not fits_here and (fits_a_page or used + head > capacity):
            breaks.append(first - 1)
            used = 0.0
        for x in range(first, last + 1):
            used += _row_height(ws, x)
            if used > capacity:  # a long table runs over: the printer breaks here
                used = _row_height(ws, x)
        r = last + 1
    for b in breaks:
        ws.row_breaks.append(Break(id=b))
    return breaks
