"""Connecting a Mastodon account: by OAuth (app registration + code) or by a token."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from humas.channels.providers.base import ErrorKind, ProviderError
from humas.channels.providers.mastodon.forms import ConnectForm, TokenForm, normalise_instance
from humas.channels.providers.mastodon.provider import SCOPES, MastodonProvider

from .conftest import INSTANCE, OUR_ID, TOKEN, make_provider, payload

REDIRECT = "http://127.0.0.1:8000/saluran/oauth/kembali/"


def fake_account_and_server(api, *, instance=None):
    api.get("/api/v1/accounts/verify_credentials").respond(
        200, json=payload("account_verify_credentials.json")
    )
    api.get("/api/v2/instance").respond(200, json=instance or payload("instance_v2.json"))


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("mastodon.social", "https://mastodon.social"),
        ("https://Mastodon.Social/", "https://mastodon.social"),
        ("  https://social.example:8443  ", "https://social.example:8443"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("http://127.0.0.1:3000/", "http://127.0.0.1:3000"),
    ],
)
def test_it_accepts_a_server_address_and_keeps_only_its_origin(typed, stored):
    assert normalise_instance(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "http://mastodon.social",
        "https://mastodon.social/@pemkotsatu",
        "https://user:pw@mastodon.social",
        "https://mastodon.social/?q=1",
        "ftp://mastodon.social",
        "",
        "https://",
    ],
)
def test_it_refuses_addresses_that_are_not_an_https_server(typed):
    with pytest.raises(ValueError):
        normalise_instance(typed)


def test_the_connect_form_explains_why_plain_http_is_refused():
    form = ConnectForm(data={"instance": "http://mastodon.social"})
    assert not form.is_valid()
    assert "https://" in form.errors["instance"][0]
    assert ConnectForm(data={"instance": "mastodon.social"}).is_valid()


def test_the_token_form_asks_for_the_server_and_the_token():
    form = TokenForm(data={"instance": "social.example", "access_token": TOKEN})
    assert form.is_valid()
    assert form.cleaned_data == {"instance": INSTANCE, "access_token": TOKEN}
    assert MastodonProvider.token_form is TokenForm
    assert MastodonProvider.uses_oauth and MastodonProvider.connect_form is ConnectForm


def test_connecting_with_a_token_reads_the_account_and_the_servers_limits(api):
    server = payload("instance_v2.json")
    server["configuration"]["statuses"]["max_characters"] = 1000
    server["configuration"]["statuses"]["max_media_attachments"] = 6
    fake_account_and_server(api, instance=server)

    connection = MastodonProvider.connect({"instance": "social.example", "access_token": TOKEN})

    assert connection.account.external_id == f"{OUR_ID}@social.example"
    assert connection.account.handle == "@pemkotsatu@social.example"
    assert connection.account.display_name == "Pemerintah Kota Satu"
    assert connection.account.avatar_url.startswith("https://files.social.example/")
    assert connection.credentials == {"access_token": TOKEN, "client_id": "", "client_secret": ""}
    config = connection.config
    assert config["instance"] == INSTANCE and config["account_id"] == OUR_ID
    assert (config["max_characters"], config["max_media_attachments"]) == (1000, 6)
    assert config["image_size_limit"] == 16 * 1024 * 1024
    assert config["video_size_limit"] == 99 * 1024 * 1024
    assert config["media_types"] == [
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "video/mp4",
        "video/webm",
    ]
    sent = api.calls[0].request
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "humas" in sent.headers["User-Agent"]


def test_a_refused_token_is_an_auth_error_and_nothing_else_is_asked(api):
    api.get("/api/v1/accounts/verify_credentials").respond(401, json=payload("error_401.json"))
    server = api.get("/api/v2/instance").respond(200, json=payload("instance_v2.json"))
    with pytest.raises(ProviderError) as caught:
        MastodonProvider.connect({"instance": INSTANCE, "access_token": "wrong"})
    assert caught.value.kind == ErrorKind.AUTH
    assert "The access token is invalid" in caught.value.message
    assert not server.called


def test_a_server_without_the_v2_instance_endpoint_is_read_from_v1(api):
    api.get("/api/v1/accounts/verify_credentials").respond(
        200, json=payload("account_verify_credentials.json")
    )
    api.get("/api/v2/instance").respond(404, json=payload("error_404.json"))
    api.get("/api/v1/instance").respond(
        200,
        json={
            "uri": "social.example",
            "title": "Sosial Contoh",
            "version": "3.5.3",
            "configuration": {
                "statuses": {"max_characters": 5000, "max_media_attachments": 4},
                "media_attachments": {"image_size_limit": 10485760, "video_size_limit": 41943040},
            },
        },
    )
    config = MastodonProvider.connect({"instance": INSTANCE, "access_token": TOKEN}).config
    assert (config["max_characters"], config["image_size_limit"]) == (5000, 10485760)
    assert config["version"] == "3.5.3"


def test_a_server_with_no_instance_endpoint_gets_mastodons_defaults(api):
    api.get("/api/v1/accounts/verify_credentials").respond(
        200, json=payload("account_verify_credentials.json")
    )
    api.get("/api/v2/instance").respond(404)
    api.get("/api/v1/instance").respond(404)
    config = MastodonProvider.connect({"instance": INSTANCE, "access_token": TOKEN}).config
    assert config["max_characters"] == 500 and config["max_media_attachments"] == 4


def test_connecting_refuses_an_unsafe_address_before_any_request(api):
    with pytest.raises(ProviderError) as caught:
        MastodonProvider.connect({"instance": "http://social.example", "access_token": TOKEN})
    assert caught.value.kind == ErrorKind.PERMANENT
    assert not api.calls


def test_oauth_start_registers_humas_on_the_server_and_points_to_its_authorize_page(api):
    register = api.post("/api/v1/apps").respond(200, json=payload("app_registered.json"))
    provider = MastodonProvider(credentials={}, config={"instance": INSTANCE})

    url, pending = provider.oauth_start(REDIRECT, "st4te")

    sent = parse_qs(register.calls.last.request.content.decode())
    assert sent == {"client_name": ["humas"], "redirect_uris": [REDIRECT], "scopes": [SCOPES]}
    assert "Authorization" not in register.calls.last.request.headers
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{INSTANCE}/oauth/authorize"
    assert parse_qs(parts.query) == {
        "response_type": ["code"],
        "client_id": ["TWhM-tNSuncnqN7DBJmoyeLnk6K3iJJ71KKXxgL1hPM"],
        "redirect_uri": [REDIRECT],
        "scope": [SCOPES],
        "state": ["st4te"],
    }
    assert pending == {
        "instance": INSTANCE,
        "client_id": "TWhM-tNSuncnqN7DBJmoyeLnk6K3iJJ71KKXxgL1hPM",
        "client_secret": "ZEaFUFmF0umgBX1qKJDjaU99Q31lDkOU8NutzTOoliw",
    }


def test_oauth_start_reports_a_server_that_refuses_registrations(api):
    api.post("/api/v1/apps").respond(
        422, json={"error": "Validation failed: Redirect URI must be an absolute URI."}
    )
    with pytest.raises(ProviderError) as caught:
        MastodonProvider(credentials={}, config={"instance": INSTANCE}).oauth_start("x", "s")
    assert caught.value.kind == ErrorKind.PERMANENT
    assert "Redirect URI must be an absolute URI" in caught.value.message


def test_oauth_finish_exchanges_the_code_for_a_token(api):
    token = api.post("/oauth/token").respond(200, json=payload("oauth_token.json"))
    fake_account_and_server(api)
    pending = {"instance": INSTANCE, "client_id": "cid", "client_secret": "csecret"}

    connection = MastodonProvider.oauth_finish(pending, "c0de", REDIRECT)

    assert parse_qs(token.calls.last.request.content.decode()) == {
        "grant_type": ["authorization_code"],
        "code": ["c0de"],
        "client_id": ["cid"],
        "client_secret": ["csecret"],
        "redirect_uri": [REDIRECT],
        "scope": [SCOPES],
    }
    assert connection.credentials == {
        "access_token": TOKEN,
        "client_id": "cid",
        "client_secret": "csecret",
    }
    assert connection.account.handle == "@pemkotsatu@social.example"
    assert connection.config["max_characters"] == 500
    me = api.calls[1].request
    assert me.url.path == "/api/v1/accounts/verify_credentials"
    assert me.headers["Authorization"] == f"Bearer {TOKEN}"


def test_an_expired_code_is_an_auth_error_with_the_servers_reason(api):
    api.post("/oauth/token").respond(400, json=payload("error_invalid_grant.json"))
    pending = {"instance": INSTANCE, "client_id": "cid", "client_secret": "csecret"}
    with pytest.raises(ProviderError) as caught:
        MastodonProvider.oauth_finish(pending, "old", REDIRECT)
    assert caught.value.kind == ErrorKind.AUTH
    assert "authorization grant is invalid" in caught.value.message


def test_an_unreachable_server_is_a_transient_error(api):
    api.post("/api/v1/apps").mock(side_effect=httpx.ConnectError("Name or service not known"))
    with pytest.raises(ProviderError) as caught:
        MastodonProvider(credentials={}, config={"instance": INSTANCE}).oauth_start("x", "s")
    assert caught.value.kind == ErrorKind.TRANSIENT


def test_account_info_says_who_the_token_belongs_to(api):
    api.get("/api/v1/accounts/verify_credentials").respond(
        200, json=payload("account_verify_credentials.json")
    )
    info = make_provider().account_info()
    assert (info.external_id, info.handle) == (
        f"{OUR_ID}@social.example",
        "@pemkotsatu@social.example",
    )
