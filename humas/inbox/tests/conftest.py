"""Fixtures for inbox tests: a fake channel, a responder, and citizens' messages arriving
through the real ``store_events`` (so the channels signal threads them into the inbox)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

from humas.accounts.models import Organisation, User
from humas.accounts.roles import Role
from humas.accounts.testing import make_member
from humas.channels.actions import store_events
from humas.channels.models import ChannelAccount, InboundEvent
from humas.channels.providers.base import EventKind
from humas.channels.providers.base import InboundEvent as EventData
from humas.channels.tests.fakes import fake_network  # noqa: F401  (fixture)
from humas.inbox.models import Conversation
from humas.publishing.testing import make_channel

#: A Wednesday morning in Jakarta (03:00 UTC = 10:00 WIB), far from any public holiday.
WEDNESDAY = datetime(2026, 11, 4, 3, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _english(client: Client, request: pytest.FixtureRequest) -> Iterator[None]:
    """Pages and messages in English, so tests match the source strings; the organisation
    too, for what is written in its language (notices, replies to citizens). A test that
    checks the Indonesian says so with ``@pytest.mark.indonesian``."""
    if request.node.get_closest_marker("indonesian") is None:
        org = request.getfixturevalue("org")
        org.default_language = "en"
        org.save(update_fields=["default_language"])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def responder(org: Organisation) -> User:
    return make_member(org, "responder@satu.go.id", Role.RESPONDER)


@pytest.fixture
def channel(org: Organisation, fake_network: Any) -> ChannelAccount:  # noqa: F811
    return make_channel(org, "pemkot-satu")


@pytest.fixture
def other_channel(other_org: Organisation, fake_network: Any) -> ChannelAccount:  # noqa: F811
    return make_channel(other_org, "pemkot-dua")


_counter = iter(range(1, 10**9))


def citizen_event(
    text: str,
    *,
    author: str = "budi",
    kind: EventKind = EventKind.MENTION,
    thread: str = "",
    external_id: str = "",
    at: datetime = WEDNESDAY,
    **extra: Any,
) -> EventData:
    n = next(_counter)
    return EventData(
        kind=kind,
        external_id=external_id or f"ev-{n}",
        created_at=at,
        author_id=f"id-{author}",
        author_handle=f"@{author}",
        author_name=author.title(),
        text=text,
        thread_id=thread,
        **extra,
    )


@pytest.fixture
def receive(channel: ChannelAccount) -> Callable[..., list[InboundEvent]]:
    """Store events on a channel as a poll or a webhook would: ``receive(event, …)``."""

    def _receive(*events: EventData, on: ChannelAccount | None = None) -> list[InboundEvent]:
        return store_events(on or channel, list(events))

    return _receive


@pytest.fixture
def say(receive: Callable[..., list[InboundEvent]]) -> Callable[..., Conversation]:
    """One citizen message in; its conversation out."""

    def _say(text: str, **kwargs: Any) -> Conversation:
        on = kwargs.pop("on", None)
        (event,) = receive(citizen_event(text, **kwargs), on=on)
        return Conversation.objects.get(messages__event=event)

    return _say


#: The labels every test message gets unless it asks otherwise: tests about the inbox must not
#: depend on what the (retrainable) model answers for a phrase.
ORDINARY: dict[str, Any] = {
    "category": "complaint",
    "urgency": "normal",
    "sentiment": "negative",
    "abusive": False,
    "needs_review": False,
}


class Labels(dict[str, dict[str, Any]]):
    """Marker -> labels forced on texts containing it (over :data:`ORDINARY`); texts in
    ``real`` keep the engine's own answer (for tests about its rules: emergencies, spam,
    abuse, emoji-only messages)."""

    def __init__(self) -> None:
        super().__init__()
        self.real: set[str] = set()


@pytest.fixture(autouse=True)
def labels(monkeypatch: pytest.MonkeyPatch) -> Labels:
    """Force triage labels: ``labels["#x"] = {"category": …}``, or ``labels.real.add(text)``.

    The real engine still runs for every text (language, personal data, links are its own);
    only the label fields are replaced.
    """
    import humas.triage
    from humas.triage import classify_many as real

    forced = Labels()

    def classify_many(texts: Any, organisation: Any = None) -> list[Any]:
        results = []
        for text, found in zip(texts, real(texts, organisation=organisation), strict=True):
            if text not in forced.real:
                fields = dict(ORDINARY)
                for marker, extra in forced.items():
                    if marker in text:
                        fields.update(extra)
                found = dataclasses.replace(found, **fields)
            results.append(found)
        return results

    monkeypatch.setattr(humas.triage, "classify_many", classify_many)
    return forced
