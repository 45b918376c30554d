"""What the generator expects the ingest to find: the manifest of a synthetic inbox.

It holds no personal value except the planted ones named as such, so it can sit beside
the inbox (``data_dir/manifest.json``) and in test logs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class PlantedProblem:
    """A value wrong on purpose. ``row_number`` is the sheet row (1-based) or the CSV
    record (header = 1); ``column`` the header text as written in that file."""

    sheet: str | None
    row_number: int
    column: str
    canonical_column: str
    kind: str
    severity: str


@dataclass
class FileExpectation:
    """The ingest log line the generator expects for one file."""

    feed: str
    path: str  # relative to inbox/<feed>/
    format: str  # xlsx, xls, ods, csv
    sender: str
    status: str  # loaded, duplicate, rejected
    reference_date: str | None  # ISO date
    received_order: int  # 1-based order of receipt over the whole inbox (by mtime)
    sha256: str
    rows_data: int
    rows_rejected: int
    rows_warned: int
    rows_skipped: int
    rows_loaded: int
    sheets_read: list[str | None] = field(default_factory=list)
    sheets_ignored: list[str] = field(default_factory=list)
    problems: list[PlantedProblem] = field(default_factory=list)
    duplicate_of: str | None = None
    note: str = ""


@dataclass
class FeedExpectation:
    """Per feed: how many files, and distinct records among loaded rows per raw table."""

    feed: str
    files: int
    distinct_records: dict[str, int]


@dataclass
class Correction:
    """A record whose later copy differs from an earlier one (keys are not personal)."""

    feed: str
    description: str
    earlier_file: str
    later_file: str


@dataclass
class Manifest:
    seed: int
    persons: int
    start: str
    until: str
    files: list[FileExpectation]
    feeds: dict[str, FeedExpectation]
    corrections: list[Correction]
    planted_personal_values: list[str]

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1, sort_keys=False)

    def file(self, feed: str, path: str) -> FileExpectation:
        """The expectation for one file (KeyError when the generator wrote no such file)."""
        for item in self.files:
            if item.feed == feed and item.path == path:
                return item
        raise KeyError(f"{feed}/{path}")

    @classmethod
    def from_dict(cls, data: dict) -> Manifest:
        files = [
            FileExpectation(
                **{k: v for k, v in f.items() if k != "problems"},
                problems=[PlantedProblem(**p) for p in f["problems"]],
            )
            for f in data["files"]
        ]
        feeds = {k: FeedExpectation(**v) for k, v in data["feeds"].items()}
        corrections = [Correction(**c) for c in data["corrections"]]
        return cls(
            seed=data["seed"],
            persons=data["persons"],
            start=data["start"],
            until=data["until"],
            files=files,
            feeds=feeds,
            corrections=corrections,
            planted_personal_values=list(data["planted_personal_values"]),
        )

    @classmethod
    def load(cls, path: Path) -> Manifest:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
