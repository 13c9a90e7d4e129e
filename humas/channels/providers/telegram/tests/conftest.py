"""Telegram test set-up: the Bot API faked with respx, answers taken from ../fixtures.

The token below is made up; it has the shape @BotFather hands out, which the connect form
checks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from humas.accounts.audit import Actor
from humas.channels import actions
from humas.channels.models import ChannelAccount
from humas.channels.providers.telegram.provider import TelegramProvider
from humas.lib.http import HttpClient

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
TOKEN = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
API = f"https://api.telegram.org/bot{TOKEN}/"
BOT_ID = 7012345678
CHANNEL_ID = -1001987654321
GROUP_ID = -1001876543210
SITI_ID = 5123456789
SECRET = "s3cret-Token_for-the-tests"

FORM = {"bot_token": TOKEN, "channel": "@dinkeskota", "discussion_chat_id": ""}
CONFIG: dict[str, Any] = {
    "chat_id": CHANNEL_ID,
    "chat_username": "dinkeskota",
    "discussion_chat_id": GROUP_ID,
    "discussion_username": "diskusidinkeskota",
    "discussion_readable": True,
    "bot_id": BOT_ID,
    "bot_username": "dinkeskota_bot",
}


def load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def answer(name: str, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=load(name))


def sent(route: respx.Route, index: int = -1) -> dict[str, Any]:
    """The JSON body of a call the provider made."""
    return json.loads(route.calls[index].request.content)


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests fake the network; nothing should sleep for rate limits or retry back-off.
    monkeypatch.setattr(TelegramProvider, "requests_per_second", 10_000.0)
    monkeypatch.setattr(HttpClient, "_backoff", lambda self, attempt: 0.0)


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=API, assert_all_called=False) as router:
        yield router


@pytest.fixture
def provider() -> TelegramProvider:
    return TelegramProvider(
        credentials={"bot_token": TOKEN, "webhook_secret": SECRET},
        config=dict(CONFIG),
        channel_key="telegram:test",
    )


def by_chat(answers: dict[Any, str]) -> Callable[[httpx.Request], httpx.Response]:
    """A respx side effect answering with the fixture named for the request's chat_id."""

    def respond(request: httpx.Request) -> httpx.Response:
        chat = json.loads(request.content).get("chat_id")
        return answer(answers[chat])

    return respond


def fake_connect(
    api: respx.MockRouter,
    *,
    member: str = "getChatMember-administrator",
    group_member: str = "getChatMember-group-member",
) -> dict[str, respx.Route]:
    """Answer getMe, getChat and getChatMember as for @dinkeskota; the routes, by method."""
    routes = {"getMe": api.post("getMe").mock(return_value=answer("getMe"))}
    routes["getChat"] = api.post("getChat").mock(
        side_effect=by_chat(
            {
                "@dinkeskota": "getChat-channel",
                CHANNEL_ID: "getChat-channel",
                str(GROUP_ID): "getChat-group",
                "@diskusidinkeskota": "getChat-group",
            }
        )
    )
    routes["getChatMember"] = api.post("getChatMember").mock(
        side_effect=by_chat({CHANNEL_ID: member, GROUP_ID: group_member})
    )
    # Connecting through humas also sets up delivery: a webhook on an https site, polling
    # (so the webhook is cleared) on a plain-http one such as the tests' default.
    routes["deleteWebhook"] = api.post("deleteWebhook").mock(return_value=answer("deleteWebhook"))
    routes["setWebhook"] = api.post("setWebhook").mock(return_value=answer("setWebhook"))
    return routes


@pytest.fixture
def channel(org: Any, admin: Any, api: respx.MockRouter) -> ChannelAccount:
    """A Telegram channel connected through humas's own action, as the connect page does."""
    fake_connect(api, group_member="getChatMember-group-administrator")
    return actions.connect_channel(org, "telegram", dict(FORM), by=Actor(user=admin))


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """Messages are asserted in English here; the Indonesian catalogue has its own tests."""
    from django.utils import translation

    with translation.override("en"):
        yield
