"""Broadcast pages: drafting one for an incident, approving it, and following each channel
live; held promotion released from the incident's page; who approves broadcasts.

Views read through :mod:`humas.crisis.access` and change nothing themselves: the actions are
in :mod:`humas.crisis.broadcasts` and :mod:`humas.publishing.actions`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from humas.accounts.access import require
from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor
from humas.accounts.models import Membership, User
from humas.crisis import access
from humas.crisis import broadcast_templates as templates
from humas.crisis import broadcasts as actions
from humas.crisis.forms import BroadcastForm
from humas.crisis.incidents import pause_source
from humas.crisis.models import (
    PLACEHOLDERS,
    BroadcastStatus,
    BroadcastTemplate,
    Incident,
    IncidentStatus,
)
from humas.publishing import actions as publishing
from humas.publishing.models import Delivery, Post


def _language_choices(org_id: int) -> list[tuple[str, str]]:
    codes = sorted(
        set(
            BroadcastTemplate.objects.filter(
                organisation_id=org_id, approved_at__isnull=False
            ).values_list("language", flat=True)
        ),
        key=lambda c: (c != "id", c != "en", c),
    )
    return [(c, str(templates.LANGUAGE_NAMES.get(c, c))) for c in codes]


@login_required
def broadcast_create(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = access.get_incident_for(request, incident_id, perm="declare")
    org = incident.organisation
    templates.seed_templates(org)
    channels = actions.usable_channels(org)
    form = BroadcastForm(
        request.POST or None,
        languages=_language_choices(org.pk),
        channels=[(c.pk, f"{c.network_label} · {c}") for c in channels],
        initial={
            "hazard": incident.hazard,
            "languages": ["id", "en"],
            "area": incident.area,
            "channels": [c.pk for c in channels],
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        chosen = [c for c in channels if c.pk in set(data["channels"])]
        try:
            broadcast = actions.draft_broadcast(
                incident,
                by=Actor.from_request(request),
                hazard=data["hazard"],
                languages=data["languages"],
                values={name: data.get(name, "") for name in PLACEHOLDERS},
                channels=chosen,
            )
        except ActionError as exc:
            messages.error(request, str(exc))
        else:
            return redirect("crisis:broadcast", broadcast_id=broadcast.pk)
    return render(
        request,
        "crisis/broadcast_form.html",
        {
            "incident": incident,
            "form": form,
            "root": incident.broadcasts.filter(
                status=BroadcastStatus.APPROVED, parent__isnull=True
            ).first(),
            "has_channels": bool(channels),
        },
    )


@login_required
def broadcast_detail(request: HttpRequest, broadcast_id: int) -> HttpResponse:
    broadcast = access.get_broadcast_for(request, broadcast_id)
    membership = require(request)
    org = broadcast.organisation
    chosen = list(broadcast.channels.order_by("network", "pk"))
    draft = broadcast.status == BroadcastStatus.DRAFT
    problems = actions.limit_problems(broadcast) if draft else {}
    return render(
        request,
        "crisis/broadcast_detail.html",
        {
            "broadcast": broadcast,
            "incident": broadcast.incident,
            "texts": [
                (lang, str(templates.LANGUAGE_NAMES.get(lang, lang)), broadcast.texts.get(lang, ""))
                for lang in broadcast.languages
            ],
            "channels": [(c, problems.get(c.pk, [])) for c in chosen],
            "all_channels": actions.usable_channels(org) if draft else [],
            "chosen_ids": {c.pk for c in chosen},
            "unfilled": actions.unfilled(broadcast) if draft else [],
            "may_write": membership.has_perm("crisis.declare"),
            "may_approve": draft and actions.may_approve(org, request.user),  # type: ignore[arg-type]
            "approvers": actions.approvers(org),
            "progress": actions.progress(broadcast),
            "updates": broadcast.updates.order_by("created_at") if not broadcast.parent_id else [],
        },
    )


@login_required
def broadcast_status(request: HttpRequest, broadcast_id: int) -> HttpResponse:
    """The live part of the broadcast page (htmx polls it until every channel is done)."""
    broadcast = access.get_broadcast_for(request, broadcast_id)
    membership = require(request)
    return render(
        request,
        "crisis/_broadcast_status.html",
        {
            "broadcast": broadcast,
            "progress": actions.progress(broadcast),
            "may_write": membership.has_perm("crisis.declare"),
        },
    )


def then_redirect(
    request: HttpRequest, done: str, change: Callable[[], object], to: str, **kwargs: Any
) -> HttpResponse:
    """Run a named action from a POST: its success or its ActionError as a message, then
    back to the page (the crisis pages' one way of answering a button)."""
    try:
        change()
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect(to, **kwargs)


def _after(
    request: HttpRequest, broadcast_id: int, done: str, change: Callable[[], object]
) -> HttpResponse:
    return then_redirect(request, done, change, "crisis:broadcast", broadcast_id=broadcast_id)


@login_required
@require_POST
def broadcast_edit(request: HttpRequest, broadcast_id: int) -> HttpResponse:
    broadcast = access.get_broadcast_for(request, broadcast_id, write=True)
    wanted = {int(v) for v in request.POST.getlist("channels") if v.isdigit()}
    channels = [c for c in actions.usable_channels(broadcast.organisation) if c.pk in wanted]
    texts = {lang: request.POST.get(f"text_{lang}", "") for lang in broadcast.languages}
    return _after(
        request,
        broadcast.pk,
        _("Broadcast saved."),
        lambda: actions.edit_broadcast(
            broadcast, by=Actor.from_request(request), texts=texts, channels=channels
        ),
    )


@login_required
@require_POST
def broadcast_approve(request: HttpRequest, broadcast_id: int) -> HttpResponse:
    broadcast = access.get_broadcast_for(request, broadcast_id, write=True)
    return _after(
        request,
        broadcast.pk,
        _("Approved: the broadcast is going out on every chosen channel now."),
        lambda: actions.approve_broadcast(broadcast, by=Actor.from_request(request)),
    )


@login_required
@require_POST
def broadcast_cancel(request: HttpRequest, broadcast_id: int) -> HttpResponse:
    broadcast = access.get_broadcast_for(request, broadcast_id, write=True)
    return _after(
        request,
        broadcast.pk,
        _("Broadcast cancelled."),
        lambda: actions.cancel_broadcast(broadcast, by=Actor.from_request(request)),
    )


@login_required
@require_POST
def broadcast_retry(request: HttpRequest, broadcast_id: int, delivery_id: int) -> HttpResponse:
    broadcast = access.get_broadcast_for(request, broadcast_id, write=True)
    delivery = Delivery.objects.filter(pk=delivery_id, post_id=broadcast.post_id or -1).first()
    if delivery is None:
        # A stale page (the delivery was made again): say so on the broadcast's page.
        messages.error(request, _("This delivery is not part of the broadcast."))
        return redirect("crisis:broadcast", broadcast_id=broadcast.pk)
    return _after(
        request,
        broadcast.pk,
        _("Sending to this channel again."),
        lambda: actions.retry_channel(broadcast, delivery, by=Actor.from_request(request)),
    )


@login_required
@require_POST
def held_release(request: HttpRequest, incident_id: int, post_id: int) -> HttpResponse:
    """Release one post held back by the incident's pause."""
    incident = access.get_incident_for(request, incident_id, perm="declare")
    post = Post.objects.filter(
        pk=post_id, organisation=incident.organisation, held_by__source=pause_source(incident)
    ).first()
    if post is None:
        # Released by someone else meanwhile, or never held by this incident.
        messages.error(request, _("This post is not held back."))
        return redirect("crisis:incident", incident_id=incident.pk)
    try:
        publishing.release_post(post, by=Actor.from_request(request))
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("“%(title)s” released.") % {"title": post.title})
    return redirect("crisis:incident", incident_id=incident.pk)


def held_posts(incident: Incident) -> list[Post]:
    return list(
        Post.objects.filter(
            organisation_id=incident.organisation_id,
            held_at__isnull=False,
            held_by__source=pause_source(incident),
        ).order_by("scheduled_at", "pk")[:200]
    )


@login_required
def approvers_settings(request: HttpRequest) -> HttpResponse:
    """Who may approve broadcasts alone (the organisation's administrators decide)."""
    membership = require(request, "org.manage")
    org = membership.organisation
    candidates = [
        m.user
        for m in Membership.objects.filter(organisation=org, is_active=True)
        .select_related("user")
        .order_by("user__email")
        if m.has_perm("crisis.declare")
    ]
    if request.method == "POST":
        wanted = {int(v) for v in request.POST.getlist("approvers") if v.isdigit()}
        users = list(User.objects.filter(pk__in=wanted))
        try:
            actions.set_approvers(org, by=Actor.from_request(request), users=users)
        except ActionError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Broadcast approvers saved."))
            return redirect("crisis:approvers")
    designated = {a.user_id for a in org.broadcast_approvers.all()}
    return render(
        request,
        "crisis/broadcast_approvers.html",
        {"candidates": candidates, "designated": designated, "approvers": actions.approvers(org)},
    )


def incident_extras(incident: Incident) -> dict[str, object]:
    """What the incident page adds for broadcasts and held promotion."""
    return {
        "broadcasts": incident.broadcasts.select_related("approved_by", "created_by"),
        "held_posts": held_posts(incident),
        "may_broadcast": incident.status == IncidentStatus.ACTIVE,
    }
