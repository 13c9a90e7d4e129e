import pytest
from django.core import mail
from django.db import DatabaseError

from humas.accounts.audit import Actor
from humas.accounts.models import AuditEntry, Notification
from humas.channels import actions
from humas.channels.models import ChannelAccount, ChannelStatus, InboundEvent
from humas.channels.providers.base import Media, PostContent, ProviderError
from humas.channels.tests.fakes import event

pytestmark = pytest.mark.django_db
BY = Actor.system("tests")


@pytest.fixture
def channel(org, admin, fake_network):
    return actions.connect_channel(org, "fake", {"token": "t0ken"}, by=Actor(user=admin))


def test_connecting_stores_the_account_with_credentials_encrypted(channel, org):
    stored = ChannelAccount.objects.get(pk=channel.pk)
    assert (stored.organisation, stored.handle, stored.status) == (
        org,
        "@pemkot",
        ChannelStatus.ACTIVE,
    )
    assert "t0ken" not in stored.credentials_encrypted
    assert stored.get_credentials() == {"token": "t0ken"}
    assert stored.config == {"instance": "fake.example"}
    entry = AuditEntry.objects.get(action="channels.channel.connected")
    assert entry.payload["handle"] == "@pemkot"


def test_connecting_the_same_account_again_updates_it(channel, org, admin):
    again = actions.connect_channel(org, "fake", {"token": "new"}, by=Actor(user=admin))
    assert again.pk == channel.pk
    assert again.get_credentials() == {"token": "new"}
    assert AuditEntry.objects.filter(action="channels.channel.reconnected").exists()


def test_refused_credentials_store_nothing(org, admin, fake_network):
    with pytest.raises(ProviderError):
        actions.connect_channel(org, "fake", {"token": "bad"}, by=Actor(user=admin))
    assert not ChannelAccount.objects.exists()


def test_events_are_stored_once_however_often_they_arrive(channel):
    first = actions.store_events(channel, [event(1), event(2), event(2)])
    again = actions.store_events(channel, [event(1), event(2), event(3)])
    assert [e.external_id for e in first] == ["ev-1", "ev-2"] or {e.external_id for e in first} == {
        "ev-1",
        "ev-2",
    }
    assert [e.external_id for e in again] == ["ev-3"]
    assert InboundEvent.objects.filter(channel=channel).count() == 3
    assert InboundEvent.objects.get(external_id="ev-1").organisation == channel.organisation


def test_polling_follows_pages_and_stores_the_cursor(channel, fake_network):
    fake_network.pages = {
        "": ([event(1), event(2)], "c1"),
        "c1": ([event(3)], "c2"),
        "c2": ([], "c2"),
    }
    assert actions.poll_channel(channel) == 3
    channel.refresh_from_db()
    assert channel.inbound_cursor == "c2"
    assert channel.last_sync_at is not None
    assert actions.poll_channel(channel) == 0


def test_the_cursor_does_not_move_when_storing_fails(channel, fake_network, monkeypatch):
    fake_network.pages = {"": ([event(1), event(2)], "c1")}
    real_insert_rows = actions.insert_rows

    def broken(*args, **kwargs):
        raise DatabaseError("disk full")

    # The events' insert (COPY on PostgreSQL, bulk_create elsewhere) fails.
    monkeypatch.setattr(actions, "insert_rows", broken)
    with pytest.raises(DatabaseError):
        actions.poll_channel(channel)
    channel.refresh_from_db()
    assert channel.inbound_cursor == ""
    assert not InboundEvent.objects.exists()
    monkeypatch.setattr(actions, "insert_rows", real_insert_rows)
    assert actions.poll_channel(channel) == 2


def test_an_auth_failure_asks_for_reconnection_and_tells_the_admins(
    channel, fake_network, admin, django_capture_on_commit_callbacks
):
    fake_network.error = ProviderError("token revoked", "auth", status=401)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ProviderError):
        actions.poll_channel(channel)
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.NEEDS_RECONNECTION
    assert channel.last_error == "token revoked"
    note = Notification.objects.get(user=admin)
    assert "@pemkot" in note.title or "Pemkot" in note.title
    assert [m.to for m in mail.outbox] == [[admin.email]]
    assert AuditEntry.objects.filter(action="channels.channel.needs_reconnection").count() == 1
    # The channel is no longer polled, and a later auth failure does not notify again.
    assert actions.poll_channel(channel) == 0
    actions.record_provider_error(channel, ProviderError("still revoked", "auth"))
    assert Notification.objects.count() == 1


def test_a_transient_failure_is_recorded_but_keeps_the_channel_active(channel, fake_network):
    fake_network.error = ProviderError("HTTP 503", "transient", status=503)
    with pytest.raises(ProviderError):
        actions.poll_channel(channel)
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.ACTIVE
    assert channel.last_error_kind == "transient"
    fake_network.error = None
    actions.poll_channel(channel)
    channel.refresh_from_db()
    assert channel.last_error == ""


def test_publishing_checks_the_limits_before_calling_the_network(channel, fake_network):
    from humas.accounts.actions import ActionError

    image = Media(data=b"x" * 10, mime_type="image/png", alt_text="")
    with pytest.raises(ActionError, match="alt"):
        actions.publish_to_channel(channel, PostContent(text="Halo", media=[image]), by=BY)
    with pytest.raises(ActionError):
        actions.publish_to_channel(channel, PostContent(text="x" * 101), by=BY)
    assert fake_network.published == []


def test_publishing_records_the_post_and_an_audit_entry(channel, fake_network, admin):
    post = actions.publish_to_channel(
        channel, PostContent(text="Vaksinasi gratis"), by=Actor(user=admin)
    )
    assert (post.external_id, post.url, post.published_by) == (
        "post-1",
        "https://fake.example/p/1",
        admin,
    )
    assert (
        AuditEntry.objects.get(action="channels.post.published").payload["external_id"] == "post-1"
    )


def test_replying_links_the_reply_to_the_event(channel, fake_network):
    stored = actions.store_events(channel, [event(7)])[0]
    reply = actions.reply_to_event(
        stored, PostContent(text="Terima kasih, sudah kami teruskan."), by=BY
    )
    assert reply.in_reply_to == stored
    assert reply.external_id == "reply-to-ev-7"


def test_a_disconnected_channel_refuses_work_and_loses_its_credentials(
    channel, fake_network, admin
):
    from humas.accounts.actions import ActionError

    actions.disconnect_channel(channel, by=Actor(user=admin))
    channel.refresh_from_db()
    assert channel.credentials_encrypted == ""
    assert channel.status == ChannelStatus.DISABLED
    with pytest.raises(ActionError):
        actions.publish_to_channel(channel, PostContent(text="Halo"), by=BY)
    assert actions.poll_channel(channel) == 0


def test_metrics_are_copied_onto_published_posts(channel, fake_network):
    post = actions.publish_to_channel(channel, PostContent(text="Info banjir"), by=BY)
    assert actions.sync_metrics(channel) == 1
    post.refresh_from_db()
    assert post.metrics["likes"] == 3 and post.metrics["reposts"] == 2


def test_testing_a_connection_heals_a_channel_that_needed_reconnection(
    channel, fake_network, admin
):
    ChannelAccount.objects.filter(pk=channel.pk).update(status=ChannelStatus.NEEDS_RECONNECTION)
    channel.refresh_from_db()
    assert actions.test_connection(channel, by=Actor(user=admin))
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.ACTIVE
    assert channel.display_name == "Pemkot Baru"


def test_the_poll_job_polls_due_channels_and_schedules_the_next_poll(channel, fake_network):
    from humas.channels.jobs import poll_due_channels

    fake_network.pages = {"": ([event(1)], "c1")}
    assert poll_due_channels() == 1
    channel.refresh_from_db()
    assert channel.next_poll_at is not None and channel.claimed_by == ""
    # not due yet: nothing polled
    fake_network.pages = {"c1": ([event(2)], "c2")}
    assert poll_due_channels() == 0


def test_admins_see_the_reconnection_notice_in_humas(
    client, channel, fake_network, admin, other_admin
):
    from django.urls import reverse

    from humas.accounts.testing import sign_in

    actions.record_provider_error(channel, ProviderError("token revoked", "auth"))
    sign_in(client, admin)
    home = client.get(reverse("home")).content.decode()
    assert 'data-testid="notifications-link"' in home and "badge bad" in home
    page = client.get(reverse("accounts:notifications")).content.decode()
    assert "token revoked" in page
    assert Notification.objects.get(user=admin).read_at is not None
    # Another organisation's admin sees nothing of it.
    client.logout()
    sign_in(client, other_admin)
    assert "token revoked" not in client.get(reverse("accounts:notifications")).content.decode()


def test_credentials_the_network_renewed_are_stored_encrypted(channel, fake_network):
    provider = channel.provider()
    fake_network.pages = {"": ([event(1)], "c1")}
    provider.credentials["token"] = "renewed-session"
    actions.poll_channel(channel, provider=provider)
    stored = ChannelAccount.objects.get(pk=channel.pk)
    assert stored.get_credentials() == {"token": "renewed-session"}
    assert "renewed-session" not in stored.credentials_encrypted


def test_attachments_are_stored_once_and_the_event_says_where(channel):
    from django.core.files.storage import default_storage

    from humas.channels.providers.base import Attachment

    incoming = event(9)
    incoming.media = [{"filename": "surat pengaduan.pdf", "mime_type": "application/pdf"}]
    incoming.attachments = [Attachment("surat pengaduan.pdf", "application/pdf", b"%PDF-1.4 isi")]
    stored = actions.store_events(channel, [incoming])[0]
    entry = stored.media[0]
    assert entry["size"] == len(b"%PDF-1.4 isi")
    assert entry["path"].endswith("surat_pengaduan.pdf")
    assert f"inbound/{channel.organisation_id}/{channel.pk}/" in entry["path"]
    with default_storage.open(entry["path"]) as handle:
        assert handle.read() == b"%PDF-1.4 isi"
    # The same message again stores neither a row nor a file.
    assert actions.store_events(channel, [incoming]) == []


def test_a_channels_provider_is_reused_in_a_thread_until_its_credentials_change(channel):
    import threading

    first = channel.provider()
    assert channel.provider() is first
    elsewhere = []
    thread = threading.Thread(target=lambda: elsewhere.append(channel.provider()))
    thread.start()
    thread.join()
    assert elsewhere[0] is not first  # SDK sessions are not shared between threads
    channel.set_credentials({"token": "reconnected"})
    renewed = channel.provider()
    assert renewed is not first and renewed.credentials == {"token": "reconnected"}
