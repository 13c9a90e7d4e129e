"""Sending deliveries exactly once.

``humas worker`` runs :func:`deliver_due` in several threads (``HUMAS_DELIVERY_THREADS``).
Each round claims due deliveries with a lease and sends them one by one. What makes a
delivery go out once, whatever happens:

1. **Claiming** (``humas.lib.leases.claim``): two workers never hold one delivery at once.
2. **Starting** (:func:`_start`): in one transaction that locks the post row, the worker
   checks that the post still has the version the delivery was made for and is still meant
   to go out, then marks the delivery SENDING. Edits and cancellations lock the same row and
   refuse while a delivery is SENDING, so the post cannot change under a send.
3. **Sending** carries the delivery's key (``options["idempotency_key"]``). A delivery found
   SENDING by a later claim means an earlier worker died (or lost its database) mid-send, and
   nobody knows whether the network took the post. Then:
   - a network that can look a post up by key (Bluesky: the key is the record key) is asked,
     and a post found there is recorded instead of sent again;
   - a network that remembers keys (Mastodon's Idempotency-Key) is simply sent the same
     request again and answers with the post it already made;
   - any other network cannot be repeated safely: the delivery becomes UNCERTAIN and a
     person checks the channel ("it is there" / "send it again").
4. **Recording** the outcome happens under the lease (``release`` matches ``claimed_by``); a
   worker that lost its lease rolls back its record and leaves the outcome to the holder.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from humas.accounts.actions import ActionError, notify
from humas.accounts.audit import Actor
from humas.channels.actions import _record_post, _send
from humas.channels.models import ChannelPost, ChannelStatus
from humas.channels.providers.base import ErrorKind, PostContent, Provider, ProviderError, Published
from humas.lib.leases import claim, release
from humas.ops.jobs import register_drain
from humas.publishing.actions import finish_post_if_done
from humas.publishing.compose import Draft, content_for, media_for, tracked_link
from humas.publishing.models import Delivery, DeliveryStatus, Post, PostStatus

logger = logging.getLogger(__name__)

#: A worker that dies frees its deliveries after this. A send that outlasts it (a large video
#: on a slow line) is safe too: the worker taking over treats it as "earlier attempt unsure"
#: (step 3 above), and the slow worker's own record is refused when it loses the lease.
LEASE = timedelta(seconds=20)
MAX_ATTEMPTS = 6
BASE_BACKOFF = 30.0
MAX_BACKOFF = 3600.0
PER_ROUND = 5

SENDER = Actor.system("humas worker")


def _threads() -> int:
    return int(getattr(settings, "HUMAS_DELIVERY_THREADS", 4))


class _LostLease(Exception):
    """Another worker took the delivery over; what this one did is not recorded."""


@register_drain("publishing.deliver", threads=_threads, idle_seconds=1.0)
def deliver_due(worker_id: str, limit: int = PER_ROUND) -> int:
    """Claim up to ``limit`` due deliveries and send each; return how many were handled."""
    due = Delivery.objects.filter(
        status__in=(DeliveryStatus.PENDING, DeliveryStatus.SENDING),
        channel__status=ChannelStatus.ACTIVE,
    )
    claimed = [
        d.pk for d in claim(due, worker_id=worker_id, lease=LEASE, limit=limit, due_field="due_at")
    ]
    # One read for what each send needs (its channel and organisation, its variant), instead of
    # a handful of lazy loads per delivery: at thousands a minute the ORM's time is the cost.
    rows = Delivery.objects.select_related("channel__organisation", "variant").in_bulk(claimed)
    handled = 0
    for delivery in (rows[pk] for pk in claimed if pk in rows):
        delivery.variant.channel = delivery.channel
        try:
            deliver(delivery, worker_id)
        except _LostLease:
            logger.warning("delivery %s: lease lost to another worker", delivery.pk)
        except DatabaseError:
            raise  # the connection is gone: the drain thread reconnects; leases bring rows back
        except Exception:
            # A bug or an unforeseen answer: the rest of the round still goes out, and this
            # one is tried again later (an attempt that reached the network is then treated
            # as unsure, see the module docstring).
            logger.exception("delivery %s failed unexpectedly", delivery.pk)
            wait = timedelta(seconds=_backoff(max(1, delivery.attempts)))
            release(delivery, worker_id, due_at=timezone.now() + wait)
        handled += 1
    return handled


def _start(delivery: Delivery, worker_id: str) -> tuple[Post, bool] | None:
    """Mark the delivery SENDING if it should still go out; (post, earlier attempt unsure)."""
    with transaction.atomic():
        post = (
            Post.objects.select_for_update().select_related("organisation").get(pk=delivery.post_id)
        )
        fresh = Delivery.objects.select_for_update().get(pk=delivery.pk)
        if fresh.claimed_by != worker_id:
            raise _LostLease
        stale = fresh.post_version != post.version or post.status not in (
            PostStatus.SCHEDULED,
            PostStatus.PUBLISHING,
            PostStatus.FAILED,
        )
        if stale or fresh.status not in (DeliveryStatus.PENDING, DeliveryStatus.SENDING):
            # Edited, cancelled or sent back for approval after this delivery was made:
            # it must not go out in that old form.
            release(
                fresh,
                worker_id,
                status=DeliveryStatus.CANCELLED
                if stale and fresh.status != DeliveryStatus.SENDING
                else fresh.status,
            )
            return None
        unsure = fresh.status == DeliveryStatus.SENDING
        if unsure and fresh.attempts >= MAX_ATTEMPTS:
            # Every attempt so far ended without an outcome (the worker died or failed while
            # recording): stop trying and let a person look.
            release(
                fresh,
                worker_id,
                status=DeliveryStatus.UNCERTAIN,
                last_error=_(
                    "humas tried %(n)d times without being able to record the outcome. Look at "
                    "the channel: if the post is there, mark it as published; if not, send it "
                    "again."
                )
                % {"n": fresh.attempts},
                last_error_kind="uncertain",
            )
            finish_post_if_done(post)
            return None
        fresh.status = DeliveryStatus.SENDING
        fresh.attempts += 1
        fresh.save(update_fields=["status", "attempts"])
        if post.status == PostStatus.SCHEDULED:
            post.status = PostStatus.PUBLISHING
            post.save(update_fields=["status"])
        delivery.status, delivery.attempts = fresh.status, fresh.attempts
        return post, unsure


def _content(delivery: Delivery, post: Post) -> PostContent:
    variant = delivery.variant
    assets = [pm.asset for pm in post.attachments.select_related("asset")]
    draft = Draft.of(variant)
    return content_for(
        draft,
        media=[media_for(a, with_data=True) for a in assets] if variant.with_media else [],
        link=tracked_link(post.link, post.campaign, delivery.channel.network),
        key=delivery.key,
    )


def deliver(delivery: Delivery, worker_id: str, provider: Provider | None = None) -> None:
    started = _start(delivery, worker_id)
    if started is None:
        return
    post, unsure = started
    channel = delivery.channel
    provider = provider or channel.provider()
    content = _content(delivery, post)
    published: Published | None = None
    try:
        if unsure:
            caps = provider.capabilities
            if caps.find_by_key:
                published = provider.find_published(delivery.key)
            elif not caps.idempotent_publish:
                _finish(
                    delivery,
                    post,
                    worker_id,
                    status=DeliveryStatus.UNCERTAIN,
                    error=_(
                        "humas stopped while sending this post and %(network)s cannot say "
                        "whether it arrived. Look at the channel: if the post is there, mark it "
                        "as published; if not, send it again."
                    )
                    % {"network": provider.label},
                    kind="uncertain",
                )
                return
        if published is None:
            published = _send(channel, content, provider, lambda p: p.publish(content))
    except ProviderError as exc:
        _failed(delivery, post, worker_id, exc)
        return
    except ActionError as exc:
        # The channel was disconnected or the content no longer fits the network's limits.
        _finish(
            delivery,
            post,
            worker_id,
            status=DeliveryStatus.FAILED,
            error=str(exc),
            kind="permanent",
        )
        return
    if delivery.variant.first_comment and provider.capabilities.threads:
        _first_comment(provider, published, delivery.variant.first_comment)

    def settle(channel_post: ChannelPost) -> None:
        if not release(
            delivery,
            worker_id,
            status=DeliveryStatus.PUBLISHED,
            channel_post=channel_post,
            published_at=channel_post.published_at,
            last_error="",
            last_error_kind="",
        ):
            raise _LostLease  # rolls back the ChannelPost too: the new holder records it
        finish_post_if_done(post)

    _record_post(
        channel,
        content,
        published,
        by=SENDER,
        action="publishing.delivery.published",
        also=settle,
    )


def _first_comment(provider: Provider, published: Published, text: str) -> None:
    """Post the first comment under the new post; failing here does not fail the delivery."""
    from humas.channels.providers.base import EventKind, InboundEvent

    parent = InboundEvent(
        kind=EventKind.COMMENT,
        external_id=published.part_ids[-1] if published.part_ids else published.external_id,
        created_at=timezone.now(),
        raw={"cid": published.extra.get("cid", "")},
    )
    try:
        provider.reply(parent, PostContent(text=text))
    except ProviderError as exc:
        logger.warning("first comment under %s failed: %s", published.external_id, exc)


def _backoff(attempts: int) -> float:
    # Exponential with full jitter, so deliveries failing together do not retry together.
    return random.uniform(  # noqa: S311 (timing jitter, not a secret)
        BASE_BACKOFF / 2, min(MAX_BACKOFF, BASE_BACKOFF * 2 ** (attempts - 1))
    )


def _failed(delivery: Delivery, post: Post, worker_id: str, exc: ProviderError) -> None:
    if exc.kind == ErrorKind.AUTH:
        # The channel now needs reconnection (recorded by _send, admins told); its deliveries
        # wait, unclaimed, until it is connected again.
        _finish(
            delivery,
            post,
            worker_id,
            status=DeliveryStatus.PENDING,
            error=exc.message,
            kind=exc.kind,
            due_at=timezone.now(),
        )
        return
    retryable = exc.kind in (ErrorKind.TRANSIENT, ErrorKind.RATE_LIMITED)
    if retryable and delivery.attempts < MAX_ATTEMPTS:
        wait = (
            exc.retry_after
            if exc.kind == ErrorKind.RATE_LIMITED and exc.retry_after
            else _backoff(delivery.attempts)
        )
        _finish(
            delivery,
            post,
            worker_id,
            status=DeliveryStatus.PENDING,
            error=exc.message,
            kind=exc.kind,
            due_at=timezone.now() + timedelta(seconds=wait),
        )
        return
    _finish(
        delivery, post, worker_id, status=DeliveryStatus.FAILED, error=exc.message, kind=exc.kind
    )


def _finish(
    delivery: Delivery,
    post: Post,
    worker_id: str,
    *,
    status: str,
    error: str,
    kind: str,
    due_at: object = None,
) -> None:
    changes: dict[str, object] = {
        "status": status,
        "last_error": error[:4000],
        "last_error_kind": kind,
    }
    if due_at is not None:
        changes["due_at"] = due_at
    with transaction.atomic():
        if not release(delivery, worker_id, **changes):
            raise _LostLease
        finish_post_if_done(post)
        if status in (DeliveryStatus.FAILED, DeliveryStatus.UNCERTAIN):
            # The author must act (edit, retry, or check the channel): in humas and by e-mail,
            # in the organisation's language (a worker has no request to take it from).
            org = post.organisation
            with translation.override(org.default_language):
                title = _("“%(title)s” did not go out on %(channel)s") % {
                    "title": post.title,
                    "channel": str(delivery.channel),
                }
            notify(
                org,
                [post.author],
                kind="publishing.delivery_failed",
                title=title,
                body=error,
                url=reverse("publishing:post", args=[post.pk]),
                email=True,
            )
