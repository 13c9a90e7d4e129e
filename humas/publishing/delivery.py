"""Sending deliveries exactly once.

``humas worker`` runs :func:`deliver_due` in several threads (``HUMAS_DELIVERY_THREADS``).
Each round claims a batch of due deliveries with a lease, sends them one by one and records
the outcomes together. What makes a delivery go out once, whatever happens:

1. **Claiming** (``humas.lib.leases.claim``): two workers never hold one delivery at once.
2. **Starting** (:func:`_start_many`): in one transaction that locks the posts' rows, the
   worker checks that each post still has the version its delivery was made for and is still
   meant to go out, then marks the deliveries SENDING. Edits and cancellations lock the same
   row and refuse while a delivery is SENDING, so a post cannot change under a send.
3. **Sending** carries the delivery's key (``options["idempotency_key"]``). A delivery found
   SENDING by a later claim means an earlier worker died (or lost its database) mid-send, and
   nobody knows whether the network took the post. Then:
   - a network that can look a post up by key (Bluesky: the key is the record key) is asked,
     and a post found there is recorded instead of sent again;
   - a network that remembers keys (Mastodon's Idempotency-Key) is simply sent the same
     request again and answers with the post it already made;
   - any other network cannot be repeated safely: the delivery becomes UNCERTAIN and a
     person checks the channel ("it is there" / "send it again").
4. **Recording** the outcome happens under the lease (only deliveries the worker still holds
   are recorded); a worker that lost its lease leaves the outcome to the new holder.

Batches are what make thousands of deliveries a minute possible: one claim, one start
transaction, one read of the posts' media and one recording transaction (with one lock of the
audit chain's head) per batch instead of per delivery. The price is a longer window between
the network's answer and its record, which step 3 covers for networks that can look a post up
or remember keys. Deliveries to any other network are recorded as soon as each is sent, so a
crash leaves at most one of them for a person to check, as before.
"""

from __future__ import annotations

import logging
import random
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from humas.accounts.actions import ActionError, notify
from humas.accounts.audit import Actor
from humas.channels.actions import (
    Outcome,
    _record_posts,
    _usable,
    keep_fresh_credentials,
    record_provider_error,
)
from humas.channels.models import ChannelPost, ChannelStatus
from humas.channels.providers.base import ErrorKind, PostContent, Provider, ProviderError, Published
from humas.lib.leases import claim, release
from humas.ops.jobs import register_drain
from humas.publishing.actions import finish_post_if_done, finish_posts_if_done
from humas.publishing.compose import Draft, content_for, media_for, tracked_link
from humas.publishing.models import (
    Delivery,
    DeliveryStatus,
    MediaAsset,
    Post,
    PostMedia,
    PostStatus,
    PublishingPause,
)

logger = logging.getLogger(__name__)

#: A worker that dies frees its deliveries after this. A live worker keeps the leases of the
#: batches in hand (:func:`keep_leases`, every 2 s), however slow the network, so the lease can
#: be short and a killed worker's deliveries go out again within seconds. Should a send still
#: outlast its lease (the keeper could not reach the database), the worker taking over treats
#: it as "earlier attempt unsure" (step 3 above), and the slow worker's own record is refused.
LEASE = timedelta(seconds=6)
MAX_ATTEMPTS = 6
BASE_BACKOFF = 30.0
MAX_BACKOFF = 3600.0

SENDER = Actor.system("humas worker")


def _threads() -> int:
    return int(getattr(settings, "HUMAS_DELIVERY_THREADS", 4))


def _batch() -> int:
    """Deliveries claimed, started and recorded together (see the module docstring)."""
    return max(1, int(getattr(settings, "HUMAS_DELIVERY_BATCH", 20)))


class _LostLease(Exception):
    """Another worker took the delivery over; what this one did is not recorded."""


def keep_leases(worker_ids: list[str]) -> None:
    """Extend the leases of the deliveries these drain threads hold (see ``LEASE``)."""
    Delivery.objects.filter(claimed_by__in=worker_ids, claimed_until__isnull=False).update(
        claimed_until=timezone.now() + LEASE
    )


@register_drain("publishing.deliver", threads=_threads, idle_seconds=1.0, keep=keep_leases)
def deliver_due(worker_id: str, limit: int | None = None) -> int:
    """Claim up to ``limit`` (``HUMAS_DELIVERY_BATCH``) due deliveries and send them; return
    how many were handled."""
    due = Delivery.objects.filter(
        status__in=(DeliveryStatus.PENDING, DeliveryStatus.SENDING),
        channel__status=ChannelStatus.ACTIVE,
        urgent=False,
    )
    # The claim reads what each send needs (its channel and organisation, its variant) in one
    # query, instead of a handful of lazy loads per delivery: at thousands a minute the ORM's
    # time is the cost.
    batch = claim(
        due,
        worker_id=worker_id,
        lease=LEASE,
        limit=limit or _batch(),
        due_field="due_at",
        related=("channel__organisation", "variant"),
    )
    if not batch:
        return 0
    for lost in deliver_many(batch, worker_id):
        logger.warning("delivery %s: lease lost to another worker", lost.pk)
    return len(batch)


def _urgent_threads() -> int:
    # One polling thread; each round sends everything it claimed side by side.
    return 1


@register_drain(
    "publishing.deliver_urgent", threads=_urgent_threads, idle_seconds=0.2, keep=keep_leases
)
def deliver_urgent(worker_id: str, limit: int | None = None) -> int:
    """Emergency broadcasts: claim every due urgent delivery (up to ``HUMAS_URGENT_PARALLEL``)
    and send them all at once, each in its own thread, recording each as it finishes.

    They have their own index, workers and polling (five times a second), so a broadcast
    never waits behind the ordinary queue however long it is, and eight channels take as
    long as the slowest of them, not their sum.
    """
    due = Delivery.objects.filter(
        status__in=(DeliveryStatus.PENDING, DeliveryStatus.SENDING),
        channel__status=ChannelStatus.ACTIVE,
        urgent=True,
    )
    batch = claim(
        due,
        worker_id=worker_id,
        lease=LEASE,
        limit=limit or int(getattr(settings, "HUMAS_URGENT_PARALLEL", 32)),
        due_field="due_at",
        related=("channel__organisation", "variant"),
    )
    if not batch:
        return 0
    for lost in deliver_side_by_side(batch, worker_id):
        logger.warning("urgent delivery %s: lease lost to another worker", lost.pk)
    return len(batch)


def deliver_side_by_side(
    deliveries: list[Delivery],
    worker_id: str,
    providers: dict[int, Provider] | None = None,
) -> list[Delivery]:
    """Like :func:`deliver_many`, but the network calls run side by side, one thread each.

    Started together (one transaction); only the network calls run in the threads (no
    database there, so SQLite's single writer and per-thread connections do not matter);
    each outcome is recorded here as soon as its network answers, so the broadcast page
    shows each channel the moment it is done.
    """
    providers = dict(providers or {})
    for delivery in deliveries:
        delivery.variant.channel = delivery.channel
    started, lost = _start_many(deliveries, worker_id)
    if not started:
        return lost
    assets = _assets([post for _, post, _ in started])
    calls: list[tuple[Delivery, Post, Provider, _Call]] = []
    for delivery, post, unsure in started:
        try:
            provider = providers.get(delivery.channel_id) or providers.setdefault(
                delivery.channel_id, delivery.channel.provider()
            )
            call = _prepare(delivery, post, unsure, worker_id, provider, assets)
        except _LostLease:
            lost.append(delivery)
            continue
        except DatabaseError:
            raise
        except Exception:
            _retry_later(delivery, worker_id)
            continue
        if call is not None:
            calls.append((delivery, post, provider, call))
    if not calls:
        return lost
    with ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix="humas-urgent") as pool:
        futures = {
            pool.submit(_network, delivery, call, provider): (delivery, post, provider, call)
            for delivery, post, provider, call in calls
        }
        for future in as_completed(futures):
            delivery, post, provider, call = futures[future]
            try:
                sent = _conclude(delivery, post, worker_id, provider, call, future.result())
                if sent is not None:
                    lost += _record([sent], worker_id)
            except _LostLease:
                lost.append(delivery)
            except DatabaseError:
                raise
            except Exception:
                _retry_later(delivery, worker_id)
    return lost


def _retry_later(delivery: Delivery, worker_id: str) -> None:
    # A bug or an unforeseen answer: the rest still goes out, and this one is tried again
    # later (an attempt that reached the network is then treated as unsure, see above).
    logger.exception("delivery %s failed unexpectedly", delivery.pk)
    wait = timedelta(seconds=_backoff(max(1, delivery.attempts)))
    release(delivery, worker_id, due_at=timezone.now() + wait)


def _attempt(
    delivery: Delivery,
    post: Post,
    unsure: bool,
    worker_id: str,
    providers: dict[int, Provider],
    assets: dict[int, list[MediaAsset]],
) -> _Sent | Delivery | None:
    """Send one started delivery: what was sent (to record), the delivery itself if another
    worker took it over, or None when its outcome is already recorded."""
    channel = delivery.channel
    try:
        provider = providers.get(channel.pk) or providers.setdefault(channel.pk, channel.provider())
        return _send_one(delivery, post, unsure, worker_id, provider, assets)
    except _LostLease:
        return delivery
    except DatabaseError:
        raise  # the connection is gone: the drain thread reconnects; leases bring rows back
    except Exception:
        _retry_later(delivery, worker_id)
        return None


def deliver(delivery: Delivery, worker_id: str, provider: Provider | None = None) -> None:
    """Send one delivery held by ``worker_id``; raise ``_LostLease`` if another worker took it."""
    providers = {delivery.channel_id: provider} if provider is not None else {}
    if deliver_many([delivery], worker_id, providers):
        raise _LostLease


@dataclass
class _Sent:
    delivery: Delivery
    post: Post
    outcome: Outcome


def deliver_many(
    deliveries: list[Delivery],
    worker_id: str,
    providers: dict[int, Provider] | None = None,
) -> list[Delivery]:
    """Send ``deliveries`` (held by ``worker_id``); return those lost to another worker."""
    providers = dict(providers or {})
    for delivery in deliveries:
        delivery.variant.channel = delivery.channel
    started, lost = _start_many(deliveries, worker_id)
    assets = _assets([post for _, post, _ in started])
    pending: list[_Sent] = []  # sent, recorded together at the end of the batch
    renewed_at = time.monotonic()
    for delivery, post, unsure in started:
        if time.monotonic() - renewed_at > LEASE.total_seconds() / 2:
            # A slow network and no keeper thread (``humas worker --once``): keep the rest of
            # the batch (and what was sent) from lapsing.
            keep_leases([worker_id])
            renewed_at = time.monotonic()
        outcome = _attempt(delivery, post, unsure, worker_id, providers, assets)
        if isinstance(outcome, Delivery):
            lost.append(outcome)
        elif outcome is not None:
            caps = providers[delivery.channel_id].capabilities
            if caps.find_by_key or caps.idempotent_publish:
                pending.append(outcome)
            else:
                lost += _record([outcome], worker_id)
    return lost + _record(pending, worker_id)


def _start_many(
    deliveries: list[Delivery], worker_id: str
) -> tuple[list[tuple[Delivery, Post, bool]], list[Delivery]]:
    """Mark the deliveries that should still go out SENDING.

    Returns ``(delivery, post, earlier attempt unsure)`` for each of them, and the deliveries
    another worker has taken over.
    """
    started: list[tuple[Delivery, Post, bool]] = []
    lost: list[Delivery] = []
    if not deliveries:
        return started, lost
    with transaction.atomic():
        # Posts before deliveries, each in primary-key order: the order edits lock them in,
        # so two transactions never wait on each other in a circle.
        posts = {
            p.pk: p
            for p in Post.objects.select_for_update()
            .select_related("organisation")
            .filter(pk__in={d.post_id for d in deliveries})
            .order_by("pk")
        }
        fresh = {
            d.pk: d
            for d in Delivery.objects.select_for_update()
            .filter(pk__in=[d.pk for d in deliveries])
            .order_by("pk")
            .only("pk", "status", "attempts", "post_version", "claimed_by")
        }
        done: list[Post] = []
        pauses = _active_pauses({p.organisation_id for p in posts.values() if not p.urgent})
        for delivery in deliveries:
            row, post = fresh[delivery.pk], posts[delivery.post_id]
            if row.claimed_by != worker_id:
                lost.append(delivery)
                continue
            pause = pauses.get(post.organisation_id)
            if pause is not None and not post.urgent and row.status == DeliveryStatus.PENDING:
                # A pause began after this delivery was made: hold it with the others.
                release(delivery, worker_id, status=DeliveryStatus.HELD)
                if post.held_at is None:
                    post.held_at, post.held_by = timezone.now(), pause
                    Post.objects.filter(pk=post.pk).update(held_at=post.held_at, held_by=pause)
                continue
            stale = row.post_version != post.version or post.status not in (
                PostStatus.SCHEDULED,
                PostStatus.PUBLISHING,
                PostStatus.FAILED,
            )
            if stale or row.status not in (DeliveryStatus.PENDING, DeliveryStatus.SENDING):
                # Edited, cancelled or sent back for approval after this delivery was made:
                # it must not go out in that old form.
                release(
                    delivery,
                    worker_id,
                    status=DeliveryStatus.CANCELLED
                    if stale and row.status != DeliveryStatus.SENDING
                    else row.status,
                )
                continue
            unsure = row.status == DeliveryStatus.SENDING
            if unsure and row.attempts >= MAX_ATTEMPTS:
                # Every attempt so far ended without an outcome (the worker died or failed
                # while recording): stop trying and let a person look.
                release(
                    delivery,
                    worker_id,
                    status=DeliveryStatus.UNCERTAIN,
                    last_error=_(
                        "humas tried %(n)d times without being able to record the outcome. "
                        "Look at the channel: if the post is there, mark it as published; if "
                        "not, send it again."
                    )
                    % {"n": row.attempts},
                    last_error_kind="uncertain",
                )
                done.append(post)
                continue
            delivery.status, delivery.attempts = DeliveryStatus.SENDING, row.attempts + 1
            started.append((delivery, post, unsure))
        if started:
            Delivery.objects.filter(pk__in=[d.pk for d, _, _ in started]).update(
                status=DeliveryStatus.SENDING, attempts=F("attempts") + 1
            )
            scheduled = {p.pk for _, p, _ in started if p.status == PostStatus.SCHEDULED}
            if scheduled:
                Post.objects.filter(pk__in=scheduled).update(status=PostStatus.PUBLISHING)
                for _d, post, _u in started:
                    if post.pk in scheduled:
                        post.status = PostStatus.PUBLISHING
        if done:
            finish_posts_if_done(done)
    return started, lost


def _active_pauses(organisation_ids: set[int]) -> dict[int, PublishingPause]:
    if not organisation_ids:
        return {}
    found: dict[int, PublishingPause] = {}
    for pause in PublishingPause.objects.filter(
        organisation_id__in=organisation_ids, ends_at__isnull=True
    ).order_by("-starts_at", "-pk"):
        found[pause.organisation_id] = pause
    return found


def _start(delivery: Delivery, worker_id: str) -> tuple[Post, bool] | None:
    """Mark one delivery SENDING if it should still go out; (post, earlier attempt unsure)."""
    started, lost = _start_many([delivery], worker_id)
    if lost:
        raise _LostLease
    return (started[0][1], started[0][2]) if started else None


def _assets(posts: list[Post]) -> dict[int, list[MediaAsset]]:
    """Each post's attached media, in order, with one read for the whole batch."""
    found: dict[int, list[MediaAsset]] = {}
    rows = PostMedia.objects.filter(post__in={p.pk for p in posts}).select_related("asset")
    for row in rows:
        found.setdefault(row.post_id, []).append(row.asset)
    return found


def _content(
    delivery: Delivery, post: Post, assets: dict[int, list[MediaAsset]] | None = None
) -> PostContent:
    variant = delivery.variant
    attached = (assets if assets is not None else _assets([post])).get(post.pk, [])
    return content_for(
        Draft.of(variant),
        media=[media_for(a, with_data=True) for a in attached] if variant.with_media else [],
        link=tracked_link(post.link, post.campaign, delivery.channel.network),
        key=delivery.key,
    )


@dataclass
class _Call:
    """What one delivery asks of its network: look the post up by key first, or not."""

    content: PostContent
    find: bool


#: What the network part of a send came back with: the post, or the error to record.
_Answer = Published | ProviderError | ActionError


def _send_one(
    delivery: Delivery,
    post: Post,
    unsure: bool,
    worker_id: str,
    provider: Provider,
    assets: dict[int, list[MediaAsset]],
) -> _Sent | None:
    """Send (or find) one delivery's post; None when the outcome was already recorded."""
    call = _prepare(delivery, post, unsure, worker_id, provider, assets)
    if call is None:
        return None
    return _conclude(delivery, post, worker_id, provider, call, _network(delivery, call, provider))


def _prepare(
    delivery: Delivery,
    post: Post,
    unsure: bool,
    worker_id: str,
    provider: Provider,
    assets: dict[int, list[MediaAsset]],
) -> _Call | None:
    """The database part before the network: the content, and what an unsure earlier
    attempt allows (None: the delivery was settled as uncertain)."""
    content = _content(delivery, post, assets)
    if unsure:
        caps = provider.capabilities
        if caps.find_by_key:
            return _Call(content, find=True)
        if not caps.idempotent_publish:
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
            return None
    return _Call(content, find=False)


def _network(delivery: Delivery, call: _Call, provider: Provider) -> _Answer:
    """Only the network's part of a send: no database, so it may run in any thread."""
    try:
        if call.find:
            found = provider.find_published(delivery.key)
            if found is not None:
                return found
        _usable(delivery.channel)
        problems = provider.validate(call.content)
        if problems:
            raise ActionError(" ".join(problems))
        return provider.publish(call.content)
    except (ProviderError, ActionError) as exc:
        return exc


def _conclude(
    delivery: Delivery,
    post: Post,
    worker_id: str,
    provider: Provider,
    call: _Call,
    answer: _Answer,
) -> _Sent | None:
    """The database part after the network: record a failure, or hand the post on to
    :func:`_record`."""
    channel = delivery.channel
    if isinstance(answer, ProviderError):
        record_provider_error(channel, answer)
        _failed(delivery, post, worker_id, answer)
        return None
    if isinstance(answer, ActionError):
        # The channel was disconnected or the content no longer fits the network's limits.
        _finish(
            delivery,
            post,
            worker_id,
            status=DeliveryStatus.FAILED,
            error=str(answer),
            kind="permanent",
        )
        return None
    keep_fresh_credentials(channel, provider)
    at = timezone.now()
    if delivery.variant.first_comment and provider.capabilities.threads:
        _first_comment(provider, answer, delivery.variant.first_comment)
    return _Sent(delivery, post, Outcome(channel, call.content, answer, at=at))


#: The longest an ordinary recording waits for emergency broadcasts in flight to be recorded.
URGENT_GATE_SECONDS = 3.0


def _yield_to_urgent() -> None:
    """Wait while an emergency broadcast is being sent.

    Every recording appends to the one audit chain, under one lock that queues every
    worker's threads in turn. An urgent delivery coming back from its network would wait
    behind every ordinary batch queued there (seconds, with 10,000 posts due: measured by
    bench/crisis_broadcast.py). So ordinary batches step aside while urgent deliveries are
    in flight: their network calls go on, only their recording waits, and never longer
    than ``URGENT_GATE_SECONDS``.
    """
    deadline = time.monotonic() + URGENT_GATE_SECONDS
    in_flight = Delivery.objects.filter(
        urgent=True,
        status__in=(DeliveryStatus.PENDING, DeliveryStatus.SENDING),
        due_at__lte=timezone.now(),
        channel__status=ChannelStatus.ACTIVE,
    )
    while in_flight.exists() and time.monotonic() < deadline:
        # Not faster: dozens of waiting threads asking many times a second would take the
        # very CPU the broadcast's own recording needs (measured).
        time.sleep(0.1)


def _record(sent: list[_Sent], worker_id: str) -> list[Delivery]:
    """Record what was published, for the deliveries still held; return the others."""
    if not sent:
        return []
    if not any(s.delivery.urgent for s in sent):
        _yield_to_urgent()
    with transaction.atomic():
        # The same lock order as starting: posts, then deliveries.
        list(
            Post.objects.select_for_update()
            .filter(pk__in={s.post.pk for s in sent})
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        held = set(
            Delivery.objects.select_for_update()
            .filter(pk__in=[s.delivery.pk for s in sent], claimed_by=worker_id)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        # A delivery lost to another worker is left to it: it finds the post by key.
        keep = [s for s in sent if s.delivery.pk in held]

        def settle(channel_posts: list[ChannelPost]) -> None:
            _mark_published({s.delivery.pk: cp for s, cp in zip(keep, channel_posts, strict=True)})
            for s, cp in zip(keep, channel_posts, strict=True):
                d = s.delivery
                d.status, d.channel_post, d.published_at = (
                    DeliveryStatus.PUBLISHED,
                    cp,
                    cp.published_at,
                )
                d.last_error = d.last_error_kind = d.claimed_by = ""
                d.claimed_until = None
            finish_posts_if_done([s.post for s in keep])

        _record_posts(
            [s.outcome for s in keep],
            by=SENDER,
            action="publishing.delivery.published",
            also=settle,
        )
    return [s.delivery for s in sent if s.delivery.pk not in held]


def _mark_published(published: dict[int, ChannelPost]) -> None:
    """Record the batch's outcome (the held rows only: the caller locked and checked them).

    One UPDATE with a CASE per row, written as SQL: built with the ORM's ``Case``/``When``,
    twenty rows cost more CPU than the rest of the batch's recording together (profiled with
    bench/publishing_deliveries.py), and this runs for every batch of every worker.
    """
    if not published:
        return
    qn = connection.ops.quote_name
    fields = {f.name: f for f in Delivery._meta.concrete_fields}
    column = {name: qn(str(fields[name].column)) for name in _PUBLISHED_FIELDS}
    pk = qn("id")
    whens = " ".join(["WHEN %s THEN %s"] * len(published))
    rows = ", ".join(["%s"] * len(published))
    post_params: list[Any] = []
    time_params: list[Any] = []
    for delivery_pk, channel_post in published.items():
        post_params += [delivery_pk, channel_post.pk]
        time_params += [
            delivery_pk,
            connection.ops.adapt_datetimefield_value(channel_post.published_at),
        ]
    # Only quoted column names and placeholders are formatted in; every value is a parameter.
    sql = (
        f"UPDATE {qn(Delivery._meta.db_table)} SET "  # noqa: S608
        f"{column['status']} = %s, "
        f"{column['channel_post']} = CASE {pk} {whens} END, "
        f"{column['published_at']} = CASE {pk} {whens} END, "
        f"{column['last_error']} = %s, {column['last_error_kind']} = %s, "
        f"{column['claimed_by']} = %s, {column['claimed_until']} = NULL "
        f"WHERE {pk} IN ({rows})"
    )
    params = [DeliveryStatus.PUBLISHED.value, *post_params, *time_params, "", "", ""]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *published])


_PUBLISHED_FIELDS = (
    "status",
    "channel_post",
    "published_at",
    "last_error",
    "last_error_kind",
    "claimed_by",
    "claimed_until",
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
