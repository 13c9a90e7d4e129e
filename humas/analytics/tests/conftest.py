"""Fixtures for tracked-link tests: a campaign with a link per channel, and a browser."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

from humas.accounts.audit import Actor
from humas.accounts.models import Organisation, User
from humas.analytics import actions
from humas.analytics.models import TrackedLink
from humas.channels.models import ChannelAccount
from humas.channels.tests.fakes import fake_network  # noqa: F401  (fixture)
from humas.publishing import actions as publishing
from humas.publishing.models import Campaign
from humas.publishing.testing import make_channel

#: What a person's browser sends; the test client sends no User-Agent at all (a bot).
BROWSER = (
    "Mozilla/5.0 (Linux; Android 14; SM-A155F) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)


@pytest.fixture(autouse=True)
def _english(client: Client) -> Iterator[None]:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def visitor() -> Client:
    """A citizen's browser: no cookies, a real User-Agent."""
    return Client(HTTP_USER_AGENT=BROWSER)


@pytest.fixture
def campaign(org: Organisation, editor: User) -> Campaign:
    return publishing.save_campaign(
        org,
        by=Actor(user=editor),
        name="Imunisasi Anak",
        starts_on=date(2026, 11, 1),
        ends_on=date(2026, 12, 31),
        link="https://dinkes.satu.go.id/imunisasi?ref=kampanye",
    )


@pytest.fixture
def bluesky(org: Organisation) -> ChannelAccount:
    return make_channel(org, "dinkes.bsky.social", network="bluesky")


@pytest.fixture
def mastodon(org: Organisation) -> ChannelAccount:
    return make_channel(org, "@dinkes@kota.social", network="mastodon")


@pytest.fixture
def link(campaign: Campaign, bluesky: ChannelAccount, editor: User) -> TrackedLink:
    (created,) = actions.create_links(
        campaign, destination=campaign.link, channels=[bluesky], by=Actor(user=editor)
    )
    return created
