"""Shared test set-up: fast hashing, tasks run inline, and a few named personas.

Personas (built explicitly, never from fixtures files): ``org`` is "Kota Satu" with an admin,
an editor, an analyst and a unit agent; ``other_org`` is "Kota Dua" with its own admin. A test
about isolation signs in as one and reaches for the other's objects.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from humas.accounts import actions
from humas.accounts.audit import Actor
from humas.accounts.models import Membership, Organisation, Unit, User
from humas.accounts.roles import Role

SYSTEM = Actor.system("tests")


@pytest.fixture(autouse=True)
def _test_settings(settings: Any) -> None:
    settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    # Argon2 is the real hasher (tested on its own); MD5 keeps hundreds of logins fast here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make_org(name: str, *, require_2fa: bool = False, **extra: Any) -> Organisation:
    return actions.create_organisation(name=name, require_2fa=require_2fa, by=SYSTEM, **extra)


def make_member(
    org: Organisation, email: str, role: str, *, unit: Unit | None = None, password: str = "x"
) -> User:
    user = User.objects.filter(email=email).first() or User.objects.create_user(
        email, password, full_name=email.split("@")[0].title()
    )
    actions.add_member(org, user, role=role, unit=unit, by=SYSTEM)
    return user


def confirmed_device(user: User) -> TOTPDevice:
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)


def totp_now(device: TOTPDevice) -> str:
    from django_otp.oath import totp

    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def sign_in(client: Client, user: User, *, verified: bool = True) -> Client:
    """Log ``user`` in as if they had passed both password and (optionally) 2FA."""
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    if verified:
        device = confirmed_device(user)
        session = client.session
        session["otp_device_id"] = device.persistent_id
        session.save()
    return client


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


def membership(user: User, org: Organisation) -> Membership:
    return Membership.objects.get(user=user, organisation=org)


def in_ci() -> bool:
    return bool(os.environ.get("CI"))
