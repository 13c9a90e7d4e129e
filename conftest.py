"""Shared test set-up: fast hashing, tasks run inline, and a few named personas.

Personas (built explicitly, never from fixtures files): ``org`` is "Kota Satu" with an admin,
an editor, an analyst and a unit agent; ``other_org`` is "Kota Dua" with its own admin. A test
about isolation signs in as one and reaches for the other's objects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from humas.accounts import actions
from humas.accounts.models import Organisation, Unit, User
from humas.accounts.roles import Role
from humas.accounts.testing import SYSTEM, make_member, make_org, sign_in


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """Leave PostgreSQL-only tests out of a SQLite run (not skipped: they run in the
    PostgreSQL pass, which CI always makes)."""
    from django.conf import settings

    if "postgresql" in settings.DATABASES["default"]["ENGINE"]:
        return
    kept = [item for item in items if item.get_closest_marker("postgres") is None]
    left_out = [item for item in items if item.get_closest_marker("postgres") is not None]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


@pytest.fixture(autouse=True)
def _test_settings(settings: Any) -> None:
    settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    # Argon2 is the real hasher (tested on its own); MD5 keeps hundreds of logins fast here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def org(db: Any) -> Organisation:
    return make_org("Kota Satu")


@pytest.fixture
def other_org(db: Any) -> Organisation:
    return make_org("Kota Dua")


@pytest.fixture
def unit(org: Organisation) -> Unit:
    return actions.create_unit(org, name="Dinas Kesehatan", code="dinkes", by=SYSTEM)


@pytest.fixture
def other_unit(other_org: Organisation) -> Unit:
    return actions.create_unit(other_org, name="Dinas Perhubungan", code="dishub", by=SYSTEM)


@pytest.fixture
def admin(org: Organisation) -> User:
    return make_member(org, "admin@satu.go.id", Role.ADMIN)


@pytest.fixture
def editor(org: Organisation) -> User:
    return make_member(org, "editor@satu.go.id", Role.EDITOR)


@pytest.fixture
def analyst(org: Organisation) -> User:
    return make_member(org, "analyst@satu.go.id", Role.ANALYST)


@pytest.fixture
def agent(org: Organisation, unit: Unit) -> User:
    return make_member(org, "agent@satu.go.id", Role.UNIT_AGENT, unit=unit)


@pytest.fixture
def other_admin(other_org: Organisation) -> User:
    return make_member(other_org, "admin@dua.go.id", Role.ADMIN)


@pytest.fixture
def as_user(client: Client) -> Callable[[User], Client]:
    def _as(user: User, verified: bool = True) -> Client:
        return sign_in(client, user, verified=verified)

    return _as


# The local Bluesky network, one per test session, for every e2e module that asks for it.
from humas.channels.providers.bluesky.tests.network import bluesky_network  # noqa: E402, F401
