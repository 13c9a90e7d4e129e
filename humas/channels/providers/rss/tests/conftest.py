"""Shared set-up for the RSS/Atom tests: no DNS, no sleeping, fixtures read from disk."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from humas.channels.providers.rss import provider as rss
from humas.lib import http

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FEED_URL = "https://berita.kotasatu.go.id/feed/"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture(autouse=True)
def _quiet_network(settings: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Feeds on made-up hosts are allowed by default; DNS answers come from a dict.

    A test about the address check turns the flag off and fills ``dns``; a host name that
    is not in it fails as an unknown host would, so no test ever asks a real resolver.
    """
    settings.HUMAS_ALLOW_PRIVATE_FEEDS = True
    dns: dict[str, list[str]] = {}

    def fake_resolve(host: str, port: int) -> list[str]:
        if host not in dns:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return dns[host]

    monkeypatch.setattr(rss, "resolve", fake_resolve)
    # Retries wait 0 s and every test starts with full rate-limit buckets.
    monkeypatch.setattr(http.HttpClient, "_backoff", lambda self, attempt: 0.0)
    monkeypatch.setattr(http, "_limits", {})
    return dns


@pytest.fixture
def dns(_quiet_network: dict[str, list[str]]) -> dict[str, list[str]]:
    return _quiet_network


@pytest.fixture
def strict(settings: Any) -> Callable[[], None]:
    """Turn the private-address check on, as in production."""

    def _on() -> None:
        settings.HUMAS_ALLOW_PRIVATE_FEEDS = False
        settings.DEBUG = False

    _on()
    return _on


class FeedServer:
    """A feed server that honours If-None-Match, like most news sites' CMS or CDN.

    Swap ``body`` to publish new items; ``statuses`` lists what each request got.
    """

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.statuses: list[int] = []

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("If-None-Match") == self.etag:
            response = httpx.Response(304, headers={"ETag": self.etag})
        else:
            response = httpx.Response(
                200,
                content=self.body,
                headers={"ETag": self.etag, "Content-Type": "application/rss+xml"},
            )
        self.statuses.append(response.status_code)
        return response
