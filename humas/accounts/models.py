from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import F, Func, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from humas.accounts.roles import Role, role_has_perm


class TimeZoneChoice(models.TextChoices):
    WIB = "Asia/Jakarta", _("WIB — Western Indonesia Time (UTC+7)")
    WITA = "Asia/Makassar", _("WITA — Central Indonesia Time (UTC+8)")
    WIT = "Asia/Jayapura", _("WIT — Eastern Indonesia Time (UTC+9)")


class LanguageChoice(models.TextChoices):
    INDONESIAN = "id", _("Bahasa Indonesia")
    ENGLISH = "en", _("English")


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An e-mail address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in. What they may do comes from their memberships."""

    email = models.EmailField(_("e-mail address"), unique=True)
    full_name = models.CharField(_("full name"), max_length=150, blank=True)
    language = models.CharField(
        _("language"), max_length=5, choices=LanguageChoice.choices, blank=True
    )
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("staff"), default=False)
    date_joined = models.DateTimeField(_("joined"), default=timezone.now)
    # The private chat with the organisation's alert bot, set only by linking (the person
    # opens the bot with a one-time code), never typed in: a mistyped number would send
    # citizens' emergencies to a stranger. ``telegram_bot_id`` is the bot that was opened;
    # a bot may write only to people who started it.
    telegram_chat_id = models.BigIntegerField(_("Telegram chat"), null=True, blank=True)
    telegram_bot_id = models.BigIntegerField(null=True, blank=True)
    telegram_linked_at = models.DateTimeField(null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class ApprovalSteps(models.IntegerChoices):
    NONE = 0, _("No approval")
    ONE = 1, _("One approver")
    TWO = 2, _("Two steps (e.g. head of public relations, then leadership)")


class Organisation(models.Model):
    """A government institution using humas: a ministry, a province, a city, an agency."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("short name"), max_length=60, unique=True)
    time_zone = models.CharField(
        _("time zone"), max_length=40, choices=TimeZoneChoice.choices, default=TimeZoneChoice.WIB
    )
    default_language = models.CharField(
        _("default language"),
        max_length=5,
        choices=LanguageChoice.choices,
        default=LanguageChoice.INDONESIAN,
    )
    require_2fa = models.BooleanField(_("require two-factor authentication"), default=True)
    approval_steps = models.PositiveSmallIntegerField(
        _("approval before publishing"), choices=ApprovalSteps.choices, default=ApprovalSteps.ONE
    )
    is_demo = models.BooleanField(_("demo organisation"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    #: A new random value whenever something processes keep per organisation changes (its
    #: channels, units, members, active incidents): see :mod:`humas.accounts.orgcache`.
    cache_stamp = models.UUIDField(default=uuid.uuid4, editable=False)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Unit(models.Model):
    """A service unit (dinas, satuan kerja) that receives and works routed cases."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="units")
    name = models.CharField(_("name"), max_length=200)
    code = models.SlugField(_("code"), max_length=40)
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("unit")
        verbose_name_plural = _("units")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "code"], name="unit_code_per_org"),
            models.UniqueConstraint(fields=["organisation", "name"], name="unit_name_per_org"),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's place in one organisation: their role and, for unit agents, their unit."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    unit = models.ForeignKey(
        Unit,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="memberships",
        verbose_name=_("unit"),
    )
    is_active = models.BooleanField(_("active"), default=True)
    # On duty (piket): told at once of emergencies coming into the inbox.
    on_duty = models.BooleanField(_("on duty"), default=False)
    created_at = models.DateTimeField(_("joined"), auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "organisation"], name="one_membership_per_org")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organisation} ({self.role})"

    def has_perm(self, perm: str) -> bool:
        return self.is_active and role_has_perm(self.role, perm)


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def pending(self) -> InvitationQuerySet:
        return self.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )


class Invitation(models.Model):
    """An e-mailed link that lets a person join an organisation with a given role.

    Only a hash of the token is stored, so a database dump cannot be used to join.
    """

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField(_("e-mail address"))
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    unit = models.ForeignKey(
        Unit, on_delete=models.CASCADE, null=True, blank=True, verbose_name=_("unit")
    )
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} → {self.organisation}"

    @classmethod
    def new_token(cls) -> tuple[str, str]:
        token = secrets.token_urlsafe(32)
        return token, _hash_token(token)

    @classmethod
    def find_by_token(cls, token: str) -> Invitation | None:
        return cls.objects.filter(token_hash=_hash_token(token)).first()

    @staticmethod
    def default_expiry() -> Any:
        return timezone.now() + timedelta(days=settings.HUMAS_INVITATION_DAYS)

    @property
    def is_pending(self) -> bool:
        return (
            self.accepted_at is None
            and self.revoked_at is None
            and self.expires_at > timezone.now()
        )


TELEGRAM_CODE_PREFIX = "link_"
TELEGRAM_CODE_MINUTES = 15


class TelegramLinkCode(models.Model):
    """A one-time code linking a person's Telegram chat to their account.

    The code travels in the bot's deep link (``t.me/<bot>?start=<code>``) and comes back as
    ``/start <code>`` from the chat to link; only its hash is stored, like invitations.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="telegram_codes"
    )
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    code_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    # The chat that used it: the same update delivered twice finds its own link again.
    used_by_chat = models.BigIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Telegram code for {self.user}"

    @staticmethod
    def new_code() -> tuple[str, str]:
        # Telegram allows A-Z, a-z, 0-9, "_" and "-" in a start parameter, up to 64 characters.
        code = TELEGRAM_CODE_PREFIX + secrets.token_urlsafe(18)
        return code, _hash_token(code)

    @classmethod
    def find(cls, code: str) -> TelegramLinkCode | None:
        return cls.objects.filter(code_hash=_hash_token(code)).first()

    @staticmethod
    def default_expiry() -> Any:
        return timezone.now() + timedelta(minutes=TELEGRAM_CODE_MINUTES)


class AuditQuerySet(models.QuerySet["AuditEntry"]):
    """Refuses bulk changes: the audit log only grows."""

    def update(self, **kwargs: Any) -> int:
        raise PermissionError("the audit log is append-only")

    def delete(self) -> tuple[int, dict[str, int]]:  # type: ignore[override]
        raise PermissionError("the audit log is append-only")


class AuditEntry(models.Model):
    """One thing that happened, chained to the entry before it by hash.

    ``seq`` numbers entries 1, 2, 3… across the installation; ``entry_hash`` covers every
    field below plus ``prev_hash``, so editing, deleting or reordering any stored row breaks
    the chain. ``humas audit verify`` walks it. Rows are written only by
    :func:`humas.accounts.audit.record`, which every named action calls.
    """

    seq = models.PositiveBigIntegerField(unique=True, editable=False)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Kept beside the foreign key so the entry still says who acted if the name changes.
    actor_label = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=80, db_index=True)
    target_type = models.CharField(max_length=80, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=254, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64, unique=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["-seq"]
        indexes = [models.Index(fields=["organisation", "-seq"], name="audit_org_seq")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("the audit log is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("the audit log is append-only")


class AuditHead(models.Model):
    """The newest entry's number and hash, updated in the same transaction as each entry.

    Locking this single row serialises writers (two entries can never claim the same
    predecessor) and lets ``verify`` notice entries removed from the end of the chain.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField(default=0)
    entry_hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"head #{self.seq}"


class Notification(models.Model):
    """Something a member should see in humas (and usually also got by e-mail)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=60)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title


def unread_notifications() -> Coalesce:
    """The number of unread notifications of a membership's member in its organisation, as
    an annotation on :class:`Membership` rows."""
    unread = (
        Notification.objects.filter(
            user_id=OuterRef("user_id"),
            organisation_id=OuterRef("organisation_id"),
            read_at__isnull=True,
        )
        .order_by()
        .annotate(n=Func(F("pk"), function="COUNT"))
        .values("n")
    )
    return Coalesce(Subquery(unread, output_field=models.IntegerField()), 0)
