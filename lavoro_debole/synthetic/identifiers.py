"""Codici fiscali and partite IVA for synthetic people and companies.

The generator computes CFs itself rather than calling ``codicefiscale.encode`` for each
person: the library takes about 2.5 ms per code, far too slow for 100,000 persons. The
algorithm is the public one (surname, name, date, birthplace, check character) and a
test proves that it agrees with the library.
"""

from __future__ import annotations

import random
import unicodedata
from datetime import date

from stdnum import luhn
from stdnum.it import codicefiscale as stdnum_cf

MONTH_LETTERS = "ABCDEHLMPRST"
OMOCODIA_LETTERS = "LMNPQRSTUV"
# Digit positions that omocodia replaces, from the right (as the Agenzia delle Entrate does).
OMOCODIA_POSITIONS = (14, 13, 12, 10, 9, 7, 6)
VOWELS = frozenset("AEIOU")

# Birthplaces with their cadastral codes (checked against the library in the tests).
ITALIAN_BIRTHPLACES: tuple[tuple[str, str], ...] = (
    ("Lodi", "E648"),
    ("Milano", "F205"),
    ("Codogno", "C816"),
    ("Casalpusterlengo", "B910"),
    ("Sant'Angelo Lodigiano", "I274"),
    ("Pavia", "G388"),
    ("Cremona", "D150"),
    ("Napoli", "F839"),
    ("Palermo", "G273"),
    ("Roma", "H501"),
    ("Bari", "A662"),
    ("Foggia", "D643"),
    ("Torino", "L219"),
    ("Catania", "C351"),
    ("Crotone", "D122"),
    ("Melegnano", "F100"),
    ("Caserta", "B963"),
    ("Salerno", "H703"),
    ("Brescia", "B157"),
    ("Bergamo", "A794"),
    ("Piacenza", "G535"),
    ("Cosenza", "D086"),
    ("Genova", "D969"),
    ("Messina", "F158"),
)

# Foreign countries: (country name as the library knows it, code, citizenship, nationality).
FOREIGN_BIRTHPLACES: tuple[tuple[str, str, str, str], ...] = (
    ("Marocco", "Z330", "Marocchina", "Marocco"),
    ("Romania", "Z129", "Romena", "Romania"),
    ("Albania", "Z100", "Albanese", "Albania"),
    ("Tunisia", "Z352", "Tunisina", "Tunisia"),
    ("Nigeria", "Z335", "Nigeriana", "Nigeria"),
    ("Senegal", "Z343", "Senegalese", "Senegal"),
    ("Egitto", "Z336", "Egiziana", "Egitto"),
    ("Ucraina", "Z138", "Ucraina", "Ucraina"),
    ("Perù", "Z611", "Peruviana", "Perù"),
    ("Ecuador", "Z605", "Ecuadoriana", "Ecuador"),
    ("Pakistan", "Z236", "Pakistana", "Pakistan"),
)

# Provincial VAT office codes (digits 8-10 of a P.IVA) of Lombardy.
VAT_OFFICES = ("098", "015", "018", "019", "016", "017")


def _letters(text: str) -> str:
    """Upper-case ASCII letters only: accents folded, apostrophes and spaces dropped."""
    folded = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in folded.upper() if "A" <= ch <= "Z")


def surname_code(surname: str) -> str:
    """Three letters from the surname: consonants, then vowels, then X."""
    letters = _letters(surname)
    consonants = [c for c in letters if c not in VOWELS]
    vowels = [c for c in letters if c in VOWELS]
    return "".join([*consonants, *vowels, "X", "X", "X"][:3])


def name_code(name: str) -> str:
    """Three letters from the first name: with four or more consonants, the 1st, 3rd, 4th."""
    letters = _letters(name)
    consonants = [c for c in letters if c not in VOWELS]
    vowels = [c for c in letters if c in VOWELS]
    if len(consonants) > 3:
        del consonants[1]
    return "".join([*consonants, *vowels, "X", "X", "X"][:3])


def check_character(first15: str) -> str:
    """The CF's 16th character, from python-stdnum's implementation."""
    return stdnum_cf.calc_check_digit(first15)


def make_cf(surname: str, name: str, sex: str, birthdate: date, place_code: str) -> str:
    """The codice fiscale the Agenzia would give this person (without omocodia)."""
    day = birthdate.day + (40 if sex == "F" else 0)
    body = (
        f"{surname_code(surname)}{name_code(name)}{birthdate.year % 100:02d}"
        f"{MONTH_LETTERS[birthdate.month - 1]}{day:02d}{place_code}"
    )
    return body + check_character(body)


def omocodic_variant(cf: str, level: int = 1) -> str:
    """The CF with its ``level`` rightmost substitutable digits turned to letters.

    Two persons with the same base CF are told apart this way; the result is a
    different, valid identifier.
    """
    chars = list(cf[:15])
    for position in OMOCODIA_POSITIONS[:level]:
        if chars[position].isdigit():
            chars[position] = OMOCODIA_LETTERS[int(chars[position])]
    body = "".join(chars)
    return body + check_character(body)


def with_wrong_check(cf: str) -> str:
    """The same CF with a check character that is certainly wrong."""
    right = check_character(cf[:15])
    wrong = "A" if right != "A" else "B"
    return cf[:15] + wrong


def make_piva(rng: random.Random, office: str | None = None) -> str:
    """A valid partita IVA: 7 digits, an office code, the Luhn check digit."""
    body = f"{rng.randrange(1, 10_000_000):07d}{office or rng.choice(VAT_OFFICES)}"
    return body + luhn.calc_check_digit(body)


def piva_with_wrong_check(piva: str) -> str:
    """The same P.IVA with a wrong check digit."""
    right = int(piva[10])
    return piva[:10] + str((right + 3) % 10)
