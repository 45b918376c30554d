"""The Host check in front of the UI, as plain ASGI (no server): what passes, what is
refused and how (issue 10 §2). The real ``lavoro ui`` is tested in tests/ui."""

from __future__ import annotations

import asyncio

import pytest

from lavoro_debole.host_check import REFUSED_STATUS, HostCheck, local_hosts
from lavoro_debole.settings import SettingsError, load_settings, parse_allowed_hosts

PORT = 3917


async def _app(scope, receive, send):
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"dagster"})


def _call(scope_type: str, headers: list[tuple[bytes, bytes]], allowed=None):
    sent: list[dict] = []

    async def receive():
        return (
            {"type": "websocket.connect"}
            if scope_type == "websocket"
            else {
                "type": "http.request",
                "body": b"",
            }
        )

    async def send(message):
        sent.append(message)

    checked = HostCheck(_app, local_hosts(PORT) if allowed is None else allowed)
    asyncio.run(checked({"type": scope_type, "headers": headers}, receive, send))
    return sent


@pytest.mark.parametrize(
    "host", [b"127.0.0.1:3917", b"localhost:3917", b"[::1]:3917", b"LocalHost:3917"]
)
def test_the_local_hosts_with_the_port_pass(host: bytes):
    sent = _call("http", [(b"host", host)])
    assert sent[0]["status"] == 200
    assert sent[1]["body"] == b"dagster"


@pytest.mark.parametrize(
    "headers",
    [
        [(b"host", b"evil.example:3917")],
        [(b"host", b"127.0.0.1")],  # the port is checked too
        [(b"host", b"localhost:80")],
        [(b"host", b"127.0.0.1:39170")],
        [(b"host", b"127.0.0.1:3917.evil.example")],
        [],  # no Host at all
        [(b"host", b"127.0.0.1:3917"), (b"host", b"evil.example:3917")],
        [(b"host", "lòcalhost:3917".encode())],
    ],
)
def test_any_other_host_is_refused_with_plain_text(headers):
    sent = _call("http", headers)
    assert sent[0]["status"] == REFUSED_STATUS == 403
    assert (b"content-type", b"text/plain; charset=utf-8") in sent[0]["headers"]
    assert b"dagster" not in sent[1]["body"]
    assert "Richiesta rifiutata" in sent[1]["body"].decode("utf-8")


def test_a_foreign_websocket_is_closed_before_it_is_accepted():
    sent = _call("websocket", [(b"host", b"evil.example:3917")])
    assert sent == [{"type": "websocket.close", "code": 1008}]
    accepted = _call("websocket", [(b"host", b"localhost:3917")])
    assert accepted == [{"type": "websocket.accept"}]


def test_lifespan_passes_through():
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])

    async def nothing():
        return {}

    asyncio.run(HostCheck(app, [])({"type": "lifespan"}, nothing, nothing))
    assert seen == ["lifespan"]


def test_the_proxy_host_of_the_setting_passes():
    allowed = local_hosts(PORT) | set(parse_allowed_hosts("Dati.Example.org"))
    assert _call("http", [(b"host", b"dati.example.org")], allowed)[0]["status"] == 200
    assert _call("http", [(b"host", b"dati.example.org:8080")], allowed)[0]["status"] == 403


def test_the_setting_is_read_and_checked():
    assert load_settings({}).ui_allowed_hosts == ()
    settings = load_settings({"LAVORO_UI_ALLOWED_HOSTS": "dati.example.org, 127.0.0.1:8443"})
    assert settings.ui_allowed_hosts == ("dati.example.org", "127.0.0.1:8443")
    for bad in ("https://dati.example.org", "dati.example.org/ui", "*", "a b"):
        with pytest.raises(SettingsError, match="LAVORO_UI_ALLOWED_HOSTS"):
            load_settings({"LAVORO_UI_ALLOWED_HOSTS": bad})
