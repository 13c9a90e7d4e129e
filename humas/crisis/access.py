"""Access helpers for spike alerts (see humas.accounts.access for the rules).

Alerts are about the whole inbox's traffic and list citizens' messages from every unit, so
they are for those who see the whole inbox (``inbox.view``: responders and admins);
acknowledging one is inbox work (``inbox.work``). Another organisation's alert is a 404.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from humas.accounts.access import require
from humas.accounts.models import Membership
from humas.crisis.models import Broadcast, CapAlert, CapFeed, Incident, SpikeAlert


def alerts_for(request: HttpRequest) -> QuerySet[SpikeAlert]:
    membership = require(request, "inbox.view")
    return SpikeAlert.objects.filter(organisation=membership.organisation).select_related(
        "acknowledged_by"
    )


def get_alert_for(request: HttpRequest, alert_id: int, *, write: bool = False) -> SpikeAlert:
    membership = require(request)
    alert = get_object_or_404(
        SpikeAlert.objects.filter(organisation=membership.organisation).select_related(
            "acknowledged_by"
        ),
        pk=alert_id,
    )
    require(request, "inbox.work" if write else "inbox.view")
    return alert


# CAP alerts: official warnings, read with the spike alerts by those who watch the whole inbox
# (``inbox.view``); the feeds and the organisation's area are settings (``org.manage``).


def cap_alerts_for(request: HttpRequest) -> QuerySet[CapAlert]:
    membership = require(request, "inbox.view")
    return CapAlert.objects.filter(organisation=membership.organisation)


def get_cap_alert_for(request: HttpRequest, alert_id: int) -> CapAlert:
    membership = require(request)
    alert = get_object_or_404(
        CapAlert.objects.filter(organisation=membership.organisation).select_related(
            "feed", "superseded_by"
        ),
        pk=alert_id,
    )
    require(request, "inbox.view")
    return alert


def cap_feeds_for(request: HttpRequest) -> QuerySet[CapFeed]:
    membership = require(request, "inbox.view")
    return CapFeed.objects.filter(organisation=membership.organisation)


def get_cap_feed_for(request: HttpRequest, feed_id: int) -> CapFeed:
    membership = require(request)
    feed = get_object_or_404(CapFeed, organisation=membership.organisation, pk=feed_id)
    require(request, "org.manage")
    return feed


# Incidents: seen by those who watch the whole inbox (``inbox.view``: admins, responders) and
# by those who may declare one (``crisis.declare``: admins, approvers, who decide on public
# statements); notes are written by either inbox workers or declarers; declaring,
# confirming, dismissing, closing and choosing the lead need ``crisis.declare``.

INCIDENT_VIEW = ("inbox.view", "crisis.declare")
INCIDENT_NOTE = ("inbox.work", "crisis.declare")


def require_any(request: HttpRequest, perms: tuple[str, ...]) -> Membership:
    membership = require(request)
    if not any(membership.has_perm(p) for p in perms):
        raise PermissionDenied(perms[0])
    return membership


def incidents_for(request: HttpRequest) -> QuerySet[Incident]:
    membership = require_any(request, INCIDENT_VIEW)
    return Incident.objects.filter(organisation=membership.organisation).select_related("lead")


def get_incident_for(request: HttpRequest, incident_id: int, *, perm: str = "") -> Incident:
    """``perm``: "" to read, "note" to add a note, "declare" for the other changes."""
    membership = require(request)
    incident = get_object_or_404(
        Incident.objects.filter(organisation=membership.organisation).select_related(
            "lead", "proposed_by_alert", "proposed_by_spike"
        ),
        pk=incident_id,
    )
    if perm == "declare":
        require(request, "crisis.declare")
    else:
        require_any(request, INCIDENT_NOTE if perm == "note" else INCIDENT_VIEW)
    return incident


def get_broadcast_for(request: HttpRequest, broadcast_id: int, *, write: bool = False) -> Broadcast:
    """A broadcast of the member's organisation: read like its incident; drafting, editing,
    approving and retrying need ``crisis.declare`` (the approver rule is the action's)."""
    membership = require_any(request, ("crisis.declare",) if write else INCIDENT_VIEW)
    return get_object_or_404(
        Broadcast.objects.filter(organisation=membership.organisation).select_related(
            "incident", "parent", "created_by", "approved_by", "post"
        ),
        pk=broadcast_id,
    )
