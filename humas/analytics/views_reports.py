"""The report page (choose a period and a language, preview, download PDF, XLSX or CSV) and
the monthly e-mail schedules (docs/reports.md)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from humas.accounts.access import require
from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor
from humas.accounts.models import Organisation
from humas.analytics import actions, periods, reports
from humas.analytics.forms import ReportScheduleForm
from humas.analytics.models import ReportSchedule

#: Seeing and downloading reports: everyone who sees the dashboards.
REPORTS_VIEW = "reports.view"
# E-mailing the organisation's figures every month to chosen people is a standing decision
# about where its data goes, like the conversion secret or the organisation's settings: the
# administrators make it ("org.manage"). Recipients must themselves hold "reports.view", so
# nobody receives by e-mail what they could not open in humas.
SCHEDULES_MANAGE = "org.manage"

FORMATS = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


def _language(request: HttpRequest) -> str:
    asked = request.GET.get("bahasa", "")
    if asked in reports.LANGUAGES:
        return asked
    current = translation.get_language() or "id"
    return current if current in reports.LANGUAGES else "id"


def _period(request: HttpRequest, org: Organisation) -> periods.Period:
    """The period asked for, last month by default; :class:`periods.PeriodError` otherwise."""
    return periods.parse(request.GET, default=periods.last_month(periods.today_in(org)))


@login_required
def report(request: HttpRequest) -> HttpResponse:
    """Choose a month or a range and a language; preview the report; download it."""
    org = require(request, REPORTS_VIEW).organisation
    language = _language(request)
    error = ""
    body = ""
    period = None
    try:
        period = _period(request, org)
    except periods.PeriodError as exc:
        error = str(exc)
    if period is not None:
        built = reports.build(org, period, language=language)
        # Rendered in the report's language, which may differ from the page's.
        body = mark_safe(reports.render_html(built))  # noqa: S308 - a rendered template
    default = periods.last_month(periods.today_in(org))
    shown = period or default
    return render(
        request,
        "analytics/report.html",
        {
            "period": period,
            "error": error,
            "body": body,
            "language": language,
            "languages": _languages(),
            "month_value": f"{shown.first:%Y-%m}" if shown.is_month else "",
            "first_value": shown.first.isoformat(),
            "last_value": shown.last.isoformat(),
            "query": f"{shown.query()}&bahasa={language}",
            "can_schedule": require(request).has_perm(SCHEDULES_MANAGE),
        },
    )


def _languages() -> list[tuple[str, str]]:
    return [(code, str(name)) for code, name in settings.LANGUAGES if code in reports.LANGUAGES]


@login_required
def report_download(request: HttpRequest, fmt: str) -> HttpResponse:
    """The report as a file: ``pdf``, ``xlsx`` or ``csv``."""
    org = require(request, REPORTS_VIEW).organisation
    if fmt not in FORMATS:
        raise Http404
    try:
        period = _period(request, org)
    except periods.PeriodError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    built = reports.build(org, period, language=_language(request))
    try:
        if fmt == "pdf":
            content = reports.pdf(built)
        elif fmt == "xlsx":
            content = reports.xlsx(built)
        else:
            content = reports.csv(built)
    except reports.ReportError as exc:
        messages.error(request, str(exc))
        return redirect(f"{reverse('analytics:report')}?{request.GET.urlencode()}")
    response = HttpResponse(content, content_type=FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="{built.file_name(fmt)}"'
    return response


# --- schedules -------------------------------------------------------------------------------


def schedules_for(request: HttpRequest) -> QuerySet[ReportSchedule]:
    membership = require(request, SCHEDULES_MANAGE)
    return ReportSchedule.objects.filter(organisation=membership.organisation).select_related(
        "organisation"
    )


def get_schedule_for(request: HttpRequest, schedule_id: int) -> ReportSchedule:
    # Another organisation's schedule is a 404 whatever the caller's role; a role without
    # the right gets 403 from schedules_for before any lookup.
    return get_object_or_404(schedules_for(request), pk=schedule_id)


def _schedule_list(request: HttpRequest, form: ReportScheduleForm | None) -> HttpResponse:
    schedules = schedules_for(request).prefetch_related("recipients")
    org = require(request).organisation
    today = periods.today_in(org)
    return render(
        request,
        "analytics/report_schedules.html",
        {
            "schedules": schedules,
            "form": form or ReportScheduleForm(organisation=org, initial={"language": "id"}),
            "next_day": reports.next_delivery(org, today),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def report_schedules(request: HttpRequest) -> HttpResponse:
    """The monthly e-mailed reports and the form to add one."""
    schedules_for(request)
    if request.method != "POST":
        return _schedule_list(request, None)
    org = require(request).organisation
    form = ReportScheduleForm(request.POST, organisation=org)
    return _save_schedule(request, form, org, None) or _schedule_list(request, form)


def _save_schedule(
    request: HttpRequest,
    form: ReportScheduleForm,
    org: Organisation,
    schedule: ReportSchedule | None,
) -> HttpResponse | None:
    """Saves a valid form as a new schedule or into ``schedule``: the redirect back to the
    list, or ``None`` to show the form again with its errors."""
    if not form.is_valid():
        return None
    fields = {
        "recipients": list(form.cleaned_data["recipients"]),
        "language": form.cleaned_data["language"],
        "enabled": form.cleaned_data["enabled"],
        "by": Actor.from_request(request),
    }
    try:
        if schedule is None:
            actions.create_report_schedule(org, **fields)
            done = _("The monthly report was scheduled.")
        else:
            actions.update_report_schedule(schedule, **fields)
            done = _("The monthly report was saved.")
    except ActionError as exc:
        form.add_error(None, str(exc))
        return None
    messages.success(request, done)
    return redirect("analytics:report_schedules")


@login_required
@require_http_methods(["GET", "POST"])
def report_schedule_edit(request: HttpRequest, schedule_id: int) -> HttpResponse:
    schedule = get_schedule_for(request, schedule_id)
    if request.method == "POST":
        form = ReportScheduleForm(request.POST, organisation=schedule.organisation)
        saved = _save_schedule(request, form, schedule.organisation, schedule)
        if saved is not None:
            return saved
    else:
        form = ReportScheduleForm(
            organisation=schedule.organisation,
            initial={
                "recipients": list(schedule.recipients.values_list("pk", flat=True)),
                "language": schedule.language,
                "enabled": schedule.enabled,
            },
        )
    return render(
        request, "analytics/report_schedule_edit.html", {"schedule": schedule, "form": form}
    )


@login_required
@require_POST
def report_schedule_delete(request: HttpRequest, schedule_id: int) -> HttpResponse:
    schedule = get_schedule_for(request, schedule_id)
    actions.delete_report_schedule(schedule, by=Actor.from_request(request))
    messages.success(request, _("The monthly report was removed."))
    return redirect("analytics:report_schedules")
