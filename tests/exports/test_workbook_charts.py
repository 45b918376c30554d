"""Nothing silently empty, charts that tell the truth, print set-up and display names:
the workbook reloaded with openpyxl and compared with figures worked out here."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from export_tables import rate, row, synthetic_mart

from lavoro_debole.exports.catalogue import HEADLINES, TOTAL, group_of, indicator_info
from lavoro_debole.exports.empty import MAYBE, YES
from lavoro_debole.exports.names import ATECO_SECTIONS
from lavoro_debole.exports.profiles import profile_from_dict
from lavoro_debole.exports.publish import build_funder_export, protect_for
from lavoro_debole.exports.workbook import period_label

CUTOFF = dt.date(2024, 12, 31)
GENERATED = dt.datetime(2025, 1, 15, 9, 30)


def _profile(name: str, indicators: object, periods: list[str]) -> object:
    return profile_from_dict(
        {
            "name": name,
            "title": "Fondazione di prova",
            "recipients": ["a@example.org"],
            "indicators": indicators,
            "breakdowns": "all",
            "periods": periods,
            "k": 5,
        }
    )


# -- nothing silently empty ------------------------------------------------------------

#: totals by quarter, chosen so that every quarter of D1 and A1 is hidden (1 to 4 < k=5)
D1 = {"2023-Q4": 1, "2024-Q1": 2, "2024-Q2": 1, "2024-Q3": 3}
A1 = {"2023-Q4": 4, "2024-Q1": 2, "2024-Q2": 1, "2024-Q3": 3}
A3 = {"2023-Q4": 9, "2024-Q1": 7, "2024-Q2": 3, "2024-Q3": 8}


def _small_mart() -> pd.DataFrame:
    records = []
    for p in D1:
        records.append(row("D1", p, TOTAL, TOTAL, D1[p]))
        records.append(row("A1", p, TOTAL, TOTAL, A1[p]))
        records.append(row("A3", p, TOTAL, TOTAL, A3[p]))
        records.append(rate("D3", p, TOTAL, TOTAL, 1, 3))
        records.append(row("Q2", p, TOTAL, TOTAL, 3))
        records.append(row("Q2", p, "fonte", "provincia_co", 2))
        records.append(row("Q2", p, "fonte", "cfp", 1))
    return pd.DataFrame(records)


@pytest.fixture(scope="module")
def small_export(tmp_path_factory: pytest.TempPathFactory):
    profile = _profile("piccolo", ["A1", "A3", "D1", "D3"], ["quarter", "previous_four_quarters"])
    out = tmp_path_factory.mktemp("small")
    return build_funder_export(
        _small_mart(), profile, "2024-Q3", CUTOFF, out, generated_at=GENERATED
    )


def test_an_indicator_with_nothing_publishable_is_said_in_its_place(small_export) -> None:
    # D1 and A1: every quarter between 1 and 4; D3: 1 of 3 every quarter; A3 shows 7, 8, 9
    assert {e.indicator_id for e in small_export.empty} == {"A1", "D1", "D3"}
    wb = openpyxl.load_workbook(small_export.path)
    for sheet, indicator, empty in (
        ("D Lavoro", "D1", True),
        ("D Lavoro", "D3", True),
        ("A Raggiungimento", "A1", True),
        ("A Raggiungimento", "A3", False),
    ):
        ws = wb[sheet]
        title = next(
            r for r in range(1, ws.max_row + 1) if str(ws.cell(r, 1).value).startswith(indicator)
        )
        below = str(ws.cell(title + 1, 1).value)
        assert below.startswith("Nessun dato pubblicabile") == empty, (indicator, below)
        if empty:
            assert ws.cell(title + 2, 1).value == "Disaggregazione"  # the table follows
    # no chart for a series with nothing to show; A3 keeps its chart
    assert len(wb["D Lavoro"]._charts) == 0
    assert len(wb["A Raggiungimento"]._charts) == 1
    assert small_export.layout.charts == 1


def test_the_steward_is_told_which_periods_would_publish_it(small_export) -> None:
    by_id = {e.indicator_id: e for e in small_export.empty}
    # D1 (events, quarters add up): 2+1+3 = 6 for the year to date, 1+2+1+3 = 7 for the
    # last four quarters: both reach k=5
    d1 = {r.label: r.would_publish for r in by_id["D1"].remedies}
    assert d1 == {
        "l'anno fino al 3° trimestre 2024 insieme (da T1 a T3 2024)": YES,
        "gli ultimi quattro trimestri insieme (da T4 2023 a T3 2024)": YES,
    }
    # A1 (persons, a year is not the sum): at least max(2,1,3)=3, at most 6 -> perhaps;
    # the four quarters: at least 4, at most 10 -> perhaps
    assert {r.would_publish for r in by_id["A1"].remedies} == {MAYBE}
    assert len(by_id["A1"].remedies) == 2
    # D3, a rate on the last day of a quarter, cannot be taken over several quarters
    assert by_id["D3"].remedies == ()
    message = by_id["D1"].message()
    assert message.startswith("Indicatore D1 (Avviamenti al lavoro): nessun dato pubblicabile")
    assert "T4 2023, T1 2024, T2 2024, T3 2024" in message
    assert "Lo renderebbe pubblicabile: l'anno fino al 3° trimestre 2024" in message
    assert "Nessun altro periodo" in by_id["D3"].message()
    assert small_export.notices() == [e.message() for e in small_export.empty]
    assert small_export.metadata()["empty_indicators"] == ["A1", "D1", "D3"]


def test_at_the_fourth_quarter_the_year_of_the_mart_is_the_remedy(tmp_path: Path) -> None:
    frame = _small_mart()
    q4 = {"2024-Q4": 4}
    extra = [row("D1", "2024-Q4", TOTAL, TOTAL, q4["2024-Q4"])]
    extra += [row("A3", "2024-Q4", TOTAL, TOTAL, 6), row("Q2", "2024-Q4", TOTAL, TOTAL, 0)]
    # the year: D1 adds up (2+1+3+4 = 10, published); A1 a distinct count of 4 (hidden)
    extra += [row("D1", "2024", TOTAL, TOTAL, 10), row("A1", "2024", TOTAL, TOTAL, 4)]
    extra += [row("A1", "2024-Q4", TOTAL, TOTAL, 2), row("A3", "2024", TOTAL, TOTAL, 24)]
    frame = pd.concat([frame, pd.DataFrame(extra)], ignore_index=True)
    profile = _profile("cassa", ["A1", "D1"], ["quarter", "previous_four_quarters"])
    result = build_funder_export(frame, profile, "2024-Q4", CUTOFF, tmp_path)
    remedies = {e.indicator_id: e.remedies for e in result.empty}
    assert set(remedies) == {"A1", "D1"}
    label = "l'anno 2024 (opzione «year_to_date» del profilo)"
    assert [(r.label, r.would_publish) for r in remedies["D1"]] == [(label, YES)]
    assert [(r.label, r.would_publish) for r in remedies["A1"]] == [(label, "no")]


# -- charts ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mart() -> pd.DataFrame:
    return synthetic_mart(7, scale=20)


@pytest.fixture(scope="module")
def export(mart: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory):
    profile = _profile("grafici", "all", ["quarter", "year_to_date"])
    return build_funder_export(
        mart,
        profile,
        "2024-Q4",
        CUTOFF,
        tmp_path_factory.mktemp("charts"),
        generated_at=GENERATED,
        protection=protect_for(mart, 5),
    )


def _values(wb: openpyxl.Workbook, ref: str) -> list[object]:
    sheet, _, cells = ref.rpartition("!")
    ws = wb[sheet.strip("'")]
    return [c.value for line in ws[cells.replace("$", "")] for c in line]


def _title(chart) -> str:
    return "".join(r.t for p in chart.title.tx.rich.p for r in (p.r or []))


def test_charts_mark_hidden_values_and_chart_the_year(export) -> None:
    published = protect_for(synthetic_mart(7, scale=20), 5).published()
    totals = published[(published["breakdown"] == TOTAL)].set_index(["indicator_id", "period"])
    periods = ["2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4", "2024"]
    wb = openpyxl.load_workbook(export.path)
    seen_hidden = seen_year = seen_rate = 0
    charted = set()
    for ws in wb.worksheets:
        for chart in ws._charts:
            indicator = _title(chart).split(" · ")[0]
            charted.add(indicator)
            info = indicator_info(indicator)
            # the points expected: every quarter, and the year where it is published
            year = totals.loc[(indicator, "2024")]
            expected_periods = periods[:4] + ([] if year["suppressed"] else ["2024"])
            cats = _values(wb, chart.series[0].cat.numRef.f)
            assert cats == [period_label(p) for p in expected_periods]
            values: list[object] = [None] * len(expected_periods)
            hidden: list[object] = [None] * len(expected_periods)
            for s in chart.series:
                got = _values(wb, s.val.numRef.f)
                if s.dLbls is not None:  # the marks of hidden values, labelled «c»
                    assert s.dLbls.numFmt == '"c"' and s.dLbls.showVal
                    hidden = got
                else:
                    values = [v if g is None else g for v, g in zip(values, got, strict=True)]
            for j, p in enumerate(expected_periods):
                cell = totals.loc[(indicator, p)]
                if cell["suppressed"]:
                    assert values[j] is None and hidden[j] == 0, (indicator, p)
                    seen_hidden += 1
                else:
                    assert hidden[j] is None
                    if pd.isna(cell["value"]):
                        assert values[j] is None
                    else:
                        assert values[j] == pytest.approx(cell["value"]), (indicator, p)
            seen_year += "2024" in expected_periods
            if info.kind == "rate":
                seen_rate += 1
                assert chart.tagname == "barChart"
                bars = chart.series[0].errBars
                assert bars.errValType == "cust" and bars.errBarType == "both"
                plus = _values(wb, bars.plus.numRef.f)
                minus = _values(wb, bars.minus.numRef.f)
                for j, p in enumerate(expected_periods):
                    cell = totals.loc[(indicator, p)]
                    if cell["suppressed"] or pd.isna(cell["value"]):
                        assert plus[j] is None and minus[j] is None
                    else:
                        assert plus[j] == pytest.approx(cell["ci_high"] - cell["value"])
                        assert minus[j] == pytest.approx(cell["value"] - cell["ci_low"])
                assert chart.y_axis.scaling.min == 0 and chart.y_axis.scaling.max == 100
            else:
                assert chart.tagname == "lineChart"
                axis = chart.y_axis
                shown = [v for v in values if v is not None]
                assert axis.majorUnit >= 1 and float(axis.majorUnit).is_integer()
                assert axis.numFmt.formatCode == "0"
                assert axis.scaling.min == 0 and axis.scaling.max >= max(shown)
                assert float(axis.scaling.max / axis.majorUnit).is_integer()
                assert axis.scaling.max / axis.majorUnit <= 6
    # every headline with something to show has its chart, and only those
    expected = {
        h
        for g in HEADLINES.values()
        for h in g
        if not totals.loc[[(h, p) for p in periods], "value"].isna().all()
    }
    assert charted == expected
    assert seen_hidden > 0 and seen_year > 0 and seen_rate > 0  # the fixture has them all
    assert export.layout.charts == len(charted)


def test_small_counts_get_whole_number_axes() -> None:
    from lavoro_debole.exports.charts import count_axis

    assert count_axis(0) == (1, 1)
    assert count_axis(2) == (1, 2)
    assert count_axis(6) == (1, 6)
    assert count_axis(7) == (2, 8)
    assert count_axis(41) == (10, 50)
    assert count_axis(1234) == (250, 1250)


# -- print and names -------------------------------------------------------------------


def test_footer_inside_the_margin_print_titles_and_breaks_before_tables(export) -> None:
    wb = openpyxl.load_workbook(export.path)
    broken = 0
    for ws in wb.worksheets:
        m = ws.page_margins
        assert m.footer + 0.4 <= m.bottom and m.header + 0.4 <= m.top, ws.title
        # the cover is one page whatever it holds; the other sheets run on in length
        pages_high = 1 if ws.title == "Copertina" else 0
        assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == pages_high
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        if group_of(ws.title) in HEADLINES and " " in ws.title[:2]:
            assert ws.print_title_rows == "$1:$3"
            for brk in ws.row_breaks.brk:
                # a break falls just before a table's title, never inside a table
                title = str(ws.cell(brk.id + 1, 1).value)
                assert re.match(r"^([A-F]\d · |Dati dei grafici$)", title), (ws.title, title)
                broken += 1
    assert broken > 0


def test_display_names_for_ateco_sections_and_feeds(tmp_path: Path) -> None:
    assert sorted(ATECO_SECTIONS) == [chr(c) for c in range(ord("A"), ord("U") + 1)]
    mart = synthetic_mart(3, scale=20)
    profile = _profile("nomi", ["F1"], ["quarter"])
    result = build_funder_export(mart, profile, "2024-Q4", CUTOFF, tmp_path)
    wb = openpyxl.load_workbook(result.path)
    column_b = {c.value for c in wb["F Imprese"]["B"] if c.value}
    assert {"C – Attività manifatturiere", "G – " + ATECO_SECTIONS["G"]} <= column_b
    assert not {"C", "G", "I"} & column_b


def test_feed_ids_never_shown_on_the_sheets_a_reader_reads(small_export) -> None:
    wb = openpyxl.load_workbook(small_export.path)
    notes = [c.value for line in wb["Note"].iter_rows() for c in line if c.value]
    assert "Comunicazioni obbligatorie (Provincia di Lodi)" in notes
    assert "Formazione professionale (CFP)" in notes
    for ws in wb.worksheets:
        if ws.title == "Dati":  # the analysts' long table keeps the mart's keys
            continue
        for line in ws.iter_rows():
            for c in line:
                assert c.value not in ("provincia_co", "cfp"), (ws.title, c.coordinate)


def test_indicator_ids_are_not_read_as_quarters(export) -> None:
    wb = openpyxl.load_workbook(export.path)
    text = [str(c.value) for ws in wb.worksheets for line in ws.iter_rows() for c in line]
    assert "Fonti dei dati e completezza degli invii (indicatore Q1)" in text
    notes = " ".join(str(c.value) for line in wb["Note"].iter_rows() for c in line if c.value)
    assert "Persone seguite (indicatore A1)" in notes
    assert not re.search(r"\([A-FQ]\d\)", " ".join(text))  # no bare "(Q1)", "(A1)"


def test_every_breakdown_has_an_italian_label_with_a_capital() -> None:
    from lavoro_debole.exports.catalogue import BREAKDOWN_LABELS, INDICATORS

    seed = Path(__file__).parents[2] / "dbt_project" / "seeds" / "indicator_categories.csv"
    in_seed = set(pd.read_csv(seed, sep=";", dtype=str)["breakdown"])
    used = {bd for info in INDICATORS.values() for bd in info.breakdowns}
    for bd in in_seed | used | {"fonte", "fonte_mittente", "puntualita"}:
        label = BREAKDOWN_LABELS.get(bd, "")
        assert label[:1].isupper() and "_" not in label, bd
