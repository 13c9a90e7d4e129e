"""Replies with images from the organisation's media library."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from humas.channels.providers.base import ProviderError
from humas.inbox.models import Message, SendStatus
from humas.publishing.models import MediaAsset

pytestmark = pytest.mark.django_db


def asset(org, name="peta.png", alt="Peta lokasi posko"):
    item = MediaAsset(
        organisation=org,
        kind="image",
        mime_type="image/png",
        size=3,
        sha256="0" * 64,
        alt_text=alt,
        original_name=name,
    )
    item.file.save(name, ContentFile(b"png"), save=False)
    item.save()
    return item


def test_a_reply_goes_out_with_an_image_from_the_library(
    as_user, responder, org, say, fake_network
):
    image = asset(org)
    conversation = say("Di mana posko?")
    client = as_user(responder)
    page = client.get(reverse("inbox:conversation", args=[conversation.pk])).content.decode()
    assert "peta.png" in page
    client.post(
        reverse("inbox:reply", args=[conversation.pk]),
        {"text": "Posko ada di sini.", "attachments": [image.pk]},
    )
    (sent,) = fake_network.published
    assert [m.data for m in sent.media] == [b"png"]
    assert sent.media[0].alt_text == "Peta lokasi posko"
    reply = Message.objects.get(direction="out")
    assert list(reply.attachments.all()) == [image]


def test_a_refused_image_keeps_the_reply_and_the_retry_sends_it_again(
    as_user, responder, org, say, fake_network
):
    image = asset(org)
    conversation = say("Di mana posko?")
    fake_network.error = ProviderError("image rejected", "permanent")
    client = as_user(responder)
    client.post(
        reverse("inbox:reply", args=[conversation.pk]),
        {"text": "Ini petanya", "attachments": [image.pk]},
    )
    reply = Message.objects.get(direction="out")
    assert reply.send_status == SendStatus.FAILED
    fake_network.error = None
    client.post(reverse("inbox:retry", args=[reply.pk]))
    (sent,) = fake_network.published
    assert len(sent.media) == 1


def test_another_organisations_file_cannot_be_attached(
    as_user, responder, other_org, say, fake_network
):
    theirs = asset(other_org)
    conversation = say("Di mana posko?")
    as_user(responder).post(
        reverse("inbox:reply", args=[conversation.pk]), {"text": "x", "attachments": [theirs.pk]}
    )
    assert not fake_network.published
    assert not Message.objects.filter(direction="out").exists()
