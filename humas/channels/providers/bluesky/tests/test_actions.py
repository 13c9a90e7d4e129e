"""humas's own actions driving the Bluesky provider, with Bluesky faked at the HTTP seam."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest

from humas.accounts.audit import Actor
from humas.channels import actions
from humas.channels.models import ChannelPost, ChannelStatus, InboundEvent
from humas.channels.providers.base import EventKind, Media, PostContent, ProviderError
from humas.channels.providers.bluesky.tests.conftest import DID, body, load
from humas.channels.providers.bluesky.tests.images import png

pytestmark = pytest.mark.django_db

POST = load("createRecord")["uri"]


@pytest.fixture
def channel(org, admin, network):
    return actions.connect_channel(
        org,
        "bluesky",
        {
            "service": "https://bsky.social",
            "handle": "humas.jakarta.go.id",
            "app_password": "abcd-efgh-ijkl-mnop",
        },
        by=Actor(user=admin),
    )


def provider_for(channel):
    return channel.provider(sleep=lambda seconds: None)


def test_it_connects_publishes_hears_answers_and_measures(channel, admin, network):
    by = Actor(user=admin)
    assert (channel.external_id, channel.handle, channel.display_name) == (
        DID,
        "humas.jakarta.go.id",
        "Humas Pemprov DKI Jakarta",
    )
    assert "abcd-efgh-ijkl-mnop" not in channel.credentials_encrypted
    assert channel.get_credentials()["app_password"] == "abcd-efgh-ijkl-mnop"
    assert channel.next_poll_at is not None  # polling network

    # Publish with an image and its alt text.
    network.post("/com.atproto.repo.uploadBlob").respond(json=load("uploadBlob"))
    create = network.post("/com.atproto.repo.createRecord").respond(json=load("createRecord"))
    post = actions.publish_to_channel(
        channel,
        PostContent(
            text="Info banjir hari ini 🌧️ cek https://bpbd.jakarta.go.id #SiagaBanjir",
            media=[
                Media(data=png(), mime_type="image/png", alt_text="Peta genangan Jakarta Selatan")
            ],
        ),
        by=by,
        provider=provider_for(channel),
    )
    assert post.external_id == POST
    assert post.url == "https://bsky.app/profile/humas.jakarta.go.id/post/3lbq7mz3hxs2c"
    assert (
        body(create.calls.last)["record"]["embed"]["images"][0]["alt"]
        == "Peta genangan Jakarta Selatan"
    )
    # The stored session was used: no second login.
    assert network["createSession"].call_count == 1

    # Two polls whose pages overlap: each notification is stored once.
    book: dict[str, Any] = {
        "": load("listNotifications"),
        "2026-11-29T03:08:31.507Z": {"notifications": []},
    }
    network.get("/app.bsky.notification.listNotifications").mock(
        side_effect=lambda request: httpx.Response(
            200, json=book[request.url.params.get("cursor", "")]
        )
    )
    assert actions.poll_channel(channel, provider=provider_for(channel)) == 5
    newer = copy.deepcopy(load("listNotifications"))
    late = copy.deepcopy(newer["notifications"][3])  # a second mention, a minute later
    late["uri"] = late["uri"].replace("3lbq7sh5fz22w", "3lbq7zzzzzz2w")
    late["indexedAt"] = "2026-11-29T03:17:40.000Z"
    late["record"]["text"] = "@humas.jakarta.go.id sekarang lampunya sudah menyala, terima kasih!"
    newer["notifications"].insert(0, late)
    book[""] = newer
    channel.refresh_from_db()
    assert actions.poll_channel(channel, provider=provider_for(channel)) == 1
    assert InboundEvent.objects.filter(channel=channel).count() == 6
    assert actions.poll_channel(channel, provider=provider_for(channel)) == 0
    kinds = sorted(InboundEvent.objects.filter(channel=channel).values_list("kind", flat=True))
    assert kinds == sorted(["reply", "mention", "mention", "quote", "reaction", "repost"])

    # Answer the citizen's reply in its thread.
    create.respond(
        json={
            **load("createRecord"),
            "uri": f"at://{DID}/app.bsky.feed.post/3lbq8aaaaaa2a",
            "cid": "bafyreireply",
        }
    )
    event = InboundEvent.objects.get(channel=channel, kind=EventKind.REPLY)
    answer = actions.reply_to_event(
        event,
        PostContent(text="Sudah surut sejak pukul 06.00 🙏"),
        by=by,
        provider=provider_for(channel),
    )
    reply = body(create.calls.last)["record"]["reply"]
    assert reply["root"]["uri"] == POST
    assert reply["parent"]["uri"] == event.external_id
    assert answer.in_reply_to == event

    # Measure: the counts Bluesky reports end up on the posts.
    def posts(request: httpx.Request) -> httpx.Response:
        template = load("getPosts")["posts"][0]
        return httpx.Response(
            200,
            json={
                "posts": [{**template, "uri": uri} for uri in request.url.params.get_list("uris")]
            },
        )

    network.get("/app.bsky.feed.getPosts").mock(side_effect=posts)
    assert actions.sync_metrics(channel, provider=provider_for(channel)) == 2
    stored = ChannelPost.objects.get(pk=post.pk)
    assert stored.metrics == {"likes": 42, "reposts": 7, "replies": 3, "quotes": 2, "views": None}


def test_a_revoked_app_password_asks_for_reconnection(channel, network):
    network.get("/app.bsky.notification.listNotifications").respond(
        400, json=load("error_invalid_token")
    )
    network["refreshSession"].respond(400, json=load("error_invalid_token"))
    network["createSession"].respond(401, json=load("error_authentication_required"))
    with pytest.raises(ProviderError):
        actions.poll_channel(channel, provider=provider_for(channel))
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.NEEDS_RECONNECTION
    assert channel.last_error_kind == "auth"


def test_a_rate_limited_poll_keeps_the_channel_active(channel, network):
    network.get("/app.bsky.notification.listNotifications").respond(
        429, json=load("error_rate_limit"), headers={"ratelimit-reset": "4102444800"}
    )
    with pytest.raises(ProviderError) as caught:
        actions.poll_channel(channel, provider=provider_for(channel))
    assert caught.value.kind == "rate_limited"
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.ACTIVE
    assert channel.inbound_cursor == ""
