"""Access helpers: the only way views and API endpoints reach organisation data.

Each helper takes the request, finds the caller's membership in their current organisation
and returns objects from that organisation only. Another organisation's object is a 404 (its
existence is not revealed); a role without the right is a 403. Later apps add their own
``get_<thing>_for`` helpers built on :func:`require`.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404

from humas.accounts.models import (
    AuditEntry,
    Invitation,
    InvitationQuerySet,
    Membership,
    Notification,
    Organisation,
    Unit,
)


def membership_of(request: HttpRequest) -> Membership | None:
    return getattr(request, "membership", None)


def require(request: HttpRequest, perm: str | None = None) -> Membership:
    """The caller's active membership, checked for ``perm`` when one is given."""
    membership = membership_of(request)
    if membership is None or not membership.is_active:
        # Logged in but belonging nowhere (e.g. deactivated everywhere): nothing to show.
        raise PermissionDenied("no active membership")
    if perm is not None and not membership.has_perm(perm):
        raise PermissionDenied(perm)
    return membership


def organisation_for(request: HttpRequest, perm: str | None = None) -> Organisation:
    return require(request, perm).organisation


def units_for(request: HttpRequest) -> QuerySet[Unit]:
    membership = require(request)
    units = Unit.objects.filter(organisation=membership.organisation)
    if membership.has_perm("units.view"):
        return units
    # Unit agents see only their own unit.
    if membership.unit_id is None:
        return units.none()
    return units.filter(pk=membership.unit_id)


def get_unit_for(request: HttpRequest, unit_id: int, *, write: bool = False) -> Unit:
    unit = get_object_or_404(units_for(request), pk=unit_id)
    if write:
        require(request, "units.manage")
    return unit


def members_for(request: HttpRequest) -> QuerySet[Membership]:
    membership = require(request, "members.view")
    return Membership.objects.filter(organisation=membership.organisation).select_related(
        "user", "unit"
    )


def get_member_for(request: HttpRequest, membership_id: int, *, write: bool = False) -> Membership:
    member = get_object_or_404(members_for(request), pk=membership_id)
    if write:
        require(request, "members.manage")
    return member


def invitations_for(request: HttpRequest) -> InvitationQuerySet:
    membership = require(request, "members.view")
    return Invitation.objects.filter(organisation=membership.organisation).select_related(
        "unit", "invited_by"
    )


def get_invitation_for(request: HttpRequest, invitation_id: int) -> Invitation:
    invitation = get_object_or_404(invitations_for(request), pk=invitation_id)
    require(request, "members.manage")
    return invitation


def audit_entries_for(request: HttpRequest) -> QuerySet[AuditEntry]:
    membership = require(request, "audit.view")
    return AuditEntry.objects.filter(organisation=membership.organisation).select_related("actor")


def notifications_for(request: HttpRequest) -> QuerySet[Notification]:
    membership = require(request)
    return Notification.objects.filter(user=request.user, organisation=membership.organisation)  # type: ignore[misc]


def switchable_memberships(request: HttpRequest) -> QuerySet[Membership]:
    if not request.user.is_authenticated:
        raise Http404
    return Membership.objects.filter(user=request.user, is_active=True).select_related(
        "organisation"
    )
