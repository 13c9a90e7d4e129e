"""Collecting metric snapshots: each published post's counts at fixed ages, and each
channel's followers once a day.

The ``analytics.collect_metrics`` job runs this for every active channel. A post gets a
snapshot at each age of :data:`~humas.analytics.models.SNAPSHOT_HOURS` that has passed (the
latest one only, when several passed while the worker was stopped); the unique constraints
make a second run at the same moment add nothing. Counts the network does not give are
stored as ``None``. The channel's latest counts on ``ChannelPost.metrics`` are refreshed on
the way: this is their only periodic refresh (the hourly ``channels.sync_metrics`` job asked
the networks for the same posts a second time and was removed; ``sync_metrics`` stays as an
action for one channel).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from humas.analytics.models import SNAPSHOT_HOURS, AccountSnapshot, PostSnapshot
from humas.channels.actions import keep_fresh_credentials, record_provider_error
from humas.channels.models import ChannelAccount, ChannelPost, ChannelStatus
from humas.channels.providers.base import Provider, ProviderError

#: Posts asked about in one call to the network.
CHUNK = 100
#: Posts older than the last snapshot age are not asked about any more.
OLDEST = timedelta(hours=SNAPSHOT_HOURS[-1] + 24)

COUNTS = ("likes", "reposts", "replies", "quotes", "views")


def due_age(published_at: datetime, now: datetime, taken: Iterable[int]) -> int | None:
    """The snapshot age (hours) a post of ``published_at`` is due for at ``now``: the latest
    age that has passed, unless it was taken already; ``None`` when nothing is due."""
    age = (now - published_at).total_seconds() / 3600
    passed = bisect.bisect_right(SNAPSHOT_HOURS, age)
    if passed == 0:
        return None
    latest = SNAPSHOT_HOURS[passed - 1]
    return None if latest in set(taken) else latest


@dataclass
class Collected:
    posts: int = 0
    accounts: int = 0


def collect_channel(
    channel: ChannelAccount, *, now: datetime | None = None, provider: Provider | None = None
) -> Collected:
    """Take the snapshots due for one channel; how many were stored.

    A network error is recorded on the channel (as polling does) and raised.
    """
    now = now or timezone.now()
    done = Collected()
    if channel.status != ChannelStatus.ACTIVE:
        return done
    capabilities = channel.provider_class.capabilities
    if not (capabilities.post_metrics or capabilities.account_metrics):
        return done
    provider = provider or channel.provider()
    try:
        if capabilities.post_metrics:
            done.posts = _collect_posts(channel, provider, now)
        if capabilities.account_metrics:
            done.accounts = _collect_account(channel, provider, now)
    except ProviderError as exc:
        record_provider_error(channel, exc)
        raise
    finally:
        keep_fresh_credentials(channel, provider)
    return done


def _collect_posts(channel: ChannelAccount, provider: Provider, now: datetime) -> int:
    posts = list(
        ChannelPost.objects.filter(
            channel=channel, deleted_at__isnull=True, published_at__gte=now - OLDEST
        ).order_by("published_at")
    )
    taken: dict[int, set[int]] = {}
    for post_id, hours in PostSnapshot.objects.filter(post__in=posts).values_list(
        "post_id", "age_hours"
    ):
        taken.setdefault(post_id, set()).add(hours)
    due: dict[int, tuple[ChannelPost, int]] = {}
    for post in posts:
        age = due_age(post.published_at, now, taken.get(post.pk, ()))
        if age is not None:
            due[post.pk] = (post, age)
    stored = 0
    rows = list(due.values())
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        metrics = provider.fetch_post_metrics([post.external_id for post, _age in chunk])
        snapshots = []
        refreshed = []
        for post, age in chunk:
            found = metrics.get(post.external_id)
            if found is None:
                # Gone from the network or not visible any more: no snapshot rather than
                # zeros; the history taken so far stays.
                continue
            counts = {name: getattr(found, name) for name in COUNTS}
            snapshots.append(
                PostSnapshot(
                    organisation_id=channel.organisation_id,
                    post=post,
                    age_hours=age,
                    taken_at=now,
                    **counts,
                )
            )
            post.metrics, post.metrics_at = counts, now
            refreshed.append(post)
        with transaction.atomic():
            created = PostSnapshot.objects.bulk_create(snapshots, ignore_conflicts=True)
            ChannelPost.objects.bulk_update(refreshed, ["metrics", "metrics_at"])
        stored += len(created)  # attempted: a concurrent run's rows are skipped
    return stored


def _collect_account(channel: ChannelAccount, provider: Provider, now: datetime) -> int:
    day = now.astimezone(ZoneInfo(channel.organisation.time_zone)).date()
    if AccountSnapshot.objects.filter(channel=channel, day=day).exists():
        return 0
    found = provider.fetch_account_metrics()
    _row, created = AccountSnapshot.objects.get_or_create(
        channel=channel,
        day=day,
        defaults={
            "organisation_id": channel.organisation_id,
            "taken_at": now,
            "followers": found.followers,
            "following": found.following,
            "posts": found.posts,
        },
    )
    return int(created)
