"""The inbox list's pages: read without counting every conversation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from humas.inbox import views
from humas.inbox.tests.conftest import WEDNESDAY, citizen_event

pytestmark = pytest.mark.django_db

URL = reverse("inbox:list")


@pytest.fixture
def many(receive):
    """55 conversations, one a minute: page 1 holds the newest 50."""
    receive(
        *[
            citizen_event(f"Pesan {n}", author=f"warga{n}", at=WEDNESDAY + timedelta(minutes=n))
            for n in range(55)
        ]
    )


def test_the_first_page_says_there_is_more_without_a_total(as_user, responder, many):
    response = as_user(responder).get(URL, {"order": "newest", "status": "open"})
    assert len(response.context["items"]) == 50
    page = response.context["page"]
    assert page.has_next() and not page.has_previous()
    assert "Page 1 of 2+" in response.content.decode()


def test_the_last_page_holds_the_rest_and_knows_it_is_the_last(as_user, responder, many):
    response = as_user(responder).get(URL, {"order": "newest", "status": "open", "page": 2})
    items = response.context["items"]
    assert [i["preview"] for i in items] == [f"Pesan {n}" for n in range(4, -1, -1)]
    page = response.context["page"]
    assert page.has_previous() and not page.has_next()
    assert "Page 2 of 2" in response.content.decode()


def test_a_page_past_the_end_or_not_a_number_shows_the_first(as_user, responder, many):
    client = as_user(responder)
    for wanted in ("7", "x", "-1"):
        response = client.get(URL, {"order": "newest", "status": "open", "page": wanted})
        assert response.context["page"].number == 1


def test_pages_stop_at_the_deepest_one_offered(as_user, responder, receive, many, monkeypatch):
    receive(*[citizen_event("Lagi", author=f"lain{n}") for n in range(50)])
    monkeypatch.setattr(views, "MAX_PAGES", 2)
    response = as_user(responder).get(URL, {"order": "newest", "status": "open", "page": 3})
    page = response.context["page"]
    assert page.number == 2 and not page.has_next()
    assert "Page 2 of 2+" in response.content.decode()
