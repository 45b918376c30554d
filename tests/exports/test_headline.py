"""The cover's headline figures and the sheet Obiettivi: reloaded and compared with the
published cells; what is hidden never shows through a change or a % reached."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from export_tables import synthetic_mart, wilson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lavoro_debole.exports.catalogue import indicator_info
from lavoro_debole.exports.headline import DEFAULT_HEADLINE, headlines, published_rows
from lavoro_debole.exports.profiles import ProfileError, profile_from_dict
from lavoro_debole.exports.publish import build_funder_export, protect_for
from lavoro_debole.exports.targets import Baseline, Target, target_rows

QUARTER = "2024-Q3"
PREV, YEAR_AGO = "2024-Q2", "2023-Q3"
CUTOFF = dt.date(2024, 9, 30)
GENERATED = dt.datetime(2024, 10, 20, 9, 0)
HEAD = DEFAULT_HEADLINE
KEY = ["indicator_id", "period", "breakdown", "category"]


def _profile(**overrides) -> object:
    data = {
        "name": "prova",
        "title": "Fondazione di prova",
        "recipients": ["a@example.org"],
        "indicators": "all",
        "breakdowns": "all",
        # only the quarter: the previous quarter and the year before are on the cover only
        "periods": ["quarter"],
        "obiettivi": [
            {"indicatore": "A1", "periodo": 2023, "valore": 40},
            {"indicatore": "D1", "periodo": "2024-Q3", "valore": 20},
            {"indicatore": "D3", "periodo": 2023, "valore": 80},
            {"indicatore": "F2", "periodo": "2024-Q2", "valore": 12},
            {"indicatore": "B1", "periodo": 2024, "valore": 30},  # not over yet
        ],
        "baseline": [
            {"indicatore": "D1", "periodo": 2022, "valore": 10},
            {"indicatore": "D3", "periodo": "2022-Q4", "valore": 50.5},
        ],
    } | overrides
    return profile_from_dict(data)


@pytest.fixture(scope="module")
def mart() -> pd.DataFrame:
    return pd.concat(
        [synthetic_mart(6, 2023, HEAD, scale=25), synthetic_mart(7, 2024, HEAD, scale=25)],
        ignore_index=True,
    )


@pytest.fixture(scope="module")
def protection(mart: pd.DataFrame):
    return protect_for(mart, 5)


@pytest.fixture(scope="module")
def export(protection, mart, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("cover")
    return build_funder_export(
        mart, _profile(), QUARTER, CUTOFF, out, generated_at=GENERATED, protection=protection
    )


def _totals(published: pd.DataFrame) -> dict[tuple[str, str], pd.Series]:
    t = published[published["breakdown"] == "totale"]
    return {(r.indicator_id, r.period): r for r in t.itertuples(index=False)}


def _shown_value(cell, kind: str) -> float:
    return round(cell.value) if kind in ("count", "company") else round(cell.value, 1)


def _expected_text(cell) -> str | None:
    """What the cover must show instead of a number, or None for a number."""
    if cell is None:
        return "n.d."
    if cell.suppressed:
        return "c"
    if pd.isna(cell.value):
        return "–"
    return None


def test_every_cover_figure_equals_its_published_cell(export, protection) -> None:
    cells = _totals(protection.published())
    wb = openpyxl.load_workbook(export.path)
    assert wb.sheetnames[:2] == ["Copertina", "Obiettivi"]
    cover = wb["Copertina"]
    where = export.layout.cover_cells
    shown_changes = hidden_changes = judged = 0
    for ind in HEAD:
        kind = indicator_info(ind).kind
        now = cells[(ind, QUARTER)]
        for period in (QUARTER, PREV, YEAR_AGO):
            cell = cells.get((ind, period))
            sheet, coord = where[(ind, period, "value")]
            got = wb[sheet][coord].value
            text = _expected_text(cell)
            if text is not None:
                assert got == text, (ind, period)
            elif kind in ("count", "company"):
                assert got == int(cell.value), (ind, period)
            else:
                assert got == pytest.approx(cell.value, abs=1e-9), (ind, period)
        # the quarter's figures are the table's own cells
        for fld in ("value", "ci_low", "ci_high") if kind == "rate" else ("value",):
            sheet, coord = export.layout.cells[(ind, QUARTER, "totale", "totale", fld)]
            assert cover[where[(ind, QUARTER, fld)][1]].value == wb[sheet][coord].value
        if kind == "rate":
            for fld in ("ci_low", "ci_high"):
                got = cover[where[(ind, QUARTER, fld)][1]].value
                if now.suppressed:
                    assert got == "c"
                else:
                    assert got == pytest.approx(getattr(now, fld), abs=1e-9)
        for period in (PREV, YEAR_AGO):
            then = cells.get((ind, period))
            got = cover[where[(ind, period, "change")][1]].value
            ends = (now, then)
            if any(e is not None and e.suppressed for e in ends):
                assert got == "c", (ind, period)  # a hidden end hides the change
                hidden_changes += 1
                continue
            if then is None:
                assert got == "n.d."
                continue
            if pd.isna(now.value) or pd.isna(then.value):
                assert got == "–"
                continue
            expected = _shown_value(now, kind) - _shown_value(then, kind)
            assert got == pytest.approx(expected, abs=1e-9), (ind, period)
            shown_changes += 1
            if kind == "rate":
                # Newcombe's interval of the difference, from Wilson intervals of n/d
                l1, u1 = wilson(int(now.numerator), int(now.denominator))
                l2, u2 = wilson(int(then.numerator), int(then.denominator))
                p1, p2 = now.value, then.value
                low = p1 - p2 - math.hypot(p1 - l1, u2 - p2)
                high = p1 - p2 + math.hypot(u1 - p1, p2 - l2)
                beyond = cover[where[(ind, period, "beyond")][1]].value
                assert beyond == ("Sì" if low > 0 or high < 0 else "No"), (ind, period)
                judged += 1
    # the data give every case at least once: the comparison cannot pass vacuously
    assert shown_changes >= 5 and hidden_changes >= 2, (shown_changes, hidden_changes)
    assert judged >= 1


def test_cover_cells_are_audited_and_released_as_shown(export, protection) -> None:
    keys = set(map(tuple, export.cells[KEY].itertuples(index=False)))
    for ind in HEAD:
        for period in (QUARTER, PREV, YEAR_AGO):
            assert (ind, period, "totale", "totale") in keys
    assert ("A1", "2023", "totale", "totale") in keys  # a target's period
    # the data sheet lists them too, as the cover shows them
    wb = openpyxl.load_workbook(export.path)
    rows = list(wb["Dati"].iter_rows(min_row=2, values_only=True))
    d1 = [r[2] for r in rows if r[0] == "D1" and r[3] == "Totale"]
    assert d1 == ["T3 2023", "T2 2024", "T3 2024"]  # in time order, the cover's periods too


def test_targets_sheet_shows_target_baseline_actual_and_reached(export, protection) -> None:
    cells = _totals(protection.published())
    wb = openpyxl.load_workbook(export.path)
    where = export.layout.cover_cells
    baselines = {"D1": 10.0, "D3": 50.5}
    targets = {("A1", "2023"): 40, ("D1", "2024-Q3"): 20, ("D3", "2023"): 80, ("F2", "2024-Q2"): 12}
    for (ind, period), target in targets.items():
        kind = indicator_info(ind).kind
        ws_target = wb[where[(ind, period, "target")][0]]
        assert ws_target.title == "Obiettivi"
        assert ws_target[where[(ind, period, "target")][1]].value == target
        actual = ws_target[where[(ind, period, "actual")][1]].value
        reached = ws_target[where[(ind, period, "reached")][1]].value
        cell = cells[(ind, period)]
        if cell.suppressed:
            assert actual == "c" and reached == "c"
            continue
        value = _shown_value(cell, kind)
        assert actual == pytest.approx(cell.value, abs=1e-9)
        start = baselines.get(ind, 0.0)
        assert reached == pytest.approx(round(100 * (value - start) / (target - start), 1))
        if ind in baselines:
            assert ws_target[where[(ind, period, "baseline")][1]].value == baselines[ind]
    b1 = wb["Obiettivi"][where[("B1", "2024", "actual")][1]].value
    assert b1 == "in corso"
    assert wb["Obiettivi"][where[("B1", "2024", "reached")][1]].value == "in corso"


def test_a_hidden_actual_or_end_never_shows_in_the_workbook(
    mart: pd.DataFrame, protection, tmp_path: Path
) -> None:
    """Hide more than the protection did (never less safe): the cover and Obiettivi follow."""
    frame = protection.universe.frame
    extra = protection.suppressed.copy()
    for ind, period in (("D1", YEAR_AGO), ("D1", "2024-Q3"), ("F2", PREV)):
        extra |= (
            (frame["indicator_id"] == ind)
            & (frame["period"] == period)
            & (frame["breakdown"] == "totale")
        ).to_numpy()
    stricter = dataclasses.replace(protection, suppressed=extra)
    result = build_funder_export(
        mart, _profile(), QUARTER, CUTOFF, tmp_path, generated_at=GENERATED, protection=stricter
    )
    wb = openpyxl.load_workbook(result.path)
    where = result.layout.cover_cells

    def at(key):
        sheet, coord = where[key]
        return wb[sheet][coord].value

    assert at(("D1", QUARTER, "value")) == "c"
    assert at(("D1", PREV, "change")) == "c" and at(("D1", YEAR_AGO, "change")) == "c"
    assert at(("F2", PREV, "value")) == "c" and at(("F2", PREV, "change")) == "c"
    assert at(("D1", "2024-Q3", "actual")) == "c" and at(("D1", "2024-Q3", "reached")) == "c"
    assert at(("F2", "2024-Q2", "actual")) == "c" and at(("F2", "2024-Q2", "reached")) == "c"
    # D1's row shows one number only: the previous quarter, which is published
    row = int(where[("D1", QUARTER, "value")][1][1:])
    numbers = [c.column_letter for c in wb["Copertina"][row] if isinstance(c.value, int | float)]
    assert numbers == [where[("D1", PREV, "value")][1][0]]


# -- property: for random suppression patterns, nothing hidden shows through ---------

_IND = ("A1", "D1", "D3", "F2")
_PERIODS = (QUARTER, PREV, YEAR_AGO, "2023")


def _cells(draw) -> dict[tuple, tuple]:
    rows = {}
    for ind in _IND:
        for p in _PERIODS:
            if draw(st.integers(0, 9)) == 0:
                continue  # a period the warehouse does not have
            den = draw(st.integers(0, 60))
            if indicator_info(ind).kind == "rate":
                num = draw(st.integers(0, den))
                low, high = wilson(num, den) if den else (np.nan, np.nan)
                value = 100 * num / den if den else np.nan
                row = (value, float(num), float(den), low, high)
            else:
                row = (float(den), np.nan, np.nan, np.nan, np.nan)
            rows[(ind, p, "totale", "totale")] = (*row, draw(st.booleans()))
    return rows


@st.composite
def _publications(draw):
    rows = _cells(draw)
    # the same publication with every hidden cell's figures replaced by others
    other = {}
    for key, row in rows.items():
        if row[5]:
            v = draw(st.floats(0, 500, allow_nan=False))
            row = (v, v, v + 1, v - 1, v + 2, True)
        other[key] = row
    return rows, other


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_publications())
def test_property_hidden_figures_never_show_through(pubs) -> None:
    rows, other = pubs
    targets = [
        Target("A1", "2023", 30.0),
        Target("D1", QUARTER, 25.0),
        Target("D3", YEAR_AGO, 60.0),
        Target("F2", PREV, 9.0),
    ]
    baselines = [Baseline("D3", "2022", 40.0)]
    first = headlines(rows, _IND, QUARTER)
    assert first == headlines(other, _IND, QUARTER)  # nothing depends on a hidden figure
    assert target_rows(rows, targets, baselines, QUARTER) == target_rows(
        other, targets, baselines, QUARTER
    )
    for h in first:
        for fig in (h.current, h.previous_quarter, h.previous_year):
            cell = rows.get((h.indicator_id, fig.period, "totale", "totale"))
            if cell is not None and cell[5]:
                assert fig.state == "hidden" and fig.value is None and fig.ci_low is None
        for ch, then in ((h.change_quarter, h.previous_quarter), (h.change_year, h.previous_year)):
            if "hidden" in (h.current.state, then.state):
                assert ch.state == "hidden" and ch.value is None
                assert ch.beyond_uncertainty is None
            if ch.value is not None:
                assert h.current.shown and then.shown
    for t in target_rows(rows, targets, baselines, QUARTER):
        cell = rows.get((t.target.indicator_id, t.target.period, "totale", "totale"))
        if cell is None or cell[5]:
            assert t.reached is None and t.actual.value is None


def test_published_rows_reads_the_published_frame(protection) -> None:
    published = protection.published()
    rows = published_rows(published)
    totals = published[published["breakdown"] == "totale"]
    assert len(rows) == len(totals)
    r = totals.iloc[0]
    got = rows[(r.indicator_id, r.period, "totale", "totale")]
    assert bool(got[5]) == bool(r.suppressed)


# -- the profile's entries, validated with clear Italian errors ----------------------

_T = {"indicatore": "D1", "periodo": "2024-Q3", "valore": 20}


@pytest.mark.parametrize(
    ("field", "entries", "message"),
    [
        ("obiettivi", [_T | {"indicatore": "Z9"}], "voce 1: indicatore 'Z9' sconosciuto"),
        ("obiettivi", [_T | {"indicatore": "Q1"}], "indicatore 'Q1' sconosciuto"),
        ("obiettivi", [_T, _T | {"periodo": "2024-T3"}], "voce 2: periodo '2024-T3' non valido"),
        ("obiettivi", [_T | {"periodo": "2024-Q5"}], "periodo '2024-Q5' non valido"),
        ("obiettivi", [_T | {"valore": "venti"}], "il valore deve essere un numero"),
        ("obiettivi", [_T | {"valore": True}], "il valore deve essere un numero"),
        ("obiettivi", [_T | {"valore": -1}], "non può essere negativo"),
        ("obiettivi", [_T | {"indicatore": "D3", "valore": 120}], "va da 0 a 100"),
        ("obiettivi", [_T | {"indicatore": "E1"}], "non è tra quelli che il profilo riceve"),
        ("obiettivi", [_T, dict(_T)], "voce 2: D1 2024-Q3 compare due volte"),
        ("obiettivi", [{"indicatore": "D1", "periodo": 2024}], "manca il campo 'valore'"),
        ("obiettivi", [_T | {"anno": 2024}], "campo sconosciuto 'anno'"),
        ("obiettivi", {"D1": 20}, "deve essere un elenco"),
        ("obiettivi", [_T | {"valore": 0}], "un obiettivo 0 senza baseline"),
        ("baseline", [_T | {"periodo": "ieri"}], "campo 'baseline': voce 1: periodo 'ieri'"),
        ("baseline", [_T, _T | {"periodo": 2023}], "D1 ha già una baseline"),
        ("in_evidenza", ["A1", "X1"], "campo 'in_evidenza': voce 2: indicatore 'X1'"),
        ("in_evidenza", ["E1"], "l'indicatore E1 non è tra quelli che il profilo riceve"),
        ("in_evidenza", {"A1": 1}, "deve essere un elenco di codici"),
    ],
)
def test_profile_entries_are_validated(field: str, entries, message: str) -> None:
    data = {
        "name": "prova",
        "title": "Fondazione di prova",
        "recipients": ["a@example.org"],
        "indicators": ["A*", "D*"],
        "periods": ["quarter"],
        field: entries,
    }
    with pytest.raises(ProfileError) as err:
        profile_from_dict(data, "profiles/prova.yaml")
    assert message in str(err.value)
    assert str(err.value).startswith(f"profiles/prova.yaml: campo '{field}'")


def test_a_target_equal_to_its_baseline_is_refused() -> None:
    with pytest.raises(ProfileError, match="uguale alla sua baseline"):
        _profile(baseline=[{"indicatore": "D1", "periodo": 2022, "valore": 20}])


def test_profile_headline_and_targets_parsed() -> None:
    profile = _profile(indicators=["A*", "D*"], obiettivi=None, baseline=None)
    assert profile.headline == ("A1", "A2", "D1", "D3")  # the default, as received
    assert profile.targets == () and profile.baselines == ()
    profile = _profile(in_evidenza=["D3", "A1", "D3"])
    assert profile.headline == ("D3", "A1")
    full = _profile()
    assert full.targets[0] == Target("A1", "2023", 40.0)
    assert full.baselines[1] == Baseline("D3", "2022-Q4", 50.5)


_COVER_TOTALS = [(ind, p) for ind in HEAD for p in (QUARTER, PREV, YEAR_AGO)] + [
    ("A1", "2023"),
    ("D3", "2023"),
    ("F2", "2024-Q2"),
]


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.sets(st.sampled_from(_COVER_TOTALS), min_size=1, max_size=6))
def test_property_the_workbook_hides_what_the_pattern_hides(
    mart, protection, tmp_path_factory, hide
) -> None:
    """Random extra suppression of the cover's totals: every hidden one shows 'c', and so
    do its changes and % reached, in the workbook as reloaded."""
    frame = protection.universe.frame
    totals = frame["breakdown"].eq("totale").to_numpy()
    mask = protection.suppressed.copy()
    for ind, period in hide:
        mask |= totals & (frame["indicator_id"].eq(ind) & frame["period"].eq(period)).to_numpy()
    result = build_funder_export(
        mart,
        _profile(),
        QUARTER,
        CUTOFF,
        tmp_path_factory.mktemp("pattern"),
        generated_at=GENERATED,
        protection=dataclasses.replace(protection, suppressed=mask),
    )
    wb = openpyxl.load_workbook(result.path)
    where = result.layout.cover_cells
    hidden = {
        (i, p)
        for i, p, s in zip(frame["indicator_id"], frame["period"], mask & totals, strict=True)
        if s
    } & set(_COVER_TOTALS)
    assert set(hide) <= hidden

    def at(key):
        sheet, coord = where[key]
        return wb[sheet][coord].value

    for ind, period in hidden:
        if period in (QUARTER, PREV, YEAR_AGO) and ind in HEAD:
            assert at((ind, period, "value")) == "c"
            changes = (PREV, YEAR_AGO) if period == QUARTER else (period,)
            for against in changes:
                assert at((ind, against, "change")) == "c"
        if (ind, period, "reached") in where:
            assert at((ind, period, "actual")) == "c" and at((ind, period, "reached")) == "c"


def test_the_shipped_demo_profile_carries_headline_and_targets() -> None:
    from lavoro_debole.exports.profiles import PROFILES_DIR, load_profiles

    profiles = load_profiles(PROFILES_DIR)
    regione = profiles["regione_lombardia"]
    assert regione.headline == DEFAULT_HEADLINE
    assert [(t.indicator_id, t.period) for t in regione.targets] == [
        ("A1", "2025"),
        ("D1", "2025"),
        ("D3", "2025-Q4"),
    ]
    assert {b.indicator_id for b in regione.baselines} == {"A1", "D3"}
    # Cassa receives A, B and D only: the default list cut to what it receives
    assert profiles["cassa_ammende"].headline == ("A1", "A2", "B1", "D1", "D3")


def test_an_empty_headline_list_leaves_the_cover_without_figures(
    mart, protection, tmp_path
) -> None:
    profile = _profile(in_evidenza=[], obiettivi=None, baseline=None)
    assert profile.headline == ()
    result = build_funder_export(
        mart, profile, QUARTER, CUTOFF, tmp_path, generated_at=GENERATED, protection=protection
    )
    wb = openpyxl.load_workbook(result.path)
    assert "Obiettivi" not in wb.sheetnames and not result.layout.cover_cells
    texts = [c.value for row in wb["Copertina"].iter_rows() for c in row if c.value]
    assert not any(str(t).startswith("In evidenza") for t in texts)
    assert wb["Copertina"].page_setup.orientation == "portrait"
