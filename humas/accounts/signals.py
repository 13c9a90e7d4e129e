"""Sign-in and sign-out are recorded in the audit log of the organisation being entered;
the signals later apps (channels) answer, so accounts never imports them."""

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

#: Sent by :func:`humas.accounts.actions.notify` with ``telegram=True``, after the commit that
#: created the notifications, with ``organisation=`` and ``notification_ids=`` (never empty).
#: The channels app sends them through the organisation's Telegram alert bot; sent with
#: ``send_robust``, so a failing receiver never reaches the action that notified.
notifications_for_telegram = Signal()

#: Sent with ``organisation=`` by the account's security page; the receiver that knows the
#: organisation's Telegram alert bot answers with its username (without "@"), or "" when the
#: organisation has none. See :func:`telegram_alert_bot`.
telegram_alert_bot_requested = Signal()


def telegram_alert_bot(org: Organisation) -> str:
    """The username of the bot that sends ``org``'s alerts on Telegram, or ""."""
    for _receiver, answer in telegram_alert_bot_requested.send(
        sender=Organisation, organisation=org
    ):
        if isinstance(answer, str) and answer:
            return answer
    return ""


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
