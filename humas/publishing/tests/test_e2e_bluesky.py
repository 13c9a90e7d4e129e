"""Scheduled posts delivered to a real Bluesky network (see bluesky/tests/network.py)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from humas.accounts.audit import Actor
from humas.channels.actions import connect_channel
from humas.channels.models import ChannelPost
from humas.channels.providers.bluesky.tests.images import png
from humas.channels.providers.bluesky.tests.network import Person, wait_for
from humas.lib.leases import claim
from humas.publishing import delivery
from humas.publishing.models import Delivery, DeliveryStatus, MediaAsset, MediaKind, PostStatus
from humas.publishing.testing import make_post


def _recorded(d: Delivery) -> ChannelPost:
    assert d.channel_post is not None, d.last_error
    return d.channel_post


pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


def _agency_channel(pds: str, org, admin):
    agency = Person(pds, "dinas", secrets.token_hex(3))
    password = agency.client.com.atproto.server.create_app_password({"name": "humas"}).password
    channel = connect_channel(
        org,
        "bluesky",
        {"service": pds, "handle": agency.handle, "app_password": password},
        by=Actor(user=admin),
    )
    return agency, channel


def _records(agency: Person) -> list:
    """The agency's posts as its PDS stores them (no waiting for the AppView)."""
    return agency.client.com.atproto.repo.list_records(
        {"repo": agency.did, "collection": "app.bsky.feed.post", "limit": 100}
    ).records


def test_an_approved_post_with_an_image_goes_out_at_its_time_with_its_alt_text(
    bluesky_network, org, admin, editor, approver
):
    agency, channel = _agency_channel(bluesky_network["pds"], org, admin)
    data = png(400, 300)
    asset = MediaAsset(
        organisation=org,
        kind=MediaKind.IMAGE,
        mime_type="image/png",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        width=400,
        height=300,
        alt_text="Peta lokasi posyandu di balai RW 05",
        original_name="peta.png",
    )
    asset.file.save("peta.png", ContentFile(data), save=False)
    asset.save()
    post = make_post(
        org,
        editor,
        [channel],
        text="Posyandu buka Sabtu pukul 08.00 di balai RW 05 #LayananPublik",
        media=[asset],
        approve_with=[approver],
        when=timezone.now() + timedelta(seconds=1),
    )
    Delivery.objects.update(due_at=timezone.now())

    assert delivery.deliver_due("e2e-worker") == 1

    d = Delivery.objects.get(post=post)
    assert d.status == DeliveryStatus.PUBLISHED, d.last_error
    assert _recorded(d).external_id.endswith(f"/app.bsky.feed.post/{d.key}")
    view = wait_for(
        "the delivered post in the AppView", lambda: agency.post_view(_recorded(d).external_id)
    )
    assert view.record.text == post.text
    assert [image.alt for image in view.embed.images] == ["Peta lokasi posyandu di balai RW 05"]
    post.refresh_from_db()
    assert post.status == PostStatus.PUBLISHED


def test_a_worker_that_died_after_bluesky_took_the_post_does_not_post_it_twice(
    bluesky_network, org, admin, editor, approver
):
    agency, channel = _agency_channel(bluesky_network["pds"], org, admin)
    text = f"Pengumuman layanan {secrets.token_hex(2)}: kantor tutup Senin"
    post = make_post(
        org, editor, [channel], text=text, approve_with=[approver], when=timezone.now()
    )
    (held,) = claim(Delivery.objects.all(), worker_id="dead", lease=delivery.LEASE)
    delivery._start(held, "dead")
    channel.provider().publish(delivery._content(held, post))  # Bluesky has it; the worker dies
    Delivery.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))

    delivery.deliver_due("alive")

    d = Delivery.objects.get(post=post)
    assert (d.status, d.attempts) == (DeliveryStatus.PUBLISHED, 2)
    same_text = [r for r in _records(agency) if r.value.text == text]
    assert len(same_text) == 1
    assert same_text[0].uri == _recorded(d).external_id
