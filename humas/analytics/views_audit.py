"""Content audit pages: the results per rubric value, the rubrics, and scoring past posts."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from humas.accounts.access import organisation_for, require
from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor
from humas.analytics import access, actions, periods
from humas.analytics import audit as content_audit
from humas.analytics.forms import RubricForm
from humas.analytics.models import AuditRubric, AuditScore
from humas.channels.models import ChannelPost

PAGE_SIZE = 50


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


@login_required
def audit(request: HttpRequest) -> HttpResponse:
    """The rubrics, and for the chosen one which values go with higher engagement."""
    org = organisation_for(request, access.AUDIT_VIEW)
    hook = content_audit.ensure_hook_rubric(org)
    rubrics = list(access.rubrics_for(request))
    chosen_id = _int(request.GET.get("rubrik"))
    if "rubrik" in request.GET and chosen_id is None:
        raise Http404
    rubric = next((r for r in rubrics if r.pk == chosen_id), None) if chosen_id else hook
    if rubric is None:
        raise Http404
    # Without a period asked for, every past post: an audit wants as many posts as there are.
    period: periods.Period | None = None
    period_error = ""
    if any(request.GET.get(name) for name in ("bulan", "dari", "sampai")):
        today = periods.today_in(org)
        try:
            period = periods.parse(request.GET, periods.last_days(today, 90))
        except periods.PeriodError as exc:
            period_error = str(exc)
    return render(
        request,
        "analytics/audit.html",
        {
            "rubrics": rubrics,
            "rubric": rubric,
            "is_hook": content_audit.is_hook(rubric),
            "results": content_audit.results(org, rubric, period),
            "period": period,
            "period_error": period_error,
            "small_sample": content_audit.SMALL_SAMPLE,
            "can_manage": request.membership.has_perm(access.AUDIT_MANAGE),  # type: ignore[attr-defined]
        },
    )


def _overview_url(rubric: AuditRubric) -> str:
    return f"{reverse('analytics:audit')}?{urlencode({'rubrik': rubric.pk})}"


def _rubric_page(
    request: HttpRequest, form: RubricForm, rubric: AuditRubric | None, status: int = 200
) -> HttpResponse:
    builtin = []
    if rubric is not None and content_audit.is_hook(rubric):
        builtin = [content_audit.value_label(rubric, key) for key in content_audit.HOOK_KEYS]
    return render(
        request,
        "analytics/audit_rubric_edit.html",
        {"form": form, "rubric": rubric, "builtin_labels": builtin},
        status=status,
    )


def _save_rubric(
    request: HttpRequest, form: RubricForm, rubric: AuditRubric | None
) -> AuditRubric | None:
    org = require(request, access.AUDIT_MANAGE).organisation
    try:
        return actions.save_rubric(
            org,
            name=form.cleaned_data["name"],
            values=form.value_list(),
            rubric=rubric,
            by=Actor.from_request(request),
        )
    except ActionError as exc:
        form.add_error(None, str(exc))
        return None


@login_required
@require_http_methods(["GET", "POST"])
def rubric_create(request: HttpRequest) -> HttpResponse:
    require(request, access.AUDIT_MANAGE)
    form = RubricForm(request.POST or None)
    rubric = None
    if request.method == "POST" and form.is_valid():
        rubric = _save_rubric(request, form, None)
    if rubric is not None:
        messages.success(request, _("Rubric added. Score the posts with it from its page."))
        return redirect(_overview_url(rubric))
    return _rubric_page(request, form, None)


@login_required
@require_http_methods(["GET", "POST"])
def rubric_edit(request: HttpRequest, rubric_id: int) -> HttpResponse:
    rubric = access.get_rubric_for(request, rubric_id, write=True)
    if request.method == "POST":
        form = RubricForm(request.POST)
        if form.is_valid() and _save_rubric(request, form, rubric):
            messages.success(request, _("Rubric saved."))
            return redirect(_overview_url(rubric))
    else:
        own = [
            value
            for value in rubric.values
            if not (content_audit.is_hook(rubric) and value in content_audit.HOOK_KEYS)
        ]
        form = RubricForm(initial={"name": rubric.name, "values": "\n".join(own)})
    return _rubric_page(request, form, rubric)


def _row(
    rubric: AuditRubric,
    post: ChannelPost,
    score: AuditScore | None,
    error: str = "",
) -> dict[str, Any]:
    return {
        "post": post,
        "score": score,
        "label": content_audit.value_label(rubric, score.value) if score else "",
        "error": error,
    }


def _post_context(request: HttpRequest, rubric: AuditRubric) -> dict[str, Any]:
    return {
        "rubric": rubric,
        "choices": content_audit.value_choices(rubric),
        "can_score": request.membership.has_perm(access.AUDIT_MANAGE),  # type: ignore[attr-defined]
    }


@login_required
@require_http_methods(["GET", "POST"])
def rubric_posts(request: HttpRequest, rubric_id: int) -> HttpResponse:
    """Past posts with their value for the rubric; a person sets or corrects one per row
    (POST ``post`` and ``value``; htmx swaps the row, a plain form comes back here)."""
    if request.method == "POST":
        return _score_post(request, rubric_id)
    rubric = access.get_rubric_for(request, rubric_id)
    posts = (
        content_audit.past_posts(rubric.organisation)
        .select_related("channel")
        .order_by("-published_at", "-pk")
    )
    unscored_only = request.GET.get("belum") == "1"
    if unscored_only:
        posts = posts.exclude(audit_scores__rubric=rubric)
    page = Paginator(posts, PAGE_SIZE).get_page(request.GET.get("page"))
    scores = {
        score.post_id: score
        for score in AuditScore.objects.filter(
            rubric=rubric, post__in=[post.pk for post in page]
        ).select_related("scored_by")
    }
    return render(
        request,
        "analytics/audit_posts.html",
        {
            **_post_context(request, rubric),
            "page": page,
            "rows": [_row(rubric, post, scores.get(post.pk)) for post in page],
            "unscored_only": unscored_only,
            "query": urlencode({"belum": "1"}) if unscored_only else "",
        },
    )


def _score_post(request: HttpRequest, rubric_id: int) -> HttpResponse:
    rubric = access.get_rubric_for(request, rubric_id, write=True)
    post_id = _int(request.POST.get("post"))
    if post_id is None:
        raise Http404
    post = get_object_or_404(
        content_audit.past_posts(rubric.organisation).select_related("channel"), pk=post_id
    )
    error = ""
    try:
        score: AuditScore | None = actions.set_score(
            rubric, post, request.POST.get("value", ""), by=Actor.from_request(request)
        )
    except ActionError as exc:
        error = str(exc)
        score = AuditScore.objects.filter(rubric=rubric, post=post).first()
    if request.htmx:  # type: ignore[attr-defined]
        return render(
            request,
            "analytics/audit_post_row.html",
            {**_post_context(request, rubric), "row": _row(rubric, post, score, error)},
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("Saved."))
    back = {key: request.POST[key] for key in ("page", "belum") if _int(request.POST.get(key))}
    url = reverse("analytics:audit_posts", args=[rubric.pk])
    return redirect(f"{url}?{urlencode(back)}" if back else url)


@login_required
@require_POST
def score_automatically(request: HttpRequest, rubric_id: int) -> HttpResponse:
    rubric = access.get_rubric_for(request, rubric_id, write=True)
    try:
        count = actions.score_automatically(rubric, by=Actor.from_request(request))
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            ngettext(
                "%(count)d post scored automatically; the others are left for a person.",
                "%(count)d posts scored automatically; the others are left for a person.",
                count,
            )
            % {"count": count},
        )
    if request.POST.get("back") == "posts":
        return redirect("analytics:audit_posts", rubric.pk)
    return redirect(_overview_url(rubric))
