"""An ASGI middleware that answers only requests addressed to the UI's own host.

A web page open in the steward's browser can rebind its own name to 127.0.0.1 (DNS
rebinding) and then talk to the UI as if it were the same site; its requests still say
``Host: its-name:PORT``. So every HTTP request and websocket whose ``Host`` header is
not one of the allowed ``host:port`` values (``127.0.0.1:PORT``, ``localhost:PORT``,
``[::1]:PORT`` and those of ``LAVORO_UI_ALLOWED_HOSTS``) is refused here, before it
reaches Dagster: HTTP with ``403`` and a line of plain text, a websocket closed before
it is accepted (the server then answers the handshake with 403).

Starlette's ``TrustedHostMiddleware`` compares the name only, not the port; this one
compares both, case-insensitively. No dependency: plain ASGI.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REFUSED_STATUS = 403
REFUSED_TEXT = (
    "Richiesta rifiutata: l'interfaccia risponde solo all'indirizzo su cui è avviata "
    "(intestazione Host non ammessa).\n"
)
WEBSOCKET_POLICY_VIOLATION = 1008


def local_hosts(port: int) -> frozenset[str]:
    """The ``Host`` values of the UI on this machine's loopback at ``port``."""
    return frozenset(f"{name}:{port}" for name in ("127.0.0.1", "localhost", "[::1]"))


class HostCheck:
    """Pass to ``app`` only the requests whose ``Host`` header is in ``allowed``."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str]) -> None:
        self.app = app
        self.allowed = frozenset(host.strip().lower() for host in allowed if host.strip())

    def host_allowed(self, scope: Scope) -> bool:
        hosts = [value for name, value in scope.get("headers", ()) if name.lower() == b"host"]
        if len(hosts) != 1:  # none, or several: either way not a plain request to us
            return False
        try:
            host = hosts[0].decode("ascii").strip().lower()
        except UnicodeDecodeError:
            return False
        return host in self.allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.host_allowed(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": WEBSOCKET_POLICY_VIOLATION})
            return
        body = REFUSED_TEXT.encode("utf-8")
        await send(
            {
                "type": "http.response.start",
                "status": REFUSED_STATUS,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode("ascii")),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
