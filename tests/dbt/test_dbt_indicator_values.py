"""marts.indicator_values on the hand-made warehouse of conftest.py.

Every expected number below was worked out by hand from the fixture rows; the comments
say which persons, contacts or relationships make it. Cut-off 2025-06-30, first data
2024-01-15, so the periods are 2024-Q1 … 2025-Q2 and 2024.
"""

from __future__ import annotations

import math
import re

import duckdb
import pytest

PERIODS = {"2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4", "2025-Q1", "2025-Q2", "2024"}


def cell(
    con: duckdb.DuckDBPyConnection,
    indicator: str,
    period: str,
    breakdown: str = "totale",
    category: str = "totale",
) -> tuple:
    rows = con.execute(
        "select value, numerator, denominator, ci_low, ci_high from marts.indicator_values"
        " where indicator_id = ? and period = ? and breakdown = ? and category = ?",
        [indicator, period, breakdown, category],
    ).fetchall()
    assert len(rows) == 1, (indicator, period, breakdown, category, rows)
    return rows[0]


def value(con, indicator, period, breakdown="totale", category="totale"):
    return cell(con, indicator, period, breakdown, category)[0]


def breakdown(con, indicator, period, name) -> dict[str, float]:
    rows = con.execute(
        "select category, value from marts.indicator_values"
        " where indicator_id = ? and period = ? and breakdown = ?",
        [indicator, period, name],
    ).fetchall()
    return dict(rows)


def rate(con, indicator, period, breakdown="totale", category="totale"):
    v, num, den, _, _ = cell(con, indicator, period, breakdown, category)
    return num, den, v


def test_dbt_build_passes_models_data_tests_and_unit_tests(dbt_build):
    _, log = dbt_build
    assert "Completed successfully" in log, log[-4000:]
    finished = re.search(r"Finished running (.*) in ", log)
    assert finished, log[-2000:]
    unit_tests = re.search(r"(\d+) unit tests?", finished.group(1))
    assert unit_tests and int(unit_tests.group(1)) >= 20, finished.group(1)


def test_periods_run_from_first_data_to_cutoff(warehouse):
    got = {
        r[0]
        for r in warehouse.execute("select distinct period from marts.indicator_values").fetchall()
    }
    assert got == PERIODS


def test_every_indicator_has_every_period_and_category(warehouse):
    ids = [
        r[0]
        for r in warehouse.execute(
            "select distinct indicator_id from marts.indicator_values"
        ).fetchall()
    ]
    assert sorted(ids) == sorted(
        [
            "A1",
            "A2",
            "A3",
            "A4",
            "B1",
            "B2",
            "B3",
            "C1",
            "C2",
            "D1",
            "D2",
            "D3",
            "D4",
            "D5",
            "D6",
            "E1",
            "E2",
            "F1",
            "F2",
            "F3",
            "F4",
            "Q1",
            "Q2",
            "Q3",
        ]
    )
    missing = warehouse.execute(
        """
        with cats as (select distinct indicator_id, breakdown, category
                      from marts.indicator_values),
             per as (select distinct period from marts.indicator_values)
        select count(*) from cats cross join per
        where not exists (select 1 from marts.indicator_values v
                          where v.indicator_id = cats.indicator_id and v.period = per.period
                            and v.breakdown = cats.breakdown and v.category = cats.category)
        """
    ).fetchone()[0]
    assert missing == 0
    # the listed categories are there even where nothing falls in them
    assert breakdown(warehouse, "A1", "2024-Q1", "fascia_eta").keys() >= {
        "<18",
        "18-24",
        "25-34",
        "35-44",
        "45-54",
        "55+",
    }
    assert set(breakdown(warehouse, "D1", "2025-Q1", "tipo_datore")) == {
        "cooperativa sociale",
        "impresa",
    }


ADDITIVE = [
    ("A1", b) for b in ("sesso", "fascia_eta", "cittadinanza", "posizione_giuridica", "distretto")
] + [
    ("A2", "sesso"),
    ("A2", "distretto"),
    ("A3", "tipo_utente"),
    ("A3", "richiesta"),
    ("A4", "inviato_a"),
    ("C1", "tipo"),
    ("D1", "tipo_contratto"),
    ("D1", "tipo_datore"),
    ("D1", "agevolazione_193"),
    ("D2", "sesso"),
    ("E1", "tipo_contratto_coop"),
    ("E1", "mansione"),
    ("F1", "associazione"),
    ("F1", "ateco_sezione"),
    ("Q2", "fonte"),
]


@pytest.mark.parametrize(("indicator", "name"), ADDITIVE)
def test_additive_breakdowns_sum_to_their_totals(warehouse, indicator, name):
    for period in PERIODS:
        parts = breakdown(warehouse, indicator, period, name)
        assert sum(parts.values()) == value(warehouse, indicator, period), (period, parts)


def test_a1_persons_followed(warehouse):
    w = warehouse
    # Q1: p01 (the later copy of the case is open), p02, p04.
    assert value(w, "A1", "2024-Q1") == 3
    # Q2: p01, p02 (Casalpusterlengo until 20/5), p03, p05 (the dated copy, open, beats
    # the undated one), p06 (omocodic variant of p01's CF: another person). p04 closed 31/3.
    assert value(w, "A1", "2024-Q2") == 5
    assert breakdown(w, "A1", "2024-Q2", "sesso") == {"M": 3, "F": 2}
    assert breakdown(w, "A1", "2024-Q2", "fascia_eta") == {
        "<18": 0,
        "18-24": 1,
        "25-34": 1,
        "35-44": 2,
        "45-54": 1,
        "55+": 0,
    }
    assert breakdown(w, "A1", "2024-Q2", "cittadinanza") == {
        "italiana": 2,
        "straniera": 2,
        "non indicata": 1,
    }
    assert breakdown(w, "A1", "2024-Q2", "posizione_giuridica") == {
        "in carcere": 2,
        "misura alternativa": 3,
        "ex detenuto": 0,
        "non indicata": 0,
    }
    assert breakdown(w, "A1", "2024-Q2", "distretto") == {
        "Lodi": 3,
        "Casalpusterlengo": 1,
        "Sant'Angelo Lodigiano": 1,
        "non indicata": 0,
    }
    # Q3: p02's case for the period is the Sant'Angelo one opened 1/8 (Ex detenuto).
    assert value(w, "A1", "2024-Q3") == 6
    assert breakdown(w, "A1", "2024-Q3", "distretto") == {
        "Lodi": 3,
        "Casalpusterlengo": 1,
        "Sant'Angelo Lodigiano": 2,
        "non indicata": 0,
    }
    assert value(w, "A1", "2024-Q3", "posizione_giuridica", "ex detenuto") == 1
    assert value(w, "A1", "2024") == 7
    assert breakdown(w, "A1", "2024", "distretto")["Lodi"] == 4
    # 2025-Q2: p09 ('11' read as 2011, 14 at the cut-off) is under 18.
    assert value(w, "A1", "2025-Q2") == 7
    assert value(w, "A1", "2025-Q2", "fascia_eta", "<18") == 1


def test_a2_new_cases(warehouse):
    w = warehouse
    assert value(w, "A2", "2024-Q1") == 3  # p01, p02, p04
    assert value(w, "A2", "2024-Q2") == 3  # p03, p05, p06
    assert value(w, "A2", "2024-Q3") == 1  # p07 (p02's second case is not a first one)
    assert value(w, "A2", "2024-Q3", "distretto", "Casalpusterlengo") == 1
    assert value(w, "A2", "2024") == 7
    assert value(w, "A2", "2025-Q2") == 1  # p09


def test_a3_a4_desk(warehouse):
    w = warehouse
    assert value(w, "A3", "2024-Q2") == 4  # c1-c4, c4 counted once
    assert breakdown(w, "A3", "2024-Q2", "tipo_utente") == {
        "Detenuto": 1,
        "Ex detenuto": 1,
        "In misura alternativa": 0,
        "Familiare": 2,
        "Altro": 0,
    }
    assert value(w, "A3", "2024-Q2", "richiesta", "Lavoro") == 2
    assert value(w, "A3", "2024") == 5
    # A4: c1 (CPI) and c4 (its later copy says CFP); c3 'Nessuno' and c2 blank are not.
    assert value(w, "A4", "2024-Q2") == 2
    assert value(w, "A4", "2024-Q2", "inviato_a", "Centro per l'Impiego") == 1
    assert value(w, "A4", "2024-Q2", "inviato_a", "CFP") == 1
    assert value(w, "A4", "2024-Q2", "inviato_a", "Caritas") == 0
    assert value(w, "A4", "2024-Q3", "inviato_a", "Servizi sociali") == 1


def test_b_training(warehouse):
    w = warehouse
    # Q1: p01, p02 (withdrawn 10/3, after Q1 began).
    assert value(w, "B1", "2024-Q1") == 2
    # Q2: p01, p03 (two courses), p05 (withdrawn during Q2); p02 withdrawn before Q2;
    # p06's course is in no Corsi sheet.
    assert value(w, "B1", "2024-Q2") == 3
    assert value(w, "B1", "2024-Q2", "area", "Ristorazione") == 2
    assert value(w, "B1", "2024-Q2", "area", "Sicurezza") == 2
    assert value(w, "B1", "2024-Q2", "sede", "C.C. Lodi (intramurario)") == 2
    assert value(w, "B1", "2024-Q3") == 0
    # B2 Q2: p01 RIST Qualificato, p02 RIST Ritirato, p03 SIC Attestato, p05 SIC Ritirato
    # (p03 RIST still In corso is left out): 2 of 4.
    assert rate(w, "B2", "2024-Q2") == (2, 4, 50.0)
    assert rate(w, "B2", "2024-Q2", "tipo", "Qualifica IeFP") == (1, 2, 50.0)
    assert rate(w, "B2", "2024-Q2", "tipo", "HACCP") == (0, 0, None)
    assert rate(w, "B2", "2024-Q1") == (0, 0, None)
    assert value(w, "B3", "2024-Q2") == 1
    assert value(w, "B3", "2024") == 1


def test_b2_wilson_interval(warehouse):
    _, num, den, low, high = cell(warehouse, "B2", "2024-Q2")
    # Wilson 95% for 2/4 by hand: centre 0.5, half-width
    # 1.96*sqrt(0.25/4 + 1.96²/64) / (1 + 1.96²/4) = 0.349965…
    assert (num, den) == (2, 4)
    assert low == pytest.approx(15.0035, abs=1e-3)
    assert high == pytest.approx(84.9965, abs=1e-3)
    assert cell(warehouse, "B2", "2024-Q1")[3:] == (None, None)


def test_c_internships(warehouse):
    w = warehouse
    assert value(w, "C1", "2024-Q2") == 3
    assert breakdown(w, "C1", "2024-Q2", "tipo") == {
        "Tirocinio extracurricolare": 1,
        "Tirocinio di inclusione": 1,
        "Borsa lavoro": 1,
    }
    assert value(w, "C1", "2024-Q3") == 1
    # C2 Q2: p03 hired by A 89 days after the end (yes), p05 by B after 91 days (no),
    # p06 Esito Assunto (yes). The CO copy of p01's internship is not counted.
    assert rate(w, "C2", "2024-Q2")[:2] == (2, 3)
    assert rate(w, "C2", "2024-Q2", "tipo", "Tirocinio di inclusione")[:2] == (1, 1)
    assert rate(w, "C2", "2024-Q2", "tipo", "Tirocinio extracurricolare")[:2] == (0, 1)


def test_d1_hires(warehouse):
    w = warehouse
    assert value(w, "D1", "2024-Q1") == 1  # R3 (the CO internship R7 is not a hire)
    assert value(w, "D1", "2024-Q1", "tipo_contratto", "apprendistato") == 1
    assert value(w, "D1", "2024-Q2") == 2  # R6, R9
    assert value(w, "D1", "2024-Q3") == 3  # R1, R2, R5
    assert breakdown(w, "D1", "2024-Q3", "tipo_contratto") == {
        "tempo indeterminato": 1,
        "tempo determinato": 2,
        "apprendistato": 0,
        "altro": 0,
    }
    assert breakdown(w, "D1", "2024-Q3", "agevolazione_193") == {"sì": 1, "no": 2}
    assert breakdown(w, "D1", "2024-Q4", "tipo_datore") == {"cooperativa sociale": 1, "impresa": 1}
    assert value(w, "D1", "2024-Q4", "tipo_contratto", "altro") == 1
    assert value(w, "D1", "2024") == 8
    # R2 is still fixed-term on 31/12/2024 (transformed on 10/1/2025).
    assert breakdown(w, "D1", "2024", "tipo_contratto") == {
        "tempo indeterminato": 2,
        "tempo determinato": 4,
        "apprendistato": 1,
        "altro": 1,
    }
    assert value(w, "D1", "2025-Q1") == 0


def test_d2_employed_at_period_end(warehouse):
    w = warehouse
    assert value(w, "D2", "2024-Q1") == 1  # p07 (R3)
    # Q2: p07 (R3 ends on 30/6, still active), p08 (R6), p04 (R9).
    assert value(w, "D2", "2024-Q2") == 3
    assert breakdown(w, "D2", "2024-Q2", "sesso") == {"M": 2, "F": 1}
    assert breakdown(w, "D2", "2024-Q2", "posizione_giuridica") == {
        "in carcere": 0,
        "misura alternativa": 0,
        "ex detenuto": 1,
        "non indicata": 2,
    }
    assert value(w, "D2", "2024-Q3") == 4  # p03, p05, p06, p04
    assert value(w, "D2", "2024-Q4") == 6  # + p07 (R4), p02 (R8)
    # 2025-Q1: R1 ended 15/2 (Cessazione before the Proroga's end), R8 on 28/2.
    assert value(w, "D2", "2025-Q1") == 4
    assert breakdown(w, "D2", "2025-Q1", "tipo_contratto") == {
        "tempo indeterminato": 3,
        "tempo determinato": 1,
        "apprendistato": 0,
        "altro": 0,
    }


def test_d3_employment_rate(warehouse):
    w = warehouse
    assert rate(w, "D3", "2024-Q2") == (0, 4, 0.0)  # p01, p03, p05, p06, none employed
    assert rate(w, "D3", "2024-Q3") == (3, 6, 50.0)
    assert rate(w, "D3", "2024-Q3", "sesso", "M")[:2] == (2, 4)
    assert rate(w, "D3", "2024-Q3", "sesso", "F")[:2] == (1, 2)
    assert rate(w, "D3", "2024-Q3", "posizione_giuridica", "misura alternativa")[:2] == (2, 3)
    assert rate(w, "D3", "2024-Q3", "posizione_giuridica", "non indicata") == (0, 0, None)
    assert rate(w, "D3", "2024-Q4")[:2] == (5, 6)
    assert rate(w, "D3", "2025-Q2")[:2] == (3, 7)


def test_d4_d5_d6_first_hires(warehouse):
    w = warehouse
    # D4 Q2: p04 hired 20/5, still employed on 18/11.
    assert rate(w, "D4", "2024-Q2") == (1, 1, 100.0)
    # D4 Q3: p03 (R1 ended 15/2 < 18/3), p05 (transformed, open-ended on 10/3), p06.
    num, den, v = rate(w, "D4", "2024-Q3")
    assert (num, den) == (2, 3)
    assert v == pytest.approx(200 / 3)
    # not yet observable: 31/12/2024 + 182 days is after the cut-off.
    assert cell(w, "D4", "2024-Q4") == (None, None, None, None, None)
    assert cell(w, "D4", "2024") == (None, None, None, None, None)
    # observable but nobody in the cohort: 0 of 0.
    assert rate(w, "D4", "2024-Q1") == (0, 0, None)
    assert rate(w, "D5", "2024-Q2") == (1, 1, 100.0)
    assert cell(w, "D5", "2024-Q3")[:3] == (None, None, None)
    # D6: Q2 p04 121 days; Q3 p03 165, p05 130, p06 21; Q4 p07 78 (R3 before his case is
    # not his first hire), p02 268; the year: median of 21, 78, 121, 130, 165, 268.
    assert value(w, "D6", "2024-Q2") == 121
    assert value(w, "D6", "2024-Q3") == 130
    assert value(w, "D6", "2024-Q4") == 173
    assert value(w, "D6", "2024") == 125.5
    assert cell(w, "D6", "2025-Q1") == (None, None, None, None, None)


def test_e_cooperatives(warehouse):
    w = warehouse
    assert value(w, "E1", "2024-Q2") == 3
    assert breakdown(w, "E1", "2024-Q2", "tipo_contratto_coop") == {
        "Indeterminato": 1,
        "Determinato": 0,
        "Socio lavoratore": 1,
        "Tirocinio": 1,
        "Borsa lavoro": 0,
    }
    assert value(w, "E1", "2024-Q2", "mansione", "Manutenzione del verde") == 2
    # E2 on 30/6: a Tirocinio, a worker not disadvantaged, one ended on 29/6.
    assert value(w, "E2", "2024-Q2") == 0
    assert value(w, "E2", "2024-Q4") == 1
    assert value(w, "E2", "2025-Q2") == 1


def test_f_companies(warehouse):
    w = warehouse
    assert value(w, "F1", "2024-Q2") == 3  # A, B, E
    assert value(w, "F1", "2024-Q2", "associazione", "Confartigianato") == 1
    assert value(w, "F1", "2024-Q2", "associazione", "Coldiretti") == 0
    assert breakdown(w, "F1", "2024-Q2", "ateco_sezione")["I"] == 1
    assert breakdown(w, "F1", "2024-Q2", "ateco_sezione")["N"] == 1
    assert value(w, "F1", "2024") == 4
    assert value(w, "F2", "2024-Q2") == 2  # A (its Sì of 15/4), E
    assert breakdown(w, "F2", "2024-Q2", "forme_disponibili") == {
        "Tirocinio": 2,
        "Assunzione": 1,
        "Borsa lavoro": 1,
    }
    assert value(w, "F3", "2024-Q1") == 0  # R3's employer was never contacted
    assert value(w, "F3", "2024-Q2") == 2  # A (R6), B (R9)
    assert value(w, "F3", "2024-Q3") == 3  # A, B, C (contacted 1/8, before 30/9)
    assert value(w, "F3", "2024-Q4") == 0  # the coop was never contacted; a sole trader
    # F4 by the latest contact in the period: A no (20/6), B yes, E blank.
    assert rate(w, "F4", "2024-Q2")[:2] == (1, 3)
    assert rate(w, "F4", "2024")[:2] == (2, 4)


def test_q_quality(warehouse):
    w = warehouse

    # Q1 against the expected senders (worked by hand in tests/dbt/conftest.py):
    # (received, owed) per sender; the desk owes nothing outside April-June 2024, the CFP
    # owes a half-year file it never sends, the CNA's only file was refused.
    def q1(period: str, breakdown: str = "fonte_mittente") -> dict[str, tuple]:
        return {
            category: (numerator, denominator)
            for category, numerator, denominator in w.execute(
                "select category, numerator, denominator from marts.indicator_values"
                " where indicator_id = 'Q1' and period = ? and breakdown = ?",
                [period, breakdown],
            ).fetchall()
        }

    assert q1("2024-Q2") == {
        "servizi_sociali|UdP Lodi": (1, 1),
        "provincia_co|Provincia di Lodi": (1, 1),
        "sportello|Caritas Lodigiana": (1, 3),
        "imprese|CNA": (0, 1),
        "cfp|CFP Consortile": (0, 1),
    }
    assert rate(w, "Q1", "2024-Q2")[:2] == (3, 7)
    # timeliness: the cumulative CO extract of July 2025 is late for 2024-Q2
    assert q1("2024-Q2", "puntualita") == {
        "servizi_sociali|UdP Lodi": (1, 1),
        "provincia_co|Provincia di Lodi": (0, 1),
        "sportello|Caritas Lodigiana": (1, 3),
        "imprese|CNA": (0, 1),
        "cfp|CFP Consortile": (0, 1),
    }
    assert q1("2024-Q1")["sportello|Caritas Lodigiana"] == (0, 0)
    assert rate(w, "Q1", "2024-Q1")[:2] == (2, 4)
    # 2024-Q3: UdP Lodi's copy arrived, after its due date
    assert q1("2024-Q3")["servizi_sociali|UdP Lodi"] == (1, 1)
    assert q1("2024-Q3", "puntualita")["servizi_sociali|UdP Lodi"] == (0, 1)
    assert rate(w, "Q1", "2024-Q3")[:2] == (2, 4)
    assert q1("2024-Q4")["servizi_sociali|UdP Lodi"] == (0, 1)
    assert q1("2025-Q2", "puntualita")["provincia_co|Provincia di Lodi"] == (1, 1)
    assert rate(w, "Q1", "2024")[:2] == (5, 11)
    assert q1("2024", "puntualita")["servizi_sociali|UdP Lodi"] == (2, 4)
    assert q1("2024")["cfp|CFP Consortile"] == (0, 2)
    # Q2: rows rejected in loaded files whose reference date is in the period.
    assert value(w, "Q2", "2024-Q1") == 1
    assert value(w, "Q2", "2024-Q2") == 2
    assert value(w, "Q2", "2024-Q2", "fonte", "servizi_sociali") == 2
    assert value(w, "Q2", "2024-Q2", "fonte", "sportello") == 0
    assert value(w, "Q2", "2024-Q3") == 0  # only the duplicate f7 is dated then
    assert value(w, "Q2", "2025-Q2") == 4
    assert value(w, "Q2", "2025-Q2", "fonte", "provincia_co") == 4
    assert value(w, "Q2", "2024") == 3
    # Q3: every A1 person of 2024-Q2 is in another feed; p09 in 2025-Q2 is not.
    assert rate(w, "Q3", "2024-Q2") == (5, 5, 100.0)
    assert rate(w, "Q3", "2025-Q2")[:2] == (6, 7)


def test_units_and_null_rules(warehouse):
    rows = warehouse.execute(
        "select unit, count(*) filter (where unit = 'count' and (numerator is not null"
        " or denominator is not null or value is null)),"
        " count(*) filter (where unit = 'percent' and denominator = 0 and value is not null)"
        " from marts.indicator_values group by unit"
    ).fetchall()
    for _unit, bad_counts, bad_rates in rows:
        assert bad_counts == 0 and bad_rates == 0
    percent_values = [
        r[0]
        for r in warehouse.execute(
            "select value from marts.indicator_values where unit = 'percent' and value is not null"
        ).fetchall()
    ]
    assert all(0 <= v <= 100 and not math.isnan(v) for v in percent_values)


def test_persons_and_relationships(warehouse):
    w = warehouse
    births = dict(
        w.execute(
            "select person_id, birth_date::varchar from intermediate.int_persons_resolved"
        ).fetchall()
    )
    assert births["p09"] == "2011-03-01"
    assert births["p03"] == "2005-03-15"
    assert births["p04"] == "1960-12-31"
    rels = {
        r[0]: r[1:]
        for r in w.execute(
            "select person_id || '-' || employer_code, end_date::varchar, is_internship"
            " from intermediate.int_employment_relationships_built"
        ).fetchall()
    }
    assert rels["p03-11111111111"] == ("2025-02-15", False)  # Proroga then Cessazione
    assert rels["p05-22222222222"] == (None, False)  # Trasformazione to open-ended
    assert rels["p01-33333333333"] == ("2024-07-31", True)  # C.01.00
    first = dict(
        w.execute(
            "select person_id, first_hire_date::varchar from intermediate.int_first_hires_found"
        ).fetchall()
    )
    assert first == {
        "p02": "2024-11-04",
        "p03": "2024-09-17",
        "p04": "2024-05-20",
        "p05": "2024-09-09",
        "p06": "2024-07-01",
        "p07": "2024-10-01",
    }
