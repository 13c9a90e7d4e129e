import json
import re

import httpx
import pytest
from django.urls import reverse

from humas.channels.models import ChannelAccount
from humas.channels.providers.base import ErrorKind, ProviderError
from humas.channels.providers.telegram.provider import TelegramConnectForm, TelegramProvider

from .conftest import BOT_ID, CHANNEL_ID, FORM, GROUP_ID, TOKEN, answer, fake_connect, sent

pytestmark = pytest.mark.django_db


def test_it_connects_a_channel_and_finds_its_discussion_group(api):
    fake_connect(api)
    connection = TelegramProvider.connect(FORM)

    assert connection.account.external_id == str(CHANNEL_ID)
    assert connection.account.handle == "@dinkeskota"
    assert connection.account.display_name == "Dinas Kesehatan Kota Satu"
    assert connection.credentials["bot_token"] == TOKEN
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,256}", connection.credentials["webhook_secret"])
    assert connection.config == {
        "chat_id": CHANNEL_ID,
        "chat_username": "dinkeskota",
        # Not given in the form: taken from the channel's linked_chat_id.
        "discussion_chat_id": GROUP_ID,
        "discussion_username": "diskusidinkeskota",
        # The bot is a plain member of the group and privacy mode is on: comments are unseen.
        "discussion_readable": False,
        "bot_id": BOT_ID,
        "bot_username": "dinkeskota_bot",
    }
    assert "bot_token" not in json.dumps(connection.config)


def test_it_checks_the_bot_may_post_in_the_channel(api):
    routes = fake_connect(api)
    TelegramProvider.connect(FORM)
    member = routes["getChatMember"]
    asked = [sent(member, i) for i in range(len(member.calls))]
    assert {"chat_id": CHANNEL_ID, "user_id": BOT_ID} in asked


def test_comments_are_readable_when_the_bot_administers_the_group(api):
    fake_connect(api, group_member="getChatMember-group-administrator")
    assert TelegramProvider.connect(FORM).config["discussion_readable"] is True


def test_a_discussion_group_given_in_the_form_is_used(api):
    fake_connect(api)
    data = dict(FORM, discussion_chat_id="https://t.me/diskusidinkeskota")
    connection = TelegramProvider.connect(data)
    assert connection.config["discussion_chat_id"] == GROUP_ID


def test_each_connection_gets_a_new_webhook_secret(api):
    fake_connect(api)
    first = TelegramProvider.connect(FORM).credentials["webhook_secret"]
    second = TelegramProvider.connect(FORM).credentials["webhook_secret"]
    assert first != second


@pytest.mark.parametrize("fixture, status", [("error-unauthorized", 401), ("error-not-found", 404)])
def test_a_wrong_token_is_refused_as_an_auth_error(api, fixture, status):
    api.post("getMe").mock(return_value=answer(fixture, status))
    with pytest.raises(ProviderError) as caught:
        TelegramProvider.connect(FORM)
    assert caught.value.kind == ErrorKind.AUTH
    assert "@BotFather" in caught.value.message
    assert TOKEN not in caught.value.message


@pytest.mark.parametrize(
    "member", ["getChatMember-administrator-without-posting", "getChatMember-left"]
)
def test_a_bot_that_may_not_post_is_refused_with_what_to_do(api, member):
    fake_connect(api, member=member)
    with pytest.raises(ProviderError) as caught:
        TelegramProvider.connect(FORM)
    assert "@dinkeskota_bot" in caught.value.message
    assert "Post messages" in caught.value.message


def test_an_unknown_channel_is_explained(api):
    api.post("getMe").mock(return_value=answer("getMe"))
    api.post("getChat").mock(return_value=answer("error-chat-not-found", 400))
    with pytest.raises(ProviderError) as caught:
        TelegramProvider.connect(dict(FORM, channel="@tidakada_kanal"))
    assert caught.value.kind == ErrorKind.PERMANENT
    assert "@tidakada_kanal" in caught.value.message


def test_a_group_is_not_taken_for_a_channel(api):
    api.post("getMe").mock(return_value=answer("getMe"))
    api.post("getChat").mock(return_value=answer("getChat-private-group"))
    with pytest.raises(ProviderError) as caught:
        TelegramProvider.connect(dict(FORM, channel="-4001234567"))
    assert "not a channel" in caught.value.message


def test_a_discussion_group_the_bot_cannot_see_keeps_its_id_but_is_unreadable(api):
    fake_connect(api)
    api.post("getChat").mock(
        side_effect=lambda request: (
            answer("getChat-channel")
            if json.loads(request.content)["chat_id"] == "@dinkeskota"
            else answer("error-chat-not-found", 400)
        )
    )
    connection = TelegramProvider.connect(dict(FORM, discussion_chat_id="-1001555555555"))
    assert connection.config["discussion_chat_id"] == -1001555555555
    assert connection.config["discussion_readable"] is False


def test_a_malformed_form_is_refused_before_calling_telegram(api):
    route = api.post("getMe").mock(return_value=answer("getMe"))
    with pytest.raises(ProviderError) as caught:
        TelegramProvider.connect(dict(FORM, bot_token="not-a-token"))
    assert caught.value.kind == ErrorKind.PERMANENT
    assert not route.called


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("@dinkeskota", "@dinkeskota"),
        ("dinkeskota", "@dinkeskota"),
        ("https://t.me/dinkeskota", "@dinkeskota"),
        ("t.me/dinkeskota/", "@dinkeskota"),
        (" -1001987654321 ", "-1001987654321"),
    ],
)
def test_the_form_accepts_the_ways_people_write_a_channel(typed, expected):
    form = TelegramConnectForm(data={"bot_token": TOKEN, "channel": typed})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["channel"] == expected


@pytest.mark.parametrize("typed", ["@abc", "https://example.com/x", "kanal dinkes", ""])
def test_the_form_refuses_what_is_not_a_channel(typed):
    form = TelegramConnectForm(data={"bot_token": TOKEN, "channel": typed})
    assert not form.is_valid()
    assert "channel" in form.errors


def test_the_connect_page_connects_a_channel(as_user, admin, api):
    fake_connect(api)
    response = as_user(admin).post(reverse("channels:connect", args=["telegram"]), data=FORM)
    channel = ChannelAccount.objects.get(network="telegram")
    assert response.status_code == 302
    assert response.url == reverse("channels:detail", args=[channel.pk])
    assert channel.handle == "@dinkeskota"
    assert TOKEN not in channel.credentials_encrypted


def test_the_connect_page_shows_why_telegram_refused(as_user, admin, api):
    api.post("getMe").mock(return_value=answer("error-unauthorized", 401))
    response = as_user(admin).post(reverse("channels:connect", args=["telegram"]), data=FORM)
    assert response.status_code == 200
    assert "@BotFather" in response.content.decode()
    assert not ChannelAccount.objects.exists()


def test_connecting_survives_a_telegram_hiccup_on_reads(api):
    fake_connect(api)
    api.post("getMe").mock(side_effect=[httpx.Response(502), answer("getMe")])
    assert TelegramProvider.connect(FORM).account.handle == "@dinkeskota"
