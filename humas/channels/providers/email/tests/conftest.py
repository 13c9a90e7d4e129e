"""Fixtures for the e-mail provider: a private Dovecot, aiosmtpd servers, fixture messages.

Outside CI the IMAP tests skip when Dovecot is not installed; in CI (env ``CI`` set) they
fail, so a missing package can never turn the suite green by skipping.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from humas.accounts.testing import in_ci
from humas.channels.providers.email.provider import EmailProvider
from humas.channels.providers.email.tests.servers import (
    INSTALL_HINT,
    Dovecot,
    Mailbox,
    SmtpServer,
    dovecot_binary,
    smtp_server,
)

# aiosmtpd logs every SMTP command at INFO; a failing test's output is easier to read without.
logging.getLogger("mail.log").setLevel(logging.WARNING)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
AGENCY = "pengaduan@kota.go.id"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def no_sleep(_seconds: float) -> None:
    """Retries in tests go on at once; the pauses themselves are tested separately."""


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[Dovecot]:
    binary = dovecot_binary()
    if binary is None:
        reason = f"Dovecot is not installed; run `{INSTALL_HINT}` to run the IMAP tests"
        if in_ci():
            pytest.fail(f"{reason} (CI must install it)")
        pytest.skip(reason)
    server = Dovecot(binary)
    try:
        server.start()
    except RuntimeError as exc:
        server.stop()
        pytest.fail(f"the test Dovecot did not start: {exc}")
    yield server
    server.stop()


@pytest.fixture
def mailbox(dovecot_server: Dovecot) -> Mailbox:
    """A fresh, empty mailbox for this test."""
    return dovecot_server.new_mailbox()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


def settings_for(
    mailbox: Mailbox | None, smtp: SmtpServer | None, **overrides: Any
) -> dict[str, Any]:
    """Connect-form data pointing at the live test servers (passwords included)."""
    data: dict[str, Any] = {
        "address": AGENCY,
        "display_name": "Humas Kota",
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port if smtp else 1,
        "smtp_security": "none",
        "smtp_username": "",
        "smtp_password": "",
        "imap_host": "127.0.0.1",
        "imap_port": mailbox.port if mailbox else 1,
        "imap_security": "none",
        "imap_username": mailbox.username if mailbox else "",
        "imap_password": mailbox.password if mailbox else "",
        "imap_folder": "INBOX",
        "recipients": ["warga1@example.net", "warga2@example.org", "lurah@kota.go.id"],
        "history_days": 7,
    }
    data.update(overrides)
    return data


def provider_for(data: dict[str, Any], **options: Any) -> EmailProvider:
    credentials = {
        "smtp_password": data.pop("smtp_password", ""),
        "imap_password": data.pop("imap_password", ""),
    }
    options.setdefault("sleep", no_sleep)
    options.setdefault("timeout", 10.0)
    return EmailProvider(credentials=credentials, config=data, **options)


@pytest.fixture
def make_provider(mailbox: Mailbox, smtp: SmtpServer) -> Callable[..., EmailProvider]:
    def make(**overrides: Any) -> EmailProvider:
        options = {
            key: overrides.pop(key) for key in ("sleep", "timeout", "attempts") if key in overrides
        }
        return provider_for(settings_for(mailbox, smtp, **overrides), **options)

    return make
