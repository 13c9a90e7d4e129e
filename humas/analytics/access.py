"""Access helpers for tracked links (see humas.accounts.access for the rules)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from humas.accounts.access import require
from humas.analytics.models import AuditRubric, Goal, TrackedLink
from humas.channels.models import ChannelAccount
from humas.publishing.access import get_campaign_for
from humas.publishing.models import Campaign, Pillar


def links_for(request: HttpRequest) -> QuerySet[TrackedLink]:
    membership = require(request, "content.view")
    return TrackedLink.objects.filter(organisation=membership.organisation).select_related(
        "campaign", "channel", "post"
    )


def get_link_for(request: HttpRequest, link_id: int, *, write: bool = False) -> TrackedLink:
    link = get_object_or_404(links_for(request), pk=link_id)
    if write:
        require(request, "content.write")
    return link


def get_campaign_links_for(
    request: HttpRequest, campaign_id: int, *, write: bool = False
) -> tuple[Campaign, QuerySet[TrackedLink]]:
    """The campaign (404 outside the organisation) and its links."""
    campaign = get_campaign_for(request, campaign_id, write=write)
    return campaign, links_for(request).filter(campaign=campaign)


# Goals are figures for leadership: anyone who may see the dashboards and reports
# ("reports.view") sees them. Setting them is planning the content (which pillars, which
# campaigns, how fast to answer), so it takes the same right as planning campaigns and
# tracked links, "content.write" (admins, approvers, editors), rather than "org.manage",
# which would leave the PR team's own targets to the administrator alone. Analysts only read.
GOALS_VIEW = "reports.view"
GOALS_MANAGE = "content.write"


def goals_for(request: HttpRequest) -> QuerySet[Goal]:
    membership = require(request, GOALS_VIEW)
    return Goal.objects.filter(organisation=membership.organisation).select_related(
        "organisation", "channel", "campaign"
    )


def get_goal_for(request: HttpRequest, goal_id: int, *, write: bool = False) -> Goal:
    goal = get_object_or_404(goals_for(request), pk=goal_id)
    if write:
        require(request, GOALS_MANAGE)
    return goal


# Dashboards show figures, not the objects' settings: "reports.view" is enough to see a
# channel's, campaign's or pillar's dashboard, whatever the role may do with the object.
DASHBOARDS_VIEW = "reports.view"


def get_dashboard_channel_for(request: HttpRequest, channel_id: int) -> ChannelAccount:
    membership = require(request, DASHBOARDS_VIEW)
    return get_object_or_404(
        ChannelAccount.objects.filter(organisation=membership.organisation), pk=channel_id
    )


def get_dashboard_campaign_for(request: HttpRequest, campaign_id: int) -> Campaign:
    membership = require(request, DASHBOARDS_VIEW)
    return get_object_or_404(
        Campaign.objects.filter(organisation=membership.organisation), pk=campaign_id
    )


def get_dashboard_pillar_for(request: HttpRequest, pillar_id: int) -> Pillar:
    membership = require(request, DASHBOARDS_VIEW)
    return get_object_or_404(
        Pillar.objects.filter(organisation=membership.organisation), pk=pillar_id
    )


# Content audit: the results are figures like the dashboards ("reports.view"); making a rubric
# and answering it for posts is judging the content, done by those who write it.
AUDIT_VIEW = "reports.view"
AUDIT_MANAGE = "content.write"


def rubrics_for(request: HttpRequest) -> QuerySet[AuditRubric]:
    membership = require(request, AUDIT_VIEW)
    return AuditRubric.objects.filter(organisation=membership.organisation).select_related(
        "organisation"
    )


def get_rubric_for(request: HttpRequest, rubric_id: int, *, write: bool = False) -> AuditRubric:
    rubric = get_object_or_404(rubrics_for(request), pk=rubric_id)
    if write:
        require(request, AUDIT_MANAGE)
    return rubric
