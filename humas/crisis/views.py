"""Spike alert pages: the list (unacknowledged first) and one alert with its messages.

Views read through :mod:`humas.crisis.access` and change nothing themselves: acknowledging
is :func:`humas.crisis.actions.acknowledge_alert`.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from humas.accounts.access import require
from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor
from humas.crisis import access, actions, spikes
from humas.inbox.access import sees_personal_data
from humas.inbox.models import Message
from humas.inbox.views_contacts import masked_name

#: The messages shown on an alert's page (an alert keeps at most actions.MAX_MESSAGES).
SHOWN_MESSAGES = 100


@login_required
def spike_list(request: HttpRequest) -> HttpResponse:
    alerts = access.alerts_for(request).order_by(
        F("acknowledged_at").asc(nulls_first=True), "-window_end", "-pk"
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
