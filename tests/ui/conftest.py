"""Fixtures of the browser tests: a generated data directory, ``lavoro ui`` on a free
port of 127.0.0.1, and Debian's headless Chromium driven by Playwright.

Chromium must be installed (Debian's ``apt-get install -y chromium``). Without it the
browser tests are skipped with one line saying so, except where Chromium is required
(``LAVORO_REQUIRE_CHROMIUM=1``, which ``.ci/run`` sets after installing it, or ``CI`` set):
there a missing Chromium fails them, so CI never passes without running them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lavoro_debole.synthetic import Manifest, generate_inbox
from tests.ui.dagster_ui import DagsterUI, free_port, wait_for

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts" / "ui"
REPORTS = pytest.StashKey[dict]()
KEY = "browser-test-key-0123456789abcdef0123456789"
VAULT_KEY = "browser-test-vault-key-0123456789abcdef012"
CUTOFF = "2025-12-31"
SENSOR_INTERVAL = 5
"""Seconds between the sensor's looks in the tests (30 in production)."""

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1600, "height": 1000}


def chromium_executable() -> str:
    for candidate in (os.environ.get("LAVORO_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return candidate
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    advice = (
        "Chromium is not installed, so the browser tests cannot run: install Debian's "
        "`chromium` (apt-get install -y chromium) or point LAVORO_CHROMIUM at one"
    )
    if chromium_required():
        pytest.fail(f"{advice} (required here: CI or LAVORO_REQUIRE_CHROMIUM).", pytrace=False)
    pytest.skip(f"{advice}.")


def chromium_required() -> bool:
    """In CI a missing Chromium is a failure, not a skip."""
    flags = (os.environ.get("LAVORO_REQUIRE_CHROMIUM", ""), os.environ.get("CI", ""))
    return any(flag.strip().lower() not in ("", "0", "false", "no") for flag in flags)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    executable = chromium_executable()
    with sync_playwright() as playwright:
        # launch() gives every run a fresh, throw-away profile (user data dir).
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    item.stash.setdefault(REPORTS, {})[report.when] = report
    return report


@pytest.fixture
def page(browser, request: pytest.FixtureRequest) -> Iterator[object]:
    context = browser.new_context(viewport=VIEWPORT, locale="it-IT", timezone_id="Europe/Rome")
    context.set_default_timeout(60_000)
    context.set_default_navigation_timeout(120_000)
    page = context.new_page()
    try:
        yield page
    finally:
        report = request.node.stash.get(REPORTS, {}).get("call")
        if report is not None and report.failed:
            # What the browser showed when the test failed (git ignores tests/artifacts/).
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            stem = ARTIFACTS / request.node.name
            page.screenshot(path=f"{stem}.png", full_page=True)
            stem.with_suffix(".txt").write_text(
                f"{page.url}\n\n{page.inner_text('body')}", encoding="utf-8"
            )
        context.close()


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    data_dir = tmp_path_factory.mktemp("dati")
    return data_dir, generate_inbox(data_dir, persons=40, seed=1)


@pytest.fixture(scope="session")
def ui(generated: tuple[Path, Manifest]) -> Iterator[DagsterUI]:
    """``lavoro ui`` on a fresh data directory whose inbox holds a generated delivery."""
    chromium_executable()  # fail before spending a minute on the server
    data_dir, _ = generated
    port = free_port()
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "LAVORO_DATA_DIR": str(data_dir),
        "LAVORO_PSEUDONYM_KEY": KEY,
        "LAVORO_VAULT_KEY": VAULT_KEY,
        "LAVORO_CUTOFF": CUTOFF,
        "LAVORO_SENSOR_INTERVAL": str(SENSOR_INTERVAL),
        "DAGSTER_HOME": str(data_dir / "dagster"),
        # dagster-dbt looks for `dbt` on PATH: the venv's, even when it is not activated.
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    log_path = data_dir / "lavoro-ui.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(bin_dir / "lavoro"), "ui", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, ended as a whole
        )
    server = DagsterUI(
        base_url=f"http://127.0.0.1:{port}",
        data_dir=data_dir,
        log_path=log_path,
        process=process,
    )
    try:
        started = time.monotonic()

        def up() -> bool:
            assert process.poll() is None, f"lavoro ui exited early\n{server.log_tail()}"
            return server.answers()

        wait_for(up, 300, lambda: f"the webserver does not answer\n{server.log_tail()}")

        def loaded() -> bool:
            status, error = server.location_status()
            assert error is None, f"the definitions do not load:\n{error}"
            return status == "LOADED"

        wait_for(loaded, 300, lambda: f"the code location does not load\n{server.log_tail()}")
        # The "join the community" dialog of a new instance would cover the page.
        server.graphql("mutation { setNuxSeen }")
        print(f"lavoro ui ready in {time.monotonic() - started:.0f} s on {server.base_url}")
        yield server
    finally:
        server.stop()
