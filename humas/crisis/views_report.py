"""An incident's after-action report: the preview inside the site and the PDF download
(docs/after-action.md). Whoever may see the incident may read its report."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_safe

from humas.crisis import access, after_action
from humas.lib.pdf import PdfUnavailable


def _languages() -> list[tuple[str, str]]:
    return [
        (code, str(name)) for code, name in settings.LANGUAGES if code in after_action.LANGUAGES
    ]


@login_required
@require_safe
def incident_report(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = access.get_incident_for(request, incident_id)
    language = after_action.language_for(incident.organisation, request.GET.get("bahasa", ""))
    report = after_action.build(incident, language=language)
    # Rendered in the report's language, which may differ from the page's.
    body = mark_safe(after_action.render_html(report, document=False))  # noqa: S308 - a rendered template
    return render(
        request,
        "crisis/after_action_page.html",
        {
            "incident": incident,
            "body": body,
            "language": language,
            "languages": _languages(),
        },
    )


@login_required
@require_safe
def incident_report_pdf(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = access.get_incident_for(request, incident_id)
    language = after_action.language_for(incident.organisation, request.GET.get("bahasa", ""))
    report = after_action.build(incident, language=language)
    try:
        content = after_action.pdf(report)
    except PdfUnavailable as exc:
        messages.error(request, str(exc))
        page = reverse("crisis:incident_report", kwargs={"incident_id": incident.pk})
        return redirect(f"{page}?bahasa={language}")
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{report.file_name()}"'
    return response
