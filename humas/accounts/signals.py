"""Sign-in and sign-out are recorded in the audit log of the organisation being entered."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import Signal, receiver
from django.http import HttpRequest

from humas.accounts.actions import record_lockout, record_sign_in
from humas.accounts.audit import client_ip
from humas.accounts.models import Membership, Organisation, User

#: Sent by ``humas seeddemo`` (organisation=, by=) after the demo organisation and its people
#: exist, so that later apps can add demo content without accounts importing them.
demo_seeded = Signal()


def _organisation(request: HttpRequest | None, user: User) -> Organisation | None:
    membership = getattr(request, "membership", None)
    if membership is not None:
        return membership.organisation
    first = (
        Membership.objects.filter(user=user, is_active=True)
        .select_related("organisation")
        .order_by("created_at", "pk")
        .first()
    )
    return first.organisation if first else None


@receiver(user_logged_in)
def audit_login(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    ip = client_ip(request) if request is not None else None
    record_sign_in(user, ip=ip, organisation=_organisation(None, user))


@receiver(user_logged_out)
def audit_logout(
    sender: Any, request: HttpRequest | None, user: User | None, **kwargs: Any
) -> None:
    if user is None:
        return
    ip = client_ip(request) if request is not None else None
    record_sign_in(user, ip=ip, organisation=_organisation(request, user), out=True)


@receiver(user_locked_out)
def audit_lockout(
    sender: Any,
    request: HttpRequest | None,
    username: str | None,
    ip_address: str | None,
    **kwargs: Any,
) -> None:
    # The account may not exist (someone guessing addresses); then there is no organisation
    # to tell, and axes' own records are the trace.
    user = User.objects.filter(email__iexact=username or "").first()
    if user is not None:
        record_lockout(user, ip=ip_address, organisation=_organisation(None, user))
