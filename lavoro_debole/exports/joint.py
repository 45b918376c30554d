"""Releases safe together: disclosure control over the series of workbooks a reader holds.

A funder keeps every workbook it receives, and funders talk: every cell of every
release that left (or may leave) the warehouse -- status ``approved``, ``sent`` or
``superseded``, of any profile -- is known to a reader of the next one. A *candidate*
does not count: it has not left (and of two candidates of one quarter only the last is
ever approved); instead a candidate is audited again when it is approved, against the
releases approved since it was built (:func:`audit_release`,
``release_flow.still_safe``). A superseded release counts whether or not it was mailed:
a funder keeps what it got, and an approved release may have left by hand.

Three rules (indicators.md, "Releases"; issue 12 §4):

* **Freeze.** Where a table (one indicator, one period, one breakdown with its total)
  has the same data as in the latest release of the same profile that showed it, its
  cells keep exactly the suppression pattern released: hidden stays hidden, shown stays
  shown.
* **Differences.** Where the data changed, the difference table (new minus released,
  cell by cell, for the cells both show) is protected like a table of its own: a
  difference of 1 … k−1 persons (a count, a rate's numerator, rest or denominator) must
  not be deducible. The additivity relations of both releases hold for the
  differences too, since they hold for both terms.
* **Joint audit.** One attacker programme per group of linked hidden unknowns over all
  releases: the true values at each release time are variables (one block of unknowns
  per distinct state of the data; releases built from the same data share theirs), the
  published values and the table relations of each release are constraints, and each
  difference is bounded by its sign (an attacker may know that late files only add, or
  that a correction only removes: a relation the data satisfy but a reader may not know
  only makes the protection more cautious). No hidden small figure may be narrowed to
  a range narrower than k, and no small difference either.

When the joint audit fails, further cells of the *new* release are hidden (earlier
releases cannot change), the cheapest first; when no cell of the new release can
protect a figure, :class:`JointAuditFailedError` names the tables to hold back
(indicator, period, breakdown; never a value) and nothing is written.

Every figure is judged with the new release's k (a stricter profile's earlier release
does not raise it). A release recorded before ``ops.release_truth`` existed enters with
its shown figures only (its hidden cells are not modelled).

What a reader already could deduce about a hidden cell from the earlier releases alone
(before this feature existed, or between two old releases) cannot be repaired by the
new one and is not counted against it. A difference between the new data and an
earlier release that another release of the new data already shows (one built before
this feature, or approved in a race) cannot be hidden by the new release: that is the
case the export is refused for, naming the tables.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lavoro_debole.exports.audit import (
    TOLERANCE,
    AttackerProgramme,
    AuditFailedError,
    HiddenComponents,
    audit_universe,
    determined_vars,
    primary_quantities,
)
from lavoro_debole.exports.catalogue import TOTAL
from lavoro_debole.exports.model import KEY_COLUMNS, VALUE_COLUMNS, Form, Universe

TRUTH_COLUMNS = ("value", "numerator", "denominator")


class JointAuditFailedError(AuditFailedError):
    """The series of releases would let a reader deduce a small figure: not written."""


@dataclass(frozen=True)
class Snapshot:
    """One earlier release as its reader holds it, with the figures behind it.

    ``cells`` has one row per cell the workbook showed: the keys, the true
    ``value``/``numerator``/``denominator`` when it was built, and ``suppressed``.
    """

    profile: str
    quarter: str
    release_seq: int
    approved_at: dt.datetime | None
    cells: pd.DataFrame

    @property
    def label(self) -> str:
        return f"{self.profile} {self.quarter} rilascio {self.release_seq}"


@dataclass(frozen=True)
class JointCheck:
    """The attacker's range for one target of the joint audit (no values in labels)."""

    kind: str  # "cella" | "differenza"
    indicator_id: str
    period: str
    breakdown: str
    category: str
    quantity: str
    low: float
    high: float
    block_row: int  # the row of the new release (block 0) it concerns, or -1

    @property
    def width(self) -> float:
        return self.high - self.low

    def passes(self, k: int) -> bool:
        return self.width >= k - TOLERANCE

    def table(self) -> tuple[str, str, str]:
        return (self.indicator_id, self.period, self.breakdown)


@dataclass(frozen=True)
class JointAuditResult:
    k: int
    checks: tuple[JointCheck, ...]
    releases: int  # earlier releases taken into account

    @property
    def failures(self) -> tuple[JointCheck, ...]:
        return tuple(c for c in self.checks if not c.passes(self.k))

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        differences = sum(c.kind == "differenza" for c in self.checks)
        if self.passed:
            return (
                f"verifica congiunta superata con {self.releases} rilasci precedenti: "
                f"{len(self.checks) - differences} celle riservate e {differences} "
                f"differenze, ognuna incerta di almeno {self.k}"
            )
        return (
            f"verifica congiunta non superata: {len(self.failures)} di {len(self.checks)} "
            f"controlli ricavabili sotto {self.k}; tenere fuori: {tables_text(self.failures)}"
        )


def tables_text(checks: Sequence[JointCheck]) -> str:
    """The tables of some checks, as the steward reads them: indicator, period, breakdown."""
    seen = sorted({c.table() for c in checks})
    parts = [
        f"{ind} {period} " + ("totale" if bd == TOTAL else f"per {bd}")
        for ind, period, bd in seen[:20]
    ]
    more = "" if len(seen) <= 20 else f" e altre {len(seen) - 20}"
    return ", ".join(parts) + more


# -- the joint model ----------------------------------------------------------------


def _truth_frame(cells: pd.DataFrame) -> pd.DataFrame:
    frame = cells[[*KEY_COLUMNS, *TRUTH_COLUMNS]].copy()
    for column in VALUE_COLUMNS:
        if column not in frame.columns:
            frame[column] = np.nan
    return frame


def _same_values(a: pd.DataFrame, b: pd.DataFrame) -> np.ndarray:
    """Row by row, True where the two aligned frames hold the same figures."""
    same = np.ones(len(a), dtype=bool)
    for column in TRUTH_COLUMNS:
        x = a[column].to_numpy(dtype=float)
        y = b[column].to_numpy(dtype=float)
        same &= (np.isnan(x) & np.isnan(y)) | (np.abs(x - y) <= 1e-9)
    return same


@dataclass
class JointUniverse:
    """Block 0 (the data of the new release) and one block per earlier state of the data,
    stacked in one :class:`Universe` with the sign of each difference as an inequality."""

    universe: Universe
    n0: int  # rows 0..n0-1 are block 0 (the new release's universe, same order)
    fixed_visible: np.ndarray  # rows shown by an earlier release (of any block)
    pairs: list[tuple[int, int]]  # (block-0 row, earlier row) of the same cell
    old_excluded: set[tuple[int, str]] = field(default_factory=set)
    releases: int = 0


def _stack(universes: list[Universe]) -> tuple[Universe, list[int], list[int]]:
    frames, kinds, var_row, var_value = [], [], [], []
    row_vars: dict[int, tuple[int, ...]] = {}
    row_offsets, var_offsets = [], []
    rows = vars_ = 0
    for block, u in enumerate(universes):
        row_offsets.append(rows)
        var_offsets.append(vars_)
        frames.append(u.frame.assign(block=block))
        kinds.append(u.kinds)
        var_row.append(u.var_row + rows)
        var_value.append(u.var_value)
        for r, vs in u.row_vars.items():
            row_vars[r + rows] = tuple(v + vars_ for v in vs)
        rows += len(u.frame)
        vars_ += len(u.var_row)
    stacked = Universe(
        frame=pd.concat(frames, ignore_index=True),
        kinds=np.concatenate(kinds) if kinds else np.zeros(0, object),
        var_row=np.concatenate(var_row).astype(int),
        var_value=np.concatenate(var_value).astype(float),
        row_vars=row_vars,
    )
    for u, off in zip(universes, var_offsets, strict=True):
        for form in u.equalities:
            stacked._add("eq", {v + off: c for v, c in form.items()})
        for form in u.inequalities:
            stacked._add("le", {v + off: c for v, c in form.items()})
    return stacked, row_offsets, var_offsets


def joint_universe(
    current: Universe,
    history: Sequence[Snapshot],
    k: int,
    shown: np.ndarray | None = None,
) -> JointUniverse:
    """The attacker's model of the new release (``current``) together with ``history``.

    With ``shown`` (the rows the new release shows), an earlier release that shows none
    of the same cells is left out: nothing links it to the new one (what it alone tells
    was audited when it left), and the model stays the size of the overlapping releases.
    """
    index0 = current.index()
    fixed0 = np.zeros(len(current.frame), dtype=bool)
    versions: dict[bytes, list[Snapshot]] = {}
    if shown is not None:
        wanted = set(
            map(tuple, current.frame.loc[np.asarray(shown, bool), list(KEY_COLUMNS)].to_numpy(str))
        )
        history = [
            s
            for s in history
            if not wanted.isdisjoint(map(tuple, s.cells[list(KEY_COLUMNS)].to_numpy(str)))
        ]
    for snap in history:
        truth = _truth_frame(snap.cells).sort_values(list(KEY_COLUMNS)).reset_index(drop=True)
        rows0 = [index0.get(tuple(key)) for key in truth[list(KEY_COLUMNS)].to_numpy(str)]
        if all(r is not None for r in rows0):
            same = _same_values(
                truth, current.frame.iloc[list(rows0)].reset_index(drop=True)[list(TRUTH_COLUMNS)]
            )
            if same.all():
                # built from the data the new release shows: the same unknowns
                shown = ~snap.cells.set_index(list(KEY_COLUMNS))["suppressed"].astype(bool)
                for key, visible in shown.items():
                    if visible:
                        fixed0[index0[tuple(str(x) for x in key)]] = True
                continue
        digest = pd.util.hash_pandas_object(truth, index=False).to_numpy().tobytes()
        versions.setdefault(digest, []).append(snap)
    universes = [current]
    visible_blocks = [fixed0]
    old_excluded: set[tuple[int, str]] = set()
    for snaps in versions.values():
        cells = pd.concat([s.cells for s in snaps], ignore_index=True)
        shown = (
            (~cells["suppressed"].astype(bool))
            .groupby([cells[c].astype(str) for c in KEY_COLUMNS])
            .any()
        )
        truth = _truth_frame(cells.drop_duplicates(list(KEY_COLUMNS)))
        u = Universe.from_frame(truth)
        keys = pd.MultiIndex.from_frame(u.frame[list(KEY_COLUMNS)].astype(str))
        visible = shown.reindex(keys).fillna(False).to_numpy(dtype=bool)
        # what the earlier releases alone already let a reader deduce is not the new
        # release's doing (and cannot be undone): those figures are left out
        before = audit_universe(u, visible, k)
        offset = sum(len(x.frame) for x in universes)
        for cell in before.failures:
            old_excluded.add((cell.row + offset, cell.quantity))
        universes.append(u)
        visible_blocks.append(visible)
    stacked, row_offsets, _ = _stack(universes)
    pairs: list[tuple[int, int]] = []
    for block in range(1, len(universes)):
        off = row_offsets[block]
        u = universes[block]
        for r, key in enumerate(u.frame[list(KEY_COLUMNS)].itertuples(index=False)):
            r0 = index0.get(tuple(key))
            if r0 is None or r0 not in current.row_vars or (r + off) not in stacked.row_vars:
                continue
            if len(current.row_vars[r0]) != len(stacked.row_vars[r + off]):
                continue
            pairs.append((r0, r + off))
            new_forms = stacked.quantity_forms(r0)
            old_forms = stacked.quantity_forms(r + off)
            for q in ("value", "num", "den"):
                if q not in new_forms:
                    continue
                diff = _difference(new_forms[q], old_forms[q])
                sign = 1.0 if stacked.form_value(diff) >= -TOLERANCE else -1.0
                # sign * diff >= 0, as "form <= 0"
                stacked._add("le", {v: -sign * c for v, c in diff.items()})
    return JointUniverse(
        universe=stacked,
        n0=len(current.frame),
        fixed_visible=np.concatenate(visible_blocks),
        pairs=pairs,
        old_excluded=old_excluded,
        releases=len(history),
    )


def _difference(new: Form, old: Form) -> Form:
    out = dict(new)
    for v, c in old.items():
        out[v] = out.get(v, 0.0) - c
    return {v: c for v, c in out.items() if c != 0}


# -- the joint audit ----------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    kind: str
    row: int  # row the label comes from
    block_row: int
    quantity: str
    form: Form


def _targets(ju: JointUniverse, visible: np.ndarray, k: int) -> list[_Target]:
    u = ju.universe
    out: list[_Target] = []
    for row, quantities in sorted(primary_quantities(u, k).items()):
        if visible[row]:
            continue
        for name, form in quantities.items():
            if row >= ju.n0 and (row, name) in ju.old_excluded:
                continue
            out.append(_Target("cella", row, row if row < ju.n0 else -1, name, form))
    for r0, r1 in ju.pairs:
        new_forms = u.quantity_forms(r0)
        old_forms = u.quantity_forms(r1)
        for name, form in new_forms.items():
            diff = _difference(form, old_forms[name])
            size = abs(u.form_value(diff))
            if 1 - TOLERANCE <= size <= k - 1 + TOLERANCE:
                out.append(_Target("differenza", r0, r0, name, diff))
    return out


def _bounds(u: Universe, members: list[int], target: Form) -> tuple[float, float]:
    group = tuple(members)
    programme = u.programmes.get(group)
    if programme is None:
        programme = u.programmes[group] = AttackerProgramme(u, members)
    assert isinstance(programme, AttackerProgramme)
    return programme.bounds_of(target)


def joint_audit(
    ju: JointUniverse,
    visible: np.ndarray,
    k: int,
    *,
    stop_at_first_failure: bool = False,
) -> JointAuditResult:
    """Audit the new release together with every earlier one: ``visible`` over block 0
    (what the new release shows); the earlier releases' cells are added here."""
    u = ju.universe
    full = ju.fixed_visible.copy()
    full[: ju.n0] |= np.asarray(visible, dtype=bool)
    hidden_var = ~full[u.var_row] if len(u.var_row) else np.zeros(0, bool)
    comps = HiddenComponents(u, hidden_var)
    det = determined_vars(u, hidden_var)
    keys = u.frame[list(KEY_COLUMNS)].to_numpy(str)
    todo = _targets(ju, full, k)
    todo.sort(key=lambda t: not all(det[v] for v in t.form))
    checks: list[JointCheck] = []
    for t in todo:
        open_part = {v: c for v, c in t.form.items() if not det[v]}
        known = sum(u.var_value[v] * c for v, c in t.form.items() if det[v])
        if not open_part:
            lo = hi = float(known)
        else:
            members = sorted({m for v in open_part for m in comps.members[comps.find(v)]})
            cache_key = ("joint", tuple(members), tuple(sorted(t.form.items())))
            if cache_key not in u.range_cache:
                # published and substituted unknowns of the form count with their values
                lo, hi = _bounds(u, members, open_part)
                u.range_cache[cache_key] = (lo + known, hi + known)
            lo, hi = u.range_cache[cache_key]
        check = JointCheck(t.kind, *(str(x) for x in keys[t.row]), t.quantity, lo, hi, t.block_row)
        checks.append(check)
        if stop_at_first_failure and not check.passes(k):
            break
    return JointAuditResult(k=k, checks=tuple(checks), releases=ju.releases)


# -- joint protection ---------------------------------------------------------------


@dataclass(frozen=True)
class JointProtection:
    """The suppression pattern of the new release over the current universe's rows."""

    suppressed: np.ndarray
    frozen: np.ndarray  # rows whose pattern was kept as released
    added: np.ndarray  # rows hidden for the series beyond the single-workbook pattern
    audit: JointAuditResult


def frozen_pattern(
    current: Universe, shown: np.ndarray, history: Sequence[Snapshot], profile: str
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the new workbook whose table did not change since the latest release of
    the same profile that showed it (``frozen``), and that release's pattern for them."""
    frame = current.frame
    n = len(frame)
    frozen = np.zeros(n, dtype=bool)
    pattern = np.zeros(n, dtype=bool)
    own = [s for s in history if s.profile == profile]
    if not own:
        return frozen, pattern
    order = sorted(own, key=lambda s: (s.approved_at or dt.datetime.min, s.quarter, s.release_seq))
    latest = (
        pd.concat([s.cells.assign(_order=i) for i, s in enumerate(order)], ignore_index=True)
        .sort_values("_order")
        .drop_duplicates(list(KEY_COLUMNS), keep="last")
    )
    index = current.index()
    rows = np.array(
        [index.get(tuple(k), -1) for k in latest[list(KEY_COLUMNS)].to_numpy(str)], dtype=int
    )
    keep = rows >= 0
    latest, rows = latest[keep].reset_index(drop=True), rows[keep]
    same = _same_values(latest, frame.iloc[rows].reset_index(drop=True))
    unchanged = np.zeros(n, dtype=bool)
    unchanged[rows[same]] = True
    before = np.zeros(n, dtype=bool)
    before[rows] = latest["suppressed"].astype(bool).to_numpy()
    released = np.zeros(n, dtype=bool)
    released[rows] = True
    ind = frame["indicator_id"].to_numpy(str)
    per = frame["period"].to_numpy(str)
    bd = frame["breakdown"].to_numpy(str)
    totals = {(i, p): r for r, (i, p, b) in enumerate(zip(ind, per, bd, strict=True)) if b == TOTAL}
    tables: dict[tuple[str, str, str], list[int]] = {}
    for r in np.flatnonzero(shown):
        tables.setdefault((ind[r], per[r], bd[r]), []).append(int(r))
    for (i, p, b), members in tables.items():
        table = set(members)
        if b != TOTAL and (i, p) in totals and shown[totals[(i, p)]]:
            table.add(totals[(i, p)])
        if all(released[r] and unchanged[r] for r in table):
            for r in table:
                frozen[r] = True
                pattern[r] = before[r]
    return frozen, pattern


def protect_jointly(
    current: Universe,
    base_suppressed: np.ndarray,
    shown: np.ndarray,
    history: Sequence[Snapshot],
    k: int,
    profile: str,
    *,
    max_rounds: int = 2_000,
) -> JointProtection:
    """The new release's pattern: the single-workbook pattern ``base_suppressed``, frozen
    where the tables did not change, then hidden further until the joint audit passes."""
    n = len(current.frame)
    shown = np.asarray(shown, dtype=bool)
    ju = joint_universe(current, history, k, shown)
    frozen, pattern = frozen_pattern(current, shown, history, profile)
    hidden = np.where(frozen, pattern, np.asarray(base_suppressed, dtype=bool))
    start = hidden.copy()
    u = ju.universe
    hideable = np.zeros(n, dtype=bool)
    for row in range(n):
        hideable[row] = (
            shown[row]
            and row in current.row_vars
            and current.kinds[row] in ("count", "rate")
            and not frozen[row]
            and not ju.fixed_visible[row]
        )
    is_total = (current.frame["breakdown"] == TOTAL).to_numpy()
    cost = np.array([current.cost(r) for r in range(n)])
    for _ in range(max_rounds):
        result = joint_audit(ju, shown & ~hidden, k)
        if result.passed:
            break
        full = ju.fixed_visible.copy()
        full[:n] |= shown & ~hidden
        comps = HiddenComponents(u, ~full[u.var_row])
        added, stuck = False, []
        for check in result.failures:
            choice = _next_to_hide(ju, comps, hidden, hideable, cost, is_total, check)
            if choice is None:
                stuck.append(check)
            elif not hidden[choice]:
                hidden[choice] = True
                added = True
        if not added:
            raise joint_failure(stuck or list(result.failures), k)
    else:  # pragma: no cover
        raise joint_failure(list(result.failures), k)
    hidden = _prune(ju, hidden, start, shown, cost, k)
    final = joint_audit(ju, shown & ~hidden, k)
    if not final.passed:  # pragma: no cover - pruning keeps passing states only
        raise joint_failure(list(final.failures), k)
    return JointProtection(suppressed=hidden, frozen=frozen, added=hidden & ~start, audit=final)


def _next_to_hide(
    ju: JointUniverse,
    comps: HiddenComponents,
    hidden: np.ndarray,
    hideable: np.ndarray,
    cost: np.ndarray,
    is_total: np.ndarray,
    check: JointCheck,
) -> int | None:
    """The new release's cell to hide next for a failing check: the cell itself when it
    is a difference both releases show; else the cheapest shown cell linked to it."""
    u = ju.universe
    row = check.block_row
    if row >= 0 and not hidden[row] and hideable[row]:
        return row
    index = _label_rows(ju, check)
    seeds: set[int] = set()
    for r in index:
        for v in u.row_vars.get(r, ()):
            root = comps.find(v)
            seeds.update(comps.members.get(root, [v]))
    best: tuple | None = None
    own = {v for r in index for v in u.row_vars.get(r, ())}
    for v in seeds:
        for kind, idx in u.var_constraints.get(v, ()):
            form = u.equalities[idx] if kind == "eq" else u.inequalities[idx]
            direct = bool(own & form.keys())
            for w in form:
                r = int(u.var_row[w])
                if r >= ju.n0 or hidden[r] or not hideable[r]:
                    continue
                key = (bool(is_total[r]), cost[r], not direct, r)
                if best is None or key < best:
                    best = key
    return None if best is None else int(best[-1])


def _label_rows(ju: JointUniverse, check: JointCheck) -> list[int]:
    """Rows of the joint universe holding the checked cell (in every block)."""
    frame = ju.universe.frame
    mask = (
        (frame["indicator_id"] == check.indicator_id)
        & (frame["period"] == check.period)
        & (frame["breakdown"] == check.breakdown)
        & (frame["category"] == check.category)
    )
    return [int(r) for r in np.flatnonzero(mask.to_numpy())]


def _prune(
    ju: JointUniverse,
    hidden: np.ndarray,
    start: np.ndarray,
    shown: np.ndarray,
    cost: np.ndarray,
    k: int,
) -> np.ndarray:
    """Show again every cell hidden for the series that the joint audit does not need,
    the largest first."""
    hidden = hidden.copy()
    for row in sorted(np.flatnonzero(hidden & ~start), key=lambda r: (-cost[r], r)):
        hidden[row] = False
        if not joint_audit(ju, shown & ~hidden, k, stop_at_first_failure=True).passed:
            hidden[row] = True
    return hidden


def joint_failure(checks: Sequence[JointCheck], k: int) -> JointAuditFailedError:
    return JointAuditFailedError(
        "verifica congiunta con i rilasci precedenti non superata: una differenza o una "
        f"cella riservata sarebbe ricavabile sotto {k} confrontando le cartelle già inviate "
        f"con questa. La cartella non è stata scritta; tenere fuori le tabelle: "
        f"{tables_text(checks)}"
    )


def audit_release(cells: pd.DataFrame, history: Sequence[Snapshot], k: int) -> JointAuditResult:
    """The joint audit of a built release (its cells with the figures behind them and
    ``suppressed``, as :class:`Snapshot` holds them) against ``history``: what approving
    it would add to what readers hold."""
    truth = _truth_frame(cells)
    universe = Universe.from_frame(truth)
    hidden = (
        cells.assign(**{c: cells[c].astype(str) for c in KEY_COLUMNS})
        .set_index(list(KEY_COLUMNS))["suppressed"]
        .astype(bool)
    )
    keys = pd.MultiIndex.from_frame(universe.frame[list(KEY_COLUMNS)].astype(str))
    visible = ~hidden.reindex(keys).fillna(True).to_numpy(dtype=bool)
    shown = np.ones(len(universe.frame), dtype=bool)
    return joint_audit(joint_universe(universe, history, k, shown), visible, k)
