"""Shared helpers of the exports tests live in ``export_tables.py`` beside this file."""

from __future__ import annotations

import sys
from pathlib import Path

# pytest's default import mode does not put the tests folder on sys.path; the helper
# module sits next to the tests, so make it importable however pytest is launched.
sys.path.insert(0, str(Path(__file__).resolve().parent))
