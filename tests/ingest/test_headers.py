"""Header detection and the blank/total row rules of validation-rules.md."""

from __future__ import annotations

from pathlib import Path

from lavoro_debole.ingest.headers import find_header, header_key, is_blank_row, is_total_row
from lavoro_debole.ingest.readers import read_file

VARIANTS = {
    "cf": ["Codice Fiscale", "Cod. Fiscale", "C.F.", "CF", "Codice fiscale allievo"],
    "nationality": ["Nazionalità", "Cittadinanza"],
    "event_date": ["Data Evento", "Data presa in carico"],
    "hours": ["Ore Settimanali", "Ore"],
    "row_number": ["N."],
}


def test_header_below_title_rows_with_line_breaks_accents_and_dots() -> None:
    rows = [
        ["Ufficio di Piano - Codice Fiscale dell'ente", None, None, None, None],  # one match only
        [None, None, None, None, None],
        ["N.", " COD.\nFISCALE ", "Nazionalita", "Telefono", "data  EVENTO"],
        [1, "X", "Italiana", "333", "01/01/2024"],
    ]
    match = find_header(rows, VARIANTS)
    assert match is not None
    assert match.row_index == 2
    assert match.columns == {"row_number": 0, "cf": 1, "nationality": 2, "event_date": 4}
    assert match.unknown == [3]


def test_spaces_inside_abbreviations_do_not_matter() -> None:
    assert header_key("C. F.") == header_key("C.F.") == header_key("CF") == "cf"
    assert header_key("Cod.Fiscale") == header_key("Cod. Fiscale")


def test_first_row_with_the_best_score_wins() -> None:
    rows = [
        ["CF", "Ore", "Nazionalità", None],  # 3 matches
        ["CF", "Ore", "Nazionalità", "Data Evento"],  # 4 matches: the header
        ["CF", "Ore", "Nazionalità", "Data Evento"],  # same score, later
    ]
    match = find_header(rows, VARIANTS)
    assert match is not None and match.row_index == 1


def test_duplicate_header_keeps_the_first_column() -> None:
    rows = [["C.F.", "Ore", "Codice Fiscale", "Cittadinanza"]]
    match = find_header(rows, VARIANTS)
    assert match is not None
    assert match.columns == {"cf": 0, "hours": 1, "nationality": 3}
    assert match.unknown == [2]


def test_no_header_below_min_matches_or_beyond_max_scan() -> None:
    assert find_header([["CF", "Ore", "Altro"]], VARIANTS) is None
    assert find_header([["CF", "Ore", "Altro"]], VARIANTS, min_matches=2) is not None
    rows = [[None, None, None]] * 30 + [["CF", "Ore", "Nazionalità"]]
    assert find_header(rows, VARIANTS) is None
    assert find_header(rows, VARIANTS, max_scan=31) is not None


def test_header_of_a_real_workbook_keeps_sheet_row_numbers(co_like_xlsx: Path) -> None:
    sheet = next(s for s in read_file(co_like_xlsx) if s.name == "Estrazione")
    match = find_header(sheet.rows, VARIANTS)
    assert match is not None
    assert match.row_index + 1 == 4  # the partner's row 4
    assert match.columns == {"cf": 0, "event_date": 1, "hours": 2}
    assert match.unknown == [3, 4]  # Livello, Esito
    assert is_total_row(sheet.rows[6])


def test_is_total_row() -> None:
    assert is_total_row(["Totale record: 57", None])
    assert is_total_row([None, "  TOTALE", 12])
    assert is_total_row(["#N/D", "totale generale"])
    assert not is_total_row(["Subtotale", 3])
    assert not is_total_row([12, "Totale"])
    assert not is_total_row([None, None])


def test_is_blank_row() -> None:
    assert is_blank_row([None, "  ", "\xa0", "#N/D", "#VALORE!"])
    assert not is_blank_row([None, "x"])
    assert not is_blank_row([None, 0])
    assert not is_blank_row([None, "n.d."])  # a no-value token is not blank
    assert is_blank_row([7, None, " "], ignore={0})  # only the N. column filled
    assert not is_blank_row([7, None, " "])
    assert is_blank_row([])
