"""The direct CF and P.IVA checks give exactly python-stdnum's verdict."""

from __future__ import annotations

import random
import string

from stdnum import luhn
from stdnum.it import codicefiscale as stdnum_cf
from stdnum.it import iva as stdnum_iva

from lavoro_debole.schemas import is_valid_cf, is_valid_piva

DIGITS = "0123456789"
OMOCODIA = "LMNPQRSTUV"


def _random_cf(rng: random.Random) -> str:
    def digit() -> str:
        return rng.choice(DIGITS if rng.random() < 0.9 else OMOCODIA)

    body = (
        "".join(rng.choice(string.ascii_uppercase) for _ in range(6))
        + digit()
        + digit()
        + rng.choice("ABCDEHLMPRST")
        + rng.choice("0123467" + OMOCODIA)
        + digit()
        + rng.choice(string.ascii_uppercase)
        + digit()
        + digit()
        + digit()
    )
    check = stdnum_cf.calc_check_digit(body) if rng.random() < 0.7 else rng.choice("ABCXYZ")
    return body + check


def _mutate(rng: random.Random, text: str) -> str:
    chars = list(text)
    position = rng.randrange(len(chars))
    chars[position] = rng.choice(string.ascii_letters + DIGITS + " -:.\u00a0")
    return "".join(chars)


def test_cf_check_agrees_with_stdnum() -> None:
    rng = random.Random(7)
    samples = [_random_cf(rng) for _ in range(20000)]
    samples += [_mutate(rng, cf) for cf in samples[:5000]]
    samples += ["RSSMRA80A01E648Q", "RSSMRA80A01E648X", "01397160985", "", "RSSMRA80A31B648Q"]
    samples += ["RSSMRA00B29E648" + c for c in string.ascii_uppercase]  # 29 Feb 2000
    samples += ["RSSMRA01B29E648" + c for c in string.ascii_uppercase]  # no 29 Feb 2001
    for cf in samples:
        expected = len(cf) == 16 and stdnum_cf.is_valid(cf)
        assert is_valid_cf(cf) == expected, cf
    assert any(is_valid_cf(cf) for cf in samples)


def test_piva_check_agrees_with_stdnum() -> None:
    rng = random.Random(11)
    samples = ["".join(rng.choice(DIGITS) for _ in range(11)) for _ in range(20000)]
    samples += [s[:10] + luhn.calc_check_digit(s[:10]) for s in samples[:5000]]
    samples += [_mutate(rng, s) for s in samples[:3000]]
    samples += ["00000001230", "01397160985", "01397160986", "١٢٣٤٥٦٧٨٩٠١"]
    for piva in samples:
        expected = len(piva) == 11 and piva.isdigit() and stdnum_iva.is_valid(piva)
        assert is_valid_piva(piva) == expected, piva
    assert sum(is_valid_piva(s) for s in samples) > 200
