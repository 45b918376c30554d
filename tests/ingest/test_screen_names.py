"""The screening's quick look at a row's names (``_RowNames._may_name``) never changes
what the full check (folding every name cell) finds: same answer on any cells."""

from __future__ import annotations

from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from lavoro_debole.ingest.personal import name_tokens
from lavoro_debole.ingest.pipeline import _RowNames
from lavoro_debole.schemas import fold

# surname, first name (one person), social worker (staff): two groups
COLUMNS = {"surname": 0, "first_name": 1, "social_worker": 2}
GROUPS = [[0, 1], [2]]

WORDS = ["rossi", "mario", "de", "luca", "anna", "maria", "bianchi", "jose", "strasse", "di"]
TEXT = st.text(alphabet="RossiMarioDeLucaAnnaJoséStraßeÉlodie '-.0123", max_size=20)
CELL = st.one_of(
    st.none(),
    TEXT,
    st.sampled_from(["Rossi", "De Luca", "D'Angelo", "José", "Straße", "Mario Rossi", ""]),
    st.integers(0, 99),
    st.floats(allow_nan=False, width=32),
    st.booleans(),
)


def _expected(row: list[object], words: set[str]) -> bool:
    people = [t for g in GROUPS if len(t := name_tokens(row[i] for i in g if i < len(row))) >= 2]
    return any(len(words & person) >= 2 for person in people)


@settings(max_examples=400, deadline=None)
@given(
    rows=st.lists(st.lists(CELL, min_size=0, max_size=3), min_size=1, max_size=4),
    picked=st.lists(st.sampled_from(WORDS), min_size=2, max_size=4),
    extra=TEXT,
    from_row=st.booleans(),
)
def test_quick_look_agrees_with_the_full_check(rows, picked, extra, from_row):
    words = set(picked) | set(fold(extra).split())
    if from_row:  # words of the row's own names too, so that matches are common
        for cell in rows[0]:
            words |= set(name_tokens([cell]))
    if len(words) < 2:
        words |= {"rossi", "mario"}
    names = _RowNames(SimpleNamespace(sheet=SimpleNamespace(rows=rows), data_rows=[0]), COLUMNS)
    assert names.named_in(0, words) == _expected(rows[0], words)


def test_accented_names_are_still_found():
    """'José' folds to 'jose': not a substring of the cell, so the full check runs."""
    rows = [["Núñez", "José", None]]
    names = _RowNames(SimpleNamespace(sheet=SimpleNamespace(rows=rows), data_rows=[0]), COLUMNS)
    assert names.named_in(0, {"jose", "nunez", "corso"})
    assert not names.named_in(0, {"jose", "corso"})


def test_a_name_found_in_plain_cells():
    rows = [["Rossi", "Mario", "Bianchi Anna"]]
    names = _RowNames(SimpleNamespace(sheet=SimpleNamespace(rows=rows), data_rows=[0]), COLUMNS)
    assert names.named_in(0, {"mario", "rossi", "chiamato"})
    assert names.named_in(0, {"anna", "bianchi"})
    # one word of each person is not a name: no match
    assert not names.named_in(0, {"mario", "anna"})
    # a word inside another ("ross" in "rossi") is not a word of the name
    assert not names.named_in(0, {"ross", "mario"})
