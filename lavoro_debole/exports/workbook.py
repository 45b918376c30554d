"""The funder workbook: a cover, one sheet per indicator family, notes.

It only lays out what the published (disclosure-controlled) table says. Safety rules
enforced here, whatever the data hold: every text cell is typed as a string (a
category starting with ``=``, ``+``, ``-`` or ``@`` stays text, never a formula), no
formula anywhere, no hidden sheet, no external link, no personal value (the input has
none: only aggregated, suppressed figures and labels). The file is written to a
temporary name beside the target and moved into place, so a reader never sees half a
workbook.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.chart.text import RichText, Text
from openpyxl.chart.title import Title
from openpyxl.drawing.text import (
    CharacterProperties,
    Paragraph,
    ParagraphProperties,
    RegularTextRun,
)
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

from lavoro_debole.exports import headline as hl
from lavoro_debole.exports.atomic import atomic_write
from lavoro_debole.exports.catalogue import (
    BREAKDOWN_LABELS,
    FEED_NAMES,
    GROUPS,
    HEADLINES,
    INDICATORS,
    TOTAL,
    group_of,
    indicator_info,
)
from lavoro_debole.exports.charts import CHART_ROWS, ChartPlan, add_charts, chart_plan
from lavoro_debole.exports.layout import Blocks, keep_blocks_on_pages, print_margins
from lavoro_debole.exports.names import category_label
from lavoro_debole.exports.targets import NOT_DUE, Baseline, Target, target_rows
from lavoro_debole.periods import Quarter, is_quarter

PROGRAMME = "Il lavoro debole – Rete provinciale di Lodi"
SUPPRESSED = "c"
NOT_COMPUTABLE = "–"
NOT_YET = "n.o."
REVISED_MARK = " r"
UNRELIABLE_MARK = " u"
"""Beside a rate whose denominator is below :data:`RELIABLE_DENOMINATOR`."""
RELIABLE_DENOMINATOR = 20
"""Beside a value that an earlier release showed differently (as Eurostat's ``r``)."""

FONT_NAME = "Calibri"
FMT_COUNT = "#,##0"
FMT_ONE_DECIMAL = "0.0"

_BLUE = "1F4E79"
_TITLE_FILL = PatternFill("solid", fgColor="DDEBF7")
_HEAD_FILL = PatternFill("solid", fgColor="F2F2F2")
_TOTAL_FILL = PatternFill("solid", fgColor="FAFAFA")
_THIN = Side(style="thin", color="BFBFBF")
_HEAD_BORDER = Border(bottom=Side(style="thin", color="7F7F7F"))
_BLOCK_BORDER = Border(top=_THIN)
_RIGHT = Alignment(horizontal="right", vertical="bottom")
_WRAP = Alignment(wrap_text=True, vertical="top")
_INDENT_WRAP = Alignment(indent=1, wrap_text=True, vertical="bottom")
CATEGORY_CHARS = 30  # characters of a category label that fit in column B

NOTE_LAST_COL = 10  # notes text spans columns A..J
NOTE_TEXT_CHARS = 150  # characters that fit across them


def _in_sentence(label: str) -> str:
    """A label inside a sentence: its first letter small ('Agevolazione L. 193/2000' ->
    'agevolazione L. 193/2000', not 'l. 193/2000'); an acronym stays as it is."""
    first = label.split(" ", 1)[0]
    return label if first.isupper() else label[:1].lower() + label[1:]


_COVER_TEXT_CHARS = 46
"""What a line of the cover's column B (42 wide) holds of wrapped text (measured in
LibreOffice with Carlito, Calibri's metrics: about 50), with room to spare."""
_HEADLINE_WIDTHS = {7: 14, 8: 14, 9: 12, 10: 14, 11: 14}
_FMT_CHANGE_COUNT = "+#,##0;-#,##0;0"
_FMT_CHANGE_DAYS = "+0.0;-0.0;0.0"
_FMT_PP = '+0.0" p.p.";-0.0" p.p.";0.0" p.p."'
_STATE_TEXT = {
    hl.HIDDEN: SUPPRESSED,
    hl.NOT_COMPUTABLE: NOT_COMPUTABLE,
    hl.NOT_YET: NOT_YET,
    hl.MISSING: "n.d.",
    NOT_DUE: "in corso",
}
TARGET_NOTES = (
    "% raggiunta: con una baseline, (valore raggiunto − baseline) / (obiettivo − baseline) "
    "× 100, cioè la parte del percorso dalla baseline all'obiettivo già compiuta; senza "
    "baseline, valore raggiunto / obiettivo × 100. Per le percentuali obiettivo, valore e "
    "baseline sono in percentuale.",
    f"Se il valore raggiunto è riservato («{SUPPRESSED}») anche la % raggiunta lo è: si "
    "calcola dal valore e lo rivelerebbe. «in corso»: il periodo dell'obiettivo non è "
    "ancora terminato.",
)


def _lines(text: str, chars: int) -> int:
    """Lines a wrapped text needs in a column ``chars`` characters wide: wrapped at word
    boundaries as Excel and LibreOffice do, so a row is never shorter than its text."""
    width = max(chars, 1)
    return max(1, sum(len(textwrap.wrap(part, width)) or 1 for part in text.split("\n")))


#: (indicator_id, period, breakdown, category, field) -> (sheet title, cell coordinate)
CellMap = dict[tuple[str, str, str, str, str], tuple[str, str]]


@dataclass(frozen=True)
class WorkbookContext:
    """What the cover says about the workbook."""

    funder_title: str
    quarter: str
    periods: tuple[str, ...]
    cutoff: dt.date
    generated: dt.datetime
    k: int
    indicators: tuple[str, ...]
    breakdowns: tuple[str, ...]
    #: cells this release shows differently from an earlier release of the profile
    revisions: tuple[Revision, ...] = ()
    #: (indicator, breakdown) whose categories do not add up to the total in the data
    non_additive: frozenset[tuple[str, str]] = frozenset()
    #: indicator -> what the workbook says in its place when nothing in it is publishable
    empty: dict[str, str] = field(default_factory=dict)
    #: the cover's headline indicators (``lavoro_debole.exports.headline``)
    headline: tuple[str, ...] = ()
    #: the profile's targets and baselines (sheet Obiettivi)
    targets: tuple[Target, ...] = ()
    baselines: tuple[Baseline, ...] = ()


@dataclass(frozen=True)
class Revision:
    """A cell shown again with another value or suppression, for the sheet Revisioni."""

    indicator_id: str
    period: str
    breakdown: str
    category: str
    previous: str  # as the earlier release showed it ('c' when hidden)
    current: str
    released: str  # which release showed the previous state
    reason: str


@dataclass(frozen=True)
class SourceRow:
    """One expected sender on the cover: Q1 of the quarter (files owed, received, on time)."""

    feed: str
    sender: str
    owed: int
    received: int
    state: str
    on_time: str


def _whole(value: object) -> int:
    """A count from the mart (float, int or null) as a whole number; null is 0."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or pd.isna(value):
        return 0
    return int(value)


@dataclass
class WorkbookLayout:
    """Where each published figure went, for tests and for anyone checking the file."""

    path: Path
    cells: CellMap = field(default_factory=dict)
    sheets: list[str] = field(default_factory=list)
    charts: int = 0
    #: the cover's headline figures and the sheet Obiettivi, by (indicator, period,
    #: field): on the cover 'value', 'ci_low', 'ci_high', 'change' or 'beyond' (the
    #: change to that period); in Obiettivi 'target', 'baseline', 'actual', 'reached'
    cover_cells: dict[tuple[str, str, str], tuple[str, str]] = field(default_factory=dict)


def _chart_title(text: str) -> Title:
    """A chart title in 11-point bold (the default is too large for a small chart)."""
    props = CharacterProperties(sz=1100, b=True, solidFill=_BLUE)
    para = Paragraph(pPr=ParagraphProperties(defRPr=props), r=[RegularTextRun(rPr=props, t=text)])
    return Title(tx=Text(rich=RichText(p=[para])), overlay=False)


def period_label(period: str) -> str:
    """'2024-Q3' -> 'T3 2024'; '2024' -> 'Anno 2024'."""
    if is_quarter(period):
        quarter = Quarter.parse(period)
        return f"T{quarter.q} {quarter.year}"
    return f"Anno {period}"


def quarter_title(quarter: str) -> str:
    parsed = Quarter.parse(quarter)
    months = {
        1: "gennaio–marzo",
        2: "aprile–giugno",
        3: "luglio–settembre",
        4: "ottobre–dicembre",
    }[parsed.q]
    return f"{parsed.q}° trimestre {parsed.year} ({months})"


def _clean(text: object) -> str:
    return ILLEGAL_CHARACTERS_RE.sub("", str(text))


def put(ws: Worksheet, row: int, col: int, value: object, **style: object) -> Cell:
    """Write one cell; text is always typed as a string, so it can never be a formula."""
    cell = ws.cell(row=row, column=col)
    if value is None:
        cell.value = None
    elif isinstance(value, str):
        cell.value = _clean(value)
        cell.data_type = "s"
    elif isinstance(value, bool | np.bool_):
        cell.value = "Sì" if value else "No"
        cell.data_type = "s"
    elif isinstance(value, dt.datetime | dt.date):
        cell.value = value
    else:
        cell.value = float(value) if isinstance(value, np.floating) else value
    font = style.get("font")
    if isinstance(font, Font) and font.name is None:
        # a font without a name prints in the reader's default (a serif in LibreOffice)
        style = style | {
            "font": Font(name=FONT_NAME, sz=font.sz, b=font.b, i=font.i, color=font.color)
        }
    for name, v in style.items():
        setattr(cell, name, v)
    return cell


def _print_ready(ws: Worksheet, title_rows: str | None, widths: dict[int, float]) -> None:
    for col, width in widths.items():
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    print_margins(ws)
    if title_rows:
        ws.print_title_rows = title_rows
    ws.oddFooter.center.text = "&P / &N"
    ws.oddFooter.left.text = PROGRAMME
    ws.sheet_view.showGridLines = False


class _Writer:
    def __init__(self, published: pd.DataFrame, context: WorkbookContext, path: Path) -> None:
        self.df = published
        self.ctx = context
        self.layout = WorkbookLayout(path=path)
        self.blocks: dict[str, Blocks] = {}
        self.wb = Workbook()
        self.wb.properties.creator = "lavoro-debole"
        self.wb.properties.title = f"{PROGRAMME} – {context.quarter}"
        self.revised = {
            (r.indicator_id, r.period, r.breakdown, r.category) for r in context.revisions
        }
        self.rows = {
            tuple(r[:4]): r
            for r in published[
                [
                    "indicator_id",
                    "period",
                    "breakdown",
                    "category",
                    "value",
                    "numerator",
                    "denominator",
                    "ci_low",
                    "ci_high",
                    "suppressed",
                ]
            ].itertuples(index=False, name=None)
        }

    # -- helpers -----------------------------------------------------------------

    def _record(self, ws: Worksheet, key: tuple, fld: str, cell: Cell) -> None:
        self.layout.cells[(*key, fld)] = (ws.title, cell.coordinate)

    def _categories(self, indicator: str, breakdown: str) -> list[str]:
        sel = self.df[(self.df["indicator_id"] == indicator) & (self.df["breakdown"] == breakdown)]
        if "category_order" in sel.columns:
            sel = sel.sort_values(["category_order", "category"], kind="stable")
        return list(dict.fromkeys(sel["category"].astype(str)))

    def _breakdowns(self, indicator: str) -> list[str]:
        """The profile's breakdowns of an indicator; quality indicators show all theirs."""
        present = set(self.df.loc[self.df["indicator_id"] == indicator, "breakdown"])
        order = list(INDICATORS[indicator].breakdowns) if indicator in INDICATORS else []
        order += sorted(present - set(order) - {TOTAL})
        wanted = set(self.ctx.breakdowns) if not indicator.startswith("Q") else present
        return [b for b in order if b in present and b in wanted]

    def _figure(
        self, ws: Worksheet, r: int, c: int, key: tuple, fld: str, fmt: str, style: dict
    ) -> Cell:
        row = self.rows.get(key)
        mark = REVISED_MARK if key in self.revised else ""
        if (
            row is not None
            and fld == "value"
            and fmt != FMT_COUNT
            and pd.notna(row[6])
            and 0 < row[6] < RELIABLE_DENOMINATOR
        ):
            mark += UNRELIABLE_MARK
        if row is None:
            cell = put(ws, r, c, NOT_COMPUTABLE, alignment=_RIGHT, **style)
        elif row[9]:
            cell = put(ws, r, c, SUPPRESSED + mark, alignment=_RIGHT, **style)
        else:
            value = row[4 + ["value", "numerator", "denominator", "ci_low", "ci_high"].index(fld)]
            if value is None or pd.isna(value):
                text = NOT_COMPUTABLE
                if key[0] in ("D4", "D5") and pd.isna(row[6]):
                    text = NOT_YET
                cell = put(ws, r, c, text, alignment=_RIGHT, **style)
            else:
                if fld in ("numerator", "denominator") or fmt == FMT_COUNT:
                    value = round(float(value))
                if mark:
                    # the flag beside the value, in the cell's own number format: the cell
                    # stays a number for anyone who computes with it
                    fmt = f'{fmt}"{mark}"'
                cell = put(ws, r, c, value, number_format=fmt, **style)
        self._record(ws, key, fld, cell)
        return cell

    def _title_rows(self, ws: Worksheet, title: str) -> None:
        put(ws, 1, 1, title, font=Font(size=14, bold=True, color=_BLUE))
        put(
            ws,
            2,
            1,
            f"{PROGRAMME} · {self.ctx.funder_title} · {quarter_title(self.ctx.quarter)}",
            font=Font(italic=True, color="595959"),
        )
        put(
            ws,
            3,
            1,
            f"{SUPPRESSED} = dato riservato (tutela delle persone) · {NOT_COMPUTABLE} = non "
            f"calcolabile · {NOT_YET} = non ancora osservabile · IC 95% = intervallo di "
            "confidenza al 95%",
            font=Font(size=9, color="595959"),
        )

    def _table_title(self, ws: Worksheet, r: int, text: str, width: int) -> None:
        for c in range(1, width + 1):
            put(ws, r, c, None, fill=_TITLE_FILL)
        put(ws, r, 1, text, font=Font(bold=True, size=11, color=_BLUE), fill=_TITLE_FILL)

    def _empty_note(self, ws: Worksheet, r: int, indicator: str, width: int) -> int:
        """The plain-words line under the title of an indicator with nothing to show."""
        text = self.ctx.empty.get(indicator)
        if not text:
            return r
        put(ws, r, 1, text, font=Font(italic=True, bold=True, color="9C0006"), alignment=_WRAP)
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=max(width, 6))
        ws.row_dimensions[r].height = 15 * _lines(text, 130)
        return r + 1

    def _block(self, ws: Worksheet, first: int, last: int, heading_rows: int) -> None:
        """A table (title to last row) that should not be split across pages."""
        self.blocks.setdefault(ws.title, Blocks()).add(first, last, heading_rows)

    def _header(self, ws: Worksheet, r: int, labels: Iterable[str], left: int = 2) -> None:
        for c, label in enumerate(labels, start=1):
            put(
                ws,
                r,
                c,
                label,
                font=Font(bold=True),
                fill=_HEAD_FILL,
                border=_HEAD_BORDER,
                alignment=Alignment(horizontal="left" if c <= left else "right", wrap_text=True),
            )

    # -- tables ------------------------------------------------------------------

    def _count_table(self, ws: Worksheet, r: int, indicator: str) -> int:
        info = indicator_info(indicator)
        periods = self.ctx.periods
        fmt = FMT_ONE_DECIMAL if info.kind == "median" else FMT_COUNT
        unit = " (giorni)" if info.kind == "median" else ""
        first = r
        self._table_title(ws, r, f"{indicator} · {info.name}{unit}", 2 + len(periods))
        r = self._empty_note(ws, r + 1, indicator, 2 + len(periods))
        self._header(ws, r, ["Disaggregazione", "Categoria", *map(period_label, periods)])
        r += 1
        heading = r - first
        bold = {"font": Font(bold=True)}
        put(ws, r, 1, "Totale", fill=_TOTAL_FILL, **bold)
        put(ws, r, 2, None, fill=_TOTAL_FILL)
        for j, p in enumerate(periods):
            self._figure(
                ws,
                r,
                3 + j,
                (indicator, p, TOTAL, TOTAL),
                "value",
                fmt,
                {"fill": _TOTAL_FILL, **bold},
            )
        r += 1
        for bd in self._breakdowns(indicator):
            for i, cat in enumerate(self._categories(indicator, bd)):
                border = {"border": _BLOCK_BORDER} if i == 0 else {}
                put(ws, r, 1, BREAKDOWN_LABELS.get(bd, bd) if i == 0 else None, **border)
                put(ws, r, 2, category_label(bd, cat), alignment=_INDENT_WRAP, **border)
                for j, p in enumerate(periods):
                    self._figure(ws, r, 3 + j, (indicator, p, bd, cat), "value", fmt, border)
                self._tall_enough(ws, r, category_label(bd, cat))
                r += 1
        self._block(ws, first, r - 1, heading + 1)
        return r + 1

    @staticmethod
    def _tall_enough(ws: Worksheet, r: int, label: str) -> None:
        """A long category label (an ATECO section's name) wraps in column B."""
        lines = _lines(label, CATEGORY_CHARS)
        if lines > 1:
            ws.row_dimensions[r].height = max(ws.row_dimensions[r].height or 15, 15 * lines)

    def _rate_table(self, ws: Worksheet, r: int, indicator: str) -> int:
        info = indicator_info(indicator)
        cols = ["%", "Numeratore", "Denominatore", "IC 95% inf.", "IC 95% sup."]
        flds = ["value", "numerator", "denominator", "ci_low", "ci_high"]
        fmts = [FMT_ONE_DECIMAL, FMT_COUNT, FMT_COUNT, FMT_ONE_DECIMAL, FMT_ONE_DECIMAL]
        first = r
        self._table_title(ws, r, f"{indicator} · {info.name}", 3 + len(cols))
        r = self._empty_note(ws, r + 1, indicator, 3 + len(cols))
        self._header(ws, r, ["Disaggregazione", "Categoria", "Periodo", *cols], left=3)
        r += 1
        heading = r - first
        blocks = [(TOTAL, TOTAL)] + [
            (bd, cat)
            for bd in self._breakdowns(indicator)
            for cat in self._categories(indicator, bd)
        ]
        last_bd = None
        for bd, cat in blocks:
            for i, p in enumerate(self.ctx.periods):
                style: dict = {}
                if bd == TOTAL:
                    style["fill"] = _TOTAL_FILL
                if i == 0:
                    style["border"] = _BLOCK_BORDER
                label = BREAKDOWN_LABELS.get(bd, bd) if (i == 0 and bd != last_bd) else None
                put(ws, r, 1, label, font=Font(bold=bd == TOTAL), **style)
                label2 = category_label(bd, cat) if (bd != TOTAL and i == 0) else None
                put(ws, r, 2, label2, alignment=_INDENT_WRAP, **style)
                if label2:
                    self._tall_enough(ws, r, label2)
                put(ws, r, 3, period_label(p), **style)
                for j, (fld, fmt) in enumerate(zip(flds, fmts, strict=True)):
                    self._figure(ws, r, 4 + j, (indicator, p, bd, cat), fld, fmt, style)
                r += 1
            last_bd = bd
        self._block(ws, first, r - 1, heading + len(self.ctx.periods))
        return r + 1

    # -- charts ------------------------------------------------------------------

    def _chart_plan(self, group: str) -> list[ChartPlan]:
        heads = tuple(h for h in HEADLINES.get(group, ()) if h in self.ctx.indicators)
        return chart_plan(self.rows, self.ctx.periods, heads)

    # -- sheets ------------------------------------------------------------------

    def group_sheet(self, group: str) -> None:
        indicators = [i for i in self.ctx.indicators if group_of(i) == group]
        if not indicators:
            return
        ws = self.wb.create_sheet(f"{group} {GROUPS[group]}")
        self.layout.sheets.append(ws.title)
        self._title_rows(ws, f"{group} · {GROUPS[group]}")
        # charts first (their data go at the bottom, filled in after the tables)
        plans = self._chart_plan(group)
        r = 5 + (CHART_ROWS if plans else 0)
        for ind in indicators:
            if indicator_info(ind).kind == "rate":
                r = self._rate_table(ws, r, ind)
            else:
                r = self._count_table(ws, r, ind)
        end = add_charts(ws, plans, r + 1)
        if plans:  # the charts' numbers: a small table, kept together like the others
            self._block(ws, r + 1, end - 2, 3)
        self.layout.charts += len(plans)
        last_col = 2 + max(len(self.ctx.periods), 6)
        widths = {1: 26, 2: 30} | {c: 13 for c in range(3, last_col + 1)}
        _print_ready(ws, "1:3", widths)
        ws.freeze_panes = "C4"
        keep_blocks_on_pages(ws, self.blocks.get(ws.title, Blocks()), 3, 4, last_col)

    def cover(self) -> None:
        ws = self.wb.active
        ws.title = "Copertina"
        self.layout.sheets.insert(0, ws.title)
        put(ws, 1, 1, PROGRAMME, font=Font(size=18, bold=True, color=_BLUE))
        put(
            ws,
            2,
            1,
            "Indicatori di risultato per il finanziatore",
            font=Font(size=12, italic=True, color="595959"),
        )
        ctx = self.ctx
        facts = [
            ("Finanziatore", ctx.funder_title),
            ("Periodo di riferimento", quarter_title(ctx.quarter)),
            ("Periodi mostrati", ", ".join(period_label(p) for p in ctx.periods)),
            ("Dati aggiornati al", ctx.cutoff),
            ("Prodotto il", ctx.generated.date()),
            (
                "Riservatezza",
                f"Le celle che riguardano da 1 a {ctx.k - 1} persone, e quelle da cui "
                f"si potrebbero ricavare, sono indicate con «{SUPPRESSED}» (vedi Note).",
            ),
        ]
        r = 4
        for label, value in facts:
            put(ws, r, 1, label, font=Font(bold=True), alignment=Alignment(vertical="top"))
            cell = put(
                ws,
                r,
                2,
                value,
                alignment=Alignment(horizontal="left", vertical="top", wrap_text=True),
            )
            if isinstance(value, dt.date):
                cell.number_format = "DD/MM/YYYY"
            elif isinstance(value, str):
                ws.row_dimensions[r].height = 15 * _lines(value, _COVER_TEXT_CHARS)
            r += 1
        r = self._headline(ws, r + 1)
        r += 1
        put(ws, r, 1, "Contenuto", font=Font(bold=True, color=_BLUE, size=12))
        r += 1
        for g, title in GROUPS.items():
            inds = [i for i in ctx.indicators if group_of(i) == g]
            if inds:
                put(ws, r, 1, f"{g} {title}", alignment=Alignment(vertical="top"))
                text = ", ".join(f"{i} {INDICATORS[i].name}" for i in inds)
                put(ws, r, 2, text, alignment=_WRAP)
                ws.row_dimensions[r].height = 15 * _lines(text, _COVER_TEXT_CHARS)
                r += 1
        put(ws, r, 1, "Note")
        put(ws, r, 2, "Definizioni, riservatezza dei dati, qualità dei dati", alignment=_WRAP)
        r += 2
        put(
            ws,
            r,
            1,
            "Fonti dei dati e completezza degli invii (indicatore Q1)",
            font=Font(bold=True, color=_BLUE, size=12),
        )
        r += 1
        headers = ["Fonte", "Partner", "File attesi", "File ricevuti", "Completezza", "Puntualità"]
        for c, h in enumerate(headers, start=1):
            put(ws, r, c, h, font=Font(bold=True), fill=_HEAD_FILL, border=_HEAD_BORDER)
        r += 1
        for row in self._sources():
            put(ws, r, 1, row.feed, alignment=_WRAP)
            put(ws, r, 2, row.sender, alignment=_WRAP)
            put(ws, r, 3, row.owed, number_format=FMT_COUNT)
            put(ws, r, 4, row.received, number_format=FMT_COUNT)
            put(ws, r, 5, row.state)
            put(ws, r, 6, row.on_time, alignment=_WRAP)
            lines = max(_lines(row.feed, 30), _lines(row.sender, _COVER_TEXT_CHARS))
            ws.row_dimensions[r].height = 15 * lines
            r += 1
        note = (
            "Per ogni partner dell'elenco dei mittenti attesi: i file dovuti per il trimestre "
            "secondo la sua cadenza (mensile, trimestrale, semestrale, annuale o estrazione "
            "cumulativa), quanti sono arrivati (un file rifiutato per intero non conta) e "
            "quanti entro i giorni concessi (indicatore Q1)."
        )
        put(ws, r, 1, note, alignment=_WRAP)
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=6)
        ws.row_dimensions[r].height = 15 * _lines(note, 120)
        _print_ready(ws, None, {1: 30, 2: 42, 3: 12, 4: 12, 5: 16, 6: 22} | _HEADLINE_WIDTHS)
        ws.page_setup.orientation = "landscape" if self.ctx.headline else "portrait"
        ws.page_setup.fitToHeight = 1  # the first page is one page: the answer at a glance

    # -- the cover's headline figures and the sheet Obiettivi ---------------------

    def _cover_figure(
        self,
        ws: Worksheet,
        r: int,
        c: int,
        fig: hl.Figure,
        ind: str,
        fld: str,
        fmt: str,
        recorded_as: str | None = None,
    ) -> Cell:
        """A headline figure: the published cell's own value, or why it is not shown."""
        key = (ind, fig.period, TOTAL, TOTAL)
        if fig.state != hl.SHOWN:
            cell = put(ws, r, c, _STATE_TEXT[fig.state], alignment=_RIGHT)
        else:
            value = {"value": fig.value, "ci_low": fig.ci_low, "ci_high": fig.ci_high}[fld]
            if value is None:
                cell = put(ws, r, c, NOT_COMPUTABLE, alignment=_RIGHT)
            else:
                row = self.rows.get(key)
                mark = REVISED_MARK if key in self.revised else ""
                small = row is not None and pd.notna(row[6]) and 0 < row[6] < RELIABLE_DENOMINATOR
                if fld == "value" and fmt != FMT_COUNT and small:
                    mark += UNRELIABLE_MARK
                if fmt == FMT_COUNT:
                    value = round(value)
                cell = put(ws, r, c, value, number_format=f'{fmt}"{mark}"' if mark else fmt)
        self.layout.cover_cells[(ind, fig.period, recorded_as or fld)] = (ws.title, cell.coordinate)
        return cell

    def _cover_change(
        self, ws: Worksheet, r: int, c: int, ch: hl.Change, ind: str, kind: str
    ) -> None:
        if ch.state != hl.SHOWN:
            cell = put(ws, r, c, _STATE_TEXT[ch.state], alignment=_RIGHT)
            beyond = None if kind != "rate" else _STATE_TEXT[ch.state]
        else:
            fmt = {"rate": _FMT_PP, "median": _FMT_CHANGE_DAYS}.get(kind, _FMT_CHANGE_COUNT)
            value = int(ch.value) if kind in ("count", "company") else ch.value
            cell = put(ws, r, c, value, number_format=fmt)
            beyond = (
                None
                if kind != "rate"
                else ("–" if ch.beyond_uncertainty is None else ch.beyond_uncertainty)
            )
        self.layout.cover_cells[(ind, ch.against, "change")] = (ws.title, cell.coordinate)
        if beyond is not None:
            bcell = put(ws, r, c + 1, beyond, alignment=Alignment(horizontal="center"))
            self.layout.cover_cells[(ind, ch.against, "beyond")] = (ws.title, bcell.coordinate)

    def _headline(self, ws: Worksheet, r: int) -> int:
        """The quarter's headline figures and their changes; returns the next free row."""
        ctx = self.ctx
        if not ctx.headline:
            return r
        figures = hl.headlines(hl.published_rows(self.df), ctx.headline, ctx.quarter)
        prev, year_ago = hl.comparison_periods(ctx.quarter)
        put(
            ws,
            r,
            1,
            f"In evidenza: {quarter_title(ctx.quarter)}",
            font=Font(bold=True, color=_BLUE, size=12),
        )
        r += 1
        headers = [
            "Codice",
            "Indicatore",
            period_label(ctx.quarter),
            "IC 95% inf.",
            "IC 95% sup.",
            period_label(prev),
            "Variazione",
            "Oltre l'incertezza",
            period_label(year_ago),
            "Variazione",
            "Oltre l'incertezza",
        ]
        self._header(ws, r, headers)
        ws.row_dimensions[r].height = 30  # two lines: "Oltre l'incertezza"
        r += 1
        for h in figures:
            fmt = FMT_COUNT if h.kind in ("count", "company") else FMT_ONE_DECIMAL
            unit = " (giorni)" if h.kind == "median" else ""
            if h.kind == "rate" and "%" not in h.name:
                unit = " (%)"
            put(ws, r, 1, h.indicator_id, font=Font(bold=True))
            put(ws, r, 2, h.name + unit)
            self._cover_figure(ws, r, 3, h.current, h.indicator_id, "value", fmt)
            if h.kind == "rate":
                self._cover_figure(ws, r, 4, h.current, h.indicator_id, "ci_low", FMT_ONE_DECIMAL)
                self._cover_figure(ws, r, 5, h.current, h.indicator_id, "ci_high", FMT_ONE_DECIMAL)
            self._cover_figure(ws, r, 6, h.previous_quarter, h.indicator_id, "value", fmt)
            self._cover_change(ws, r, 7, h.change_quarter, h.indicator_id, h.kind)
            self._cover_figure(ws, r, 9, h.previous_year, h.indicator_id, "value", fmt)
            self._cover_change(ws, r, 10, h.change_year, h.indicator_id, h.kind)
            r += 1
        note = (
            "Variazioni in numero per i conteggi e i giorni, in punti percentuali (p.p.) per "
            f"le percentuali; «{SUPPRESSED}»: riservato (anche la variazione, se uno dei due "
            "valori è riservato); «n.d.»: periodo non presente nei dati. "
            "«Oltre l'incertezza»: vedi Note."
        )
        put(ws, r, 1, note, font=Font(size=9, color="595959"), alignment=_WRAP)
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=len(headers))
        ws.row_dimensions[r].height = 13 * _lines(note, 180)
        if ctx.targets:
            r += 1
            put(ws, r, 1, "Obiettivi del finanziatore: foglio «Obiettivi».", font=Font(italic=True))
        return r + 1

    def targets_sheet(self) -> None:
        """Target, baseline, actual and % reached; % reached hidden with the actual."""
        ctx = self.ctx
        if not ctx.targets:
            return
        ws = self.wb.create_sheet("Obiettivi", 1)
        self.layout.sheets.insert(1, ws.title)
        self._title_rows(ws, "Obiettivi")
        r = 5
        headers = [
            "Codice",
            "Indicatore",
            "Periodo",
            "Obiettivo",
            "Valore raggiunto",
            "% raggiunta",
            "Baseline",
            "Periodo della baseline",
        ]
        self._header(ws, r, headers, left=3)
        ws.row_dimensions[r].height = 30
        r += 1
        rows = target_rows(hl.published_rows(self.df), ctx.targets, ctx.baselines, ctx.quarter)
        for t in rows:
            ind, period = t.target.indicator_id, t.target.period
            kind = indicator_info(ind).kind
            fmt = FMT_COUNT if kind in ("count", "company") else FMT_ONE_DECIMAL
            put(ws, r, 1, ind, font=Font(bold=True))
            put(ws, r, 2, indicator_info(ind).name)
            put(ws, r, 3, period_label(period))
            c = put(ws, r, 4, t.target.value, number_format=fmt)
            self.layout.cover_cells[(ind, period, "target")] = (ws.title, c.coordinate)
            self._cover_figure(ws, r, 5, t.actual, ind, "value", fmt, "actual")
            if t.reached is None:
                c = put(ws, r, 6, _STATE_TEXT.get(t.state, NOT_COMPUTABLE), alignment=_RIGHT)
            else:
                c = put(ws, r, 6, t.reached, number_format='0.0"%"')
            self.layout.cover_cells[(ind, period, "reached")] = (ws.title, c.coordinate)
            if t.baseline is not None:
                c = put(ws, r, 7, t.baseline.value, number_format=fmt)
                self.layout.cover_cells[(ind, period, "baseline")] = (ws.title, c.coordinate)
                put(ws, r, 8, period_label(t.baseline.period), alignment=_RIGHT)
            r += 1
        r += 1
        for line in TARGET_NOTES:
            put(ws, r, 1, line, alignment=_WRAP)
            ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=len(headers))
            ws.row_dimensions[r].height = 15 * _lines(line, 110)
            r += 1
        _print_ready(ws, "5:5", {1: 8, 2: 40, 3: 12, 4: 12, 5: 14, 6: 12, 7: 12, 8: 22})
        ws.page_setup.orientation = "landscape"

    def _sources(self) -> list[SourceRow]:
        """Q1 of the quarter, one row per expected sender, exactly as the mart has it."""
        q1 = self.df[(self.df["indicator_id"] == "Q1") & (self.df["period"] == self.ctx.quarter)]
        on_time = {
            str(cat): num
            for cat, num in q1.loc[
                q1["breakdown"] == "puntualita", ["category", "numerator"]
            ].itertuples(index=False)
        }
        out = []
        rows = q1.loc[q1["breakdown"] == "fonte_mittente"].sort_values("category")
        for cat, num, den in rows[["category", "numerator", "denominator"]].itertuples(index=False):
            feed, _, sender = str(cat).partition("|")
            owed = _whole(den)
            received = _whole(num)
            punctual = _whole(on_time.get(str(cat)))
            if not owed:
                state, timely = "nessun file dovuto", ""
            else:
                state = (
                    "completo"
                    if received == owed
                    else ("mancante" if not received else f"parziale ({received} su {owed})")
                )
                timely = f"{punctual} su {owed} in tempo"
            out.append(SourceRow(FEED_NAMES.get(feed, feed), sender, owed, received, state, timely))
        if not out:
            out.append(SourceRow("(nessun mittente atteso)", "", 0, 0, "", ""))
        return out

    def notes(self) -> None:
        ws = self.wb.create_sheet("Note")
        self.layout.sheets.append(ws.title)
        self._title_rows(ws, "Note")
        r = 5
        put(ws, r, 1, "Definizioni degli indicatori", font=Font(bold=True, color=_BLUE, size=12))
        r += 1
        self._header(ws, r, ["Codice", "Indicatore", "Definizione", *[""] * (NOTE_LAST_COL - 3)])
        r += 1
        for ind in [*self.ctx.indicators, "Q1", "Q2", "Q3"]:
            info = indicator_info(ind)
            put(ws, r, 1, ind, alignment=Alignment(vertical="top"))
            put(ws, r, 2, info.name, alignment=_WRAP)
            self._wrapped(ws, r, 3, info.definition, NOTE_TEXT_CHARS - 56)
            ws.row_dimensions[r].height = max(
                ws.row_dimensions[r].height or 15, 15 * _lines(info.name, 32)
            )
            r += 1
        r += 1
        k = self.ctx.k
        paragraphs = [
            (
                "Riservatezza dei dati",
                [
                    "I dati riguardano poche decine di persone, molte riconoscibili in una "
                    "piccola provincia: nessuna cifra pubblicata deve permettere di sapere "
                    "qualcosa di una persona.",
                    f"Un conteggio di persone o di eventi che riguardano persone compreso tra "
                    f"1 e {k - 1} non è pubblicato; lo zero è pubblicato. I conteggi di "
                    "imprese sono pubblicati.",
                    f"Una percentuale non è pubblicata quando il denominatore è inferiore a "
                    f"{k}, o quando il numeratore o la differenza tra denominatore e "
                    f"numeratore è compresa tra 1 e {k - 1}. I giorni mediani non sono "
                    f"pubblicati quando la mediana riguarda meno di {k} persone.",
                    "Altre celle sono nascoste quando, insieme ai totali e alle altre cifre "
                    "pubblicate (le categorie che si sommano al totale, i trimestri che si "
                    "sommano all'anno), permetterebbero di ricalcolare una cifra riservata. "
                    "Prima dell'invio una verifica con la programmazione lineare controlla che "
                    f"di ogni cifra riservata si possa dedurre al più un intervallo ampio "
                    f"almeno {k}.",
                    f"Tutte le celle nascoste sono indicate con «{SUPPRESSED}», senza "
                    "distinguere il motivo. Lo schema è lo stesso per tutti i finanziatori; "
                    "chi chiede una soglia più alta vede qualche cella riservata in più.",
                ],
            ),
            ("Disaggregazioni che non si sommano al totale", self._non_additive_notes()),
            *(
                [("Indicatori in evidenza e variazioni", list(hl.NOTE_LINES))]
                if self.ctx.headline
                else []
            ),
            (
                "Percentuali e intervalli di confidenza",
                [
                    "Le percentuali sono mostrate con un decimale, accanto al numeratore e al "
                    "denominatore, con l'intervallo di confidenza al 95% di Wilson: con numeri "
                    "piccoli una percentuale è molto incerta.",
                    f"«{UNRELIABLE_MARK.strip()}» accanto a una percentuale: poco affidabile, "
                    f"il denominatore è inferiore a {RELIABLE_DENOMINATOR}. "
                    f"«{REVISED_MARK.strip()}»: valore rivisto rispetto a un rilascio già "
                    "inviato (foglio Revisioni).",
                    f"«{NOT_COMPUTABLE}»: non calcolabile (nessun caso nel denominatore). "
                    f"«{NOT_YET}»: non ancora osservabile (D4, D5: non sono ancora trascorsi "
                    "6 o 12 mesi dalla fine del periodo).",
                ],
            ),
        ]
        paragraphs.append(
            (
                "Che cosa misurano questi dati",
                [
                    "Sono dati di monitoraggio del programma, non una valutazione d'impatto: "
                    "non c'è un gruppo di confronto, perciò non dicono quanto dei risultati "
                    "sia dovuto al programma."
                ],
            )
        )
        for title, lines in paragraphs:
            first = r
            put(ws, r, 1, title, font=Font(bold=True, color=_BLUE, size=12))
            r += 1
            for line in lines:
                self._wrapped(ws, r, 1, line, NOTE_TEXT_CHARS)
                r += 1
            self._block(ws, first, r - 1, 1)  # a heading stays with its text
            r += 1
        put(ws, r, 1, "Qualità dei dati", font=Font(bold=True, color=_BLUE, size=12))
        r += 2
        r = self._count_table(ws, r, "Q2")
        r = self._rate_table(ws, r, "Q3")
        _print_ready(ws, "1:3", {1: 26, 2: 30} | {c: 13 for c in range(3, NOTE_LAST_COL + 1)})
        ws.freeze_panes = "A4"
        keep_blocks_on_pages(ws, self.blocks.get(ws.title, Blocks()), 3, 4, NOTE_LAST_COL)

    def _non_additive_notes(self) -> list[str]:
        """One line per breakdown of this workbook whose categories do not add up (from
        the data), and one on years of persons, which are not the sum of their quarters."""
        lines = []
        for ind in self.ctx.indicators:
            for bd in INDICATORS[ind].breakdowns if ind in INDICATORS else ():
                if (ind, bd) in self.ctx.non_additive and bd in self.ctx.breakdowns:
                    lines.append(
                        f"{INDICATORS[ind].name} (indicatore {ind}) per "
                        f"{_in_sentence(BREAKDOWN_LABELS.get(bd, bd))}: la stessa persona o unità "
                        "può rientrare in più categorie nello stesso periodo, perciò la somma "
                        "delle categorie può superare il totale."
                    )
        yearly = [p for p in self.ctx.periods if len(p) == 4]
        persons = [
            i
            for i in self.ctx.indicators
            if indicator_info(i).kind == "count" and not indicator_info(i).quarter_additive
        ]
        if yearly and persons:
            names = ", ".join(f"{INDICATORS[i].name} (indicatore {i})" for i in persons)
            lines.append(
                f"{names}: il dato dell'anno conta ogni persona una volta sola, anche se è "
                "seguita in più trimestri; non è la somma dei trimestri."
            )
        return lines or ["Nessuna: in questa cartella ogni disaggregazione si somma al totale."]

    @staticmethod
    def _wrapped(ws: Worksheet, r: int, col: int, text: str, chars: int) -> None:
        """Text merged across to the last column, the row tall enough to show it all."""
        put(ws, r, col, text, alignment=_WRAP)
        ws.merge_cells(start_row=r, start_column=col, end_row=r, end_column=NOTE_LAST_COL)
        ws.row_dimensions[r].height = 15 * _lines(text, chars)

    def data_sheet(self) -> None:
        """Every cell the workbook shows, one row each, as an Excel Table with a filter: a
        funder's analyst works from here instead of retyping the visible sheets."""
        ws = self.wb.create_sheet("Dati")
        self.layout.sheets.append(ws.title)
        headers = [
            "Codice",
            "Indicatore",
            "Periodo",
            "Disaggregazione",
            "Categoria",
            "Valore",
            "Numeratore",
            "Denominatore",
            "IC 95% inferiore",
            "IC 95% superiore",
            "Rivisto",
            "Codice categoria",
        ]
        for c, h in enumerate(headers, start=1):
            put(ws, 1, c, h, font=Font(bold=True))
        shown = [
            key for key in self.rows if key[0] in self.ctx.indicators or key[0].startswith("Q")
        ]

        # in time order, years after their quarters (also the periods only the cover shows)
        def order(p: str) -> tuple[int, int]:
            return (int(p[:4]), int(p[-1])) if "-Q" in p else (int(p[:4]), 5)

        shown.sort(key=lambda k: (k[0], k[2] != TOTAL, k[2], order(k[1]), k[3]))
        r = 1
        for key in shown:
            row = self.rows[key]
            ind, period, breakdown, category = key
            rate = indicator_info(ind).kind == "rate" or pd.notna(row[6])
            r += 1
            put(ws, r, 1, ind)
            put(ws, r, 2, indicator_info(ind).name)
            put(ws, r, 3, period_label(period))
            put(ws, r, 4, BREAKDOWN_LABELS.get(breakdown, breakdown))
            # the name the visible sheets show; the code as the data have it, to join on
            put(ws, r, 5, category_label(breakdown, category))
            put(ws, r, 12, str(category))
            if row[9]:
                put(ws, r, 6, SUPPRESSED)
            else:
                for c, value in zip(range(6, 11), row[4:9], strict=True):
                    if value is not None and pd.notna(value):
                        number = float(value)
                        is_count = c in (7, 8) or (c == 6 and not rate)
                        put(ws, r, c, round(number) if is_count else round(number, 1))
                    elif c == 6:
                        put(ws, r, c, NOT_COMPUTABLE)
            put(ws, r, 11, "sì" if key in self.revised else "no")
        end = f"{get_column_letter(len(headers))}{max(r, 2)}"
        table = Table(displayName="Dati", ref=f"A1:{end}")
        table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
        ws.add_table(table)
        ws.freeze_panes = "A2"
        widths = {1: 8, 2: 40, 3: 12, 4: 26, 5: 30} | {c: 13 for c in range(6, 12)} | {12: 30}
        widths |= {9: 17, 10: 17}  # "IC 95% inferiore" / "superiore" fit their column
        _print_ready(ws, "1:1", widths)
        ws.page_setup.orientation = "landscape"

    def revisions(self) -> None:
        """The sheet Revisioni: every cell shown differently from an earlier release."""
        ws = self.wb.create_sheet("Revisioni")
        self.layout.sheets.append(ws.title)
        self._title_rows(ws, "Revisioni rispetto ai rilasci precedenti")
        r = 5
        intro = (
            "Le celle indicate con «r» nei fogli mostrano un valore diverso (o una diversa "
            "riservatezza) da quello di un rilascio già inviato: i dati di quei periodi sono "
            "stati completati o corretti dai file arrivati dopo. Qui il valore precedente, "
            "quello nuovo e il motivo."
        )
        put(ws, r, 1, intro, alignment=_WRAP)
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=8)
        ws.row_dimensions[r].height = 15 * _lines(intro, 140)
        r += 2
        headers = [
            "Codice",
            "Indicatore",
            "Periodo",
            "Disaggregazione",
            "Categoria",
            "Valore precedente",
            "Valore nuovo",
            "Motivo",
        ]
        for c, h in enumerate(headers, start=1):
            put(ws, r, c, h, font=Font(bold=True), fill=_HEAD_FILL, border=_HEAD_BORDER)
        header_row = r
        for rev in self.ctx.revisions:
            r += 1
            values = (
                rev.indicator_id,
                indicator_info(rev.indicator_id).name,
                period_label(rev.period),
                BREAKDOWN_LABELS.get(rev.breakdown, rev.breakdown),
                category_label(rev.breakdown, rev.category),
                rev.previous,
                rev.current,
                f"{rev.reason} (rispetto a: {rev.released})" if rev.reason else rev.released,
            )
            for c, v in enumerate(values, start=1):
                put(ws, r, c, v, alignment=_WRAP)
        ws.freeze_panes = f"A{header_row + 1}"
        _print_ready(
            ws,
            f"{header_row}:{header_row}",
            {1: 8, 2: 34, 3: 12, 4: 22, 5: 22, 6: 14, 7: 14, 8: 50},
        )
        ws.page_setup.orientation = "landscape"

    def save(self) -> WorkbookLayout:
        atomic_write(self.layout.path, self.wb.save)  # the old workbook or the new, never half
        return self.layout


def write_workbook(published: pd.DataFrame, context: WorkbookContext, path: Path) -> WorkbookLayout:
    """Write the funder workbook of ``published`` (already disclosure-controlled: a
    ``suppressed`` column, figures null where true) to ``path``, atomically."""
    if "suppressed" not in published.columns:
        raise ValueError("write_workbook needs the published table (with 'suppressed')")
    writer = _Writer(published, context, Path(path))
    writer.cover()
    writer.targets_sheet()
    for group in GROUPS:
        writer.group_sheet(group)
    writer.notes()
    if context.revisions:
        writer.revisions()
    writer.data_sheet()
    return writer.save()
