"""humas's own actions driving the RSS provider: connect, poll, failures on the channel."""

from __future__ import annotations

import httpx
import pytest
from django.urls import reverse

from humas.accounts.testing import SYSTEM
from humas.channels import actions
from humas.channels.models import ChannelAccount, ChannelStatus, InboundEvent
from humas.channels.providers.base import ErrorKind, ProviderError
from humas.channels.providers.rss.tests.conftest import FEED_URL, FeedServer, fixture

pytestmark = pytest.mark.django_db


def connect(org, respx_mock, server: FeedServer) -> ChannelAccount:
    respx_mock.get(FEED_URL).mock(side_effect=server)
    return actions.connect_channel(org, "rss", {"url": FEED_URL, "name": ""}, by=SYSTEM)


def test_it_stores_each_item_once_across_polls(org, respx_mock):
    server = FeedServer(fixture("rss_berita_kota.xml"))
    channel = connect(org, respx_mock, server)
    assert channel.handle == FEED_URL
    assert channel.display_name == "Berita Kota Satu"
    assert channel.get_credentials() == {}
    assert channel.config["etag"] == server.etag
    assert channel.next_poll_at is not None  # polled by the worker from now on

    assert actions.poll_channel(channel) == 5
    # poll_channel asks again while items keep coming; the feed answers that with a 304.
    assert server.statuses == [200, 200, 304]

    assert actions.poll_channel(channel) == 0
    assert server.statuses[-1] == 304

    server.body = fixture("rss_berita_kota_later.xml")
    assert actions.poll_channel(channel) == 2

    events = InboundEvent.objects.filter(channel=channel)
    assert events.count() == 7
    assert set(events.values_list("kind", flat=True)) == {"article"}
    assert all(event.raw["feed_item"] for event in events)
    assert all(event.organisation_id == org.pk for event in events)
    newest = events.order_by("-created_at")[0]
    assert newest.text.startswith("Layanan KTP Elektronik Buka Hari Sabtu\n\nDisdukcapil")
    assert newest.permalink == "https://berita.kotasatu.go.id/2026/11/03/ktp-sabtu/"
    channel.refresh_from_db()
    assert channel.last_error == ""
    assert channel.last_sync_at is not None


def test_a_server_without_conditional_requests_still_stores_items_once(org, respx_mock):
    respx_mock.get(FEED_URL).mock(
        return_value=httpx.Response(200, content=fixture("rss_berita_kota.xml"))
    )
    channel = actions.connect_channel(org, "rss", {"url": FEED_URL}, by=SYSTEM)

    assert actions.poll_channel(channel) == 5
    assert actions.poll_channel(channel) == 0
    assert InboundEvent.objects.filter(channel=channel).count() == 5


def test_the_same_feed_followed_by_two_organisations_is_two_channels(org, other_org, respx_mock):
    server = FeedServer(fixture("rss_berita_kota.xml"))
    ours = connect(org, respx_mock, server)
    theirs = actions.connect_channel(other_org, "rss", {"url": FEED_URL}, by=SYSTEM)

    actions.poll_channel(ours)
    actions.poll_channel(theirs)

    assert ours.pk != theirs.pk
    assert InboundEvent.objects.filter(organisation=org).count() == 5
    assert InboundEvent.objects.filter(organisation=other_org).count() == 5
    assert not InboundEvent.objects.filter(organisation=org, channel=theirs).exists()


def test_a_feed_that_now_needs_a_login_asks_for_reconnection(org, respx_mock):
    server = FeedServer(fixture("rss_berita_kota.xml"))
    channel = connect(org, respx_mock, server)
    respx_mock.get(FEED_URL).mock(return_value=httpx.Response(401, text="Login required"))

    with pytest.raises(ProviderError):
        actions.poll_channel(channel)

    channel.refresh_from_db()
    assert channel.status == ChannelStatus.NEEDS_RECONNECTION
    assert channel.last_error_kind == ErrorKind.AUTH


def test_a_broken_feed_is_recorded_on_the_channel_and_the_cursor_stays(org, respx_mock):
    server = FeedServer(fixture("rss_berita_kota.xml"))
    channel = connect(org, respx_mock, server)
    actions.poll_channel(channel)
    channel.refresh_from_db()
    cursor = channel.inbound_cursor
    server.body = fixture("invalid.xml")

    with pytest.raises(ProviderError):
        actions.poll_channel(channel)

    channel.refresh_from_db()
    assert channel.status == ChannelStatus.ACTIVE
    assert channel.last_error_kind == ErrorKind.PERMANENT
    assert "could not be read" in channel.last_error
    assert channel.inbound_cursor == cursor


def test_a_private_address_is_refused_on_the_connect_page(org, admin, as_user, respx_mock, strict):
    client = as_user(admin)

    response = client.post(
        reverse("channels:connect", args=["rss"]),
        {"url": "http://169.254.169.254/latest/meta-data/", "name": ""},
    )

    assert response.status_code == 200
    assert "private or local network address" in response.content.decode()
    assert not ChannelAccount.objects.filter(organisation=org).exists()
    assert respx_mock.calls.call_count == 0


def test_an_administrator_connects_a_feed_on_the_connect_page(org, admin, as_user, respx_mock):
    respx_mock.get(FEED_URL).mock(
        return_value=httpx.Response(200, content=fixture("rss_berita_kota.xml"))
    )
    client = as_user(admin)

    page = client.get(reverse("channels:connect", args=["rss"]))
    assert page.status_code == 200
    response = client.post(
        reverse("channels:connect", args=["rss"]),
        {"url": "https://Berita.KotaSatu.go.id/feed/", "name": "Portal Berita"},
    )

    channel = ChannelAccount.objects.get(organisation=org, network="rss")
    assert response.status_code == 302
    assert response["Location"] == reverse("channels:detail", args=[channel.pk])
    assert channel.external_id == FEED_URL
    assert channel.display_name == "Portal Berita"
    detail = client.get(response["Location"])
    assert detail.status_code == 200
