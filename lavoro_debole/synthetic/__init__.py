"""Synthetic partner files for testing the ingest: an independent model of the partners' habits.

This room never imports ``lavoro_debole.ingest`` or ``lavoro_debole.schemas``: it writes
files the way the partners do, and a manifest of what the door's rules should make of
them, so that the ingest can be tested against something it did not produce itself.
"""

from lavoro_debole.synthetic.generate import FEEDS, generate_inbox, social_cooperatives
from lavoro_debole.synthetic.manifest import (
    Correction,
    FeedExpectation,
    FileExpectation,
    Manifest,
    PlantedProblem,
)

__all__ = [
    "FEEDS",
    "Correction",
    "FeedExpectation",
    "FileExpectation",
    "Manifest",
    "PlantedProblem",
    "generate_inbox",
    "social_cooperatives",
]
