"""KPIs: pure query functions over a period and a scope, shared by goals, dashboards and
reports.

Every function takes the organisation, a period ``[start, end)`` of aware datetimes and
optionally one channel or one campaign (never both), and returns a number, or ``None`` when
there is nothing to measure (no posts, no snapshots, no conversations): never a made-up 0.
Days are the organisation's days (``Organisation.time_zone``): a click counted on a local
day, a follower count taken on a local day, a post published at 23:30 WIB on the last day
of a month all belong to that day and that month.

Engagement and its rate come from :mod:`humas.analytics.metrics` only (docs/metrics.md).
Reach and impressions have no function here: no network humas supports gives them.
"""

from __future__ import annotations

import bisect
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.db.models import F, OuterRef, Q, QuerySet, Subquery, Sum

from humas.accounts.models import Organisation
from humas.analytics import metrics
from humas.analytics.models import (
    AccountSnapshot,
    Conversion,
    LinkClickDay,
    PostSnapshot,
    TrackedLink,
)
from humas.channels.models import ChannelAccount, ChannelPost
from humas.inbox.models import Category, Conversation
from humas.lib.numbers import CENT, percent
from humas.publishing.mix import PillarShare as PillarShare
from humas.publishing.mix import pillar_mix as pillar_mix
from humas.publishing.models import Campaign


def zone_of(org: Organisation) -> ZoneInfo:
    return ZoneInfo(org.time_zone)


def local_day(moment: datetime, org: Organisation) -> date:
    return moment.astimezone(zone_of(org)).date()


def period_bounds(org: Organisation, first: date, last: date) -> tuple[datetime, datetime]:
    """``[start, end)`` for the local days ``first`` to ``last`` inclusive."""
    zone = zone_of(org)
    start = datetime.combine(first, time.min, tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


def period_days(org: Organisation, start: datetime, end: datetime) -> tuple[date, date]:
    """The first and the last local day touched by ``[start, end)``."""
    # ``end`` is excluded: a period ending at local midnight does not reach the next day.
    return local_day(start, org), local_day(end - timedelta(microseconds=1), org)


def _check_scope(channel: ChannelAccount | None, campaign: Campaign | None) -> None:
    if channel is not None and campaign is not None:
        raise ValueError("a KPI is scoped to one channel or one campaign, not both")


# --- posts ---------------------------------------------------------------------------------


def published_posts(
    org: Organisation,
    start: datetime,
    end: datetime,
    *,
    channel: ChannelAccount | None = None,
    campaign: Campaign | None = None,
) -> QuerySet[ChannelPost]:
    """What humas published through the organisation's channels in the period.

    Replies to citizens (``in_reply_to``) are left out: an answer to one person is inbox
    work, not a post whose engagement says anything about the content. Posts since deleted
    from the network stay in (their history is kept).
    """
    _check_scope(channel, campaign)
    posts = ChannelPost.objects.filter(
        organisation=org, published_at__gte=start, published_at__lt=end, in_reply_to__isnull=True
    )
    if channel is not None:
        posts = posts.filter(channel=channel)
    if campaign is not None:
        posts = posts.filter(delivery__post__campaign=campaign)
    return posts


def _followers_on(channel_ids: set[int], last_day: date) -> dict[int, tuple[list[date], list[int]]]:
    """Per channel, its snapshot days (ascending) with a follower count, up to ``last_day``."""
    series: dict[int, tuple[list[date], list[int]]] = {}
    rows = (
        AccountSnapshot.objects.filter(
            channel_id__in=channel_ids, day__lte=last_day, followers__isnull=False
        )
        .order_by("channel_id", "day")
        .values_list("channel_id", "day", "followers")
    )
    for channel_id, day, followers in rows:
        if followers is None:  # filtered out above; tells the type checker
            continue
        days, counts = series.setdefault(channel_id, ([], []))
        days.append(day)
        counts.append(followers)
    return series


def _followers_at(series: tuple[list[date], list[int]] | None, day: date) -> int | None:
    """The count of ``day``'s snapshot, or of the latest one before it."""
    if series is None:
        return None
    days, counts = series
    index = bisect.bisect_right(days, day)
    return counts[index - 1] if index else None


def engagement_rate(
    org: Organisation,
    start: datetime,
    end: datetime,
    *,
    channel: ChannelAccount | None = None,
    campaign: Campaign | None = None,
) -> Decimal | None:
    """Mean engagement rate (percent, two decimals) of the posts published in the period.

    Each post counts with its latest snapshot and its channel's followers on the local day
    it was published (or the latest snapshot before), through
    :func:`humas.analytics.metrics.engagement_rate`; posts without a rate (no snapshot, no
    follower count, no engagement count given) are left out of the mean.
    """
    latest = (
        PostSnapshot.objects.filter(post=OuterRef("pk")).order_by("-age_hours").values("pk")[:1]
    )
    posts = list(
        published_posts(org, start, end, channel=channel, campaign=campaign)
        .annotate(latest_snapshot=Subquery(latest))
        .filter(latest_snapshot__isnull=False)
        .values_list("channel_id", "published_at", "latest_snapshot")
    )
    if not posts:
        return None
    snapshots = PostSnapshot.objects.in_bulk([snapshot_id for _c, _p, snapshot_id in posts])
    days = [local_day(published_at, org) for _c, published_at, _s in posts]
    followers = _followers_on({channel_id for channel_id, _p, _s in posts}, max(days))
    rates = []
    for (channel_id, _published_at, snapshot_id), day in zip(posts, days, strict=True):
        rate = metrics.engagement_rate(
            snapshots[snapshot_id], _followers_at(followers.get(channel_id), day)
        )
        if rate is not None:
            rates.append(rate)
    if not rates:
        return None
    return (sum(rates, Decimal(0)) / len(rates)).quantize(CENT, rounding=ROUND_HALF_UP)


# --- followers -----------------------------------------------------------------------------


def follower_growth(
    org: Organisation,
    start: datetime,
    end: datetime,
    *,
    channel: ChannelAccount | None = None,
) -> int | None:
    """Followers at the end of the period minus at its start, summed over channels.

    A channel counts only with both ends: a count on (or latest before) the first local day,
    and one taken within the period, the latest up to its last local day. ``None`` when no
    channel has both.
    """
    first, last = period_days(org, start, end)
    channels = ChannelAccount.objects.filter(organisation=org)
    if channel is not None:
        channels = channels.filter(pk=channel.pk)
    series = _followers_on(set(channels.values_list("pk", flat=True)), last)
    growth = None
    for days, counts in series.values():
        at_start = _followers_at((days, counts), first)
        index = bisect.bisect_right(days, last)
        if at_start is None or not index or days[index - 1] < first:
            continue
        growth = (growth or 0) + counts[index - 1] - at_start
    return growth


# --- inbox ---------------------------------------------------------------------------------


def _conversations(
    org: Organisation, start: datetime, end: datetime, channel: ChannelAccount | None
) -> QuerySet[Conversation]:
    conversations = Conversation.objects.filter(
        organisation=org, opened_at__gte=start, opened_at__lt=end
    )
    if channel is not None:
        conversations = conversations.filter(channel=channel)
    return conversations


def median_first_response(
    org: Organisation,
    start: datetime,
    end: datetime,
    *,
    channel: ChannelAccount | None = None,
) -> timedelta | None:
    """Median of ``responded_at − opened_at`` over conversations opened in the period and
    answered; ``None`` when none was answered."""
    pairs = (
        _conversations(org, start, end, channel)
        .filter(responded_at__isnull=False)
        .values_list("opened_at", "responded_at")
    )
    waits = sorted(responded - opened for opened, responded in pairs if responded is not None)
    if not waits:
        return None
    middle = len(waits) // 2
    if len(waits) % 2:
        return waits[middle]
    return (waits[middle - 1] + waits[middle]) / 2


def resolved_within_deadline(
    org: Organisation,
    start: datetime,
    end: datetime,
    *,
    channel: ChannelAccount | None = None,
) -> Decimal | None:
    """Share (percent, two decimals) of the complaints opened in the period and resolved
    that were resolved by their deadline (``resolved_at ≤ resolution_due``).

    Complaints without a resolution deadline cannot be on time or late and are left out.
    """
    complaints = _conversations(org, start, end, channel).filter(
        category=Category.COMPLAINT, resolved_at__isnull=False, resolution_due__isnull=False
    )
    total = complaints.count()
    on_time = complaints.filter(resolved_at__lte=F("resolution_due")).count()
    return percent(on_time, total)


# --- tracked links -------------------------------------------------------------------------


def _link_filter(org: Organisation, channel: ChannelAccount | None, campaign: Campaign | None) -> Q:
    _check_scope(channel, campaign)
    q = Q(link__organisation=org)
    if channel is not None:
        q &= Q(link__channel=channel)
    if campaign is not None:
        q &= Q(link__campaign=campaign)
    return q


def _has_links(
    org: Organisation, channel: ChannelAccount | None, campaign: Campaign | None
) -> bool:
    links = TrackedLink.objects.filter(organisation=org)
    if channel is not None:
        links = links.filter(channel=channel)
    if campaign is not None:
        links = links.filter(campaign=campaign)
    return links.exists()


def conversions(
    org: Organisation,
    start: datetime,
    end: datetime,
    *,
    channel: ChannelAccount | None = None,
    campaign: Campaign | None = None,
) -> int | None:
    """Conversions recorded on the tracked links in scope on the local days of the period;
    ``None`` when there is no tracked link to convert through."""
    scope = _link_filter(org, channel, campaign)
    if not _has_links(org, channel, campaign):
        return None
    first, last = period_days(org, start, end)
    total = Conversion.objects.filter(scope, day__gte=first, day__lte=last).aggregate(
        n=Sum("count")
    )["n"]
    return int(total or 0)


def conversion_rate(
    org: Organisation,
    start: datetime,
    end: datetime,
    *,
    channel: ChannelAccount | None = None,
    campaign: Campaign | None = None,
) -> Decimal | None:
    """Conversions ÷ clicks in percent (two decimals); ``None`` when nothing was clicked."""
    scope = _link_filter(org, channel, campaign)
    first, last = period_days(org, start, end)
    clicks = LinkClickDay.objects.filter(scope, day__gte=first, day__lte=last).aggregate(
        n=Sum("clicks")
    )["n"]
    if not clicks:
        return None
    converted = conversions(org, start, end, channel=channel, campaign=campaign) or 0
    return percent(converted, clicks)


# --- pillar mix ----------------------------------------------------------------------------
# ``pillar_mix`` and ``PillarShare`` are defined in humas.publishing.mix (the plan's pillar
# page shows the same mix) and read through this module by goals, dashboards and reports.


def pillar_mix_match(mix: list[PillarShare] | None) -> Decimal | None:
    """How closely the mix follows the targets, 0–100: 100 minus half the summed
    differences between each share and its target (100 = exactly on target, 0 = all posts
    where no target was set)."""
    if mix is None:
        return None
    distance = sum((abs(row.share - row.target) for row in mix), Decimal(0)) / 2
    return max(Decimal(0), Decimal(100) - distance).quantize(CENT, rounding=ROUND_HALF_UP)
