"""Sending bulletins and replies through a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest

from humas.channels.providers.base import (
    ErrorKind,
    EventKind,
    InboundEvent,
    Media,
    PostContent,
    ProviderError,
)
from humas.channels.providers.email import provider as email_provider
from humas.channels.providers.email.provider import EmailProvider
from humas.channels.providers.email.tests.conftest import (
    AGENCY,
    provider_for,
    settings_for,
)
from humas.channels.providers.email.tests.servers import (
    SmtpServer,
    accept_login,
    free_port,
    make_certificate,
    smtp_server,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR\x00\x00\x00\x02\x00\x00\x00\x01" + b"\x00" * 40
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\ntrailer << >>\n%%EOF\n"


def sender(smtp: SmtpServer, **overrides: Any) -> EmailProvider:
    options = {key: overrides.pop(key) for key in ("sleep", "attempts") if key in overrides}
    return provider_for(settings_for(None, smtp, **overrides), **options)


def delivered(smtp: SmtpServer, index: int = -1) -> EmailMessage:
    message = email.message_from_bytes(smtp.received[index].data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def citizen_event(**raw: Any) -> InboundEvent:
    return InboundEvent(
        kind=EventKind.DIRECT_MESSAGE,
        external_id="<CAB8x1Yq7warga2@mail.example.net>",
        created_at=datetime(2025, 11, 29, 6, 40, tzinfo=UTC),
        author_id="budi.santoso@example.net",
        author_handle="budi.santoso@example.net",
        author_name="Budi Santoso",
        text="Terima kasih atas tanggapannya.",
        thread_id="<CAB8x1Yq7warga1@mail.example.net>",
        parent_id="<174236.1.88@kota.go.id>",
        raw={
            "message_id": "<CAB8x1Yq7warga2@mail.example.net>",
            "subject": "Re: Jalan rusak di Jl. Merdeka",
            "references": ["<CAB8x1Yq7warga1@mail.example.net>", "<174236.1.88@kota.go.id>"],
            **raw,
        },
    )


def test_it_sends_a_bulletin_to_the_agency_with_recipients_only_in_the_envelope(
    smtp: SmtpServer,
) -> None:
    content = PostContent(
        text="Jadwal vaksinasi anak sekolah\n\nVaksinasi dimulai Senin di puskesmas terdekat.",
        media=[
            Media(data=PNG, mime_type="image/png", filename="jadwal.png"),
            Media(data=PDF, mime_type="application/pdf", filename="edaran.pdf"),
        ],
    )
    published = sender(smtp).publish(content)

    assert len(smtp.received) == 1
    envelope = smtp.received[0]
    assert envelope.mail_from == AGENCY
    assert envelope.rcpt_tos == [
        AGENCY,
        "warga1@example.net",
        "warga2@example.org",
        "lurah@kota.go.id",
    ]
    message = delivered(smtp)
    assert "Bcc" not in message
    assert b"warga1@example.net" not in smtp.received[0].data
    assert message["From"] == "Humas Kota <pengaduan@kota.go.id>"
    assert message["To"] == AGENCY
    assert message["Subject"] == "Jadwal vaksinasi anak sekolah"
    assert message["Message-ID"] == published.external_id
    assert published.external_id.startswith("<") and published.external_id.endswith("@kota.go.id>")
    assert message["Date"].datetime.tzinfo is not None
    assert message["Content-Language"] == "id"
    assert message["Precedence"] == "bulk"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None and "puskesmas terdekat" in body.get_content()
    files = {part.get_filename(): part for part in message.iter_attachments()}
    assert files["jadwal.png"].get_content_type() == "image/png"
    assert files["jadwal.png"].get_content() == PNG
    assert files["edaran.pdf"].get_content() == PDF
    assert published.extra == {"delivered": 4, "refused": {}}


def test_it_takes_the_subject_from_the_options_and_keeps_it_on_one_line(smtp: SmtpServer) -> None:
    content = PostContent(
        text="Isi buletin.", options={"subject": "Buletin\r\nBcc: penyusup@example.com"}
    )
    sender(smtp).publish(content)
    message = delivered(smtp)
    assert message["Subject"] == "Buletin Bcc: penyusup@example.com"
    assert "Bcc" not in message


def test_it_splits_a_long_recipient_list_into_copies_of_the_same_message(
    smtp: SmtpServer,
) -> None:
    recipients = [f"warga{n}@example.net" for n in range(120)]
    published = sender(smtp, recipients=", ".join(recipients)).publish(PostContent(text="Info"))
    assert [len(r.rcpt_tos) for r in smtp.received] == [50, 50, 21]
    assert sorted(a for r in smtp.received for a in r.rcpt_tos) == sorted([AGENCY, *recipients])
    assert {delivered(smtp, i)["Message-ID"] for i in range(3)} == {published.external_id}


def test_it_reports_recipients_the_server_refused_without_failing(smtp: SmtpServer) -> None:
    smtp.handler.refuse = {"warga2@example.org"}
    published = sender(smtp).publish(PostContent(text="Info"))
    assert published.extra["delivered"] == 3
    assert list(published.extra["refused"]) == ["warga2@example.org"]
    assert "550" in published.extra["refused"]["warga2@example.org"]


def test_it_does_not_resend_to_batches_already_delivered_when_a_later_one_fails(
    smtp: SmtpServer,
) -> None:
    smtp.handler.answers = ["", "554 5.7.1 Rejected by policy"]
    recipients = [f"warga{n}@example.net" for n in range(60)]
    published = sender(smtp, recipients=recipients).publish(PostContent(text="Info"))
    assert len(smtp.received) == 1
    assert published.extra["delivered"] == 50
    assert len(published.extra["undelivered"]) == 11
    assert "554" in published.extra["error"]


def test_it_replies_to_the_citizen_in_their_thread(smtp: SmtpServer) -> None:
    published = sender(smtp).reply(
        citizen_event(), PostContent(text="Laporan Bapak sudah kami teruskan ke Dinas PUPR.")
    )
    assert smtp.received[0].rcpt_tos == ["budi.santoso@example.net"]
    message = delivered(smtp)
    assert message["To"] == "budi.santoso@example.net"
    assert message["Subject"] == "Re: Jalan rusak di Jl. Merdeka"
    assert message["In-Reply-To"] == "<CAB8x1Yq7warga2@mail.example.net>"
    assert message["References"].split() == [
        "<CAB8x1Yq7warga1@mail.example.net>",
        "<174236.1.88@kota.go.id>",
        "<CAB8x1Yq7warga2@mail.example.net>",
    ]
    assert message["Message-ID"] == published.external_id
    assert "Precedence" not in message


def test_it_replies_to_a_message_without_message_id_without_threading_headers(
    smtp: SmtpServer,
) -> None:
    event = citizen_event(message_id="", subject="", references=[])
    event.external_id = "uid:9:3"
    sender(smtp).reply(event, PostContent(text="Terima kasih.\nSalam"))
    message = delivered(smtp)
    assert message["Subject"] == "Re: Terima kasih."
    assert "In-Reply-To" not in message and "References" not in message


def test_it_refuses_to_reply_without_a_sender_address(smtp: SmtpServer) -> None:
    event = citizen_event()
    event.author_handle = event.author_id = ""
    with pytest.raises(ProviderError) as caught:
        sender(smtp).reply(event, PostContent(text="Halo"))
    assert caught.value.kind == ErrorKind.PERMANENT
    assert smtp.received == []


def test_it_validates_attachments_and_lengths() -> None:
    provider = provider_for(settings_for(None, None))
    big = Media(data=b"\x00" * 10_000_001, mime_type="image/jpeg", filename="besar.jpg")
    problems = provider.validate(
        PostContent(
            text="x" * 100_001,
            media=[big, big, Media(data=b"x", mime_type="video/mp4", filename="klip.mp4")],
            options={"subject": "s" * 201},
        )
    )
    assert len(problems) == 6
    assert any("klip.mp4" in p for p in problems)
    assert provider.validate(PostContent(text="Halo", media=[Media(PDF, "application/pdf")])) == []


def test_it_refuses_invalid_content_without_connecting() -> None:
    provider = provider_for(settings_for(None, None))
    with pytest.raises(ProviderError) as caught:
        provider.publish(PostContent(text="x" * 100_001))
    assert caught.value.kind == ErrorKind.PERMANENT


# --- logins and TLS ---------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_it_logs_in_when_the_server_requires_it() -> None:
    with smtp_server(
        authenticator=accept_login(b"humas", b"rahasia-smtp"),
        auth_required=True,
        auth_require_tls=False,
    ) as smtp:
        provider = sender(smtp, smtp_username="humas", smtp_password="rahasia-smtp")
        provider.publish(PostContent(text="Info"))
    assert len(smtp.received) == 1


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_it_reports_a_refused_smtp_login_as_an_auth_failure_without_retrying() -> None:
    pauses: list[float] = []
    with smtp_server(
        authenticator=accept_login(b"humas", b"rahasia-smtp"),
        auth_required=True,
        auth_require_tls=False,
    ) as smtp:
        provider = sender(smtp, smtp_username="humas", smtp_password="salah", sleep=pauses.append)
        with pytest.raises(ProviderError) as caught:
            provider.publish(PostContent(text="Info"))
    assert caught.value.kind == ErrorKind.AUTH
    assert caught.value.status == 535
    assert "535" in caught.value.message and "humas" in caught.value.message
    assert pauses == []
    assert smtp.received == []


def test_it_sends_over_starttls_with_a_verified_certificate(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    certificate = make_certificate(tmp_path)
    monkeypatch.setattr(email_provider, "tls_context", certificate.client_context)
    with smtp_server(
        tls_context=certificate.server_context(),
        require_starttls=True,
        authenticator=accept_login(b"humas", b"rahasia-smtp"),
        auth_required=True,
    ) as smtp:
        provider = sender(
            smtp, smtp_security="starttls", smtp_username="humas", smtp_password="rahasia-smtp"
        )
        provider.publish(PostContent(text="Info"))
    assert len(smtp.received) == 1


def test_it_sends_over_implicit_tls(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    certificate = make_certificate(tmp_path)
    monkeypatch.setattr(email_provider, "tls_context", certificate.client_context)
    with smtp_server(ssl_context=certificate.server_context()) as smtp:
        sender(smtp, smtp_security="ssl").publish(PostContent(text="Info"))
    assert len(smtp.received) == 1


def test_it_refuses_to_log_in_when_starttls_is_not_offered(smtp: SmtpServer) -> None:
    provider = sender(smtp, smtp_security="starttls", smtp_password="rahasia-smtp")
    with pytest.raises(ProviderError) as caught:
        provider.publish(PostContent(text="Info"))
    assert caught.value.kind == ErrorKind.AUTH
    assert "STARTTLS" in caught.value.message


def test_it_reports_an_untrusted_certificate_as_a_settings_problem(tmp_path: Any) -> None:
    certificate = make_certificate(tmp_path)
    with (
        smtp_server(ssl_context=certificate.server_context()) as smtp,
        pytest.raises(ProviderError) as caught,
    ):
        sender(smtp, smtp_security="ssl").publish(PostContent(text="Info"))
    assert caught.value.kind == ErrorKind.AUTH
    assert "certificate" in caught.value.message


# --- faults -----------------------------------------------------------------------------------


def test_it_reports_a_message_too_large_as_permanent() -> None:
    pauses: list[float] = []
    with smtp_server(data_size_limit=2000) as smtp:
        content = PostContent(text="Info", media=[Media(PDF * 200, "application/pdf")])
        with pytest.raises(ProviderError) as caught:
            sender(smtp, sleep=pauses.append).publish(content)
    assert caught.value.kind == ErrorKind.PERMANENT
    assert caught.value.status == 552
    assert "too large" in caught.value.message
    assert pauses == []


def test_it_reports_a_552_at_data_as_permanent(smtp: SmtpServer) -> None:
    smtp.handler.answer = "552 5.3.4 Message size exceeds fixed limit"
    with pytest.raises(ProviderError) as caught:
        sender(smtp).publish(PostContent(text="Info"))
    assert caught.value.kind == ErrorKind.PERMANENT
    assert smtp.handler.data_commands == 1


def test_it_retries_a_temporary_failure_then_reports_it_as_transient(smtp: SmtpServer) -> None:
    smtp.handler.answer = "451 4.3.0 Mail server temporarily rejected message"
    pauses: list[float] = []
    with pytest.raises(ProviderError) as caught:
        sender(smtp, sleep=pauses.append, attempts=3).publish(PostContent(text="Info"))
    assert caught.value.kind == ErrorKind.TRANSIENT
    assert "451" in caught.value.message
    assert smtp.handler.data_commands == 3
    assert len(pauses) == 2
    assert all(0 <= pause <= email_provider.MAX_PAUSE for pause in pauses)


def test_it_delivers_when_a_temporary_failure_clears(smtp: SmtpServer) -> None:
    smtp.handler.answers = ["421 4.7.0 Try again later"]
    pauses: list[float] = []
    sender(smtp, sleep=pauses.append).publish(PostContent(text="Info"))
    assert len(smtp.received) == 1
    assert len(pauses) == 1


def test_it_reports_a_server_that_is_not_listening_as_transient() -> None:
    pauses: list[float] = []
    provider = provider_for(
        settings_for(None, None, smtp_port=free_port()), sleep=pauses.append, attempts=3
    )
    with pytest.raises(ProviderError) as caught:
        provider.publish(PostContent(text="Info"))
    assert caught.value.kind == ErrorKind.TRANSIENT
    assert "connection refused" in caught.value.message
    assert len(pauses) == 2


def test_it_reports_a_refused_recipient_of_a_reply_as_permanent(smtp: SmtpServer) -> None:
    smtp.handler.refuse = {"budi.santoso@example.net"}
    with pytest.raises(ProviderError) as caught:
        sender(smtp).reply(citizen_event(), PostContent(text="Halo"))
    assert caught.value.kind == ErrorKind.PERMANENT
    assert "User unknown" in caught.value.message


def test_it_reports_unusable_settings_clearly() -> None:
    provider = provider_for(settings_for(None, None, address="bukan alamat"))
    with pytest.raises(ProviderError) as caught:
        provider.publish(PostContent(text="Info"))
    assert caught.value.kind == ErrorKind.PERMANENT
    assert "bukan alamat" in caught.value.message


def test_it_explains_that_smtp_logins_must_be_ascii(smtp: SmtpServer) -> None:
    with pytest.raises(ProviderError) as caught:
        sender(smtp, smtp_password="kata-sandi-é").publish(PostContent(text="Info"))
    assert caught.value.kind == ErrorKind.AUTH
    assert "ASCII" in caught.value.message
