"""The connect page's OAuth flow for Mastodon, through Django's test client."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.urls import reverse

from humas.channels.models import ChannelAccount
from humas.channels.views import SESSION_OAUTH

from .conftest import INSTANCE, OUR_ID, TOKEN, payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def started(api, as_user, admin):
    """An admin has entered the server address and been sent to its authorisation page."""
    register = api.post("/api/v1/apps").respond(200, json=payload("app_registered.json"))
    client = as_user(admin)
    response = client.post(
        reverse("channels:connect", args=["mastodon"]), {"instance": "social.example"}
    )
    return client, response, register


def test_the_connect_page_asks_for_the_server(as_user, admin):
    page = as_user(admin).get(reverse("channels:connect", args=["mastodon"]))
    assert page.status_code == 200
    assert 'name="instance"' in page.content.decode()


def test_entering_the_server_sends_the_admin_to_its_authorize_page_with_a_state(started):
    client, response, register = started
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{INSTANCE}/oauth/authorize"
    query = parse_qs(location.query)
    callback = settings.SITE_URL + reverse("channels:oauth_callback")
    assert query["redirect_uri"] == [callback]
    assert query["response_type"] == ["code"]
    assert query["state"] == [client.session[SESSION_OAUTH]["state"]]
    assert parse_qs(register.calls.last.request.content.decode())["redirect_uris"] == [callback]


def test_coming_back_with_the_code_creates_the_channel(api, started, org):
    client, response, _register = started
    state = parse_qs(urlsplit(response["Location"]).query)["state"][0]
    token = api.post("/oauth/token").respond(200, json=payload("oauth_token.json"))
    api.get("/api/v1/accounts/verify_credentials").respond(
        200, json=payload("account_verify_credentials.json")
    )
    api.get("/api/v2/instance").respond(200, json=payload("instance_v2.json"))

    back = client.get(reverse("channels:oauth_callback"), {"code": "c0de", "state": state})

    channel = ChannelAccount.objects.get(network="mastodon")
    assert back.status_code == 302
    assert back["Location"] == reverse("channels:detail", args=[channel.pk])
    assert (channel.organisation, channel.external_id) == (org, f"{OUR_ID}@social.example")
    assert channel.get_credentials() == {
        "access_token": TOKEN,
        "client_id": "TWhM-tNSuncnqN7DBJmoyeLnk6K3iJJ71KKXxgL1hPM",
        "client_secret": "ZEaFUFmF0umgBX1qKJDjaU99Q31lDkOU8NutzTOoliw",
    }
    assert channel.config["instance"] == INSTANCE
    assert parse_qs(token.calls.last.request.content.decode())["code"] == ["c0de"]


def test_a_wrong_state_is_refused_and_no_token_is_asked_for(api, started):
    client, _response, _register = started
    token = api.post("/oauth/token").respond(200, json=payload("oauth_token.json"))
    back = client.get(reverse("channels:oauth_callback"), {"code": "c0de", "state": "forged"})
    assert back.status_code == 302 and back["Location"] == reverse("channels:list")
    assert not token.called
    assert not ChannelAccount.objects.exists()


def test_a_plain_http_server_is_refused_on_the_form(api, as_user, admin):
    register = api.post("/api/v1/apps")
    page = as_user(admin).post(
        reverse("channels:connect", args=["mastodon"]), {"instance": "http://social.example"}
    )
    assert page.status_code == 200
    assert "https://" in page.content.decode()
    assert not register.called


def test_an_editor_cannot_connect_channels(as_user, editor):
    page = as_user(editor).post(
        reverse("channels:connect", args=["mastodon"]), {"instance": "social.example"}
    )
    assert page.status_code == 403


def test_the_channel_page_shows_zero_as_zero_and_a_count_not_given_as_a_dash(as_user, admin, org):
    from django.utils import timezone

    from humas.channels.models import ChannelPost

    channel = ChannelAccount.objects.create(
        organisation=org, network="mastodon", external_id="1", handle="@dinas@satu.go.id"
    )
    ChannelPost.objects.create(
        organisation=org,
        channel=channel,
        external_id="9",
        text="Jadwal vaksinasi",
        published_at=timezone.now(),
        metrics={"likes": 0, "reposts": None, "replies": 5, "quotes": None, "views": None},
    )
    page = as_user(admin).get(reverse("channels:detail", args=[channel.pk])).content.decode()
    assert "<td>0</td><td>—</td><td>5</td>" in page
