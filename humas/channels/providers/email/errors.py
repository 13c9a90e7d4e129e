"""Turning smtplib, imaplib and socket failures into ProviderErrors that say what to do."""

from __future__ import annotations

import imaplib
import smtplib
import socket
import ssl

from humas.channels.providers.base import ErrorKind, ProviderError
from humas.channels.providers.email import parsing
from humas.channels.providers.email.settings import Server

SMTP_AUTH_CODES = {530, 534, 535, 538}


def text_of(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return parsing.clean(value).strip()


def imap_reply(exc: BaseException) -> str:
    return text_of(exc.args[0]) if exc.args else exc.__class__.__name__


def smtp_reply(code: int, message: object) -> str:
    return f"{code} {text_of(message)}".strip()


def network_error(exc: BaseException, where: str) -> ProviderError:
    """Socket-level failures, the same for SMTP and IMAP."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ProviderError(
            f"The TLS certificate of {where} could not be verified ({exc.verify_message}). "
            "Ask the mail administrator to fix the certificate, or check the host name.",
            ErrorKind.AUTH,
        )
    if isinstance(exc, ssl.SSLError):
        return ProviderError(
            f"The TLS handshake with {where} failed ({exc.reason or exc}). Check that the "
            "security setting matches the port (SSL/TLS on 465 and 993, STARTTLS on 587 and 143).",
            ErrorKind.TRANSIENT,
        )
    if isinstance(exc, ConnectionRefusedError):
        return ProviderError(
            f"Nothing answered at {where} (connection refused).", ErrorKind.TRANSIENT
        )
    if isinstance(exc, socket.gaierror):
        return ProviderError(f"The host name of {where} could not be found.", ErrorKind.TRANSIENT)
    if isinstance(exc, TimeoutError):
        return ProviderError(f"{where} did not answer in time.", ErrorKind.TRANSIENT)
    return ProviderError(f"The connection to {where} failed: {exc}.", ErrorKind.TRANSIENT)


def smtp_error(exc: BaseException, server: Server, login: str) -> ProviderError:
    where = f"the SMTP server {server}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _message in exc.recipients.values()]
        detail = "; ".join(
            f"{address}: {smtp_reply(code, message)}"
            for address, (code, message) in exc.recipients.items()
        )
        temporary = bool(codes) and all(400 <= code < 500 for code in codes)
        return ProviderError(
            f"{where} refused the recipients ({detail}).",
            ErrorKind.TRANSIENT if temporary else ErrorKind.PERMANENT,
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        reply = smtp_reply(code, exc.smtp_error)
        if 400 <= code < 500:
            return ProviderError(
                f"{where} is temporarily not accepting the message ({reply}).",
                ErrorKind.TRANSIENT,
                status=code,
            )
        if isinstance(exc, smtplib.SMTPAuthenticationError) or code in SMTP_AUTH_CODES:
            return ProviderError(
                f"{where} refused the login for {login} ({reply}). Check the user name and "
                "password.",
                ErrorKind.AUTH,
                status=code,
            )
        if code == 552:
            return ProviderError(
                f"{where} refused the message as too large ({reply}). Send smaller attachments.",
                ErrorKind.PERMANENT,
                status=code,
            )
        if isinstance(exc, smtplib.SMTPSenderRefused) and code in (550, 553):
            return ProviderError(
                f"{where} does not let {login} send as {text_of(exc.sender)} ({reply}). Check "
                "the mailbox address and SMTP user name.",
                ErrorKind.AUTH,
                status=code,
            )
        if isinstance(exc, smtplib.SMTPConnectError | smtplib.SMTPHeloError):
            return ProviderError(
                f"{where} refused the connection ({reply}).", ErrorKind.TRANSIENT, status=code
            )
        return ProviderError(
            f"{where} refused the message ({reply}).", ErrorKind.PERMANENT, status=code
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return ProviderError(
            f"{where} does not offer a login on this connection ({exc}). Check the security "
            "setting (most servers offer a login only after STARTTLS or over SSL/TLS).",
            ErrorKind.AUTH,
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return ProviderError(f"{where} closed the connection ({exc}).", ErrorKind.TRANSIENT)
    if isinstance(exc, smtplib.SMTPException):
        # smtplib's own complaints, e.g. "No suitable authentication method found."
        return ProviderError(f"{where} could not be used: {exc}.", ErrorKind.AUTH)
    return network_error(exc, where)


def imap_error(exc: BaseException, server: Server) -> ProviderError:
    where = f"the IMAP server {server}"
    if isinstance(exc, imaplib.IMAP4.abort):
        return ProviderError(
            f"{where} closed the connection unexpectedly ({imap_reply(exc)}).",
            ErrorKind.TRANSIENT,
        )
    if isinstance(exc, imaplib.IMAP4.error):
        return ProviderError(
            f"{where} answered with an error ({imap_reply(exc)}).", ErrorKind.TRANSIENT
        )
    if isinstance(exc, EOFError):
        return ProviderError(f"{where} closed the connection.", ErrorKind.TRANSIENT)
    return network_error(exc, where)
