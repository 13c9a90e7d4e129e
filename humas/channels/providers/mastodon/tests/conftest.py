"""Mastodon test set-up: a faked server at the HTTP seam (respx) and documented payloads.

No Mastodon server runs here; every answer is a fixture shaped like the entities on
docs.joinmastodon.org (Status, Account, Notification, Conversation, MediaAttachment, Error).
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import respx

from humas.channels.providers import base
from humas.channels.providers.mastodon.provider import MastodonProvider

INSTANCE = "https://social.example"
TOKEN = "ZA-Yj3aBD8U8Cm7lKUp-lm9O9BmDgdhHzDeqsY8tlL0"
OUR_ID = "109348214671234567"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CONFIG = {
    "instance": INSTANCE,
    "domain": "social.example",
    "account_id": OUR_ID,
    "max_characters": 500,
    "max_media_attachments": 4,
    "characters_reserved_per_url": 23,
    "image_size_limit": 16 * 1024 * 1024,
    "video_size_limit": 99 * 1024 * 1024,
}


@cache
def _read(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def payload(name: str) -> Any:
    """A fresh copy of a fixture, free to change in one test."""
    return copy.deepcopy(_read(name))


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every pause the provider asks for (rate limit, retries, media processing), recorded
    instead of slept, so tests are fast and can say how long humas would have waited."""
    asked: list[float] = []
    monkeypatch.setattr(base, "pause", asked.append)
    return asked


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=INSTANCE, assert_all_called=False) as router:
        yield router


def make_provider(**config: Any) -> MastodonProvider:
    return MastodonProvider(
        credentials={"access_token": TOKEN, "client_id": "", "client_secret": ""},
        config={**CONFIG, **config},
        # Each test gets its own rate-limit bucket.
        channel_key=f"mastodon:test-{uuid.uuid4().hex[:8]}",
    )


@pytest.fixture
def provider() -> MastodonProvider:
    return make_provider()


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """Messages are asserted in English here; the Indonesian catalogue has its own tests."""
    from django.utils import translation

    with translation.override("en"):
        yield
