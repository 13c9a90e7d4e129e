"""What the organisation's own history says about when to post."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from humas.accounts.models import Organisation
from humas.channels import engagement
from humas.channels.models import ChannelAccount, ChannelPost

#: How far back the history is read, and how many posts it takes to say anything.
HISTORY = timedelta(days=90)
MIN_POSTS = 5


def best_hours(
    org: Organisation, channel: ChannelAccount, *, now: datetime | None = None, top: int = 3
) -> list[int] | None:
    """Hours of the day (0–23, in the organisation's zone), best first, by the average
    engagement (``humas.channels.engagement``, as in analytics) of what the channel
    published in the last 90 days; posts whose network gave no counts are left out.

    ``None`` while there are fewer than :data:`MIN_POSTS` posts to learn from: a "best time"
    drawn from two posts would be noise presented as advice.
    """
    since = (now or timezone.now()) - HISTORY
    rows = ChannelPost.objects.filter(
        organisation=org,
        channel=channel,
        published_at__gte=since,
        deleted_at__isnull=True,
        # Answers to citizens are published posts too, but they go out when someone asks.
        in_reply_to__isnull=True,
    ).values_list("published_at", "metrics")
    zone = ZoneInfo(org.time_zone)
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    seen = 0
    for published_at, metrics in rows:
        value = engagement.from_metrics(metrics)
        if value is None:
            continue
        hour = published_at.astimezone(zone).hour
        totals[hour][0] += value
        totals[hour][1] += 1
        seen += 1
    if seen < MIN_POSTS:
        return None
    # Highest average first; with equal averages, the hour with more posts behind it.
    ranked = sorted(totals, key=lambda h: (-totals[h][0] / totals[h][1], -totals[h][1], h))
    return ranked[:top]
