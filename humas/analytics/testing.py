"""Published posts with snapshots and follower counts, for the analytics tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import count

from humas.analytics.models import AccountSnapshot, PostSnapshot
from humas.channels.models import ChannelAccount, ChannelPost

_ids = count(1)


def make_published(
    channel: ChannelAccount, at: datetime, *, text: str = "", url: str = "", **counts: int | None
) -> ChannelPost:
    """A post published on ``channel`` at ``at``; with ``counts`` (likes=…, reposts=…), its
    snapshot at 24 hours holding them."""
    post = ChannelPost.objects.create(
        organisation=channel.organisation,
        channel=channel,
        external_id=f"t{next(_ids)}",
        published_at=at,
        text=text,
        url=url,
    )
    if counts:
        PostSnapshot.objects.create(
            organisation=channel.organisation, post=post, age_hours=24, taken_at=at, **counts
        )
    return post


def record_followers(channel: ChannelAccount, day: date, n: int | None) -> None:
    """The channel's follower count on ``day`` (taken at 03:00 UTC, inside every Indonesian
    time zone's same day)."""
    AccountSnapshot.objects.create(
        organisation=channel.organisation,
        channel=channel,
        day=day,
        taken_at=datetime(day.year, day.month, day.day, 3, tzinfo=UTC),
        followers=n,
    )
