"""``/l/<code>/pixel.gif``: one conversion per link and browser token."""

from __future__ import annotations

import pytest
from django.test import Client

from humas.accounts.audit import Actor
from humas.analytics import actions
from humas.analytics.models import Conversion, TrackedLink
from humas.analytics.tests.conftest import BROWSER
from humas.analytics.views import PIXEL_COOKIE

pytestmark = pytest.mark.django_db


def test_it_answers_a_transparent_gif_and_counts_one_conversion(visitor, link):
    response = visitor.get(f"/l/{link.code}/pixel.gif")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response.content.startswith(b"GIF89a")
    assert Conversion.objects.get(link=link).source == "pixel"


def test_the_same_browser_is_counted_once(visitor, link):
    for _ in range(3):
        visitor.get(f"/l/{link.code}/pixel.gif")
    assert Conversion.objects.filter(link=link).count() == 1


def test_two_browsers_are_two_conversions(link):
    for _ in range(2):
        Client(HTTP_USER_AGENT=BROWSER).get(f"/l/{link.code}/pixel.gif")
    assert Conversion.objects.filter(link=link).count() == 2


def test_the_token_cookie_is_the_pixels_own_and_holds_nothing_else(visitor, link):
    response = visitor.get(f"/l/{link.code}/pixel.gif")
    cookie = response.cookies[PIXEL_COOKIE]
    assert cookie["path"] == "/l/"
    assert cookie["httponly"]
    assert set(response.cookies) == {PIXEL_COOKIE}
    # Stored only as a hash salted with the link.
    assert cookie.value not in (Conversion.objects.get(link=link).dedupe_key or "")


def test_one_browser_on_two_links_cannot_be_matched_across_them(visitor, link, campaign, mastodon):
    (other,) = actions.create_links(
        campaign, destination=campaign.link, channels=[mastodon], by=Actor.system("tests")
    )
    visitor.get(f"/l/{link.code}/pixel.gif")
    visitor.get(f"/l/{other.code}/pixel.gif")
    keys = set(Conversion.objects.values_list("dedupe_key", flat=True))
    assert len(keys) == 2


def test_a_crawler_loading_the_pixel_is_not_counted(client, link):
    response = client.get(f"/l/{link.code}/pixel.gif", HTTP_USER_AGENT="Googlebot/2.1")
    assert response.status_code == 200
    assert not Conversion.objects.exists()


def test_an_unknown_code_still_answers_the_image(visitor):
    response = visitor.get("/l/tidakada/pixel.gif")
    assert response.status_code == 200
    assert not Conversion.objects.exists()


def test_an_inactive_link_still_counts_a_conversion_from_an_earlier_click(visitor, link):
    TrackedLink.objects.filter(pk=link.pk).update(is_active=False)
    visitor.get(f"/l/{link.code}/pixel.gif")
    assert Conversion.objects.filter(link=link).count() == 1
