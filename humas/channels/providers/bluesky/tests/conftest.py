"""Fakes for Bluesky at the HTTP seam (respx intercepts the SDK's httpx calls)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import respx

from humas.channels.providers.bluesky import provider as bluesky

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
XRPC = "https://bsky.social/xrpc"
DID = "did:plc:z72i7hdynmk6r22z27h6tvur"
CREDENTIALS = {
    "service": "https://bsky.social",
    "identifier": "humas.jakarta.go.id",
    "app_password": "abcd-efgh-ijkl-mnop",
}


def load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def body(call: Any) -> Any:
    return json.loads(call.request.content)


@pytest.fixture(autouse=True)
def _forget_sessions() -> Iterator[None]:
    bluesky._sessions.clear()
    yield
    bluesky._sessions.clear()


@pytest.fixture
def network() -> Iterator[respx.MockRouter]:
    """bsky.social answering a login and a profile; tests add the calls they are about."""
    with respx.mock(base_url=XRPC, assert_all_called=False) as router:
        router.post("/com.atproto.server.createSession", name="createSession").respond(
            json=load("createSession")
        )
        router.post("/com.atproto.server.refreshSession", name="refreshSession").respond(
            json=load("refreshSession")
        )
        router.get("/app.bsky.actor.getProfile", name="getProfile").respond(json=load("getProfile"))
        yield router


def make_provider(channel_key: str = "bluesky:1", **credentials: Any) -> bluesky.BlueskyProvider:
    return bluesky.BlueskyProvider(
        credentials={**CREDENTIALS, **credentials},
        channel_key=channel_key,
        sleep=lambda seconds: None,
    )


@pytest.fixture
def provider(network: respx.MockRouter) -> bluesky.BlueskyProvider:
    return make_provider()
