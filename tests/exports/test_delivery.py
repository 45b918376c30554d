"""Delivery end to end against a real SMTP server on localhost (aiosmtpd)."""

from __future__ import annotations

import datetime as dt
import email
import socket
from collections.abc import Iterator
from email import policy
from pathlib import Path

import duckdb
import pytest
from aiosmtpd.controller import Controller

from lavoro_debole.exports.delivery import (
    DeliveryError,
    DeliverySettingsError,
    SmtpSettings,
    deliver_workbook,
    smtp_settings_from_env,
)

RECIPIENTS = ["monitoraggio@example.org", "ufficio@example.org"]


class _Inbox:
    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[tuple[_Inbox, int]]:
    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    path = tmp_path / "lavoro_debole_cassa_ammende_2024-Q3.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a workbook, but bytes to compare \x00\xff")
    return path


def _rows(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "select profile, period, recipients, status, message from ops.deliveries order by sent_at"
    ).fetchall()


def test_sent_once_then_skipped_then_forced(smtp_server, workbook: Path) -> None:
    inbox, port = smtp_server
    smtp = smtp_settings_from_env(
        {
            "LAVORO_SMTP_HOST": "127.0.0.1",
            "LAVORO_SMTP_PORT": str(port),
            "LAVORO_SMTP_TLS": "none",
            "LAVORO_SMTP_FROM": "rete@example.org",
        }
    )
    con = duckdb.connect()
    kwargs = {
        "profile": "cassa_ammende",
        "period": "2024-Q3",
        "recipients": RECIPIENTS,
        "path": workbook,
        "smtp": smtp,
        "funder_title": "Cassa delle Ammende",
    }
    first = deliver_workbook(con, now=dt.datetime(2024, 10, 15, 8, 0), **kwargs)
    assert first.status == "sent"
    assert len(inbox.envelopes) == 1
    envelope = inbox.envelopes[0]
    assert envelope.mail_from == "rete@example.org"
    assert sorted(envelope.rcpt_tos) == sorted(RECIPIENTS)
    message = email.message_from_bytes(envelope.original_content, policy=policy.default)
    assert message["Subject"] == "Il lavoro debole – indicatori 2024-Q3 – Cassa delle Ammende"
    attachments = list(message.iter_attachments())
    assert [a.get_filename() for a in attachments] == [workbook.name]
    assert attachments[0].get_content_type() == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert attachments[0].get_content() == workbook.read_bytes()

    again = deliver_workbook(con, now=dt.datetime(2024, 10, 16, 8, 0), **kwargs)
    assert again.status == "skipped" and "già inviata il 15/10/2024" in again.message
    assert len(inbox.envelopes) == 1

    forced = deliver_workbook(con, now=dt.datetime(2024, 10, 17, 8, 0), force=True, **kwargs)
    assert forced.status == "sent"
    assert len(inbox.envelopes) == 2
    assert [r[3] for r in _rows(con)] == ["sent", "skipped", "sent"]
    sha = con.execute("select distinct file_sha256 from ops.deliveries").fetchall()
    assert sha == [(first.file_sha256,)]
    # another quarter of the same profile is its own partition
    other = deliver_workbook(con, **{**kwargs, "period": "2024-Q4"})
    assert other.status == "sent"


def test_skipped_without_settings(workbook: Path) -> None:
    con = duckdb.connect()
    assert smtp_settings_from_env({}) is None
    result = deliver_workbook(
        con,
        profile="cassa_ammende",
        period="2024-Q3",
        recipients=RECIPIENTS,
        path=workbook,
        smtp=None,
    )
    assert result.status == "skipped" and "LAVORO_SMTP_HOST" in result.message
    assert _rows(con) == [
        (
            "cassa_ammende",
            "2024-Q3",
            "monitoraggio@example.org, ufficio@example.org",
            "skipped",
            result.message,
        )
    ]
    # a skipped attempt does not count as delivered
    assert (
        deliver_workbook(
            con,
            profile="cassa_ammende",
            period="2024-Q3",
            recipients=RECIPIENTS,
            path=workbook,
            smtp=None,
        ).message
        == result.message
    )


def test_failure_recorded_and_raised_without_the_password(workbook: Path) -> None:
    con = duckdb.connect()
    smtp = SmtpSettings(
        "127.0.0.1", _free_port(), "none", "rete@example.org", "rete", "segretissima", timeout=2
    )
    with pytest.raises(DeliveryError) as err:
        deliver_workbook(
            con,
            profile="cassa_ammende",
            period="2024-Q3",
            recipients=RECIPIENTS,
            path=workbook,
            smtp=smtp,
        )
    assert "segretissima" not in str(err.value) and "segretissima" not in repr(smtp)
    ((status, message),) = con.execute("select status, message from ops.deliveries").fetchall()
    assert status == "failed" and "ConnectionRefusedError" in message


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"LAVORO_SMTP_TLS": "tls1.3"}, "LAVORO_SMTP_TLS"),
        ({"LAVORO_SMTP_PORT": "porta"}, "LAVORO_SMTP_PORT"),
        ({"LAVORO_SMTP_PORT": "70000"}, "LAVORO_SMTP_PORT"),
        ({"LAVORO_SMTP_USER": "rete@example.org"}, "LAVORO_SMTP_PASSWORD"),
        ({"LAVORO_SMTP_FROM": ""}, "LAVORO_SMTP_FROM"),
    ],
)
def test_settings_errors_name_the_variable(env: dict[str, str], field: str) -> None:
    base = {"LAVORO_SMTP_HOST": "smtp.example.org", "LAVORO_SMTP_FROM": "rete@example.org"}
    with pytest.raises(DeliverySettingsError, match=field):
        smtp_settings_from_env({**base, **env})


def test_settings_defaults() -> None:
    smtp = smtp_settings_from_env(
        {
            "LAVORO_SMTP_HOST": "smtp.example.org",
            "LAVORO_SMTP_USER": "rete@example.org",
            "LAVORO_SMTP_PASSWORD": "x",
        }
    )
    assert smtp is not None
    assert (smtp.port, smtp.tls, smtp.sender) == (587, "starttls", "rete@example.org")
    ssl_smtp = smtp_settings_from_env(
        {"LAVORO_SMTP_HOST": "h", "LAVORO_SMTP_TLS": "SSL", "LAVORO_SMTP_FROM": "a@b.it"}
    )
    assert ssl_smtp is not None and (ssl_smtp.port, ssl_smtp.tls) == (465, "ssl")


@pytest.mark.parametrize("tls", ["none", "NONE", " None "])
def test_no_tls_with_a_user_and_password_is_refused(tls: str) -> None:
    env = {
        "LAVORO_SMTP_HOST": "smtp.example.org",
        "LAVORO_SMTP_TLS": tls,
        "LAVORO_SMTP_USER": "rete@example.org",
        "LAVORO_SMTP_PASSWORD": "segretissima",
    }
    with pytest.raises(DeliverySettingsError, match="LAVORO_SMTP_TLS=none") as err:
        smtp_settings_from_env(env)
    assert "segretissima" not in str(err.value)
    assert "starttls or ssl" in str(err.value)
    # The same credentials over TLS, and no TLS without credentials, are fine.
    assert smtp_settings_from_env({**env, "LAVORO_SMTP_TLS": "starttls"}) is not None
    relay = smtp_settings_from_env(
        {"LAVORO_SMTP_HOST": "relay", "LAVORO_SMTP_TLS": "none", "LAVORO_SMTP_FROM": "a@b.it"}
    )
    assert relay is not None and (relay.tls, relay.user, relay.port) == ("none", None, 25)


def test_a_login_is_never_sent_without_tls(smtp_server, workbook: Path) -> None:
    """Settings built by hand (not from the environment) still never log in in clear."""
    inbox, port = smtp_server
    con = duckdb.connect()
    smtp = SmtpSettings("127.0.0.1", port, "none", "rete@example.org", "rete", "segretissima")
    with pytest.raises(DeliveryError) as err:
        deliver_workbook(
            con,
            profile="cassa_ammende",
            period="2024-Q3",
            recipients=RECIPIENTS,
            path=workbook,
            smtp=smtp,
        )
    assert "segretissima" not in str(err.value)
    assert inbox.envelopes == []
    ((status, message),) = con.execute("select status, message from ops.deliveries").fetchall()
    assert status == "failed" and "CleartextLoginRefused" in message
