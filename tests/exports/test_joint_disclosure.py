"""Releases safe together (issue 12 §4): frozen patterns, protected differences, the
joint audit, and an export refused when the series would tell too much."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from export_tables import row, synthetic_mart
from joint_attacker import View, attack

from lavoro_debole.exports.disclosure import protect
from lavoro_debole.exports.joint import (
    JointAuditFailedError,
    Snapshot,
    joint_audit,
    joint_universe,
    protect_jointly,
)
from lavoro_debole.exports.model import KEY_COLUMNS, Universe
from lavoro_debole.exports.profiles import profile_from_dict
from lavoro_debole.exports.publish import AuditFailedError, build_funder_export
from lavoro_debole.exports.release_flow import approve_and_send, build_candidate
from lavoro_debole.exports.releases import ReleaseError, approve, record_candidate, releases

K = 5
CUTOFF = dt.date(2024, 12, 31)


def _table(total: int, cells: dict[str, int], period: str = "2024-Q3", ind: str = "A1"):
    out = [row(ind, period, "totale", "totale", total)]
    out += [row(ind, period, "sesso", c, v) for c, v in cells.items()]
    return out


def _snapshot(frame: pd.DataFrame, suppressed, profile: str = "p", seq: int = 1) -> Snapshot:
    u = Universe.from_frame(frame)
    cells = u.frame[[*KEY_COLUMNS, "value", "numerator", "denominator"]].copy()
    cells["suppressed"] = np.asarray(suppressed, dtype=bool)
    return Snapshot(profile, "2024-Q3", seq, dt.datetime(2024, 10, 15, seq), cells)


def _view(version: str, universe: Universe, suppressed) -> View:
    cells = universe.frame[[*KEY_COLUMNS, "value", "numerator", "denominator"]].copy()
    cells["suppressed"] = np.asarray(suppressed, dtype=bool)
    return View(version, cells)


def _narrow(findings, k: int = K):
    return [(f.what, f.key, f.quantity) for f in findings if f.width < k - 1e-7]


def test_naive_protection_leaks_a_late_difference_the_joint_one_does_not():
    # released: 20 persons, 12 M and 8 F; a late file adds 3 men
    old = pd.DataFrame(_table(20, {"M": 12, "F": 8}))
    new = pd.DataFrame(_table(23, {"M": 15, "F": 8}))
    u_old, u_new = Universe.from_frame(old), Universe.from_frame(new)
    released = protect(u_old, K).suppressed
    assert not released.any()  # nothing small: everything shown
    naive = protect(u_new, K).suppressed
    assert not naive.any()
    # the naive release lets the two workbooks tell that the 3 late persons are men
    leaks = _narrow(attack([_view("v1", u_old, released), _view("v2", u_new, naive)], "v2", K))
    assert ("differenza", ("A1", "2024-Q3", "sesso", "M"), "value") in leaks

    history = [_snapshot(old, released)]
    shown = np.ones(len(u_new.frame), dtype=bool)
    joint = protect_jointly(u_new, naive, shown, history, K, "p")
    keys = [tuple(r) for r in u_new.frame[list(KEY_COLUMNS)].to_numpy()]
    hidden = {keys[i] for i in np.flatnonzero(joint.suppressed)}
    assert ("A1", "2024-Q3", "sesso", "M") in hidden
    assert ("A1", "2024-Q3", "totale", "totale") in hidden
    assert joint.audit.passed and any(c.kind == "differenza" for c in joint.audit.checks)
    views = [_view("v1", u_old, released), _view("v2", u_new, joint.suppressed)]
    findings = attack(views, "v2", K)
    assert findings and not _narrow(findings)


def test_the_joint_audit_sees_what_each_release_alone_hides():
    # each release passes its own audit; together the difference of M is pinned
    old = pd.DataFrame(_table(20, {"M": 12, "F": 8}))
    new = pd.DataFrame(_table(22, {"M": 14, "F": 8}))
    u_new = Universe.from_frame(new)
    ju = joint_universe(u_new, [_snapshot(old, [False, False, False])], K)
    everything = np.ones(len(u_new.frame), dtype=bool)
    result = joint_audit(ju, everything, K)
    failed = {(c.kind, c.breakdown, c.category) for c in result.failures}
    assert failed == {("differenza", "totale", "totale"), ("differenza", "sesso", "M")}
    assert "A1 2024-Q3 per sesso" in result.summary() and "14" not in result.summary()


def test_an_unchanged_table_keeps_its_released_pattern():
    # the sesso table of Q3 does not change; the fascia table of Q4 does
    q3 = _table(12, {"M": 3, "F": 9})
    old = pd.DataFrame(q3 + _table(30, {"M": 16, "F": 14}, period="2024-Q4"))
    new = pd.DataFrame(q3 + _table(31, {"M": 17, "F": 14}, period="2024-Q4"))
    u_old, u_new = Universe.from_frame(old), Universe.from_frame(new)
    keys_old = [tuple(r) for r in u_old.frame[list(KEY_COLUMNS)].to_numpy()]
    # the release hid M (small) and, as its complement, the total (not F, as protect would)
    released = np.array(
        [k[1] == "2024-Q3" and k[3] in ("M", "totale") for k in keys_old], dtype=bool
    )
    naive = protect(u_new, K).suppressed
    keys = [tuple(r) for r in u_new.frame[list(KEY_COLUMNS)].to_numpy()]
    q3_rows = [i for i, k in enumerate(keys) if k[1] == "2024-Q3"]
    released_q3 = {keys_old[i]: released[i] for i in range(len(keys_old))}
    assert [bool(naive[i]) for i in q3_rows] != [released_q3[keys[i]] for i in q3_rows]

    shown = np.ones(len(u_new.frame), dtype=bool)
    joint = protect_jointly(u_new, naive, shown, [_snapshot(old, released)], K, "p")
    assert [bool(joint.suppressed[i]) for i in q3_rows] == [released_q3[keys[i]] for i in q3_rows]
    assert all(joint.frozen[i] for i in q3_rows)
    assert not any(joint.frozen[i] for i in range(len(keys)) if keys[i][1] == "2024-Q4")
    # Q4's total grew by 1: that difference is hidden, and the series audit passes
    assert joint.suppressed[keys.index(("A1", "2024-Q4", "totale", "totale"))]
    views = [_view("v1", u_old, released), _view("v2", u_new, joint.suppressed)]
    assert not _narrow(attack(views, "v2", K))


def _profile(name: str = "prova"):
    return profile_from_dict(
        {
            "name": name,
            "title": "Fondazione di prova",
            "recipients": ["a@example.org"],
            "indicators": "all",
            "breakdowns": "all",
            "periods": ["quarter", "year_to_date"],
            "k": 5,
        }
    )


@pytest.fixture
def warehouse(tmp_path: Path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    mart = synthetic_mart(seed=3, year=2024, scale=10)
    con.execute("create schema marts; create schema ops")
    con.register("mart", mart)
    con.execute("create table marts.indicator_values as select * from mart")
    con.unregister("mart")
    con.execute("create table ops.ingest_files (feed varchar, status varchar, received_seq int)")
    con.execute("insert into ops.ingest_files values ('sportello', 'loaded', 1)")
    yield con
    con.close()


def _late_file(con, indicator: str, period: str, category: str, persons: int) -> None:
    """A late file adds ``persons`` of one sex to a past quarter (and to the year)."""
    for p in (period, period[:4]):
        con.execute(
            "update marts.indicator_values set value = value + ? where indicator_id = ?"
            " and period = ? and ((breakdown = 'totale') or (breakdown = 'sesso'"
            " and category = ?))",
            [persons, indicator, p, category],
        )


def _set_sex(con, period: str, total: int, men: int, women: int) -> None:
    for category, value in (("totale", total), ("M", men), ("F", women)):
        con.execute(
            "update marts.indicator_values set value = ? where indicator_id = 'A1'"
            " and period = ? and category = ? and breakdown in ('totale', 'sesso')",
            [value, period, category],
        )


def test_a_failing_joint_audit_writes_nothing_and_names_the_tables(warehouse, tmp_path):
    exports = tmp_path / "exports"
    profile = _profile()
    _set_sex(warehouse, "2024-Q2", 20, 12, 8)
    first = build_candidate(warehouse, profile, "2024-Q3", CUTOFF, exports)
    approve(warehouse, "prova", "2024-Q3", "Maria Referente")
    # a late file adds 2 men to 2024-Q2; another funder's workbook was built and approved
    # on the new data as workbooks were before the series was protected (alone)
    _late_file(warehouse, "A1", "2024-Q2", "M", 2)
    warehouse.execute("insert into ops.ingest_files values ('sportello', 'loaded', 2)")
    other = _profile("altro")
    alone = build_funder_export(warehouse, other, "2024-Q3", CUTOFF, tmp_path / "altro")
    record_candidate(
        warehouse,
        profile="altro",
        quarter="2024-Q3",
        release_seq=1,
        cells=alone.cells,
        workbook=alone.path,
        received_seq=2,
        built_at=dt.datetime(2024, 11, 1),
        truth=alone.truth,
    )
    approve(warehouse, "altro", "2024-Q3", "Maria Referente")
    before = sorted(p.relative_to(exports) for p in exports.rglob("*"))

    # the new release cannot hide what the other funder already shows: refused
    with pytest.raises(AuditFailedError) as failed:
        build_candidate(warehouse, profile, "2024-Q4", CUTOFF, exports)
    assert isinstance(failed.value, JointAuditFailedError)
    message = str(failed.value)
    assert "A1 2024-Q2 totale" in message and "A1 2024-Q2 per sesso" in message
    assert "tenere fuori" in message
    shown_values = {str(int(v)) for v in first.export.cells["shown"].dropna()}
    assert not any(f" {v} " in f" {message} " for v in shown_values if len(v) > 1)
    assert sorted(p.relative_to(exports) for p in exports.rglob("*")) == before
    assert [(r.profile, r.quarter, r.status) for r in releases(warehouse)] == [
        ("altro", "2024-Q3", "approved"),
        ("prova", "2024-Q3", "approved"),
    ]


def test_a_rebuild_on_unchanged_data_keeps_every_pattern(warehouse, tmp_path):
    exports = tmp_path / "exports"
    profile = _profile()
    _set_sex(warehouse, "2024-Q1", 20, 12, 8)
    build_candidate(warehouse, profile, "2024-Q3", CUTOFF, exports)
    approve(warehouse, "prova", "2024-Q3", "Maria Referente")
    _late_file(warehouse, "A1", "2024-Q1", "F", 3)
    warehouse.execute("insert into ops.ingest_files values ('sportello', 'loaded', 2)")
    second = build_candidate(warehouse, profile, "2024-Q4", CUTOFF, exports)
    assert second.export is not None and second.export.joint is not None
    assert second.export.joint.passed and second.export.joint.releases == 1
    cells = second.export.cells.set_index(list(KEY_COLUMNS))
    # the late file's difference of 3 (total and F of Q1; the year is new in Q4) is not
    # shown
    # tables whose data did not change show what release 1 showed
    truth = second.export.truth.set_index(list(KEY_COLUMNS))
    first = (
        warehouse.execute(
            "select c.indicator_id, c.period, c.breakdown, c.category, c.suppressed, t.value,"
            " t.numerator, t.denominator from ops.release_cells c join ops.release_truth t"
            " using (profile, quarter, release_seq, indicator_id, period, breakdown, category)"
            " where quarter = '2024-Q3'"
        )
        .df()
        .set_index(list(KEY_COLUMNS))
    )
    for key in (("A1", "2024-Q1", "totale", "totale"), ("A1", "2024-Q1", "sesso", "F")):
        assert not bool(first.loc[key, "suppressed"]) and bool(cells.loc[key, "suppressed"]), key
    common = first.index.intersection(cells.index)
    assert len(common) > 50
    unchanged_tables = set()
    by_table = {}
    for key in common:
        same = np.allclose(
            np.nan_to_num(first.loc[key, ["value", "numerator", "denominator"]].to_numpy(float)),
            np.nan_to_num(truth.loc[key, ["value", "numerator", "denominator"]].to_numpy(float)),
        )
        by_table.setdefault(key[:3], []).append(same)
    unchanged_tables = {t for t, same in by_table.items() if all(same) and t[2] == "sesso"}
    assert unchanged_tables
    for key in common:
        if key[:3] in unchanged_tables:
            assert bool(cells.loc[key, "suppressed"]) == bool(first.loc[key, "suppressed"]), key


def test_a_candidate_made_unsafe_by_a_later_approval_is_not_approved(warehouse, tmp_path):
    exports = tmp_path / "exports"
    _set_sex(warehouse, "2024-Q2", 20, 12, 8)
    build_candidate(warehouse, _profile(), "2024-Q3", CUTOFF, exports)
    # while it waits, a late file adds 2 men and another funder's workbook is approved
    _late_file(warehouse, "A1", "2024-Q2", "M", 2)
    warehouse.execute("insert into ops.ingest_files values ('sportello', 'loaded', 2)")
    build_candidate(warehouse, _profile("altro"), "2024-Q3", CUTOFF, exports)
    approve_and_send(warehouse, _profile("altro"), "2024-Q3", "Maria Referente", None)
    with pytest.raises(ReleaseError, match="ricostruire il candidato") as refused:
        approve_and_send(warehouse, _profile(), "2024-Q3", "Maria Referente", None)
    assert "A1 2024-Q2 per sesso" in str(refused.value)
    assert [(r.profile, r.status) for r in releases(warehouse)] == [
        ("altro", "approved"),
        ("prova", "candidate"),
    ]
    # rebuilt on today's data, it is protected with the other funder's workbook
    again = build_candidate(warehouse, _profile(), "2024-Q3", CUTOFF, exports)
    assert again.export is not None and again.export.joint.passed
    release, _ = approve_and_send(warehouse, _profile(), "2024-Q3", "Maria Referente", None)
    assert release.status == "approved"
