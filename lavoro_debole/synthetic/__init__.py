"""Synthetic partner files for testing the ingest: an independent model of the partners' habits.

This room never imports ``lavoro_debole.ingest`` or ``lavoro_debole.schemas``: it writes
files the way the partners do, and a manifest of what the door's rules should make of
them, so that the ingest can be tested against something it did not produce itself.

Usage::

    manifest = generate_inbox(data_dir, persons=40, seed=1)
    # data_dir/inbox/<feed>/<files>, data_dir/manifest.json (== manifest.to_json())

Manifest conventions: ``files`` are in receipt order (file mtimes follow
``received_order``); a ``duplicate`` (same bytes as a file received earlier) or a
``rejected`` file (corrupt, or no sheet with a recognisable header) has every row count
at 0; ``problems`` give the 1-based sheet row (CSV record, header = 1) and the header
text as written in that file; ``feeds[feed].distinct_records`` counts distinct keys
(indicators.md, "Which copy wins") among the rows expected to load, per raw table.
``planted_personal_values`` are fake personal values (CF, surname, name, phone) planted
only in rejected rows, for privacy scans of everything a run writes.
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
