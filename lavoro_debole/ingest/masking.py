"""Mask the parts of a text that look like a personal value, before it is shown.

File names are chosen by the partners and may carry a codice fiscale, a phone number or
an e-mail address (``rossi_RSSMRA80A01F205X.xlsx``). Whatever prints a file name on a
terminal or in a log passes it through :func:`mask_personal` first.

Minimal on purpose: one function, no state, so that a fuller screening (the senders'
work on issue 9 §5) can replace it behind the same name.
"""

from __future__ import annotations

import re

MASK = "***"

# A codice fiscale (16 characters, omocodia letters allowed in the digit places) or a
# temporary one (11 digits, also the shape of a partita IVA: masked as well).
_CF = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z]{6}[0-9LMNPQRSTUVlmnpqrstuv]{2}[A-Za-z][0-9LMNPQRSTUVlmnpqrstuv]{2}"
    r"[A-Za-z][0-9LMNPQRSTUVlmnpqrstuv]{3}[A-Za-z](?![A-Za-z0-9])"
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Eight or more digits, possibly with +, spaces, dots, dashes or slashes between them:
# a phone number (or an 11-digit temporary codice fiscale). Dates (2025-12-31,
# 31.12.2025) have at most eight digits with separators and stay readable.
_PHONE = re.compile(r"(?<![0-9])\+?[0-9](?:[ ./-]?[0-9]){8,}(?![0-9])")


def mask_personal(text: str) -> str:
    """``text`` with every CF-, phone- or e-mail-shaped part replaced by ``***``."""
    text = _EMAIL.sub(MASK, text)
    text = _CF.sub(MASK, text)
    return _PHONE.sub(MASK, text)
