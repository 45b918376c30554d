"""Delivery: e-mail a funder's workbook once per quarter, and keep a record of it.

Every attempt is a row of ``ops.deliveries`` (profile, period, recipients,
file_sha256, sent_at, status ``sent``/``skipped``/``failed``, message). A partition
already ``sent`` is not sent again unless ``force=True``, so a re-run schedule never
spams a funder; without SMTP settings the attempt is recorded as ``skipped``, so a
demo or a test machine runs the whole pipeline without a mail server.

SMTP settings are ``Settings.smtp`` (read in ``lavoro_debole.settings`` with every other
setting): LAVORO_SMTP_HOST, LAVORO_SMTP_PORT, LAVORO_SMTP_TLS (starttls | ssl | none),
LAVORO_SMTP_USER, LAVORO_SMTP_PASSWORD, LAVORO_SMTP_FROM. The password never appears in
a message or a record, and is never sent without TLS (``none`` with a user and password
is a settings error).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Literal

import duckdb

from lavoro_debole.settings import DeliverySettingsError as DeliverySettingsError
from lavoro_debole.settings import SmtpSettings, parse_smtp

XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
Status = Literal["sent", "skipped", "failed"]

DELIVERIES_DDL = """
create schema if not exists ops;
create table if not exists ops.deliveries (
    profile varchar not null,
    period varchar not null,
    recipients varchar not null,
    file_sha256 varchar not null,
    sent_at timestamp not null,
    status varchar not null,
    message varchar
);
"""


class DeliveryError(RuntimeError):
    """Sending failed; the attempt is recorded as 'failed' in ops.deliveries."""


class CleartextLoginRefused(smtplib.SMTPException):
    """A login was about to go over a connection without TLS; it is never sent."""


def smtp_settings_from_env(environ: Mapping[str, str] | None = None) -> SmtpSettings | None:
    """SMTP settings from LAVORO_SMTP_* (as ``Settings.smtp`` reads them); None when
    LAVORO_SMTP_HOST is unset (deliveries are then recorded as skipped)."""
    return parse_smtp(environ)


@dataclass(frozen=True)
class DeliveryResult:
    profile: str
    period: str
    status: Status
    message: str
    file_sha256: str
    sent_at: dt.datetime


def ensure_deliveries_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DELIVERIES_DDL)


def already_delivered(
    con: duckdb.DuckDBPyConnection, profile: str, period: str
) -> dt.datetime | None:
    """When this partition was last sent, or None."""
    ensure_deliveries_table(con)
    row = con.execute(
        "select max(sent_at) from ops.deliveries "
        "where profile = ? and period = ? and status = 'sent'",
        [profile, period],
    ).fetchone()
    return None if row is None else row[0]


def _record(
    con: duckdb.DuckDBPyConnection,
    profile: str,
    period: str,
    recipients: Sequence[str],
    sha: str,
    when: dt.datetime,
    status: Status,
    message: str,
) -> DeliveryResult:
    con.execute(
        "insert into ops.deliveries values (?, ?, ?, ?, ?, ?, ?)",
        [profile, period, ", ".join(recipients), sha, when, status, message],
    )
    return DeliveryResult(profile, period, status, message, sha, when)


def build_message(
    smtp: SmtpSettings,
    recipients: Sequence[str],
    path: Path,
    *,
    funder_title: str,
    period: str,
) -> EmailMessage:
    """The e-mail, in Italian, with the workbook attached."""
    msg = EmailMessage()
    msg["Subject"] = f"Il lavoro debole – indicatori {period} – {funder_title}"
    msg["From"] = smtp.sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=smtp.sender.rpartition("@")[2] or None)
    msg.set_content(
        "Gentili,\n\n"
        f"in allegato gli indicatori di risultato del programma «Il lavoro debole – Rete "
        f"provinciale di Lodi» per il periodo {period}.\n\n"
        "Le cifre che riguardano pochissime persone, e quelle da cui si potrebbero "
        "ricavare, sono indicate con «c» (dato riservato); il foglio «Note» spiega le "
        "definizioni e la regola di riservatezza.\n\n"
        "Messaggio generato automaticamente dal sistema di monitoraggio della rete.\n"
    )
    msg.add_attachment(
        path.read_bytes(), maintype=XLSX_TYPE[0], subtype=XLSX_TYPE[1], filename=path.name
    )
    return msg


def _send(smtp: SmtpSettings, msg: EmailMessage) -> None:
    context = ssl.create_default_context()
    if smtp.tls == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            smtp.host, smtp.port, timeout=smtp.timeout, context=context
        )
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    with client:
        if smtp.tls == "starttls":
            client.starttls(context=context)
        if smtp.user is not None and smtp.password is not None:
            if smtp.tls == "none":
                raise CleartextLoginRefused  # the settings refuse it first; never in clear
            client.login(smtp.user, smtp.password)
        client.send_message(msg)


def deliver_workbook(
    con: duckdb.DuckDBPyConnection,
    *,
    profile: str,
    period: str,
    recipients: Sequence[str],
    path: Path,
    smtp: SmtpSettings | None,
    funder_title: str = "",
    force: bool = False,
    now: dt.datetime | None = None,
) -> DeliveryResult:
    """Send one workbook unless already sent, and record the attempt either way.

    Raises :class:`DeliveryError` after recording a failed attempt, so the run that
    called it fails visibly and a retry sends it.
    """
    path = Path(path)
    ensure_deliveries_table(con)
    when = now or dt.datetime.now()
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    if not recipients:
        raise DeliveryError(f"profilo {profile}: nessun destinatario (recipients)")

    def record(status: Status, message: str) -> DeliveryResult:
        return _record(con, profile, period, recipients, sha, when, status, message)

    if not force:
        previous = already_delivered(con, profile, period)
        if previous is not None:
            return record(
                "skipped",
                f"già inviata il {previous:%d/%m/%Y alle %H:%M}; per rispedirla, un'esecuzione "
                "con l'etichetta lavoro/reinvia=si",
            )
    if smtp is None:
        return record(
            "skipped",
            "posta non configurata (manca LAVORO_SMTP_HOST): cartella scritta, non spedita",
        )
    msg = build_message(smtp, recipients, path, funder_title=funder_title or profile, period=period)
    try:
        _send(smtp, msg)
    except (smtplib.SMTPException, OSError) as exc:
        code = getattr(exc, "smtp_code", None)
        reason = f"{type(exc).__name__}" + (f" (SMTP {code})" if code else "")
        record("failed", f"invio non riuscito: {reason}")
        raise DeliveryError(
            f"profilo {profile} {period}: invio tramite {smtp.host}:{smtp.port} non riuscito: "
            f"{reason}; il tentativo è registrato e una nuova esecuzione riprova"
        ) from None
    return record(
        "sent", f"inviata a {len(recipients)} destinatari tramite {smtp.host}:{smtp.port}"
    )
