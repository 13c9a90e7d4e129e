"""Named actions for channels: connect, test, disconnect, publish, reply, ingest, measure.

Providers talk to networks; these functions decide what humas stores and who is told. Each
change a person asked for writes one audit entry; ingestion (many events a minute) does not,
the events themselves are the record.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from humas.accounts.actions import ActionError, notify_admins
from humas.accounts.audit import Actor, Entry, record, record_many
from humas.accounts.models import Organisation
from humas.channels.models import ChannelAccount, ChannelPost, ChannelStatus, InboundEvent
from humas.channels.providers import provider_class
from humas.channels.providers.base import (
    Connection,
    ErrorKind,
    PostContent,
    Provider,
    ProviderError,
    Published,
)
from humas.channels.providers.base import InboundEvent as EventData
from humas.channels.signals import events_stored
from humas.lib.bulk import insert_rows

logger = logging.getLogger(__name__)

POLL_INTERVAL = timedelta(seconds=60)
MAX_PAGES_PER_POLL = 20


# --- connecting ---------------------------------------------------------------------------


@transaction.atomic
def save_connection(
    org: Organisation, network: str, connection: Connection, *, by: Actor
) -> ChannelAccount:
    """Store a verified connection: a new channel, or new credentials for a known one."""
    account = connection.account
    channel = ChannelAccount.objects.filter(
        organisation=org, network=network, external_id=account.external_id
    ).first()
    created = channel is None
    if channel is None:
        channel = ChannelAccount(organisation=org, network=network, external_id=account.external_id)
    channel.handle = account.handle
    channel.display_name = account.display_name
    channel.avatar_url = account.avatar_url
    channel.config = connection.config
    channel.set_credentials(connection.credentials)
    channel.status = ChannelStatus.ACTIVE
    channel.last_error = channel.last_error_kind = ""
    channel.last_error_at = None
    channel.connected_by = by.user
    channel.next_poll_at = timezone.now() if provider_class(network).capabilities.polling else None
    channel.save()
    record(
        "channels.channel.connected" if created else "channels.channel.reconnected",
        actor=by,
        organisation=org,
        target=channel,
        payload={"network": network, "handle": account.handle, "config": connection.config},
    )
    return channel


def connect_channel(
    org: Organisation, network: str, data: dict[str, Any], *, by: Actor, **provider_kwargs: Any
) -> ChannelAccount:
    """Check ``data`` (the connect form) with the network, then store the channel."""
    connection = provider_class(network).connect(data, **provider_kwargs)
    channel = save_connection(org, network, connection, by=by)
    setup_delivery(channel, **provider_kwargs)
    return channel


def setup_delivery(channel: ChannelAccount, **provider_kwargs: Any) -> None:
    """Tell a push network where to deliver events, or fall back to polling.

    Runs after the connection is saved (outside its transaction): a network that cannot be
    told leaves the channel on polling, with the reason recorded.
    """
    if not channel.provider_class.capabilities.webhooks:
        return
    url = django_settings.SITE_URL + reverse("channels:webhook", args=[channel.webhook_token])
    try:
        updates = channel.provider(**provider_kwargs).setup_delivery(url)
    except ProviderError as exc:
        record_provider_error(channel, exc)
        return
    if updates:
        channel.config = {**channel.config, **updates}
        if updates.get("delivery") == "webhook":
            channel.next_poll_at = None
        channel.save(update_fields=["config", "next_poll_at"])


def test_connection(channel: ChannelAccount, *, by: Actor, **provider_kwargs: Any) -> bool:
    """Ask the network who the credentials belong to; record the outcome either way."""
    provider = channel.provider(**provider_kwargs)
    try:
        info = provider.account_info()
        keep_fresh_credentials(channel, provider)
    except ProviderError as exc:
        record_provider_error(channel, exc)
        with transaction.atomic():
            record(
                "channels.channel.tested",
                actor=by,
                organisation=channel.organisation,
                target=channel,
                payload={"ok": False, "error": exc.message, "kind": exc.kind},
            )
        return False
    with transaction.atomic():
        channel.handle = info.handle or channel.handle
        channel.display_name = info.display_name or channel.display_name
        channel.avatar_url = info.avatar_url or channel.avatar_url
        if channel.status == ChannelStatus.NEEDS_RECONNECTION:
            channel.status = ChannelStatus.ACTIVE
        channel.last_error = channel.last_error_kind = ""
        channel.last_error_at = None
        channel.save()
        record(
            "channels.channel.tested",
            actor=by,
            organisation=channel.organisation,
            target=channel,
            payload={"ok": True},
        )
    return True


@transaction.atomic
def disconnect_channel(channel: ChannelAccount, *, by: Actor) -> None:
    """Destroy the stored credentials and stop all work on the channel; history stays."""
    channel.set_credentials({})
    channel.status = ChannelStatus.DISABLED
    channel.next_poll_at = None
    channel.save()
    record(
        "channels.channel.disconnected",
        actor=by,
        organisation=channel.organisation,
        target=channel,
        payload={"network": channel.network, "handle": channel.handle},
    )


def record_provider_error(channel: ChannelAccount, exc: ProviderError) -> None:
    """Remember the failure on the channel; an ``auth`` failure also asks for reconnection."""
    with transaction.atomic():
        fresh = ChannelAccount.objects.select_for_update().get(pk=channel.pk)
        fresh.last_error = exc.message[:2000]
        fresh.last_error_kind = exc.kind
        fresh.last_error_at = timezone.now()
        newly_broken = exc.kind == ErrorKind.AUTH and fresh.status == ChannelStatus.ACTIVE
        if newly_broken:
            fresh.status = ChannelStatus.NEEDS_RECONNECTION
        fresh.save(update_fields=["last_error", "last_error_kind", "last_error_at", "status"])
        for field in ("last_error", "last_error_kind", "last_error_at", "status"):
            setattr(channel, field, getattr(fresh, field))
        if newly_broken:
            org = channel.organisation
            record(
                "channels.channel.needs_reconnection",
                actor=Actor.system("humas"),
                organisation=org,
                target=channel,
                payload={"error": exc.message},
            )
            with translation.override(org.default_language):
                notify_admins(
                    org,
                    kind="channels.needs_reconnection",
                    title=_("%(channel)s needs to be connected again") % {"channel": str(channel)},
                    body=_(
                        "The network refused humas's access (%(error)s). Nothing is published "
                        "or read on this channel until an administrator connects it again."
                    )
                    % {"error": exc.message},
                    url=reverse("channels:detail", args=[channel.pk]),
                )


def keep_fresh_credentials(channel: ChannelAccount, provider: Provider) -> None:
    """Store credentials the provider renewed while working (Bluesky refreshes its session).

    Without this a worker restart would log in from scratch, and networks limit logins.
    """
    if provider.credentials and provider.credentials != channel.get_credentials():
        channel.set_credentials(dict(provider.credentials))
        ChannelAccount.objects.filter(pk=channel.pk).update(
            credentials_encrypted=channel.credentials_encrypted
        )


def _usable(channel: ChannelAccount) -> None:
    if channel.status != ChannelStatus.ACTIVE:
        raise ActionError(
            _("%(channel)s is not active (%(status)s).")
            % {"channel": str(channel), "status": channel.get_status_display()}
        )


# --- publishing ---------------------------------------------------------------------------


def _send(
    channel: ChannelAccount,
    content: PostContent,
    provider: Provider | None,
    call: Callable[[Provider], Published],
) -> Published:
    """Check ``content`` against the network's limits, then make the call; record failures."""
    _usable(channel)
    provider = provider or channel.provider()
    problems = provider.validate(content)
    if problems:
        raise ActionError(" ".join(problems))
    try:
        published = call(provider)
    except ProviderError as exc:
        record_provider_error(channel, exc)
        raise
    keep_fresh_credentials(channel, provider)
    return published


@dataclass(frozen=True)
class Outcome:
    """One thing a network published, to be stored by :func:`_record_posts`."""

    channel: ChannelAccount
    content: PostContent
    published: Published
    #: When the network answered (recorded as the post's publishing time); now if unset.
    at: datetime | None = None
    in_reply_to: InboundEvent | None = None


def _record_post(
    channel: ChannelAccount,
    content: PostContent,
    published: Published,
    *,
    by: Actor,
    action: str,
    in_reply_to: InboundEvent | None = None,
    also: Callable[[ChannelPost], None] | None = None,
) -> ChannelPost:
    """Store what was published and its audit entry, in one transaction."""
    (post,) = _record_posts(
        [Outcome(channel, content, published, in_reply_to=in_reply_to)],
        by=by,
        action=action,
        also=(lambda posts: also(posts[0])) if also is not None else None,
    )
    return post


def _record_posts(
    outcomes: list[Outcome],
    *,
    by: Actor,
    action: str,
    also: Callable[[list[ChannelPost]], None] | None = None,
) -> list[ChannelPost]:
    """Store what was published and one audit entry for each, in one transaction.

    ``also(posts)`` runs in the same transaction before the audit entries: they lock the
    audit chain's head until commit, so everything else is done first to keep that lock short
    (every publishing thread of every worker waits on it).
    """
    if not outcomes:
        return []
    with transaction.atomic():
        now = timezone.now()
        posts = ChannelPost.objects.bulk_create(
            [
                ChannelPost(
                    organisation=o.channel.organisation,
                    channel=o.channel,
                    external_id=o.published.external_id,
                    part_ids=list(o.published.part_ids),
                    url=o.published.url,
                    text=o.content.text,
                    in_reply_to=o.in_reply_to,
                    published_at=o.at or now,
                    published_by=by.user,
                )
                for o in outcomes
            ]
        )
        if also is not None:
            also(posts)
        record_many(
            [
                Entry(
                    action,
                    actor=by,
                    organisation=o.channel.organisation,
                    target=post,
                    payload={
                        "external_id": o.published.external_id,
                        "url": o.published.url,
                        "parts": len(o.published.part_ids) or 1,
                        **({"event": o.in_reply_to.external_id} if o.in_reply_to else {}),
                        # e.g. bulletin addresses an e-mail server refused after others were sent
                        **({"extra": dict(o.published.extra)} if o.published.extra else {}),
                    },
                )
                for o, post in zip(outcomes, posts, strict=True)
            ]
        )
    return posts


def publish_to_channel(
    channel: ChannelAccount, content: PostContent, *, by: Actor, provider: Provider | None = None
) -> ChannelPost:
    """Publish ``content`` now. ProviderError propagates after being recorded on the channel."""
    published = _send(channel, content, provider, lambda p: p.publish(content))
    return _record_post(channel, content, published, by=by, action="channels.post.published")


def delete_post(post: ChannelPost, *, by: Actor, provider: Provider | None = None) -> None:
    channel = post.channel
    _usable(channel)
    provider = provider or channel.provider()
    try:
        # Last part first, so a thread never stands without its beginning.
        for external_id in reversed(post.part_ids or [post.external_id]):
            provider.delete(external_id)
    except ProviderError as exc:
        record_provider_error(channel, exc)
        raise
    with transaction.atomic():
        post.deleted_at = timezone.now()
        post.save(update_fields=["deleted_at"])
        record("channels.post.deleted", actor=by, organisation=channel.organisation, target=post)


def _as_data(event: InboundEvent) -> EventData:
    return EventData(
        kind=event.kind,  # type: ignore[arg-type]
        external_id=event.external_id,
        created_at=event.created_at,
        author_id=event.author_id,
        author_handle=event.author_handle,
        author_name=event.author_name,
        text=event.text,
        thread_id=event.thread_id,
        parent_id=event.parent_id,
        permalink=event.permalink,
        language=event.language,
        media=event.media,
        raw=event.raw,
    )


def reply_to_event(
    event: InboundEvent, content: PostContent, *, by: Actor, provider: Provider | None = None
) -> ChannelPost:
    """Answer a citizen in the event's own thread (or privately, for a direct message)."""
    channel = event.channel
    published = _send(channel, content, provider, lambda p: p.reply(_as_data(event), content))
    return _record_post(
        channel, content, published, by=by, action="channels.event.replied", in_reply_to=event
    )


# --- hearing ------------------------------------------------------------------------------


def store_events(channel: ChannelAccount, events: Iterable[EventData]) -> list[InboundEvent]:
    """Store events not seen before on this channel; return the new ones.

    Safe to call with the same events again (a redelivered webhook, an overlapping poll):
    the unique (channel, external_id) constraint and the lookup below keep one row each.
    """
    unique: dict[str, EventData] = {}
    for event in events:
        unique.setdefault(event.external_id, event)
    if not unique:
        return []
    known = set(
        InboundEvent.objects.filter(channel=channel, external_id__in=list(unique)).values_list(
            "external_id", flat=True
        )
    )
    fresh = [e for key, e in unique.items() if key not in known]
    if not fresh:
        return []
    for event in fresh:
        _keep_attachments(channel, event)
    written = insert_rows(
        [
            InboundEvent(
                organisation_id=channel.organisation_id,
                channel=channel,
                kind=str(e.kind),
                external_id=e.external_id[:500],
                thread_id=e.thread_id[:500],
                parent_id=e.parent_id[:500],
                author_id=e.author_id[:255],
                author_handle=e.author_handle[:255],
                author_name=e.author_name[:255],
                text=e.text,
                media=e.media,
                language=e.language[:20],
                permalink=e.permalink[:1000],
                created_at=e.created_at,
                raw=e.raw,
            )
            for e in fresh
        ],
        # Two deliveries racing each other: the loser's rows are dropped, not an error.
        ignore_conflicts=True,
    )
    # PostgreSQL says which rows it wrote; elsewhere they are read back.
    stored = (
        written
        if written is not None
        else list(
            InboundEvent.objects.filter(
                channel=channel, external_id__in=[e.external_id for e in fresh]
            )
        )
    )
    if stored:
        events_stored.send(sender=ChannelAccount, channel=channel, events=stored)
    return stored


MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024


def _keep_attachments(channel: ChannelAccount, event: EventData) -> None:
    """Store an event's files and note where, in the matching ``media`` entries.

    Paths are named after the content's hash, so a page fetched again after a failed
    transaction reuses the file it already wrote instead of adding a copy. Files are kept in
    the default storage, which humas never serves publicly: they may hold personal data.
    """
    for index, attachment in enumerate(event.attachments):
        entry = event.media[index] if index < len(event.media) else {}
        if len(attachment.data) > MAX_ATTACHMENT_BYTES:
            entry["skipped"] = "too large"
            continue
        digest = hashlib.sha256(attachment.data).hexdigest()
        name = get_valid_filename(attachment.filename) or "attachment"
        path = f"inbound/{channel.organisation_id}/{channel.pk}/{digest[:32]}/{name}"
        if not default_storage.exists(path):
            path = default_storage.save(path, ContentFile(attachment.data))
        entry.update({"path": path, "sha256": digest, "size": len(attachment.data)})
        if index >= len(event.media):
            event.media.append({"filename": name, "mime_type": attachment.mime_type, **entry})


def poll_channel(channel: ChannelAccount, *, provider: Provider | None = None) -> int:
    """Fetch new inbound events page by page; return how many were new.

    The cursor is saved in the same transaction as the events of its page, so a failure
    while storing leaves the cursor where it was and the page is fetched again next time.
    """
    if channel.status != ChannelStatus.ACTIVE:
        return 0
    provider = provider or channel.provider()
    stored = 0
    cursor = channel.inbound_cursor
    try:
        for _page in range(MAX_PAGES_PER_POLL):
            events, next_cursor = provider.fetch_inbound(cursor)
            with transaction.atomic():
                stored += len(store_events(channel, events))
                ChannelAccount.objects.filter(pk=channel.pk).update(
                    inbound_cursor=next_cursor, last_sync_at=timezone.now()
                )
            channel.inbound_cursor = next_cursor
            # Stop when the cursor stops moving, not when a page is empty: a page of skipped
            # items (bounces, the agency's own posts) still moves it forward.
            if next_cursor == cursor:
                break
            cursor = next_cursor
    except ProviderError as exc:
        record_provider_error(channel, exc)
        raise
    finally:
        keep_fresh_credentials(channel, provider)
    if channel.last_error_kind and channel.last_error_kind != ErrorKind.AUTH:
        ChannelAccount.objects.filter(pk=channel.pk).update(
            last_error="", last_error_kind="", last_error_at=None
        )
    return stored


def sync_metrics(
    channel: ChannelAccount, *, provider: Provider | None = None, limit: int = 100
) -> int:
    """Refresh the counts of the channel's recent posts; return how many were updated."""
    if (
        channel.status != ChannelStatus.ACTIVE
        or not channel.provider_class.capabilities.post_metrics
    ):
        return 0
    provider = provider or channel.provider()
    posts = list(channel.posts.filter(deleted_at__isnull=True).order_by("-published_at")[:limit])
    if not posts:
        return 0
    try:
        metrics = provider.fetch_post_metrics([p.external_id for p in posts])
    except ProviderError as exc:
        record_provider_error(channel, exc)
        raise
    finally:
        keep_fresh_credentials(channel, provider)
    now = timezone.now()
    updated = 0
    for post in posts:
        found = metrics.get(post.external_id)
        if found is None:
            continue
        post.metrics = {
            "likes": found.likes,
            "reposts": found.reposts,
            "replies": found.replies,
            "quotes": found.quotes,
            "views": found.views,
        }
        post.metrics_at = now
        updated += 1
    ChannelPost.objects.bulk_update(posts, ["metrics", "metrics_at"])
    return updated
