"""Sign-in and sign-out are recorded in the audit log of the organisation being entered."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver
from django.http import HttpRequest

from humas.accounts.audit import Actor, client_ip, record
from humas.accounts.models import Membership, User


def _first_organisation(user: User) -> Any:
    membership = (
        Membership.objects.filter(user=user, is_active=True)
        .select_related("organisation")
        .order_by("created_at", "pk")
        .first()
    )
    return membership.organisation if membership else None


@receiver(user_logged_in)
def audit_login(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    ip = client_ip(request) if request is not None else None
    record(
        "accounts.user.logged_in",
        actor=Actor(user=user, ip=ip),
        organisation=_first_organisation(user),
        target=user,
    )


@receiver(user_logged_out)
def audit_logout(sender: Any, request: HttpRequest | None, user: User | None, **kwargs: Any) -> None:
    if user is None:
        return
    membership = getattr(request, "membership", None)
    ip = client_ip(request) if request is not None else None
    record(
        "accounts.user.logged_out",
        actor=Actor(user=user, ip=ip),
        organisation=membership.organisation if membership else _first_organisation(user),
        target=user,
    )
