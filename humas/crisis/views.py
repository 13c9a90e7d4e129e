"""Spike alert pages: the list (unacknowledged first) and one alert with its messages.

Views read through :mod:`humas.crisis.access` and change nothing themselves: acknowledging
is :func:`humas.crisis.actions.acknowledge_alert`. The CAP pages (official warnings, their
feeds and the organisation's area) follow the same rules.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Case, F, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from humas.accounts.access import require
from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor
from humas.accounts.models import Organisation
from humas.crisis import access, actions, cap_out, spikes, views_broadcasts
from humas.crisis import incidents as incident_actions
from humas.crisis.forms import CapFeedForm, CrisisAreaForm, IncidentForm, LeadForm, NoteForm
from humas.crisis.models import CapAlert, CapFeed, CrisisArea, Incident, IncidentStatus
from humas.inbox.access import sees_personal_data
from humas.inbox.models import Message
from humas.inbox.views_contacts import masked_name

#: The messages shown on an alert's page (an alert keeps at most actions.MAX_MESSAGES).
SHOWN_MESSAGES = 100


@login_required
def spike_list(request: HttpRequest) -> HttpResponse:
    # Open alerts first, the latest window first; within one window the whole
    # organisation's alert (key "") before its words, then the highest count.
    alerts = access.alerts_for(request).order_by(
        F("acknowledged_at").asc(nulls_first=True), "-window_end", "key", "-count", "-pk"
    )[:200]
    return render(
        request,
        "crisis/spike_list.html",
        {
            "rows": [{"alert": a, "what": actions.describe(a)} for a in alerts],
            "window_minutes": int(spikes.WINDOW.total_seconds() // 60),
        },
    )


def _shown(alert_messages: list[Message], unmasked: bool) -> list[dict[str, object]]:
    return [
        {
            "message": m,
            "text": m.text if unmasked or not m.masked_text else m.masked_text,
            "who": masked_name(m.conversation.contact, unmasked),
        }
        for m in alert_messages
    ]


@login_required
def spike_detail(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = access.get_alert_for(request, alert_id)
    unmasked = sees_personal_data(request)
    # An erased citizen's messages leave the alert (their rows stay, for the counts).
    rows = list(
        alert.messages.filter(conversation__contact__erased_at__isnull=True)
        .select_related("conversation__contact", "conversation__channel")
        .order_by("-created_at", "-pk")[:SHOWN_MESSAGES]
    )
    return render(
        request,
        "crisis/spike_detail.html",
        {
            "alert": alert,
            "what": actions.describe(alert),
            "thread": _shown(rows, unmasked),
            "may_acknowledge": require(request).has_perm("inbox.work"),
            "incident": Incident.objects.filter(proposed_by_spike=alert).first(),
            "window_minutes": int(spikes.WINDOW.total_seconds() // 60),
        },
    )


@login_required
@require_POST
def spike_acknowledge(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = access.get_alert_for(request, alert_id, write=True)
    try:
        actions.acknowledge_alert(alert, by=Actor.from_request(request))
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Alert acknowledged."))
    return redirect("crisis:spike", alert_id=alert.pk)


# --- CAP feeds and alerts ---------------------------------------------------------------


def _info_in(parsed: dict[str, Any] | None, language: str) -> dict[str, Any] | None:
    """The info block to show, chosen as cap.Alert.info_for does, with its dates read."""
    infos = list((parsed or {}).get("infos") or [])
    if not infos:
        return None
    chosen = infos[0]
    found = False
    for wanted in (language.lower(), "en"):
        for exact in (True, False):
            for info in infos:
                tag = str(info.get("language", "")).lower()
                if tag == wanted if exact else tag.split("-")[0] == wanted.split("-")[0]:
                    chosen, found = info, True
                    break
            if found:
                break
        if found:
            break
    shown = dict(chosen)
    # A publisher's link becomes an href: never a javascript: or data: address.
    if not str(shown.get("web", "")).lower().startswith(("https://", "http://")):
        shown["web"] = ""
    for name in ("effective", "onset", "expires"):
        value = shown.get(name)
        shown[name] = datetime.fromisoformat(value) if isinstance(value, str) else None
    return shown


def _is_expired(alert: CapAlert, now: datetime) -> bool:
    return alert.expired_on_arrival or (alert.expires is not None and alert.expires <= now)


@login_required
def cap_list(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    alerts = access.cap_alerts_for(request).order_by("-matches_area", "-received_at", "-pk")[:200]
    return render(
        request,
        "crisis/cap_list.html",
        {
            "feeds": access.cap_feeds_for(request),
            "rows": [{"alert": a, "expired": _is_expired(a, now)} for a in alerts],
            "may_manage": require(request).has_perm("org.manage"),
        },
    )


@login_required
def cap_alert(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = access.get_cap_alert_for(request, alert_id)
    org = require(request).organisation
    return render(
        request,
        "crisis/cap_detail.html",
        {
            "alert": alert,
            "info": _info_in(alert.parsed, org.default_language),
            "expired": _is_expired(alert, timezone.now()),
            "supersedes": list(alert.supersedes.order_by("sent", "pk")),
        },
    )


def _feed_form(request: HttpRequest, feed: CapFeed | None) -> HttpResponse:
    membership = require(request, "org.manage")
    form = CapFeedForm(request.POST or None, instance=feed)
    if request.method == "POST" and form.is_valid():
        try:
            actions.save_feed(
                membership.organisation,
                by=Actor.from_request(request),
                feed=feed,
                **{name: form.cleaned_data[name] for name in form.Meta.fields},
            )
        except (ActionError, ValidationError) as exc:
            messages.error(request, "; ".join(getattr(exc, "messages", [str(exc)])))
        else:
            messages.success(request, _("Feed saved."))
            return redirect("crisis:cap_list")
    return render(request, "crisis/cap_feed_form.html", {"form": form, "feed": feed})


@login_required
def cap_feed_create(request: HttpRequest) -> HttpResponse:
    return _feed_form(request, None)


@login_required
def cap_feed_edit(request: HttpRequest, feed_id: int) -> HttpResponse:
    return _feed_form(request, access.get_cap_feed_for(request, feed_id))


@login_required
def cap_area(request: HttpRequest) -> HttpResponse:
    membership = require(request, "org.manage")
    area = CrisisArea.objects.filter(organisation=membership.organisation).first()
    initial = {
        "place_names": "\n".join(area.place_names) if area else "",
        "polygon": "\n".join(f"{lat},{lon}" for lat, lon in area.polygon) if area else "",
    }
    form = CrisisAreaForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        actions.save_area(
            membership.organisation,
            by=Actor.from_request(request),
            place_names=form.cleaned_data["place_names"],
            polygon=form.cleaned_data["polygon"],
        )
        messages.success(request, _("Area saved."))
        return redirect("crisis:cap_list")
    return render(request, "crisis/cap_area.html", {"form": form})


# --- Incidents (docs/incidents.md) --------------------------------------------------------

#: Proposed first (they wait for a person), then the active ones, the finished ones last.
_STATUS_ORDER = Case(
    When(status=IncidentStatus.PROPOSED, then=Value(0)),
    When(status=IncidentStatus.ACTIVE, then=Value(1)),
    default=Value(2),
)


@login_required
def incident_list(request: HttpRequest) -> HttpResponse:
    incidents = access.incidents_for(request)
    membership = require(request)
    may_declare = membership.has_perm("crisis.declare")
    form = IncidentForm(request.POST or None)
    if request.method == "POST":
        require(request, "crisis.declare")
        if form.is_valid():
            incident = incident_actions.declare_incident(
                membership.organisation, by=Actor.from_request(request), **form.cleaned_data
            )
            messages.success(request, _("Incident declared."))
            return redirect("crisis:incident", incident_id=incident.pk)
    rows = incidents.order_by(_STATUS_ORDER, "-started_at", "-pk")[:200]
    return render(
        request,
        "crisis/incident_list.html",
        {
            "incidents": rows,
            "form": form,
            "may_declare": may_declare,
            "cap_out_slug": membership.organisation.slug,
        },
    )


@login_required
def incident_detail(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = access.get_incident_for(request, incident_id)
    membership = require(request)
    return render(
        request,
        "crisis/incident_detail.html",
        {
            "incident": incident,
            "events": incident.events.select_related("actor", "cap_alert", "spike", "broadcast"),
            "may_declare": membership.has_perm("crisis.declare"),
            "may_note": any(membership.has_perm(p) for p in access.INCIDENT_NOTE),
            "lead_form": LeadForm(
                organisation=membership.organisation, initial={"lead": incident.lead_id}
            ),
            "note_form": NoteForm(),
            **views_broadcasts.incident_extras(incident),
        },
    )


def _after(
    request: HttpRequest, incident_id: int, done: str, change: Callable[[], object]
) -> HttpResponse:
    return views_broadcasts.then_redirect(
        request, done, change, "crisis:incident", incident_id=incident_id
    )


@login_required
@require_POST
def incident_confirm(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = access.get_incident_for(request, incident_id, perm="declare")
    by = Actor.from_request(request)
    return _after(
        request,
        incident.pk,
        _("Incident confirmed."),
        lambda: incident_actions.confirm_incident(incident, by=by),
    )


@login_required
@require_POST
def incident_dismiss(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = access.get_incident_for(request, incident_id, perm="declare")
    by = Actor.from_request(request)
    return _after(
        request,
        incident.pk,
        _("Incident dismissed."),
        lambda: incident_actions.dismiss_incident(incident, by=by),
    )


@login_required
@require_POST
def incident_close(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = access.get_incident_for(request, incident_id, perm="declare")
    by = Actor.from_request(request)
    return _after(
        request,
        incident.pk,
        _("Incident closed."),
        lambda: incident_actions.close_incident(incident, by=by),
    )


@login_required
@require_POST
def incident_lead(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = access.get_incident_for(request, incident_id, perm="declare")
    form = LeadForm(request.POST, organisation=incident.organisation)
    if not form.is_valid():
        messages.error(request, _("Choose a member of the organisation."))
        return redirect("crisis:incident", incident_id=incident.pk)
    by = Actor.from_request(request)
    lead = form.cleaned_data["lead"]
    return _after(
        request,
        incident.pk,
        _("Incident lead saved."),
        lambda: incident_actions.set_lead(incident, by=by, lead=lead),
    )


@login_required
@require_POST
def incident_note(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = access.get_incident_for(request, incident_id, perm="note")
    form = NoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("A note needs a text."))
        return redirect("crisis:incident", incident_id=incident.pk)
    by = Actor.from_request(request)
    text = form.cleaned_data["text"]
    return _after(
        request,
        incident.pk,
        _("Note added."),
        lambda: incident_actions.add_note(incident, by=by, text=text),
    )


@login_required
@require_POST
def spike_propose(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = access.get_alert_for(request, alert_id, write=True)
    try:
        incident = incident_actions.propose_from_spike(alert, by=Actor.from_request(request))
    except ActionError as exc:
        messages.error(request, str(exc))
        return redirect("crisis:spike", alert_id=alert.pk)
    messages.success(request, _("Incident proposed."))
    return redirect("crisis:incident", incident_id=incident.pk)


# --- CAP out: public, cacheable, no session (like channels' public feed) --------------------


def _public(response: HttpResponse) -> HttpResponse:
    patch_cache_control(response, public=True, max_age=cap_out.CACHE_SECONDS)
    return response


@require_safe
def cap_out_feed(request: HttpRequest, org_slug: str) -> HttpResponse:
    org = get_object_or_404(Organisation, slug=org_slug)
    body = cap_out.render_feed(org, timezone.now())
    return _public(HttpResponse(body, content_type="application/atom+xml; charset=utf-8"))


@require_safe
def cap_out_alert(request: HttpRequest, org_slug: str, incident_id: int) -> HttpResponse:
    org = get_object_or_404(Organisation, slug=org_slug)
    incident = get_object_or_404(
        cap_out.published(org).select_related("organisation"), pk=incident_id
    )
    body = cap_out.render_alert(incident)
    return _public(HttpResponse(body, content_type=cap_out.CAP_CONTENT_TYPE))
