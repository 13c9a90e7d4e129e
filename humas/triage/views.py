"""The administrators' page for the organisation's own triage model."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor
from humas.triage import access, actions, engine
from humas.triage.models import RetrainRun

#: What the page tells people to expect: seconds on a small server, most of it featurising.
EXPECTED_SECONDS = 30
#: How often the progress fragment asks again while a retrain runs.
POLL_SECONDS = 2


def _last_run(organisation: Any) -> RetrainRun | None:
    return RetrainRun.objects.filter(organisation=organisation).order_by("-created_at").first()


@login_required
@require_GET
def manage(request: HttpRequest) -> HttpResponse:
    org = access.organisation_to_manage(request)
    counts = actions.correction_counts(org)
    versions = list(access.versions_for(request).select_related("created_by"))
    for version in versions:
        version.score_rows = [  # type: ignore[attr-defined]
            {"field": field, **version.scores[field]}
            for field in engine.MODEL_FIELDS
            if field in version.scores
        ]
    return render(
        request,
        "triage/manage.html",
        {
            "counts": [(field, counts[field]) for field in engine.MODEL_FIELDS],
            "total": sum(counts.values()),
            "minimum": actions.MIN_FIELD_CORRECTIONS,
            "versions": versions,
            "active": next((v for v in versions if v.active), None),
            "run": _last_run(org),
            "running": actions.open_run(org) is not None,
            "expected_seconds": EXPECTED_SECONDS,
            "poll_seconds": POLL_SECONDS,
        },
    )


@login_required
@require_POST
def retrain(request: HttpRequest) -> HttpResponse:
    org = access.organisation_to_manage(request)
    try:
        actions.request_retrain(org, by=Actor.from_request(request))
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.info(request, _("Retraining has started; this page shows its progress."))
    return redirect("triage:manage")


@login_required
@require_GET
def progress(request: HttpRequest) -> HttpResponse:
    """The progress fragment the page polls while a retrain is queued or running."""
    org = access.organisation_to_manage(request)
    run = _last_run(org)
    running = actions.open_run(org) is not None
    response = render(
        request,
        "triage/_progress.html",
        {"run": run, "running": running, "poll_seconds": POLL_SECONDS},
    )
    if request.headers.get("HX-Request") and not running:
        # The run finished since the page was drawn: redraw it to show the new version.
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_POST
def rollback(request: HttpRequest) -> HttpResponse:
    org = access.organisation_to_manage(request)
    target = request.POST.get("to", "")
    if target == "shipped":
        version = None
    elif target.isdigit():
        version = access.get_version_for(request, int(target))
    else:
        messages.error(request, _("Choose a version to go back to."))
        return redirect("triage:manage")
    actions.rollback(org, to=version, by=Actor.from_request(request))
    if version is None:
        messages.success(request, _("The shipped model is in use again."))
    else:
        messages.success(request, _("Version %(n)d is in use again.") % {"n": version.number})
    return redirect("triage:manage")
