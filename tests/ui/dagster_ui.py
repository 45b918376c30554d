"""Helpers for the browser tests: the ``lavoro ui`` process, its GraphQL API, waiting.

The tests drive the UI with clicks; GraphQL is only used to wait for runs and to read
their step timings, where polling a page would be slower and more fragile.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}
SENSOR_TAG = "dagster/sensor_name"

RUNS_QUERY = """
query Runs {
  runsOrError(limit: 50) {
    __typename
    ... on Runs {
      results { runId status creationTime startTime endTime tags { key value } }
    }
    ... on PythonError { message }
  }
}
"""

STEP_STATS_QUERY = """
query Steps($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { stepStats { stepKey status startTime endTime } }
  }
}
"""

FAILURES_QUERY = """
query Failures($runId: ID!) {
  logsForRun(runId: $runId, limit: 10000) {
    __typename
    ... on EventConnection {
      events {
        __typename
        ... on ExecutionStepFailureEvent { stepKey error { message } }
        ... on RunFailureEvent { message }
      }
    }
  }
}
"""

WORKSPACE_QUERY = """
query Workspace {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
}
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    condition: Callable[[], T | None],
    timeout: float,
    message: str | Callable[[], str],
    interval: float = 2.0,
) -> T:
    """Poll ``condition`` until it returns something truthy; fail with ``message`` after
    ``timeout`` seconds (a callable message is evaluated only then, with fresh details)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"after {timeout:.0f} s: {text}")
        time.sleep(interval)


@dataclass(frozen=True)
class Run:
    run_id: str
    status: str
    creation_time: float
    start_time: float | None
    end_time: float | None
    tags: dict[str, str]

    @property
    def from_sensor(self) -> bool:
        return SENSOR_TAG in self.tags


@dataclass
class DagsterUI:
    """A running ``lavoro ui`` (webserver behind the Host check, daemon, code server)."""

    base_url: str
    data_dir: Path
    log_path: Path
    process: subprocess.Popen

    # ------------------------------------------------------------------ GraphQL
    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.base_url}/graphql",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            payload = json.load(response)
        if payload.get("errors"):
            raise AssertionError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/server_info", timeout=5) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False

    def location_status(self) -> tuple[str, str | None]:
        """(load status, error message) of the one code location."""
        entries = self.graphql(WORKSPACE_QUERY)["workspaceOrError"].get("locationEntries", [])
        if not entries:
            return "MISSING", None
        entry = entries[0]
        location = entry.get("locationOrLoadError") or {}
        error = location.get("message") if location.get("__typename") == "PythonError" else None
        return entry["loadStatus"], error

    def runs(self) -> list[Run]:
        result = self.graphql(RUNS_QUERY)["runsOrError"]
        assert result["__typename"] == "Runs", result
        return [
            Run(
                run_id=r["runId"],
                status=r["status"],
                creation_time=r["creationTime"],
                start_time=r["startTime"],
                end_time=r["endTime"],
                tags={t["key"]: t["value"] for t in r["tags"]},
            )
            for r in result["results"]
        ]

    def run(self, run_id: str) -> Run:
        [found] = [r for r in self.runs() if r.run_id == run_id]
        return found

    def step_stats(self, run_id: str) -> list[dict[str, Any]]:
        result = self.graphql(STEP_STATS_QUERY, {"runId": run_id})["runOrError"]
        assert result["__typename"] == "Run", result
        return result["stepStats"]

    def failures(self, run_id: str) -> str:
        """The failure messages of a run, for an assertion message."""
        logs = self.graphql(FAILURES_QUERY, {"runId": run_id})["logsForRun"]
        lines = []
        for event in logs.get("events", []):
            if event["__typename"] == "ExecutionStepFailureEvent":
                lines.append(f"{event['stepKey']}: {event['error']['message'][-1500:]}")
            elif event["__typename"] == "RunFailureEvent":
                lines.append(event["message"][-1500:])
        return "\n".join(lines) or "(no failure event)"

    def wait_for_run_end(self, run_id: str, timeout: float) -> Run:
        run = wait_for(
            lambda: (r := self.run(run_id)).status in FINISHED and r,
            timeout,
            lambda: f"run {run_id} still {self.run(run_id).status}\n{self.log_tail()}",
            interval=5,
        )
        assert run.status == "SUCCESS", f"run {run_id} ended {run.status}:\n{self.failures(run_id)}"
        return run

    # ------------------------------------------------------------------ process
    def log_tail(self, chars: int = 4000) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "--- lavoro ui log (tail) ---\n" + text[-chars:]

    def stop(self) -> None:
        """End the whole process group: lavoro ui, its webserver, daemon, code server
        and the runs' processes. SIGTERM first (lavoro ui then stops its services),
        SIGKILL for whatever is left after a grace period."""
        group = self.process.pid
        try:
            os.killpg(group, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            self.process.poll()  # reap our own child, or the group never looks empty
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                break
            time.sleep(0.5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
        self.process.wait(timeout=30)


def overlaps(intervals: list[tuple[float, float, str]]) -> list[tuple[str, str]]:
    """Pairs of labels whose ``(start, end, label)`` intervals overlap; empty when they
    ran one after the other."""
    clashes = []
    latest_end, latest_label = float("-inf"), ""
    for start, end, label in sorted(intervals):
        if start < latest_end:
            clashes.append((latest_label, label))
        if end > latest_end:
            latest_end, latest_label = end, label
    return clashes


INT = re.compile(r"^-?\d+$")


def as_int(text: str) -> int:
    cleaned = text.strip().replace(".", "").replace(",", "")
    assert INT.match(cleaned), f"not a whole number: {text!r}"
    return int(cleaned)
