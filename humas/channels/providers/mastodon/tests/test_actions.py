"""humas's own actions driving the Mastodon provider, with the server faked at the HTTP seam."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest

from humas.accounts.audit import Actor
from humas.accounts.models import AuditEntry, Notification
from humas.channels import actions
from humas.channels.models import ChannelAccount, ChannelPost, ChannelStatus, InboundEvent
from humas.channels.providers.base import EventKind, Media, PostContent, ProviderError

from .conftest import INSTANCE, OUR_ID, TOKEN, payload

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n"
    + b"\x00\x00\x00\rIHDR"
    + (640).to_bytes(4, "big")
    + (480).to_bytes(4, "big")
)


@pytest.fixture
def channel(api, org, admin):
    api.get("/api/v1/accounts/verify_credentials").respond(
        200, json=payload("account_verify_credentials.json")
    )
    api.get("/api/v2/instance").respond(200, json=payload("instance_v2.json"))
    return actions.connect_channel(
        org, "mastodon", {"instance": "social.example", "access_token": TOKEN}, by=Actor(user=admin)
    )


def test_connecting_by_token_stores_the_channel_with_the_servers_limits(channel, org):
    stored = ChannelAccount.objects.get(pk=channel.pk)
    assert (stored.organisation, stored.network, stored.status) == (
        org,
        "mastodon",
        ChannelStatus.ACTIVE,
    )
    assert stored.external_id == f"{OUR_ID}@social.example"
    assert stored.handle == "@pemkotsatu@social.example"
    assert TOKEN not in stored.credentials_encrypted
    assert stored.get_credentials()["access_token"] == TOKEN
    assert stored.config["instance"] == INSTANCE and stored.config["max_characters"] == 500
    assert stored.next_poll_at is not None, "polling networks are scheduled at once"
    assert AuditEntry.objects.filter(action="channels.channel.connected").exists()


def test_publish_poll_reply_and_measure_through_humas(api, channel, admin):
    by = Actor(user=admin)

    # Publish an image with alt text, a content warning and a visibility.
    upload = api.post("/api/v2/media").respond(200, json=payload("media_uploaded.json"))
    create = api.post("/api/v1/statuses").respond(200, json=payload("status_posted.json"))
    content = PostContent(
        text="Posko banjir dibuka di Kelurahan Sukamaju. Hubungi 112 untuk keadaan darurat.",
        media=[
            Media(
                data=PNG,
                mime_type="image/png",
                alt_text="Peta lokasi posko banjir",
                filename="peta.png",
            )
        ],
        options={"spoiler_text": "Info banjir", "visibility": "public"},
    )
    post = actions.publish_to_channel(channel, content, by=by)
    assert (post.external_id, post.url) == (
        "113452960000000001",
        "https://social.example/@pemkotsatu/113452960000000001",
    )
    assert b"Peta lokasi posko banjir" in upload.calls.last.request.content
    sent = parse_qs(create.calls.last.request.content.decode())
    assert sent["spoiler_text"] == ["Info banjir"] and sent["visibility"] == ["public"]
    assert sent["media_ids[]"] == ["113452000000000881"]

    # Poll twice: the second poll sees the same items again (an overlapping page) and
    # stores nothing new; the DM seen in notifications and conversations is stored once.
    notes = api.get("/api/v1/notifications").respond(
        200,
        json=payload("notifications.json"),
        headers={"Link": f'<{INSTANCE}/api/v1/notifications?min_id=35000005>; rel="prev"'},
    )
    api.get("/api/v1/conversations").respond(200, json=payload("conversations.json"))
    assert actions.poll_channel(channel) == 6
    assert actions.poll_channel(channel) == 0
    assert InboundEvent.objects.filter(channel=channel).count() == 6
    assert InboundEvent.objects.filter(external_id="113453300000000030").count() == 1
    channel.refresh_from_db()
    assert json.loads(channel.inbound_cursor)["notifications"] == "35000005"
    assert notes.calls.last.request.url.params["min_id"] == "35000005"

    # Answer the direct message: directly, mentioning the citizen, in the thread.
    dm = InboundEvent.objects.get(external_id="113453300000000030")
    assert dm.kind == EventKind.DIRECT_MESSAGE
    answer = payload("status_posted.json")
    answer.update(
        id="113453600000000060",
        url="https://social.example/@pemkotsatu/113453600000000060",
        visibility="direct",
    )
    create.respond(200, json=answer)
    reply = actions.reply_to_event(
        dm, PostContent(text="Laporan Bapak sudah kami teruskan ke Inspektorat."), by=by
    )
    assert reply.in_reply_to == dm and reply.external_id == "113453600000000060"
    sent = parse_qs(create.calls.last.request.content.decode())
    assert sent["visibility"] == ["direct"]
    assert sent["in_reply_to_id"] == ["113453300000000030"]
    assert sent["status"] == [
        "@andi@warga.example Laporan Bapak sudah kami teruskan ke Inspektorat."
    ]

    # Measure.
    lookup = api.get("/api/v1/statuses").respond(200, json=payload("statuses_lookup.json"))
    assert actions.sync_metrics(channel) == 1
    post.refresh_from_db()
    assert post.metrics == {"likes": 42, "reposts": 17, "replies": 4, "quotes": None, "views": None}
    assert set(lookup.calls.last.request.url.params.get_list("id[]")) == {
        "113452960000000001",
        "113453600000000060",
    }
    assert ChannelPost.objects.filter(channel=channel).count() == 2


def test_a_revoked_token_found_while_polling_asks_the_admins_to_reconnect(
    api, channel, admin, django_capture_on_commit_callbacks
):
    api.get("/api/v1/notifications").respond(401, json=payload("error_401.json"))
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ProviderError):
        actions.poll_channel(channel)
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.NEEDS_RECONNECTION
    assert channel.last_error_kind == "auth"
    assert "The access token is invalid" in channel.last_error
    note = Notification.objects.get(user=admin, kind="channels.needs_reconnection")
    assert "pemkotsatu" in note.title or "Pemerintah Kota Satu" in note.title
    assert AuditEntry.objects.filter(action="channels.channel.needs_reconnection").count() == 1
    assert actions.poll_channel(channel) == 0, "no longer polled until reconnected"


def test_a_text_too_long_for_this_server_is_refused_before_any_request(api, channel):
    from humas.accounts.actions import ActionError

    create = api.post("/api/v1/statuses")
    with pytest.raises(ActionError, match="at most 500"):
        actions.publish_to_channel(channel, PostContent(text="x" * 501), by=Actor.system("tests"))
    assert not create.called


def test_deleting_a_post_already_gone_from_the_server_still_marks_it_deleted(api, channel):
    api.post("/api/v1/statuses").respond(200, json=payload("status_posted.json"))
    post = actions.publish_to_channel(channel, PostContent(text="Info"), by=Actor.system("tests"))
    api.delete(f"/api/v1/statuses/{post.external_id}").respond(404, json=payload("error_404.json"))
    actions.delete_post(post, by=Actor.system("tests"))
    post.refresh_from_db()
    assert post.deleted_at is not None
