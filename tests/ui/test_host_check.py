"""The real ``lavoro ui`` answers only its own host (issue 10 §2): a request whose
``Host`` names another site (a page that rebound its name to 127.0.0.1) is refused
before it reaches Dagster, for HTTP and for the websocket of the live updates."""

from __future__ import annotations

import base64
import http.client
import os
from urllib.parse import urlsplit

import pytest

from tests.ui.dagster_ui import DagsterUI

pytestmark = pytest.mark.browser  # it shares the browser tests' `lavoro ui`


def request(ui: DagsterUI, host: str, path: str = "/server_info", headers=None):
    where = urlsplit(ui.base_url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    try:
        connection.putrequest("GET", path, skip_host=True)
        connection.putheader("Host", host)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


def port_of(ui: DagsterUI) -> int:
    return int(urlsplit(ui.base_url).port)


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost"])
def test_its_own_host_is_served(ui: DagsterUI, name: str):
    status, _, body = request(ui, f"{name}:{port_of(ui)}")
    assert status == 200
    assert b"dagster_webserver_version" in body
    status, _, body = request(ui, f"{name}:{port_of(ui)}", "/")
    assert status == 200 and b"<html" in body.lower()


@pytest.mark.parametrize("path", ["/server_info", "/", "/graphql"])
def test_a_foreign_host_is_refused_before_dagster(ui: DagsterUI, path: str):
    status, content_type, body = request(ui, f"evil.example:{port_of(ui)}", path)
    assert status == 403
    assert content_type.startswith("text/plain")
    assert b"dagster" not in body.lower()
    assert "Richiesta rifiutata" in body.decode("utf-8")


def test_the_right_name_on_another_port_is_refused(ui: DagsterUI):
    assert request(ui, "127.0.0.1")[0] == 403
    assert request(ui, f"localhost:{port_of(ui) + 1}")[0] == 403


def test_a_foreign_websocket_is_refused_and_the_own_one_accepted(ui: DagsterUI):
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode("ascii"),
        "Sec-WebSocket-Protocol": "graphql-ws",
    }
    assert request(ui, f"evil.example:{port_of(ui)}", "/graphql", upgrade)[0] == 403
    where = urlsplit(ui.base_url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    try:
        connection.putrequest("GET", "/graphql", skip_host=True)
        connection.putheader("Host", f"127.0.0.1:{port_of(ui)}")
        for name, value in upgrade.items():
            connection.putheader(name, value)
        connection.endheaders()
        assert connection.getresponse().status == 101
    finally:
        connection.close()
