"""The content-pillar mix, defined once: the plan's pillar page, goals, dashboards and
reports all read it from here (docs/metrics.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Q

from humas.accounts.models import Organisation
from humas.channels.models import ChannelAccount
from humas.lib.numbers import percent
from humas.publishing.models import Campaign, DeliveryStatus, Pillar, Post


@dataclass(frozen=True)
class PillarShare:
    """One pillar's share of the published posts against its target (both in percent).

    ``pillar`` is ``None`` for posts without a pillar (their target is 0).
    """

    pillar: Pillar | None
    posts: int
    share: Decimal
    target: int


def pillar_mix(
    org: Organisation,
    start: datetime,
    end: datetime,
    *,
    channel: ChannelAccount | None = None,
    campaign: Campaign | None = None,
) -> list[PillarShare] | None:
    """Each pillar's share of the posts published in ``[start, end)``, with its target.

    A post counts once however many channels it went to (on a channel scope: if it was
    published there). Active pillars without posts are listed with 0 posts; ``None`` when
    nothing was published.
    """
    if channel is not None and campaign is not None:
        raise ValueError("a pillar mix is scoped to one channel or one campaign, not both")
    posts = Post.objects.filter(organisation=org, published_at__gte=start, published_at__lt=end)
    if channel is not None:
        posts = posts.filter(
            deliveries__channel=channel, deliveries__status=DeliveryStatus.PUBLISHED
        ).distinct()
    if campaign is not None:
        posts = posts.filter(campaign=campaign)
    counts: dict[int | None, int] = {}
    for pillar_id in posts.values_list("pillar_id", flat=True):
        counts[pillar_id] = counts.get(pillar_id, 0) + 1
    total = sum(counts.values())
    if not total:
        return None
    pillars = Pillar.objects.filter(organisation=org).filter(
        Q(is_active=True) | Q(pk__in=[pk for pk in counts if pk is not None])
    )
    mix = [
        PillarShare(
            pillar=pillar,
            posts=counts.get(pillar.pk, 0),
            share=percent(counts.get(pillar.pk, 0), total) or Decimal(0),
            target=pillar.target_share,
        )
        for pillar in pillars.order_by("name")
    ]
    if counts.get(None):
        mix.append(
            PillarShare(
                pillar=None,
                posts=counts[None],
                share=percent(counts[None], total) or Decimal(0),
                target=0,
            )
        )
    return mix


def targets_only(org: Organisation) -> list[PillarShare]:
    """The active pillars with their targets and no posts: the mix before anything is
    published."""
    return [
        PillarShare(pillar=pillar, posts=0, share=Decimal(0), target=pillar.target_share)
        for pillar in Pillar.objects.filter(organisation=org, is_active=True).order_by("name")
    ]
