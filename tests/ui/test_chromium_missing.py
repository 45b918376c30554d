"""Without Chromium the browser tests skip with one line on a developer's machine and
fail in CI (no browser is started here)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.ui import conftest


@pytest.fixture
def no_chromium(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("LAVORO_CHROMIUM", raising=False)
    monkeypatch.delenv("LAVORO_REQUIRE_CHROMIUM", raising=False)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    real_is_file = Path.is_file
    monkeypatch.setattr(
        Path, "is_file", lambda self: False if "chromium" in str(self) else real_is_file(self)
    )
    return monkeypatch


def test_missing_chromium_skips_with_one_line_that_says_what_to_install(no_chromium):
    with pytest.raises(pytest.skip.Exception) as skipped:
        conftest.chromium_executable()
    message = str(skipped.value)
    assert "apt-get install -y chromium" in message
    assert "\n" not in message


@pytest.mark.parametrize("flag", [("CI", "true"), ("LAVORO_REQUIRE_CHROMIUM", "1")])
def test_missing_chromium_fails_where_it_is_required(no_chromium, flag):
    no_chromium.setenv(*flag)
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium"):
        conftest.chromium_executable()


def test_a_false_ci_flag_does_not_require_chromium(no_chromium):
    no_chromium.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        conftest.chromium_executable()
