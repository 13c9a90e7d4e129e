"""Fixtures for publishing tests: fake channels, approvers and a ready-made post."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

from humas.accounts.models import Organisation, User
from humas.accounts.roles import Role
from humas.accounts.testing import make_member
from humas.channels.models import ChannelAccount
from humas.channels.tests.fakes import fake_network  # noqa: F401  (fixture)
from humas.publishing.testing import make_channel


@pytest.fixture(autouse=True)
def _english(client: Client) -> Iterator[None]:
    """Pages and messages in English, so tests match the source strings (the Indonesian
    catalogue has its own test)."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def approver(org: Organisation) -> User:
    return make_member(org, "kepala.humas@satu.go.id", Role.APPROVER)


@pytest.fixture
def second_approver(org: Organisation) -> User:
    return make_member(org, "pimpinan@satu.go.id", Role.APPROVER)


@pytest.fixture
def channel(org: Organisation, fake_network: Any) -> ChannelAccount:  # noqa: F811
    return make_channel(org, "pemkot-satu")


@pytest.fixture
def other_channel(other_org: Organisation, fake_network: Any) -> ChannelAccount:  # noqa: F811
    return make_channel(other_org, "pemkot-dua")
