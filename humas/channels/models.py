from __future__ import annotations

import json
import secrets
import threading
from collections import OrderedDict
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _

from humas.accounts import orgcache
from humas.accounts.models import Organisation
from humas.lib import crypto
from humas.lib.leases import Leased

PROVIDER_CACHE_SIZE = 64
_providers = threading.local()


class ChannelStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    NEEDS_RECONNECTION = "needs_reconnection", _("Needs reconnection")
    DISABLED = "disabled", _("Disabled")


def _webhook_token() -> str:
    return secrets.token_urlsafe(24)


class ChannelAccount(Leased):
    """One connected account on one network (an agency's Bluesky account, Telegram bot…).

    Credentials are stored encrypted with the installation's Fernet keys and only ever
    decrypted to hand them to the provider. The lease fields are used by the inbound poll.
    """

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="channels"
    )
    network = models.CharField(_("network"), max_length=30)
    external_id = models.CharField(max_length=255)
    handle = models.CharField(_("handle"), max_length=255)
    display_name = models.CharField(_("name"), max_length=255, blank=True)
    avatar_url = models.URLField(max_length=1000, blank=True)
    credentials_encrypted = models.TextField(blank=True)
    config = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=30, choices=ChannelStatus.choices, default=ChannelStatus.ACTIVE
    )
    # The part of the webhook address that names this channel; unguessable, not a secret on
    # its own (the provider also checks the network's signature or secret token).
    webhook_token = models.CharField(max_length=64, unique=True, default=_webhook_token)
    inbound_cursor = models.TextField(blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_kind = models.CharField(max_length=20, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The bot that writes the organisation's alerts privately to members who linked their
    # Telegram (humas.channels.alerts). One per organisation, Telegram only: both enforced by
    # the database, so two admins choosing at once cannot end with two.
    sends_alerts = models.BooleanField(_("sends alerts to members"), default=False)

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")
        ordering = ["network", "handle"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "network", "external_id"], name="one_channel_per_account"
            ),
            models.UniqueConstraint(
                fields=["organisation"],
                condition=models.Q(sends_alerts=True),
                name="one_alert_bot_per_org",
            ),
            models.CheckConstraint(
                condition=models.Q(sends_alerts=False) | models.Q(network="telegram"),
                name="alert_bot_is_telegram",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_name or self.handle} ({self.network})"

    def get_credentials(self) -> dict[str, Any]:
        if not self.credentials_encrypted:
            return {}
        # Decrypted once per stored value (providers and the "renewed?" check both ask).
        cached = self.__dict__.get("_credentials_cache")
        if cached is not None and cached[0] == self.credentials_encrypted:
            return dict(cached[1])
        value = crypto.decrypt_json(self.credentials_encrypted)
        self.__dict__["_credentials_cache"] = (self.credentials_encrypted, value)
        return dict(value)

    def set_credentials(self, credentials: dict[str, Any]) -> None:
        self.credentials_encrypted = crypto.encrypt_json(credentials) if credentials else ""

    @property
    def provider_class(self) -> Any:
        from humas.channels.providers import provider_class

        return provider_class(self.network)

    def provider(self, **kwargs: Any) -> Any:
        """A provider for this channel, reused within the thread while nothing changed.

        Building one costs a session (Bluesky logs in from a stored session string) and an
        HTTP client; a worker publishing many posts to one channel builds it once. Per thread,
        because SDK sessions are not meant to be shared between threads; keyed by the stored
        credentials and config, so a reconnection or a renewed token builds a fresh one.
        Extra arguments (a test's transport) always get a new, uncached provider.
        """
        if kwargs:
            return self.provider_class.for_channel(self, **kwargs)
        key = (
            self.pk,
            self.network,
            self.credentials_encrypted,
            json.dumps(self.config, sort_keys=True),
        )
        cache: OrderedDict[tuple[Any, ...], Any] = (
            getattr(_providers, "cache", None) or OrderedDict()
        )
        _providers.cache = cache
        found = cache.get(key)
        if found is None or type(found) is not self.provider_class:
            found = self.provider_class.for_channel(self)
            cache[key] = found
            while len(cache) > PROVIDER_CACHE_SIZE:
                cache.popitem(last=False)
        cache.move_to_end(key)
        return found

    @property
    def network_label(self) -> str:
        try:
            return str(self.provider_class.label)
        except (KeyError, ImportError):
            return self.network


#: What the menus listing an organisation's channels show (humas.accounts.orgcache).
MENU_FIELDS = {"display_name", "handle", "network", "organisation"}


@receiver(post_save, sender=ChannelAccount)
def _channel_saved(
    sender: type, instance: ChannelAccount, update_fields: Any = None, **kwargs: Any
) -> None:
    # Cursors, health and credentials are saved all the time; only a change the menus show
    # gives the organisation a new cache stamp.
    if orgcache.touches(update_fields, MENU_FIELDS):
        orgcache.changed([instance.organisation_id])


@receiver(post_delete, sender=ChannelAccount)
def _channel_deleted(sender: type, instance: ChannelAccount, **kwargs: Any) -> None:
    orgcache.changed([instance.organisation_id])


class InboundEvent(models.Model):
    """A citizen's message, comment, mention or reaction, stored once per channel."""

    # Both lead an index of their own below (event_org_time, event_once_per_channel): indexes
    # on the columns alone would only slow every insert.
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    channel = models.ForeignKey(
        ChannelAccount, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    kind = models.CharField(_("kind"), max_length=20)
    external_id = models.CharField(max_length=500)
    thread_id = models.CharField(max_length=500, blank=True)
    parent_id = models.CharField(max_length=500, blank=True)
    author_id = models.CharField(max_length=255, blank=True)
    author_handle = models.CharField(_("author"), max_length=255, blank=True)
    author_name = models.CharField(max_length=255, blank=True)
    text = models.TextField(_("text"), blank=True)
    media = models.JSONField(default=list, blank=True)
    language = models.CharField(max_length=20, blank=True)
    permalink = models.URLField(max_length=1000, blank=True)
    created_at = models.DateTimeField(_("written"))
    received_at = models.DateTimeField(auto_now_add=True)
    raw = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("inbound event")
        verbose_name_plural = _("inbound events")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"], name="event_once_per_channel"
            )
        ]
        indexes = [models.Index(fields=["organisation", "-created_at"], name="event_org_time")]

    def __str__(self) -> str:
        return f"{self.kind} from {self.author_handle}"


class ChannelPost(models.Model):
    """Something humas published through a channel (a post, a thread, a reply)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="posts")
    external_id = models.CharField(max_length=500)
    # Every message of a thread or album, first to last (deleting removes them all).
    part_ids = models.JSONField(default=list, blank=True)
    url = models.URLField(max_length=1000, blank=True)
    text = models.TextField(blank=True)
    in_reply_to = models.ForeignKey(
        InboundEvent, on_delete=models.SET_NULL, null=True, blank=True, related_name="replies"
    )
    published_at = models.DateTimeField()
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Latest counts from the network; analytics keeps the history as snapshots.
    metrics = models.JSONField(default=dict, blank=True)
    metrics_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("published post")
        verbose_name_plural = _("published posts")
        ordering = ["-published_at"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], name="post_once_per_channel")
        ]
        indexes = [
            # Dashboards, reports, goals and the audit read one organisation's posts of a
            # period.
            models.Index(fields=["organisation", "published_at"], name="post_published"),
        ]

    def __str__(self) -> str:
        return self.url or self.external_id
