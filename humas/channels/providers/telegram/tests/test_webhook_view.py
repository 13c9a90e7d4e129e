"""Telegram deliveries through humas's real webhook address, /hooks/<token>/."""

import json

import pytest
from django.urls import reverse

from humas.channels.models import InboundEvent
from humas.channels.providers.base import EventKind

from .conftest import SITI_ID, load

pytestmark = pytest.mark.django_db


STORED = object()  # "use the channel's own secret"


def deliver(client, channel, body, *, secret=STORED, token=None):
    if secret is STORED:
        secret = channel.get_credentials()["webhook_secret"]
    headers = {} if secret is None else {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": secret}
    return client.post(
        reverse("channels:webhook", args=[token or channel.webhook_token]),
        data=body if isinstance(body, bytes | str) else json.dumps(body),
        content_type="application/json",
        **headers,
    )


def test_the_address_is_the_one_humas_serves(channel):
    assert (
        reverse("channels:webhook", args=[channel.webhook_token])
        == f"/hooks/{channel.webhook_token}/"
    )


def test_a_delivery_with_the_right_secret_is_stored(client, channel):
    response = deliver(client, channel, load("update-private-message"))
    assert response.status_code == 200
    assert response.json() == {"received": 1, "new": 1}
    stored = InboundEvent.objects.get(channel=channel)
    assert stored.kind == EventKind.DIRECT_MESSAGE
    assert stored.external_id == f"{SITI_ID}:60"
    assert stored.thread_id == str(SITI_ID)
    assert stored.organisation == channel.organisation


def test_a_comment_delivery_is_stored_under_its_channel_post(client, channel):
    deliver(client, channel, load("update-comment"))
    comment = InboundEvent.objects.get(channel=channel)
    assert (comment.kind, comment.parent_id) == (EventKind.COMMENT, "-1001987654321:120")


def test_the_same_update_delivered_again_is_stored_once(client, channel):
    update = load("update-private-message")
    deliver(client, channel, update)
    again = deliver(client, channel, update)
    assert again.status_code == 200
    assert again.json() == {"received": 1, "new": 0}
    assert InboundEvent.objects.filter(channel=channel).count() == 1


@pytest.mark.parametrize("secret", ["wrong-secret", "", None])
def test_a_wrong_or_missing_secret_is_refused_and_nothing_stored(client, channel, secret):
    response = deliver(client, channel, load("update-private-message"), secret=secret)
    assert response.status_code == 403
    assert not InboundEvent.objects.exists()


@pytest.mark.parametrize(
    "body", [b"{not json", b"\xff\xfe\xfd", b"[]", b"null", b'{"message": {"text": "hai"}}']
)
def test_a_malformed_delivery_is_a_400_never_a_500(client, channel, body):
    response = deliver(client, channel, body)
    assert response.status_code == 400
    assert not InboundEvent.objects.exists()


def test_an_update_humas_does_not_use_is_acknowledged_so_telegram_stops_sending_it(client, channel):
    edited = load("getUpdates")["result"][7]
    response = deliver(client, channel, edited)
    assert response.status_code == 200
    assert response.json() == {"received": 0, "new": 0}


def test_an_unknown_token_is_a_404(client, channel):
    response = deliver(client, channel, load("update-private-message"), token="not-a-channel")
    assert response.status_code == 404
    assert not InboundEvent.objects.exists()


def test_a_body_over_one_megabyte_is_a_413(client, channel):
    update = load("update-private-message")
    update["message"]["text"] = "x" * 1_100_000
    response = deliver(client, channel, update)
    assert response.status_code == 413
    assert not InboundEvent.objects.exists()
