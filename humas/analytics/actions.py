"""Named actions for tracked links: each in one transaction with one audit entry.

Counting clicks and recording conversions happen on public endpoints at volume and are not
audited (they change counters, not anything a person decided); see ``tracking.py`` and
:func:`record_conversion`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor, record
from humas.accounts.models import Organisation
from humas.analytics.goals import problems
from humas.analytics.models import (
    Conversion,
    ConversionSecret,
    ConversionSource,
    Goal,
    TrackedLink,
    new_code,
)
from humas.analytics.tracking import local_day
from humas.channels.models import ChannelAccount
from humas.lib import crypto
from humas.publishing.compose import tracked_link
from humas.publishing.models import Campaign, Post


def check_destination(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ActionError(_("The destination must be an http or https address."))
    return url.strip()


def _unused_code() -> str:
    # 2**48 codes: a clash is practically impossible, but checking costs one indexed lookup.
    while True:
        code = new_code()
        if not TrackedLink.objects.filter(code=code).exists():
            return code


def create_links(
    campaign: Campaign,
    *,
    destination: str,
    channels: Sequence[ChannelAccount] = (),
    post: Post | None = None,
    label: str = "",
    by: Actor,
) -> list[TrackedLink]:
    """One link per channel (or one without a channel), all in one audit entry.

    With a channel, the destination gets the campaign's UTM tags for that network (the same
    ones the composer adds), so the landing page's own analytics agree with humas's.
    """
    org = campaign.organisation
    destination = check_destination(destination)
    for channel in channels:
        if channel.organisation_id != org.pk:
            raise ActionError(_("That channel belongs to another organisation."))
    if post is not None and (post.organisation_id != org.pk or post.campaign_id != campaign.pk):
        raise ActionError(_("That post is not part of this campaign."))
    targets: list[ChannelAccount | None] = list(channels) or [None]
    with transaction.atomic():
        links = [
            TrackedLink.objects.create(
                organisation=org,
                code=_unused_code(),
                destination=(
                    tracked_link(destination, campaign, channel.network)
                    if channel is not None
                    else destination
                ),
                campaign=campaign,
                channel=channel,
                post=post,
                label=label,
                created_by=by.user,
            )
            for channel in targets
        ]
        record(
            "analytics.links.created",
            actor=by,
            organisation=org,
            target=campaign,
            payload={
                "codes": [link.code for link in links],
                "channels": [c.pk for c in channels],
                "post": post.pk if post else None,
                "destination": destination,
            },
        )
    return links


def deactivate_link(link: TrackedLink, *, by: Actor) -> TrackedLink:
    with transaction.atomic():
        updated = TrackedLink.objects.filter(pk=link.pk, is_active=True).update(
            is_active=False, deactivated_at=timezone.now()
        )
        if not updated:
            raise ActionError(_("This link is already inactive."))
        link.refresh_from_db()
        record(
            "analytics.link.deactivated",
            actor=by,
            organisation=link.organisation,
            target=link,
            payload={"code": link.code},
        )
    return link


def regenerate_conversion_secret(org: Organisation, *, by: Actor) -> str:
    """A new signing secret; the old one stops working at once."""
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        ConversionSecret.objects.update_or_create(
            organisation=org, defaults={"secret_encrypted": crypto.encrypt(secret)}
        )
        # The secret itself never goes into the audit log, only that it changed.
        record("analytics.conversion_secret.regenerated", actor=by, organisation=org)
    return secret


def conversion_secret(org_id: int) -> str | None:
    row = ConversionSecret.objects.filter(organisation_id=org_id).first()
    return crypto.decrypt(row.secret_encrypted) if row else None


def record_conversion(
    link: TrackedLink,
    *,
    source: str,
    time_zone: str,
    dedupe_key: str | None = None,
    count: int = 1,
    value: Decimal | None = None,
    label: str = "",
) -> bool:
    """Store one conversion; False when one with the same ``dedupe_key`` already exists."""
    if source not in ConversionSource.values:
        raise ValueError(f"unknown conversion source {source!r}")
    try:
        # The savepoint lets a duplicate be refused without spoiling an outer transaction.
        with transaction.atomic():
            Conversion.objects.create(
                organisation_id=link.organisation_id,
                link=link,
                day=local_day(time_zone),
                count=count,
                value=value,
                label=label,
                source=source,
                dedupe_key=dedupe_key,
            )
    except IntegrityError:
        return False
    return True


# --- goals ---------------------------------------------------------------------------------


def _goal_payload(goal: Goal) -> dict[str, object]:
    return {
        "metric": goal.metric,
        "target": str(goal.target),
        "starts_on": goal.starts_on.isoformat(),
        "ends_on": goal.ends_on.isoformat(),
        "channel": goal.channel_id,
        "campaign": goal.campaign_id,
    }


def _check_goal(
    org: Organisation,
    *,
    metric: str,
    target: Decimal,
    starts_on: date,
    ends_on: date,
    channel: ChannelAccount | None,
    campaign: Campaign | None,
) -> Decimal:
    found = problems(
        org,
        metric=metric,
        channel=channel,
        campaign=campaign,
        target=target,
        starts_on=starts_on,
        ends_on=ends_on,
    )
    if found:
        raise ActionError(found[0][1])
    # Stored with two decimals; quantized here so the audit payload says what was stored.
    return target.quantize(Decimal("0.01"))


def create_goal(
    org: Organisation,
    *,
    metric: str,
    target: Decimal,
    starts_on: date,
    ends_on: date,
    channel: ChannelAccount | None = None,
    campaign: Campaign | None = None,
    by: Actor,
) -> Goal:
    target = _check_goal(
        org,
        metric=metric,
        target=target,
        starts_on=starts_on,
        ends_on=ends_on,
        channel=channel,
        campaign=campaign,
    )
    with transaction.atomic():
        goal = Goal.objects.create(
            organisation=org,
            metric=metric,
            target=target,
            starts_on=starts_on,
            ends_on=ends_on,
            channel=channel,
            campaign=campaign,
            created_by=by.user,
        )
        record(
            "analytics.goal.created",
            actor=by,
            organisation=org,
            target=goal,
            payload=_goal_payload(goal),
        )
    return goal


def update_goal(
    goal: Goal,
    *,
    metric: str,
    target: Decimal,
    starts_on: date,
    ends_on: date,
    channel: ChannelAccount | None = None,
    campaign: Campaign | None = None,
    by: Actor,
) -> Goal:
    target = _check_goal(
        goal.organisation,
        metric=metric,
        target=target,
        starts_on=starts_on,
        ends_on=ends_on,
        channel=channel,
        campaign=campaign,
    )
    with transaction.atomic():
        before = _goal_payload(goal)
        goal.metric, goal.target = metric, target
        goal.starts_on, goal.ends_on = starts_on, ends_on
        goal.channel, goal.campaign = channel, campaign
        goal.save()
        record(
            "analytics.goal.updated",
            actor=by,
            organisation=goal.organisation,
            target=goal,
            payload={"before": before, "after": _goal_payload(goal)},
        )
    return goal


def delete_goal(goal: Goal, *, by: Actor) -> None:
    with transaction.atomic():
        # Recorded first: the entry names the goal while its row still exists.
        record(
            "analytics.goal.deleted",
            actor=by,
            organisation=goal.organisation,
            target=goal,
            payload=_goal_payload(goal),
        )
        goal.delete()
