"""A provider that talks to no network, for testing what humas does around providers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
from django import forms
from django.http import HttpRequest

from humas.channels import providers
from humas.channels.providers.base import (
    AccountInfo,
    AccountMetrics,
    Capabilities,
    Connection,
    EventKind,
    InboundEvent,
    Limits,
    PostContent,
    PostMetrics,
    Provider,
    ProviderError,
    Published,
)


class FakeForm(forms.Form):
    token = forms.CharField()


def event(n: int, kind: EventKind = EventKind.MENTION) -> InboundEvent:
    return InboundEvent(
        kind=kind,
        external_id=f"ev-{n}",
        created_at=datetime(2026, 11, 1, 8, n % 60, tzinfo=UTC),
        author_id=f"citizen-{n}",
        author_handle=f"@warga{n}",
        text=f"Lapor min, jalan rusak nomor {n}",
    )


class FakeProvider(Provider):
    """Behaviour is set on the class by each test (pages, errors, published ids)."""

    network = "fake"
    label = "Fake network"
    capabilities = Capabilities(
        reply=True, polling=True, webhooks=True, post_metrics=True, account_metrics=True
    )
    limits = Limits(max_text=100, max_images=1, max_image_bytes=1000, alt_text_required=True)
    connect_form = FakeForm

    pages: ClassVar[dict[str, tuple[list[InboundEvent], str]]] = {}
    error: ClassVar[ProviderError | None] = None
    published: ClassVar[list[PostContent]] = []
    # What the network remembers by idempotency key (for networks that can look posts up or
    # answer a repeated key with the first post; set ``capabilities`` to say which).
    by_key: ClassVar[dict[str, Published]] = {}

    @classmethod
    def connect(cls, data: Any, **kwargs: Any) -> Connection:
        if data.get("token") == "bad":
            raise ProviderError("token rejected", "auth", status=401)
        return Connection(
            account=AccountInfo(external_id="acct-1", handle="@pemkot", display_name="Pemkot"),
            credentials={"token": data["token"]},
            config={"instance": "fake.example"},
        )

    def _maybe_fail(self) -> None:
        error = type(self).error
        if error is not None:
            raise error

    def account_info(self) -> AccountInfo:
        self._maybe_fail()
        return AccountInfo(external_id="acct-1", handle="@pemkot", display_name="Pemkot Baru")

    def publish(self, content: PostContent) -> Published:
        self._maybe_fail()
        key = str(content.options.get("idempotency_key") or "")
        if key and key in type(self).by_key and self.capabilities.idempotent_publish:
            return type(self).by_key[key]
        type(self).published.append(content)
        n = len(type(self).published)
        published = Published(external_id=f"post-{n}", url=f"https://fake.example/p/{n}")
        if key:
            type(self).by_key[key] = published
        return published

    def find_published(self, key: str) -> Published | None:
        return type(self).by_key.get(key)

    def reply(self, event: InboundEvent, content: PostContent) -> Published:
        self._maybe_fail()
        type(self).published.append(content)
        return Published(external_id=f"reply-to-{event.external_id}")

    def fetch_inbound(self, cursor: str) -> tuple[list[InboundEvent], str]:
        self._maybe_fail()
        return type(self).pages.get(cursor, ([], cursor))

    def verify_webhook(self, request: HttpRequest) -> bool:
        return request.headers.get("X-Fake-Secret") == self.credentials.get("token")

    def parse_webhook(self, request: HttpRequest) -> list[InboundEvent]:
        import json

        try:
            body = json.loads(request.body)
            return [event(int(n)) for n in body["events"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderError("malformed delivery", "permanent") from exc

    def fetch_post_metrics(self, external_ids: Sequence[str]) -> dict[str, PostMetrics]:
        self._maybe_fail()
        return {i: PostMetrics(external_id=i, likes=3, reposts=2, replies=1) for i in external_ids}

    def fetch_account_metrics(self) -> AccountMetrics:
        return AccountMetrics(followers=10)


@pytest.fixture
def fake_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeProvider]]:
    monkeypatch.setitem(providers.REGISTRY, "fake", f"{__name__}.FakeProvider")
    providers.provider_class.cache_clear()
    FakeProvider.pages = {}
    FakeProvider.error = None
    FakeProvider.published = []
    FakeProvider.by_key = {}
    yield FakeProvider
    providers.provider_class.cache_clear()
