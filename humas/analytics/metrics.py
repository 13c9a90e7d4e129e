"""What the analytics numbers mean, defined once (see docs/metrics.md): every dashboard,
report and export computes engagement and its rate through these functions."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from humas.channels.engagement import ENGAGEMENT_COUNTS, total


class HasCounts(Protocol):
    likes: int | None
    reposts: int | None
    replies: int | None
    quotes: int | None


def engagement(counts: HasCounts) -> int | None:
    """Likes + reposts + replies + quotes, of those the network gives; ``None`` when it gives
    none of them (not 0: "not provided" is not "nobody reacted")."""
    return total(getattr(counts, name) for name in ENGAGEMENT_COUNTS)


def engagement_rate(counts: HasCounts, followers: int | None) -> Decimal | None:
    """Engagement per follower of the channel, in percent with two decimals.

    The denominator is the channel's followers on the day the post was published (its
    account snapshot of that day, or the latest before it): every network humas speaks
    gives followers, none of them gives reach or impressions through its API. ``None`` when
    either number is missing or there are no followers.
    """
    total = engagement(counts)
    if total is None or not followers:
        return None
    rate = Decimal(total) * 100 / Decimal(followers)
    return rate.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
