"""Helpers for tests across apps: named personas and signing in past 2FA."""

from __future__ import annotations

import os
from typing import Any

from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from humas.accounts import actions
from humas.accounts.audit import Actor
from humas.accounts.models import Membership, Organisation, Unit, User

SYSTEM = Actor.system("tests")


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


def membership(user: User, org: Organisation) -> Membership:
    return Membership.objects.get(user=user, organisation=org)


def in_ci() -> bool:
    return bool(os.environ.get("CI"))
