"""The exports room imports no Dagster and no other room of ours (design.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import lavoro_debole.exports as exports

ALLOWED_OURS = ("lavoro_debole.exports", "lavoro_debole.settings", "lavoro_debole.periods")
"""Besides itself: the two plain modules every room shares (settings, quarters)."""


def test_exports_imports_only_itself_and_settings() -> None:
    room = Path(exports.__file__).parent
    for path in sorted(room.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] != "dagster", path.name
                if name.startswith("lavoro_debole"):
                    assert name.startswith(ALLOWED_OURS), (path.name, name)
