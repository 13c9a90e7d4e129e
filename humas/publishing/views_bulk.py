"""Pages for importing a content plan from a spreadsheet and exporting the calendar.

Importing takes two requests: the upload shows a preview (nothing is created), and a
confirmation creates the posts. Between the two, the uploaded file is kept in the session
(server side), named by its SHA-256, and checked again from scratch on confirmation: the
browser never sends rows back, and a plan that went stale meanwhile (a time passed, a pillar
was removed) is caught.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from humas.accounts.access import organisation_for
from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor
from humas.accounts.models import Organisation
from humas.publishing import access, bulk

SESSION_PLAN = "humas_bulk_plan"
MAX_EXPORT_DAYS = 366


class PlanUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Plan file"),
        help_text=gettext_lazy("CSV (comma or semicolon) or Excel .xlsx, up to 2 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,text/csv"}),
    )


def _columns() -> list[dict[str, Any]]:
    descriptions = {
        "title": _("What the team calls the post (not published)."),
        "text": _("The text to publish."),
        "date": _("YYYY-MM-DD or DD/MM/YYYY."),
        "time": _("HH:MM, in the organisation's time zone."),
        "channels": _(
            "Handles or networks, separated by commas (“bluesky, mastodon”); "
            "empty: every connected channel."
        ),
        "pillar": _("The name of a content pillar."),
        "campaign": _("The name or short name of a campaign."),
        "link": _("A web address to share."),
    }
    return [
        {"names": column.names, "required": column.required, "help": descriptions[column.key]}
        for column in bulk.COLUMNS
    ]


def _page(request: HttpRequest, org: Organisation, form: PlanUploadForm) -> HttpResponse:
    return render(
        request,
        "publishing/bulk_import.html",
        {"form": form, "columns": _columns(), "time_zone": org.time_zone},
    )


def _preview(
    request: HttpRequest, org: Organisation, plan: bulk.Plan, name: str, digest: str
) -> HttpResponse:
    return render(
        request,
        "publishing/bulk_preview.html",
        {
            "plan": plan,
            "name": name,
            "digest": digest,
            "form": PlanUploadForm(),
            "time_zone": org.time_zone,
        },
    )


def _remember(request: HttpRequest, org: Organisation, data: bytes, name: str) -> str:
    digest = hashlib.sha256(data).hexdigest()
    request.session[SESSION_PLAN] = {
        "org": org.pk,
        "name": name[:200],
        "digest": digest,
        "data": base64.b64encode(data).decode("ascii"),
    }
    return digest


@login_required
def bulk_import(request: HttpRequest) -> HttpResponse:
    org = organisation_for(request, "content.write")
    if request.method == "POST" and "digest" in request.POST:
        return _confirm(request, org)
    form = PlanUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        name = upload.name or ""
        try:
            if upload.size > bulk.MAX_BYTES:
                raise ActionError(
                    _("The file is larger than %(size)s MB.")
                    % {"size": bulk.MAX_BYTES // (1024 * 1024)}
                )
            data = upload.read(bulk.MAX_BYTES + 1)
            plan = bulk.parse_plan(org, data, filename=name)
        except ActionError as exc:
            form.add_error("file", str(exc))
        else:
            request.session.pop(SESSION_PLAN, None)
            digest = _remember(request, org, data, name) if plan.ok else ""
            return _preview(request, org, plan, name, digest)
    return _page(request, org, form)


def _confirm(request: HttpRequest, org: Organisation) -> HttpResponse:
    kept = request.session.get(SESSION_PLAN) or {}
    if kept.get("org") != org.pk or not secrets.compare_digest(
        str(kept.get("digest", "")), request.POST.get("digest", "")
    ):
        messages.error(request, _("That preview has expired; upload the file again."))
        return redirect("publishing:bulk_import")
    data = base64.b64decode(kept["data"])
    name = kept["name"]
    try:
        plan = bulk.parse_plan(org, data, filename=name)
    except ActionError as exc:
        messages.error(request, str(exc))
        return redirect("publishing:bulk_import")
    if not plan.ok:
        request.session.pop(SESSION_PLAN, None)
        return _preview(request, org, plan, name, "")
    try:
        posts = bulk.import_plan(org, plan.rows, by=Actor.from_request(request))
    except ActionError as exc:
        messages.error(request, str(exc))
        return _preview(request, org, plan, name, kept["digest"])
    request.session.pop(SESSION_PLAN, None)
    messages.success(
        request,
        _(
            "%(count)s posts were created from the plan. Drafts still need to be sent for "
            "approval from their own pages."
        )
        % {"count": len(posts)},
    )
    return redirect("publishing:bulk_import")


@login_required
@require_GET
def bulk_template(request: HttpRequest) -> HttpResponse:
    org = organisation_for(request, "content.view")
    response = HttpResponse(bulk.template_csv(org), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="contoh-rencana-konten.csv"'
    return response


def _day(value: str | None, default: date) -> date:
    return date.fromisoformat(value) if value else default


@login_required
@require_GET
def calendar_export(request: HttpRequest) -> HttpResponse:
    posts = access.posts_for(request)
    org = organisation_for(request, "content.view")
    kind = request.GET.get("format") or "csv"
    if kind not in ("csv", "xlsx", "ics"):
        return HttpResponseBadRequest(_("Choose csv, xlsx or ics as the format."))
    today = timezone.now().astimezone(ZoneInfo(org.time_zone)).date()
    first, last = bulk.month_of(today)
    try:
        start = _day(request.GET.get("from"), first)
        end = _day(request.GET.get("to"), last)
    except ValueError:
        return HttpResponseBadRequest(_("Dates must be written as YYYY-MM-DD."))
    if end < start or (end - start).days > MAX_EXPORT_DAYS:
        return HttpResponseBadRequest(
            _("Choose a range of at most %(days)s days that ends after it starts.")
            % {"days": MAX_EXPORT_DAYS}
        )
    found = bulk.posts_between(posts, org, start, end)
    if kind == "xlsx":
        body, content_type = bulk.export_xlsx(found, org), bulk.XLSX_TYPE
    elif kind == "ics":
        body, content_type = bulk.export_ics(found, org), "text/calendar; charset=utf-8"
    else:
        body, content_type = bulk.export_csv(found, org), "text/csv; charset=utf-8"
    response = HttpResponse(body, content_type=content_type)
    filename = f"kalender-{org.slug}-{start.isoformat()}-{end.isoformat()}.{kind}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
