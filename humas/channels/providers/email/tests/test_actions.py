"""humas's own actions driving the e-mail provider against live SMTP and IMAP servers."""

from __future__ import annotations

import email
from collections.abc import Callable
from email import policy
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from humas.accounts.audit import Actor
from humas.accounts.models import Notification, Organisation, User
from humas.channels import actions
from humas.channels.models import ChannelAccount, ChannelPost, ChannelStatus, InboundEvent
from humas.channels.providers.base import ErrorKind, PostContent, ProviderError
from humas.channels.providers.email.tests.conftest import (
    AGENCY,
    fixture_bytes,
    no_sleep,
    settings_for,
)
from humas.channels.providers.email.tests.servers import (
    Dovecot,
    DroppingProxy,
    Mailbox,
    SmtpServer,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def channel(org: Organisation, admin: User, mailbox: Mailbox, smtp: SmtpServer) -> ChannelAccount:
    return actions.connect_channel(
        org, "email", settings_for(mailbox, smtp), by=Actor(user=admin), sleep=no_sleep
    )


def poll(channel: ChannelAccount) -> int:
    return actions.poll_channel(channel, provider=channel.provider(sleep=no_sleep))


def test_connecting_checks_both_servers_and_keeps_passwords_encrypted(
    channel: ChannelAccount, mailbox: Mailbox
) -> None:
    stored = ChannelAccount.objects.get(pk=channel.pk)
    assert (stored.network, stored.external_id, stored.handle) == ("email", AGENCY, AGENCY)
    assert stored.display_name == "Humas Kota"
    assert stored.status == ChannelStatus.ACTIVE
    assert stored.get_credentials() == {"smtp_password": "", "imap_password": mailbox.password}
    assert mailbox.password not in stored.credentials_encrypted
    assert "imap_password" not in stored.config
    assert stored.config["imap_username"] == mailbox.username
    assert stored.config["recipients"] == [
        "warga1@example.net",
        "warga2@example.org",
        "lurah@kota.go.id",
    ]
    assert stored.next_poll_at is not None


def test_testing_the_connection_logs_in_to_both_servers(
    channel: ChannelAccount, admin: User
) -> None:
    assert actions.test_connection(channel, by=Actor(user=admin), sleep=no_sleep) is True
    channel.set_credentials({"smtp_password": "", "imap_password": "diganti"})
    channel.save()
    assert actions.test_connection(channel, by=Actor(user=admin), sleep=no_sleep) is False
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.NEEDS_RECONNECTION


def test_connecting_with_a_wrong_imap_password_stores_nothing(
    org: Organisation, admin: User, mailbox: Mailbox, smtp: SmtpServer
) -> None:
    with pytest.raises(ProviderError) as caught:
        actions.connect_channel(
            org,
            "email",
            settings_for(mailbox, smtp, imap_password="salah"),
            by=Actor(user=admin),
            sleep=no_sleep,
        )
    assert caught.value.kind == ErrorKind.AUTH
    assert not ChannelAccount.objects.exists()


def test_polling_twice_stores_each_citizen_email_once(
    channel: ChannelAccount, mailbox: Mailbox
) -> None:
    mailbox.append(
        *(
            fixture_bytes(name)
            for name in ("citizen.eml", "auto-reply.eml", "bounce.eml", "own.eml", "latin1.eml")
        )
    )
    assert poll(channel) == 2
    mailbox.append(fixture_bytes("citizen-followup.eml"))
    assert poll(channel) == 1
    assert poll(channel) == 0

    stored = InboundEvent.objects.filter(channel=channel)
    assert stored.count() == 3
    follow_up = stored.get(external_id="<CAB8x1Yq7warga2@mail.example.net>")
    assert follow_up.thread_id == "<CAB8x1Yq7warga1@mail.example.net>"
    assert follow_up.kind == "direct_message"
    assert follow_up.author_handle == "budi.santoso@example.net"
    channel.refresh_from_db()
    assert channel.inbound_cursor.endswith(":6")


def test_a_reply_reaches_the_citizen_in_their_thread(
    channel: ChannelAccount, mailbox: Mailbox, smtp: SmtpServer, admin: User
) -> None:
    mailbox.append(fixture_bytes("citizen-followup.eml"))
    poll(channel)
    event = InboundEvent.objects.get(channel=channel)

    post = actions.reply_to_event(
        event,
        PostContent(text="Laporan Bapak sudah kami teruskan ke Dinas PUPR."),
        by=Actor(user=admin),
        provider=channel.provider(sleep=no_sleep),
    )

    [received] = smtp.received
    assert received.rcpt_tos == ["budi.santoso@example.net"]
    message = email.message_from_bytes(received.data, policy=policy.default)
    assert message["In-Reply-To"] == "<CAB8x1Yq7warga2@mail.example.net>"
    assert message["References"].split() == [
        "<CAB8x1Yq7warga1@mail.example.net>",
        "<174236.1.88@kota.go.id>",
        "<CAB8x1Yq7warga2@mail.example.net>",
    ]
    assert message["Subject"] == "Re: Jalan rusak di Jl. Merdeka"
    assert post.external_id == message["Message-ID"]
    assert post.in_reply_to == event


def test_publishing_sends_the_bulletin(
    channel: ChannelAccount, smtp: SmtpServer, admin: User
) -> None:
    post = actions.publish_to_channel(
        channel,
        PostContent(text="Vaksinasi anak sekolah dimulai Senin."),
        by=Actor(user=admin),
        provider=channel.provider(sleep=no_sleep),
    )
    [received] = smtp.received
    assert received.rcpt_tos == [
        AGENCY,
        "warga1@example.net",
        "warga2@example.org",
        "lurah@kota.go.id",
    ]
    message = email.message_from_bytes(received.data, policy=policy.default)
    assert post.external_id == message["Message-ID"]
    assert ChannelPost.objects.get(channel=channel).text == "Vaksinasi anak sekolah dimulai Senin."


def test_our_own_bulletin_arriving_in_the_inbox_is_not_a_citizen(
    channel: ChannelAccount, mailbox: Mailbox, smtp: SmtpServer, admin: User
) -> None:
    actions.publish_to_channel(
        channel, PostContent(text="Info"), by=Actor(user=admin), provider=channel.provider()
    )
    mailbox.append(smtp.received[0].data)
    assert poll(channel) == 0


def test_a_wrong_imap_password_asks_for_reconnection(channel: ChannelAccount, admin: User) -> None:
    channel.set_credentials({"smtp_password": "", "imap_password": "diganti"})
    channel.save()

    with pytest.raises(ProviderError) as caught:
        poll(channel)

    assert caught.value.kind == ErrorKind.AUTH
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.NEEDS_RECONNECTION
    assert channel.last_error_kind == ErrorKind.AUTH
    assert Notification.objects.filter(user=admin, kind="channels.needs_reconnection").exists()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_refused_smtp_login_asks_for_reconnection(
    org: Organisation, admin: User, mailbox: Mailbox
) -> None:
    from humas.channels.providers.email.tests.servers import accept_login, smtp_server

    with smtp_server(
        authenticator=accept_login(b"humas", b"rahasia-smtp"),
        auth_required=True,
        auth_require_tls=False,
    ) as smtp:
        data = settings_for(mailbox, smtp, smtp_username="humas", smtp_password="rahasia-smtp")
        channel = actions.connect_channel(org, "email", data, by=Actor(user=admin))
        channel.set_credentials({"smtp_password": "kedaluwarsa", "imap_password": mailbox.password})
        channel.save()
        with pytest.raises(ProviderError) as caught:
            actions.publish_to_channel(channel, PostContent(text="Info"), by=Actor(user=admin))
    assert caught.value.kind == ErrorKind.AUTH
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.NEEDS_RECONNECTION
    assert not ChannelPost.objects.exists()


def test_a_connection_dropped_mid_fetch_keeps_the_cursor(
    channel: ChannelAccount, mailbox: Mailbox, dovecot_server: Dovecot
) -> None:
    mailbox.append(fixture_bytes("citizen.eml"))
    poll(channel)
    channel.refresh_from_db()
    cursor = channel.inbound_cursor
    mailbox.append(fixture_bytes("latin1.eml"))
    proxy = DroppingProxy(dovecot_server.port, trigger=b"BODY.PEEK[]")
    channel.config = {**channel.config, "imap_port": proxy.port}
    channel.save()
    try:
        with pytest.raises(ProviderError) as caught:
            poll(channel)
    finally:
        proxy.stop()

    assert caught.value.kind == ErrorKind.TRANSIENT
    channel.refresh_from_db()
    assert channel.inbound_cursor == cursor
    assert channel.status == ChannelStatus.ACTIVE
    assert channel.last_error_kind == ErrorKind.TRANSIENT
    assert InboundEvent.objects.filter(channel=channel).count() == 1

    channel.config = {**channel.config, "imap_port": dovecot_server.port}
    channel.save()
    assert poll(channel) == 1


# --- the connect page -------------------------------------------------------------------------


def form_post(mailbox: Mailbox, smtp: SmtpServer, **overrides: Any) -> dict[str, Any]:
    overrides.setdefault("recipients", "warga1@example.net, warga2@example.org\nlurah@kota.go.id")
    return settings_for(mailbox, smtp, **overrides)


def test_an_admin_connects_a_mailbox_through_the_form(
    as_user: Callable[[User], Client], admin: User, mailbox: Mailbox, smtp: SmtpServer
) -> None:
    client = as_user(admin)
    url = reverse("channels:connect", args=["email"])
    page = client.get(url)
    assert page.status_code == 200
    assert b'name="imap_password"' in page.content

    response = client.post(url, form_post(mailbox, smtp))

    channel = ChannelAccount.objects.get(network="email")
    assert response.status_code == 302
    assert response["Location"] == reverse("channels:detail", args=[channel.pk])
    assert channel.config["recipients"] == [
        "warga1@example.net",
        "warga2@example.org",
        "lurah@kota.go.id",
    ]


def test_the_form_shows_the_servers_refusal(
    as_user: Callable[[User], Client], admin: User, mailbox: Mailbox, smtp: SmtpServer
) -> None:
    client = as_user(admin)
    response = client.post(
        reverse("channels:connect", args=["email"]),
        form_post(mailbox, smtp, imap_password="salah", recipients="bukan-alamat"),
    )
    assert response.status_code == 200
    assert "bukan-alamat" in response.content.decode()
    assert not ChannelAccount.objects.exists()
    response = client.post(
        reverse("channels:connect", args=["email"]),
        form_post(mailbox, smtp, imap_password="salah"),
    )
    assert response.status_code == 200
    assert "AUTHENTICATIONFAILED" in response.content.decode()
    assert not ChannelAccount.objects.exists()


def test_an_attachment_is_kept_in_storage_with_its_event(
    channel: ChannelAccount, mailbox: Mailbox
) -> None:
    from django.core.files.storage import default_storage

    mailbox.append(fixture_bytes("pdf-attachment.eml"))
    assert poll(channel) == 1
    event = InboundEvent.objects.get(channel=channel)
    entry = event.media[0]
    assert entry["filename"] == "surat-pengaduan.pdf"
    with default_storage.open(entry["path"]) as handle:
        content = handle.read()
    assert content.startswith(b"%PDF")
    assert len(content) == entry["size"]
