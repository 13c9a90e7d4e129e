"""Measuring goals: which KPI each goal metric reads, which scopes it allows, and how
progress against the target is computed (docs/metrics.md, "Goals")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext as _

from humas.accounts.models import Organisation
from humas.analytics import kpis
from humas.analytics.models import Goal, GoalMetric
from humas.channels.models import ChannelAccount
from humas.publishing.models import Campaign

#: The form's extra choice: offered so that the refusal can say why, never stored.
REACH = "reach"

#: Metrics where a smaller value is the better one: progress is target ÷ value.
LOWER_IS_BETTER = frozenset({GoalMetric.FIRST_RESPONSE})

#: Metrics that cannot be narrowed to a campaign: followers belong to a channel and
#: conversations to a channel, neither to a campaign.
NOT_PER_CAMPAIGN = frozenset(
    {
        GoalMetric.FOLLOWER_GROWTH,
        GoalMetric.FIRST_RESPONSE,
        GoalMetric.RESOLVED_WITHIN_DEADLINE,
    }
)


def reach_refusal() -> str:
    return _(
        "Reach and impressions cannot be a goal: none of the networks humas supports gives "
        "them through its API, so the goal could never be measured. Choose engagement rate "
        "or follower growth instead."
    )


def problems(
    org: Organisation,
    *,
    metric: str,
    channel: ChannelAccount | None,
    campaign: Campaign | None,
    target: Decimal | None,
    starts_on: date | None,
    ends_on: date | None,
) -> list[tuple[str | None, str]]:
    """What is wrong with a goal, as (form field or None, message) pairs; empty when valid.

    The form shows these next to the fields; the actions refuse with the first one.
    """
    found: list[tuple[str | None, str]] = []
    if metric == REACH:
        found.append(("metric", reach_refusal()))
    elif metric not in GoalMetric.values:
        found.append(("metric", _("Choose what the goal measures.")))
    if channel is not None and campaign is not None:
        found.append((None, _("Choose a channel or a campaign, not both.")))
    elif campaign is not None and metric in NOT_PER_CAMPAIGN:
        found.append(
            (
                "campaign",
                _(
                    "Followers, response times and complaints belong to channels, not to "
                    "campaigns: set this goal for the organisation or for one channel."
                ),
            )
        )
    for other in (channel, campaign):
        if other is not None and other.organisation_id != org.pk:
            found.append((None, _("That channel or campaign belongs to another organisation.")))
    if target is not None and target <= 0:
        found.append(("target", _("The target must be greater than 0.")))
    if starts_on is not None and ends_on is not None and ends_on < starts_on:
        found.append(("ends_on", _("The end date cannot be before the start date.")))
    return found


def measure(goal: Goal) -> Decimal | None:
    """The goal's KPI over its period and scope, as a number in the goal's unit (minutes
    for the first-response time), or ``None`` when there is nothing to measure yet."""
    org = goal.organisation
    start, end = kpis.period_bounds(org, goal.starts_on, goal.ends_on)
    channel, campaign = goal.channel, goal.campaign
    metric = goal.metric
    if metric == GoalMetric.ENGAGEMENT_RATE:
        return kpis.engagement_rate(org, start, end, channel=channel, campaign=campaign)
    if metric == GoalMetric.CONVERSIONS:
        value = kpis.conversions(org, start, end, channel=channel, campaign=campaign)
        return None if value is None else Decimal(value)
    if metric == GoalMetric.CONVERSION_RATE:
        return kpis.conversion_rate(org, start, end, channel=channel, campaign=campaign)
    if metric == GoalMetric.PILLAR_MIX:
        return kpis.pillar_mix_match(
            kpis.pillar_mix(org, start, end, channel=channel, campaign=campaign)
        )
    if campaign is not None:
        # Refused when the goal is saved; kept here for goals made some other way.
        return None
    if metric == GoalMetric.FOLLOWER_GROWTH:
        growth = kpis.follower_growth(org, start, end, channel=channel)
        return None if growth is None else Decimal(growth)
    if metric == GoalMetric.FIRST_RESPONSE:
        wait = kpis.median_first_response(org, start, end, channel=channel)
        return None if wait is None else minutes(wait)
    if metric == GoalMetric.RESOLVED_WITHIN_DEADLINE:
        return kpis.resolved_within_deadline(org, start, end, channel=channel)
    raise ValueError(f"unknown goal metric {metric!r}")


def minutes(wait: timedelta) -> Decimal:
    return (Decimal(wait.total_seconds()) / 60).quantize(kpis.CENT, rounding=ROUND_HALF_UP)


def progress(metric: str, value: Decimal | None, target: Decimal) -> Decimal | None:
    """Percent of the target reached (100 = met), never below 0; None without a value.

    Higher is better: value ÷ target. Lower is better (first-response time): target ÷
    value, so answering in half the target time shows 200 %; a value of 0 is a met goal.
    """
    if value is None or target <= 0:
        return None
    if metric in LOWER_IS_BETTER:
        share = target * 100 / value if value > 0 else Decimal(100)
    else:
        share = value * 100 / target
    return max(Decimal(0), share).quantize(Decimal("1"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class GoalRow:
    goal: Goal
    value: Decimal | None
    progress: Decimal | None
    lower_is_better: bool

    @property
    def met(self) -> bool:
        return self.progress is not None and self.progress >= 100


def rows(goals: list[Goal]) -> list[GoalRow]:
    result = []
    for goal in goals:
        value = measure(goal)
        result.append(
            GoalRow(
                goal=goal,
                value=value,
                progress=progress(goal.metric, value, goal.target),
                lower_is_better=goal.metric in LOWER_IS_BETTER,
            )
        )
    return result
