"""Named actions: every change that matters in accounts happens here.

Each action runs in one transaction, writes exactly one audit entry and leaves side effects
(e-mail) to ``transaction.on_commit`` so nothing is sent for a change that rolled back.
Views and commands call these; they never save these models themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from humas.accounts import twofactor
from humas.accounts.audit import Actor, record
from humas.accounts.models import (
    Invitation,
    Membership,
    Organisation,
    TelegramLinkCode,
    Unit,
    User,
)
from humas.accounts.roles import Role
from humas.lib.crypto import encrypt

logger = logging.getLogger(__name__)


class ActionError(Exception):
    """The action cannot be done; the message is shown to the person who asked."""


def _unique_slug(base: str) -> str:
    root = slugify(base)[:50] or "org"
    slug, n = root, 2
    while Organisation.objects.filter(slug=slug).exists():
        slug, n = f"{root}-{n}", n + 1
    return slug


@transaction.atomic
def create_organisation(
    *,
    name: str,
    by: Actor,
    slug: str = "",
    time_zone: str = "Asia/Jakarta",
    default_language: str = "id",
    require_2fa: bool = True,
    is_demo: bool = False,
) -> Organisation:
    if slug and Organisation.objects.filter(slug=slug).exists():
        raise ActionError(
            _("An organisation with the short name “%(slug)s” already exists.") % {"slug": slug}
        )
    org = Organisation.objects.create(
        name=name,
        slug=slug or _unique_slug(name),
        time_zone=time_zone,
        default_language=default_language,
        require_2fa=require_2fa,
        is_demo=is_demo,
    )
    record(
        "accounts.organisation.created",
        actor=by,
        organisation=org,
        target=org,
        payload={"time_zone": time_zone, "language": default_language, "require_2fa": require_2fa},
    )
    return org


@transaction.atomic
def update_organisation_settings(org: Organisation, *, by: Actor, **changes: Any) -> Organisation:
    allowed = {"name", "time_zone", "default_language", "require_2fa", "approval_steps"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"cannot change {sorted(unknown)}")
    diff = {
        field: {"from": getattr(org, field), "to": value}
        for field, value in changes.items()
        if getattr(org, field) != value
    }
    if not diff:
        return org
    for field, value in changes.items():
        setattr(org, field, value)
    org.save(update_fields=list(diff))
    record(
        "accounts.organisation.settings_changed",
        actor=by,
        organisation=org,
        target=org,
        payload=diff,
    )
    return org


@transaction.atomic
def create_unit(
    org: Organisation, *, name: str, by: Actor, code: str = "", description: str = ""
) -> Unit:
    code = code or slugify(name)[:40]
    if Unit.objects.filter(organisation=org, code=code).exists():
        raise ActionError(_("A unit with the code “%(code)s” already exists.") % {"code": code})
    if Unit.objects.filter(organisation=org, name=name).exists():
        raise ActionError(_("A unit named “%(name)s” already exists.") % {"name": name})
    unit = Unit.objects.create(organisation=org, name=name, code=code, description=description)
    record("accounts.unit.created", actor=by, organisation=org, target=unit, payload={"code": code})
    return unit


@transaction.atomic
def update_unit(unit: Unit, *, by: Actor, name: str, code: str, description: str) -> Unit:
    clash = Unit.objects.filter(organisation=unit.organisation).exclude(pk=unit.pk)
    if clash.filter(code=code).exists():
        raise ActionError(_("A unit with the code “%(code)s” already exists.") % {"code": code})
    if clash.filter(name=name).exists():
        raise ActionError(_("A unit named “%(name)s” already exists.") % {"name": name})
    before = {"name": unit.name, "code": unit.code}
    unit.name, unit.code, unit.description = name, code, description
    unit.save()
    record(
        "accounts.unit.updated",
        actor=by,
        organisation=unit.organisation,
        target=unit,
        payload={"before": before, "after": {"name": name, "code": code}},
    )
    return unit


@transaction.atomic
def delete_unit(unit: Unit, *, by: Actor) -> None:
    if unit.memberships.exists():
        raise ActionError(_("Move the unit’s members to another unit before removing it."))
    org = unit.organisation
    record(
        "accounts.unit.deleted",
        actor=by,
        organisation=org,
        target=unit,
        payload={"name": unit.name, "code": unit.code},
    )
    unit.delete()


def _check_role_unit(role: str, unit: Unit | None, org: Organisation) -> None:
    if role not in Role.values:
        raise ActionError(_("Unknown role “%(role)s”.") % {"role": role})
    if role == Role.UNIT_AGENT and unit is None:
        raise ActionError(_("A unit agent must belong to a unit."))
    if unit is not None and unit.organisation_id != org.pk:
        raise ActionError(_("The unit belongs to another organisation."))


@transaction.atomic
def invite_member(
    org: Organisation, *, email: str, role: str, by: Actor, unit: Unit | None = None
) -> tuple[Invitation, str]:
    """Create an invitation and e-mail its link; returns the invitation and the raw token."""
    email = email.strip().lower()
    _check_role_unit(role, unit, org)
    if Membership.objects.filter(organisation=org, user__email__iexact=email).exists():
        raise ActionError(
            _("%(email)s is already a member of this organisation.") % {"email": email}
        )
    # A newer invitation replaces any pending one for the same address.
    Invitation.objects.pending().filter(organisation=org, email__iexact=email).update(
        revoked_at=timezone.now()
    )
    token, token_hash = Invitation.new_token()
    invitation = Invitation.objects.create(
        organisation=org,
        email=email,
        role=role,
        unit=unit,
        token_hash=token_hash,
        invited_by=by.user,
        expires_at=Invitation.default_expiry(),
    )
    record(
        "accounts.member.invited",
        actor=by,
        organisation=org,
        target=invitation,
        payload={"email": email, "role": role, "unit": unit.code if unit else None},
    )
    from humas.accounts.tasks import send_invitation_email

    # The task's arguments are stored in the database: keep the token encrypted there too.
    sealed = encrypt(token)
    transaction.on_commit(
        lambda: send_invitation_email.enqueue(invitation_id=invitation.pk, sealed_token=sealed)
    )
    return invitation, token


@transaction.atomic
def revoke_invitation(invitation: Invitation, *, by: Actor) -> None:
    if not invitation.is_pending:
        raise ActionError(_("This invitation is no longer pending."))
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    record(
        "accounts.member.invitation_revoked",
        actor=by,
        organisation=invitation.organisation,
        target=invitation,
        payload={"email": invitation.email},
    )


@transaction.atomic
def accept_invitation(
    invitation: Invitation,
    *,
    ip: str | None,
    user: User | None = None,
    full_name: str = "",
    password: str = "",
) -> Membership:
    """Join the organisation: as the signed-in ``user``, or as a new account for the invitee."""
    locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if not locked.is_pending:
        raise ActionError(_("This invitation has expired, was revoked or was already used."))
    if user is None:
        if User.objects.filter(email__iexact=locked.email).exists():
            raise ActionError(
                _("An account with this e-mail exists: sign in first, then open the link again.")
            )
        user = User.objects.create_user(locked.email, password, full_name=full_name)
    elif user.email.lower() != locked.email.lower():
        raise ActionError(_("This invitation was sent to another e-mail address."))
    membership, _created = Membership.objects.update_or_create(
        user=user,
        organisation=locked.organisation,
        defaults={"role": locked.role, "unit": locked.unit, "is_active": True},
    )
    locked.accepted_at = timezone.now()
    locked.save(update_fields=["accepted_at"])
    record(
        "accounts.member.joined",
        actor=Actor(user=user, ip=ip),
        organisation=locked.organisation,
        target=membership,
        payload={"role": locked.role, "invitation": locked.pk},
    )
    return membership


def _admins_left(org: Organisation, excluding: Membership) -> bool:
    return (
        Membership.objects.filter(organisation=org, role=Role.ADMIN, is_active=True)
        .exclude(pk=excluding.pk)
        .exists()
    )


@transaction.atomic
def change_member(
    membership: Membership,
    *,
    by: Actor,
    role: str,
    unit: Unit | None,
    is_active: bool,
    on_duty: bool | None = None,
) -> Membership:
    """Change a member's role, unit, activity and (when given) on-duty flag: on-duty
    members are told at once of emergencies in the inbox."""
    org = membership.organisation
    _check_role_unit(role, unit, org)
    losing_admin = membership.role == Role.ADMIN and (role != Role.ADMIN or not is_active)
    if losing_admin and membership.is_active and not _admins_left(org, membership):
        raise ActionError(_("The organisation must keep at least one active administrator."))
    on_duty = membership.on_duty if on_duty is None else on_duty
    before = {
        "role": membership.role,
        "unit": membership.unit.code if membership.unit else None,
        "active": membership.is_active,
        "on_duty": membership.on_duty,
    }
    after = {
        "role": role,
        "unit": unit.code if unit else None,
        "active": is_active,
        "on_duty": on_duty,
    }
    if before == after:
        return membership
    membership.role, membership.unit, membership.is_active = role, unit, is_active
    membership.on_duty = on_duty
    membership.save(update_fields=["role", "unit", "is_active", "on_duty"])
    record(
        "accounts.member.changed",
        actor=by,
        organisation=org,
        target=membership,
        payload={"before": before, "after": after},
    )
    return membership


@transaction.atomic
def add_member(
    org: Organisation, user: User, *, role: str, by: Actor, unit: Unit | None = None
) -> Membership:
    """Put an existing account straight into an organisation (used by `humas createadmin`)."""
    _check_role_unit(role, unit, org)
    membership, created = Membership.objects.update_or_create(
        user=user, organisation=org, defaults={"role": role, "unit": unit, "is_active": True}
    )
    record(
        "accounts.member.added",
        actor=by,
        organisation=org,
        target=membership,
        payload={"role": role, "email": user.email, "new": created},
    )
    return membership


@transaction.atomic
def confirm_two_factor(
    user: User, device: Any, *, by: Actor, organisation: Organisation | None
) -> list[str]:
    """Mark the enrolled TOTP device confirmed and issue backup codes (returned once)."""
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    # Only one authenticator at a time: an older one stops working when a new one is set up.
    type(device).objects.filter(user=user).exclude(pk=device.pk).delete()
    codes = twofactor.new_backup_codes(user)
    record("accounts.user.2fa_enabled", actor=by, organisation=organisation, target=user)
    return codes


@transaction.atomic
def regenerate_backup_codes(
    user: User, *, by: Actor, organisation: Organisation | None
) -> list[str]:
    codes = twofactor.new_backup_codes(user)
    record(
        "accounts.user.backup_codes_regenerated", actor=by, organisation=organisation, target=user
    )
    return codes


@transaction.atomic
def reset_member_two_factor(membership: Membership, *, by: Actor) -> None:
    """An admin removes a member's 2FA devices (lost phone); they enrol again at next sign-in."""
    twofactor.remove_all_devices(membership.user)
    record(
        "accounts.member.2fa_reset",
        actor=by,
        organisation=membership.organisation,
        target=membership,
        payload={"email": membership.user.email},
    )


@transaction.atomic
def record_password_reset(user: User, *, ip: str | None) -> None:
    membership = user.memberships.filter(is_active=True).select_related("organisation").first()
    record(
        "accounts.user.password_reset",
        actor=Actor(user=user, ip=ip),
        organisation=membership.organisation if membership else None,
        target=user,
    )


@transaction.atomic
def record_sign_in(
    user: User, *, ip: str | None, organisation: Organisation | None, out: bool = False
) -> None:
    action = "accounts.user.logged_out" if out else "accounts.user.logged_in"
    record(action, actor=Actor(user=user, ip=ip), organisation=organisation, target=user)


@transaction.atomic
def record_lockout(user: User, *, ip: str | None, organisation: Organisation | None) -> None:
    """Too many wrong passwords: the account is locked for a while (django-axes)."""
    record(
        "accounts.user.locked_out",
        actor=Actor(user=None, ip=ip, label=user.email),
        organisation=organisation,
        target=user,
    )


@transaction.atomic
def record_password_change(
    user: User, *, ip: str | None, organisation: Organisation | None
) -> None:
    record(
        "accounts.user.password_changed",
        actor=Actor(user=user, ip=ip),
        organisation=organisation,
        target=user,
    )


@dataclass(frozen=True)
class Notice:
    """One thing to tell some people (see :func:`notify_many`)."""

    users: Iterable[User | None]
    kind: str
    title: str
    body: str = ""
    url: str = ""


def notify_many(
    org: Organisation,
    notices: Sequence[Notice],
    *,
    email: bool = False,
    telegram: bool = False,
) -> list[int]:
    """Tell people several things at once: every notification in one INSERT, and one task
    for the e-mails (and one announcement for Telegram) after commit, whatever the number of
    notices. An ingest batch with many emergencies calls this once, not once per emergency.

    With ``telegram``, those who linked their Telegram are also written to privately by the
    organisation's alert bot, after commit, when the organisation has one (the channels app
    does it on :data:`humas.accounts.signals.notifications_for_telegram`; without an alert
    bot nothing happens). Telegram messages leave the installation: the body must already be
    masked of citizens' personal data.

    Titles and bodies are written in the organisation's language by the caller; this is a
    side effect of another action, which writes the audit entry.
    """
    from humas.accounts.models import Notification

    rows = [
        Notification(
            user=user,
            organisation=org,
            kind=notice.kind,
            title=notice.title[:200],
            body=notice.body,
            url=notice.url,
        )
        for notice in notices
        for user in {u.pk: u for u in notice.users if u is not None}.values()
    ]
    if not rows:
        return []
    created = Notification.objects.bulk_create(rows)
    ids = [n.pk for n in created if n.pk is not None]
    if len(ids) < len(rows):
        # A database that does not return the new ids: the newest rows of these kinds.
        ids = list(
            Notification.objects.filter(organisation=org, kind__in={n.kind for n in notices})
            .order_by("-pk")
            .values_list("pk", flat=True)[: len(rows)]
        )
    if email:
        from humas.accounts.tasks import send_notification_emails

        transaction.on_commit(lambda: send_notification_emails.enqueue(notification_ids=ids))
    if telegram:
        transaction.on_commit(lambda: _announce_for_telegram(org, ids))
    return ids


def notify(
    org: Organisation,
    users: Iterable[User | None],
    *,
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    email: bool = False,
    telegram: bool = False,
) -> list[int]:
    """Tell these people in humas, and by e-mail (``email``) and Telegram (``telegram``)
    after commit: :func:`notify_many` of one notice."""
    return notify_many(
        org,
        [Notice(users=users, kind=kind, title=title, body=body, url=url)],
        email=email,
        telegram=telegram,
    )


def _announce_for_telegram(org: Organisation, ids: list[int]) -> None:
    from humas.accounts.signals import notifications_for_telegram

    answers = notifications_for_telegram.send_robust(
        sender=Organisation, organisation=org, notification_ids=ids
    )
    for receiver, answer in answers:
        if isinstance(answer, Exception):
            # The notifications exist in humas; Telegram is a second way of seeing them.
            logger.error(
                "sending notifications %s to Telegram failed in %r",
                ids,
                receiver,
                exc_info=answer,
            )


def notify_admins(
    org: Organisation, *, kind: str, title: str, body: str = "", url: str = ""
) -> list[int]:
    """Tell the organisation's active admins, in humas and by e-mail (after commit)."""
    admins = User.objects.filter(
        memberships__organisation=org,
        memberships__role=Role.ADMIN,
        memberships__is_active=True,
        is_active=True,
    )
    return notify(org, admins, kind=kind, title=title, body=body, url=url, email=True)


# --- Telegram alerts for a person ---------------------------------------------------------


class TelegramLinkOutcome(StrEnum):
    LINKED = "linked"
    #: The same chat used the same code before (Telegram delivered the update again).
    ALREADY = "already"
    #: Unknown, expired, used by another chat, or for another organisation's bot.
    INVALID = "invalid"


def start_telegram_link(user: User, org: Organisation) -> str:
    """A fresh one-time code for linking ``user``'s Telegram through ``org``'s alert bot.

    Earlier unused codes of the person stop working. Nothing changes on the account until
    the code comes back from Telegram (:func:`link_telegram`), which writes the audit entry.
    """
    code, code_hash = TelegramLinkCode.new_code()
    with transaction.atomic():
        TelegramLinkCode.objects.filter(user=user, used_at__isnull=True).delete()
        TelegramLinkCode.objects.create(
            user=user,
            organisation=org,
            code_hash=code_hash,
            expires_at=TelegramLinkCode.default_expiry(),
        )
    return code


@transaction.atomic
def link_telegram(
    code: str, *, chat_id: int, bot_id: int | None, organisation: Organisation
) -> tuple[TelegramLinkOutcome, User | None]:
    """Store ``chat_id`` on the person whose code came back from the bot of ``organisation``.

    ``chat_id`` is the private chat the code was sent from, so only someone holding both the
    code (shown to the signed-in person) and that Telegram account can link it.
    """
    found = TelegramLinkCode.find(code)
    if found is None:
        return TelegramLinkOutcome.INVALID, None
    link = TelegramLinkCode.objects.select_for_update().select_related("user").get(pk=found.pk)
    if link.organisation_id != organisation.pk or not link.user.is_active:
        return TelegramLinkOutcome.INVALID, None
    if link.used_at is not None:
        if link.used_by_chat == chat_id and link.user.telegram_chat_id == chat_id:
            return TelegramLinkOutcome.ALREADY, link.user
        return TelegramLinkOutcome.INVALID, None
    if link.expires_at <= timezone.now():
        return TelegramLinkOutcome.INVALID, None
    now = timezone.now()
    link.used_at, link.used_by_chat = now, chat_id
    link.save(update_fields=["used_at", "used_by_chat"])
    user = link.user
    user.telegram_chat_id, user.telegram_bot_id, user.telegram_linked_at = chat_id, bot_id, now
    user.save(update_fields=["telegram_chat_id", "telegram_bot_id", "telegram_linked_at"])
    record(
        "accounts.user.telegram_linked",
        actor=Actor(user=user, label="telegram"),
        organisation=organisation,
        target=user,
        payload={"bot_id": bot_id},
    )
    return TelegramLinkOutcome.LINKED, user


@transaction.atomic
def unlink_telegram(
    user: User, *, by: Actor, organisation: Organisation | None, reason: str = "by_user"
) -> bool:
    """Forget ``user``'s Telegram chat; False when none was linked.

    ``reason`` is "by_user" (the person or an admin asked) or "unreachable" (Telegram said
    the bot may no longer write to them, e.g. they blocked it).
    """
    fresh = User.objects.select_for_update().get(pk=user.pk)
    if fresh.telegram_chat_id is None:
        return False
    fresh.telegram_chat_id = fresh.telegram_bot_id = fresh.telegram_linked_at = None
    fresh.save(update_fields=["telegram_chat_id", "telegram_bot_id", "telegram_linked_at"])
    user.telegram_chat_id = user.telegram_bot_id = user.telegram_linked_at = None
    record(
        "accounts.user.telegram_unlinked",
        actor=by,
        organisation=organisation,
        target=user,
        payload={"reason": reason},
    )
    return True
