"""humas's own actions driving the Telegram provider, with the Bot API faked at the HTTP seam."""

import json

import httpx
import pytest
from django.urls import reverse

from humas.accounts.audit import Actor
from humas.accounts.models import Notification
from humas.channels import actions
from humas.channels.models import ChannelPost, ChannelStatus, InboundEvent
from humas.channels.providers.base import EventKind, Media, PostContent, ProviderError

from .conftest import CHANNEL_ID, FORM, GROUP_ID, answer, fake_connect, load, sent

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n"
    + b"\x00\x00\x00\rIHDR"
    + (800).to_bytes(4, "big")
    + (600).to_bytes(4, "big")
)


def pages(request: httpx.Request) -> httpx.Response:
    """getUpdates as Telegram behaves: unconfirmed updates until the offset passes them."""
    offset = json.loads(request.content).get("offset")
    if offset is None or offset <= 431000110:
        return answer("getUpdates")
    return answer("getUpdates-empty")


def test_connect_publish_poll_reply_and_lose_access(org, admin, api, settings):
    settings.SITE_URL = "http://127.0.0.1:8000"  # a development site Telegram cannot call
    by = Actor(user=admin)
    fake_connect(api)
    channel = actions.connect_channel(org, "telegram", dict(FORM), by=by)
    assert channel.status == ChannelStatus.ACTIVE
    assert channel.next_poll_at is not None  # polling is on until a webhook is registered

    # After connecting, humas picks how updates arrive (what the lead's hook will do).
    unhook = api.post("deleteWebhook").mock(return_value=answer("deleteWebhook"))
    url = settings.SITE_URL + reverse("channels:webhook", args=[channel.webhook_token])
    channel.config.update(channel.provider().setup_delivery(url))
    channel.save()
    assert channel.config["delivery"] == "polling" and unhook.called

    # Publish an album.
    album = api.post("sendMediaGroup").mock(return_value=answer("sendMediaGroup"))
    photos = [
        Media(data=PNG, mime_type="image/png", filename=f"{n}.png", width=800, height=600)
        for n in "ab"
    ]
    post = actions.publish_to_channel(
        channel, PostContent(text="Kegiatan posyandu pekan ini.", media=photos), by=by
    )
    assert album.call_count == 1
    assert post.external_id == f"{CHANNEL_ID}:124"
    assert post.url == "https://t.me/dinkeskota/124"

    # Poll twice: the events are stored once and the cursor moves past them.
    updates = api.post("getUpdates").mock(side_effect=pages)
    assert actions.poll_channel(channel) == 5
    channel.refresh_from_db()
    assert channel.inbound_cursor == "431000110"
    assert actions.poll_channel(channel) == 0
    assert sent(updates)["offset"] == 431000111
    assert InboundEvent.objects.filter(channel=channel).count() == 5

    # A crash before the cursor was saved: Telegram hands the same page out again.
    channel.inbound_cursor = ""
    channel.save()
    assert actions.poll_channel(channel) == 0
    assert InboundEvent.objects.filter(channel=channel).count() == 5

    # Answer the comment in its thread in the discussion group.
    comment = InboundEvent.objects.get(channel=channel, kind=EventKind.COMMENT)
    assert comment.parent_id == f"{CHANNEL_ID}:120"
    replies = api.post("sendMessage").mock(return_value=answer("sendMessage-reply-comment"))
    answered = actions.reply_to_event(
        comment, PostContent(text="Gratis, Bu. Silakan bawa buku KIA."), by=by
    )
    assert sent(replies)["chat_id"] == GROUP_ID
    assert sent(replies)["reply_parameters"] == {"message_id": 881}
    assert answered.in_reply_to == comment
    assert answered.external_id == f"{GROUP_ID}:890"

    # The bot is removed from the channel: the channel waits for an admin, who is told.
    api.post("sendMessage").mock(return_value=answer("error-kicked", 403))
    with pytest.raises(ProviderError):
        actions.publish_to_channel(channel, PostContent(text="Pengumuman"), by=by)
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.NEEDS_RECONNECTION
    assert "bot was kicked from the channel chat" in channel.last_error
    note = Notification.objects.get(user=admin, kind="channels.needs_reconnection")
    assert note.url == reverse("channels:detail", args=[channel.pk])
    assert ChannelPost.objects.filter(channel=channel).count() == 2
    # Nothing more is polled until it is connected again.
    assert actions.poll_channel(channel) == 0


def test_a_revoked_token_found_while_polling_asks_for_reconnection(channel, api):
    api.post("getUpdates").mock(return_value=answer("error-unauthorized", 401))
    with pytest.raises(ProviderError):
        actions.poll_channel(channel)
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.NEEDS_RECONNECTION


def test_an_https_site_switches_the_channel_to_the_webhook(channel, api):
    hook = api.post("setWebhook").mock(return_value=answer("setWebhook"))
    url = "https://humas.satu.go.id" + reverse("channels:webhook", args=[channel.webhook_token])
    channel.config.update(channel.provider().setup_delivery(url))
    channel.save()
    assert sent(hook)["url"] == url
    assert sent(hook)["secret_token"] == channel.get_credentials()["webhook_secret"]
    # Polling is now a no-op: Telegram would refuse getUpdates while the webhook is set.
    updates = api.post("getUpdates").mock(return_value=answer("getUpdates"))
    assert actions.poll_channel(channel) == 0
    assert not updates.called


def test_a_reply_to_a_citizen_who_blocked_the_bot_leaves_the_channel_active(channel, api):
    update = load("update-private-message")
    (question,) = actions.store_events(channel, channel.provider().events_from_update(update))
    api.post("sendMessage").mock(return_value=answer("error-blocked", 403))
    with pytest.raises(ProviderError):
        actions.reply_to_event(question, PostContent(text="Halo"), by=Actor.system("tests"))
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.ACTIVE
    assert channel.last_error_kind == "permanent"


def test_syncing_account_metrics_reads_the_member_count(channel, api):
    api.post("getChatMemberCount").mock(return_value=answer("getChatMemberCount"))
    assert channel.provider().fetch_account_metrics().followers == 1523
    # No post metrics in the Bot API: humas does not even ask.
    assert actions.sync_metrics(channel) == 0


def test_the_channel_page_warns_when_the_bot_cannot_read_comments(client, org, admin, api):
    from django.urls import reverse

    from humas.accounts.testing import sign_in
    from humas.channels.models import ChannelAccount

    fake_connect(api, group_member="getChatMember-group-member")
    channel = actions.connect_channel(org, "telegram", dict(FORM), by=Actor(user=admin))
    assert channel.config["discussion_chat_id"] and not channel.config["discussion_readable"]
    sign_in(client, admin)
    page = client.get(reverse("channels:detail", args=[channel.pk])).content.decode()
    assert 'data-testid="channel-warning"' in page
    ChannelAccount.objects.filter(pk=channel.pk).update(
        config={**channel.config, "discussion_readable": True}
    )
    page = client.get(reverse("channels:detail", args=[channel.pk])).content.decode()
    assert 'data-testid="channel-warning"' not in page
