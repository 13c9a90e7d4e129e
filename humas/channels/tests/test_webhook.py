import json

import pytest
from django.urls import reverse

from humas.accounts.audit import Actor
from humas.channels import actions
from humas.channels.models import ChannelStatus, InboundEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def channel(org, fake_network):
    return actions.connect_channel(org, "fake", {"token": "s3cret"}, by=Actor.system())


def _post(client, channel, body, secret="s3cret", token=None):  # noqa: S107
    return client.post(
        reverse("channels:webhook", args=[token or channel.webhook_token]),
        data=body if isinstance(body, bytes | str) else json.dumps(body),
        content_type="application/json",
        HTTP_X_FAKE_SECRET=secret,
    )


def test_a_signed_delivery_is_stored_and_a_redelivery_is_stored_once(client, channel):
    first = _post(client, channel, {"events": [1, 2]})
    assert first.status_code == 200 and first.json() == {"received": 2, "new": 2}
    again = _post(client, channel, {"events": [1, 2]})
    assert again.json() == {"received": 2, "new": 0}
    assert InboundEvent.objects.filter(channel=channel).count() == 2


def test_a_wrong_signature_is_refused_before_anything_is_read(client, channel):
    response = _post(client, channel, {"events": [1]}, secret="wrong")
    assert response.status_code == 403
    assert not InboundEvent.objects.exists()


def test_a_malformed_delivery_gets_a_400_not_a_500(client, channel):
    assert _post(client, channel, b"{not json").status_code == 400
    assert _post(client, channel, {"unexpected": True}).status_code == 400


def test_an_unknown_or_disabled_channel_is_a_404(client, channel):
    assert _post(client, channel, {"events": [1]}, token="nope").status_code == 404
    channel.status = ChannelStatus.DISABLED
    channel.save()
    assert _post(client, channel, {"events": [1]}).status_code == 404


def test_a_huge_delivery_is_refused(client, channel):
    body = json.dumps({"events": [1], "pad": "x" * 1_100_000})
    assert _post(client, channel, body).status_code == 413


def test_only_post_is_accepted(client, channel):
    assert client.get(reverse("channels:webhook", args=[channel.webhook_token])).status_code == 405
