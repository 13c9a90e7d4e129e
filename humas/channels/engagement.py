"""Engagement, defined once for every part of humas (docs/metrics.md).

It lives with the channels, below publishing and analytics, so the composer's "best hours"
hint and the analytics dashboards and reports add up the same counts.
"""

from __future__ import annotations

from collections.abc import Iterable

#: The counts that make up engagement: what a reader did with the post. Views are not
#: engagement (they are reach).
ENGAGEMENT_COUNTS = ("likes", "reposts", "replies", "quotes")


def total(counts: Iterable[int | None]) -> int | None:
    """The sum of the counts the network gives; ``None`` when it gives none of them (not 0:
    "not provided" is not "nobody reacted")."""
    known = [value for value in counts if value is not None]
    return sum(known) if known else None


def from_metrics(metrics: object) -> int | None:
    """Engagement from a post's latest counts as stored on ``ChannelPost.metrics``."""
    if not isinstance(metrics, dict):
        return None
    values: list[int | None] = []
    for name in ENGAGEMENT_COUNTS:
        value = metrics.get(name)
        try:
            values.append(None if value is None else int(value))
        except (TypeError, ValueError):
            values.append(None)
    return total(values)
