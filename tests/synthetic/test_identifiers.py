"""The generator's own CF and P.IVA code agrees with python-codicefiscale and python-stdnum."""

from __future__ import annotations

import random
from datetime import date

import pytest
from codicefiscale import codicefiscale as cf_lib
from stdnum.it import codicefiscale as stdnum_cf
from stdnum.it import iva

from lavoro_debole.synthetic import identifiers as ids


@pytest.mark.parametrize(
    ("surname", "name", "sex", "birth", "place"),
    [
        ("Rossi", "Mario", "M", date(1980, 1, 1), "Milano"),
        ("D'Angelo", "Niccolò", "M", date(1975, 12, 31), "Napoli"),
        ("Fo", "Ugo", "M", date(2001, 3, 17), "Bari"),
        ("Bennani", "Yasmine", "F", date(1992, 1, 2), "Marocco"),
        ("El Amrani", "Hamza", "M", date(1989, 11, 2), "Egitto"),
        ("Dell'Acqua", "Gianfranco", "M", date(1960, 7, 9), "Lodi"),
        ("Zoe", "Ia", "F", date(1999, 2, 28), "Sant'Angelo Lodigiano"),
    ],
)
def test_cf_agrees_with_library(surname: str, name: str, sex: str, birth: date, place: str) -> None:
    expected = cf_lib.encode(
        lastname=surname, firstname=name, gender=sex, birthdate=birth.isoformat(), birthplace=place
    )
    code = cf_lib.encode_birthplace(place, birth.isoformat())
    assert ids.make_cf(surname, name, sex, birth, code) == expected


def test_birthplace_table_matches_library() -> None:
    for name, code in ids.ITALIAN_BIRTHPLACES:
        assert cf_lib.encode_birthplace(name, "1980-01-01") == code, name
    for name, code, _, _ in ids.FOREIGN_BIRTHPLACES:
        assert cf_lib.encode_birthplace(name, "1980-01-01") == code, name


def test_random_cfs_agree_with_library() -> None:
    rng = random.Random(7)
    places = ids.ITALIAN_BIRTHPLACES + tuple((c[0], c[1]) for c in ids.FOREIGN_BIRTHPLACES)
    for _ in range(150):
        surname = rng.choice(("Bianchi", "Esposito", "Re", "Colombo", "Hoxha", "Quispe", "Aiello"))
        name = rng.choice(("Luca", "Anna", "Ioana", "Karim", "Francesca", "Eva", "Giuseppe"))
        sex = rng.choice("MF")
        birth = date(rng.randrange(1950, 2005), rng.randrange(1, 13), rng.randrange(1, 29))
        place, code = rng.choice(places)
        mine = ids.make_cf(surname, name, sex, birth, code)
        assert mine == cf_lib.encode(
            lastname=surname,
            firstname=name,
            gender=sex,
            birthdate=birth.isoformat(),
            birthplace=place,
        )
        assert stdnum_cf.is_valid(mine)


def test_omocodic_variant_is_a_valid_different_cf() -> None:
    base = ids.make_cf("Rossi", "Mario", "M", date(1980, 1, 1), "F205")
    assert base == "RSSMRA80A01F205X"
    first = ids.omocodic_variant(base, 1)
    assert first[:15] == "RSSMRA80A01F20R"  # the rightmost digit 5 becomes R
    assert first != base
    assert stdnum_cf.is_valid(first)
    assert cf_lib.is_valid(first)
    assert cf_lib.is_omocode(first)
    second = ids.omocodic_variant(base, 2)
    assert second[:15] == "RSSMRA80A01F2LR"
    assert cf_lib.is_valid(second) and second not in (base, first)


def test_wrong_check_character_is_invalid() -> None:
    base = ids.make_cf("Rossi", "Mario", "M", date(1980, 1, 1), "F205")
    assert not stdnum_cf.is_valid(ids.with_wrong_check(base))
    assert not cf_lib.is_valid(ids.with_wrong_check(base))


def test_piva_valid_and_wrong_check_invalid() -> None:
    rng = random.Random(3)
    for _ in range(200):
        vat = ids.make_piva(rng)
        assert len(vat) == 11 and iva.is_valid(vat), vat
        assert not iva.is_valid(ids.piva_with_wrong_check(vat))
    # a P.IVA from the sample files, checked by hand: Luhn over 0139716098 gives 5
    assert iva.is_valid("01397160985")
