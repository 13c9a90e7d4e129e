"""Reading citizens' e-mail from a real IMAP server (a private Dovecot on 127.0.0.1)."""

from __future__ import annotations

import imaplib
import logging
from collections.abc import Callable

import pytest

from humas.channels.providers.base import ErrorKind, EventKind, ProviderError
from humas.channels.providers.email import parsing
from humas.channels.providers.email import provider as email_provider
from humas.channels.providers.email.provider import EmailProvider
from humas.channels.providers.email.tests.conftest import fixture_bytes, provider_for, settings_for
from humas.channels.providers.email.tests.servers import (
    Dovecot,
    DroppingProxy,
    Mailbox,
    free_port,
)

MakeProvider = Callable[..., EmailProvider]

ALL_FIXTURES = [
    "citizen.eml",
    "citizen-followup.eml",
    "auto-reply.eml",
    "bounce.eml",
    "own.eml",
    "latin1.eml",
    "pdf-attachment.eml",
]


def short_mail(number: int) -> bytes:
    return (
        f"From: Warga {number} <warga{number}@example.net>\r\n"
        f"To: pengaduan@kota.go.id\r\nSubject: Laporan {number}\r\n"
        f"Message-ID: <laporan-{number}@example.net>\r\n\r\nIsi laporan {number}.\r\n"
    ).encode()


def uidvalidity(cursor: str) -> int:
    return int(cursor.split(":")[0])


def test_it_reads_exactly_the_citizens_with_their_threads(
    mailbox: Mailbox, make_provider: MakeProvider
) -> None:
    uids = mailbox.append(*(fixture_bytes(name) for name in ALL_FIXTURES))
    provider = make_provider()

    events, cursor = provider.fetch_inbound("")

    assert [e.external_id for e in events] == [
        "<CAB8x1Yq7warga1@mail.example.net>",
        "<CAB8x1Yq7warga2@mail.example.net>",
        "<20251128131744.8842@webmail.example.com>",
        "<9b1f2e1c-3a4d-4e5f-8a9b-0c1d2e3f4a5b@example.org>",
    ]
    assert all(e.kind == EventKind.DIRECT_MESSAGE for e in events)
    first, follow_up, latin1, with_pdf = events
    assert follow_up.thread_id == first.external_id == first.thread_id
    assert follow_up.parent_id == "<174236.1.88@kota.go.id>"
    assert latin1.raw["subject"] == "Permohonan informasi bantuan sosial – Kelurahan Sukamaju"
    assert "Renée" in latin1.text
    assert with_pdf.media[0]["filename"] == "surat-pengaduan.pdf"
    assert with_pdf.raw["uid"] == uids[-1]
    assert with_pdf.raw["size"] > 0
    assert cursor.endswith(f":{uids[-1]}")

    # The "N:*" quirk: the server answers with the last message; nothing new comes back.
    again, same = provider.fetch_inbound(cursor)
    assert again == []
    assert same == cursor


def test_it_reads_only_what_arrived_after_the_cursor(
    mailbox: Mailbox, make_provider: MakeProvider
) -> None:
    mailbox.append(fixture_bytes("citizen.eml"))
    provider = make_provider()
    _events, cursor = provider.fetch_inbound("")
    [uid] = mailbox.append(fixture_bytes("citizen-followup.eml"))

    events, next_cursor = provider.fetch_inbound(cursor)

    assert [e.external_id for e in events] == ["<CAB8x1Yq7warga2@mail.example.net>"]
    assert next_cursor == f"{uidvalidity(cursor)}:{uid}"


def test_it_does_not_mark_messages_as_read(mailbox: Mailbox, make_provider: MakeProvider) -> None:
    [uid] = mailbox.append(fixture_bytes("citizen.eml"))
    make_provider().fetch_inbound("")
    assert "\\Seen" not in mailbox.flags(uid)


def test_it_reads_at_most_fifty_messages_per_call(
    mailbox: Mailbox, make_provider: MakeProvider
) -> None:
    mailbox.append(*(short_mail(n) for n in range(60)))
    provider = make_provider()

    first, cursor = provider.fetch_inbound("")
    second, cursor = provider.fetch_inbound(cursor)
    third, _cursor = provider.fetch_inbound(cursor)

    assert len(first) == 50 and len(second) == 10 and third == []
    assert {e.external_id for e in first + second} == {
        f"<laporan-{n}@example.net>" for n in range(60)
    }


def test_it_stops_a_call_early_when_the_messages_are_big(
    mailbox: Mailbox, make_provider: MakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailbox.append(*(short_mail(n) for n in range(3)))
    monkeypatch.setattr(email_provider, "BATCH_BYTES", 10)
    provider = make_provider()

    first, cursor = provider.fetch_inbound("")
    second, cursor = provider.fetch_inbound(cursor)

    assert [e.external_id for e in first] == ["<laporan-0@example.net>"]
    assert [e.external_id for e in second] == ["<laporan-1@example.net>"]


def test_it_keeps_the_sender_of_a_message_too_large_to_read(
    mailbox: Mailbox, make_provider: MakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailbox.append(fixture_bytes("pdf-attachment.eml"))
    monkeypatch.setattr(email_provider, "MAX_MESSAGE_BYTES", 500)

    [event], _cursor = make_provider().fetch_inbound("")

    assert event.author_id == "andi.w@example.org"
    assert event.raw["subject"] == "Berkas pengaduan pelayanan KTP"
    assert event.text == "" and event.media == []
    assert "larger than humas reads" in event.raw["unread_body"]


def test_it_keeps_the_sender_when_the_body_breaks_the_parser(
    mailbox: Mailbox, make_provider: MakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailbox.append(fixture_bytes("citizen.eml"), fixture_bytes("latin1.eml"))

    def broken(message: object) -> str:
        raise RuntimeError("a parser bug")

    monkeypatch.setattr(parsing, "body_text", broken)
    events, cursor = make_provider().fetch_inbound("")

    assert [e.author_id for e in events] == ["budi.santoso@example.net", "siti.n@example.com"]
    assert all(e.raw["unread_body"] == "the message could not be read" for e in events)
    assert cursor.endswith(":2")


def test_it_starts_from_new_mail_when_told_to_read_no_history(
    mailbox: Mailbox, make_provider: MakeProvider
) -> None:
    mailbox.append(fixture_bytes("citizen.eml"))
    provider = make_provider(history_days=0)

    events, cursor = provider.fetch_inbound("")
    assert events == []
    mailbox.append(fixture_bytes("latin1.eml"))
    events, _cursor = provider.fetch_inbound(cursor)
    assert [e.author_id for e in events] == ["siti.n@example.com"]


def test_it_reads_the_folder_again_when_uidvalidity_changes(
    mailbox: Mailbox, make_provider: MakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    mailbox.append(fixture_bytes("citizen.eml"))
    provider = make_provider()
    _events, cursor = provider.fetch_inbound("")
    stale = f"{uidvalidity(cursor) + 1}:{999}"

    with caplog.at_level(logging.WARNING, logger=email_provider.__name__):
        events, next_cursor = provider.fetch_inbound(stale)

    assert [e.external_id for e in events] == ["<CAB8x1Yq7warga1@mail.example.net>"]
    assert next_cursor == cursor
    assert "UIDVALIDITY" in caplog.text


def test_it_reads_another_folder_by_name(mailbox: Mailbox, make_provider: MakeProvider) -> None:
    mailbox.create_folder('"Pengaduan &- Saran"')
    mailbox.append(fixture_bytes("citizen.eml"), folder='"Pengaduan &- Saran"')
    mailbox.append(fixture_bytes("latin1.eml"))

    events, _cursor = make_provider(imap_folder="Pengaduan & Saran").fetch_inbound("")

    assert [e.author_id for e in events] == ["budi.santoso@example.net"]
    assert events[0].raw["folder"] == "Pengaduan & Saran"


def test_it_reports_a_missing_folder_as_permanent(make_provider: MakeProvider) -> None:
    with pytest.raises(ProviderError) as caught:
        make_provider(imap_folder="Tidak Ada").fetch_inbound("")
    assert caught.value.kind == ErrorKind.PERMANENT
    assert "Tidak Ada" in caught.value.message


def test_it_reads_over_implicit_tls_and_starttls(
    dovecot_server: Dovecot,
    mailbox: Mailbox,
    make_provider: MakeProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(email_provider, "tls_context", dovecot_server.certificate.client_context)
    mailbox.append(fixture_bytes("citizen.eml"))

    over_ssl, _c = make_provider(
        imap_security="ssl", imap_port=dovecot_server.tls_port
    ).fetch_inbound("")
    over_starttls, _c = make_provider(imap_security="starttls").fetch_inbound("")

    assert len(over_ssl) == len(over_starttls) == 1


# --- faults -----------------------------------------------------------------------------------


def test_it_reports_a_wrong_imap_password_as_auth_without_retrying(
    make_provider: MakeProvider,
) -> None:
    pauses: list[float] = []
    with pytest.raises(ProviderError) as caught:
        make_provider(imap_password="salah", sleep=pauses.append).fetch_inbound("")
    assert caught.value.kind == ErrorKind.AUTH
    assert "AUTHENTICATIONFAILED" in caught.value.message
    assert pauses == []


def test_it_reports_an_imap_server_that_is_not_listening_as_transient() -> None:
    pauses: list[float] = []
    provider = provider_for(
        settings_for(None, None, imap_port=free_port(), imap_password="x"),
        sleep=pauses.append,
        attempts=3,
    )
    with pytest.raises(ProviderError) as caught:
        provider.fetch_inbound("")
    assert caught.value.kind == ErrorKind.TRANSIENT
    assert len(pauses) == 2


def test_it_reports_a_connection_dropped_mid_fetch_as_transient(
    dovecot_server: Dovecot, mailbox: Mailbox, make_provider: MakeProvider
) -> None:
    mailbox.append(fixture_bytes("citizen.eml"))
    proxy = DroppingProxy(dovecot_server.port, trigger=b"BODY.PEEK[]")
    try:
        provider = make_provider(imap_port=proxy.port, attempts=2)
        with pytest.raises(ProviderError) as caught:
            provider.fetch_inbound("")
    finally:
        proxy.stop()
    assert caught.value.kind == ErrorKind.TRANSIENT
    assert "closed the connection" in caught.value.message
    assert proxy.drops == 2


def test_it_recovers_when_a_dropped_connection_works_again(
    dovecot_server: Dovecot, mailbox: Mailbox, make_provider: MakeProvider
) -> None:
    mailbox.append(fixture_bytes("citizen.eml"))
    proxy = DroppingProxy(dovecot_server.port, trigger=b"BODY.PEEK[]")
    pauses: list[float] = []

    def heal(seconds: float) -> None:
        pauses.append(seconds)
        proxy.trigger = b"never sent by the client"

    try:
        events, _cursor = make_provider(imap_port=proxy.port, sleep=heal).fetch_inbound("")
    finally:
        proxy.stop()
    assert len(events) == 1
    assert len(pauses) == 1


def test_it_retries_a_login_the_server_refuses_for_now(
    make_provider: MakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(self: imaplib.IMAP4, user: str, password: str) -> tuple[str, list[bytes]]:
        raise imaplib.IMAP4.error(b"[UNAVAILABLE] Temporary authentication failure.")

    monkeypatch.setattr(imaplib.IMAP4, "login", unavailable)
    pauses: list[float] = []
    with pytest.raises(ProviderError) as caught:
        make_provider(sleep=pauses.append, attempts=2).fetch_inbound("")
    assert caught.value.kind == ErrorKind.TRANSIENT
    assert "UNAVAILABLE" in caught.value.message
    assert len(pauses) == 1


def test_it_sends_a_non_ascii_password_with_authenticate_plain(
    make_provider: MakeProvider,
) -> None:
    with pytest.raises(ProviderError) as caught:
        make_provider(imap_password="kata-sandi-é").fetch_inbound("")
    assert caught.value.kind == ErrorKind.AUTH
    assert "AUTHENTICATIONFAILED" in caught.value.message
