"""Tracked links: the public redirect, pixel and conversion call; the campaign pages."""

from __future__ import annotations

import base64
import csv
import json
import re
import secrets
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import IntegerField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from humas.accounts.access import organisation_for
from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor
from humas.analytics import access, actions, goals
from humas.analytics.forms import GoalForm, LinkForm
from humas.analytics.models import (
    Conversion,
    ConversionSecret,
    ConversionSource,
    Goal,
    LinkClickDay,
    TrackedLink,
)
from humas.analytics.tracking import (
    SignatureError,
    count_click,
    dedupe_key,
    find_active,
    is_bot,
    landing_url,
    local_day,
    verify,
)
from humas.publishing.access import campaigns_for

MAX_CODE = 16
#: A transparent 1×1 GIF.
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
#: The pixel's own cookie: a random token naming this browser to the pixel only, so one
#: browser's conversion on a landing page counts once. Nothing else reads or sets it.
PIXEL_COOKIE = "humas_px"
PIXEL_COOKIE_DAYS = 90
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MAX_CONVERSION_BODY = 4096


# --- the public endpoints -----------------------------------------------------------------


def _not_found(request: HttpRequest) -> HttpResponse:
    # The visitor is a citizen following a link, not a member: their browser's language
    # (Indonesian unless it prefers English) instead of the members' rule of ignoring it.
    # Rendered without the request: TrackedLinkMiddleware answers before the context
    # processors' inputs (user, organisation, CSP nonce) exist, and the page needs none.
    language = translation.get_language_from_request(request)
    with translation.override(language):
        html = render_to_string("analytics/link_not_found.html", {"LANGUAGE_CODE": language})
    response = HttpResponse(html, status=404)
    response["Content-Language"] = language
    # What CSPMiddleware and XFrameOptionsMiddleware would add, for a page with no script.
    response["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'"
    )
    response["X-Frame-Options"] = "DENY"
    return response


def follow(request: HttpRequest, code: str) -> HttpResponse:
    """``/l/<code>``: one indexed lookup, one counter upsert, a 302."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
    row = find_active(code) if len(code) <= MAX_CODE else None
    if row is None:
        return _not_found(request)
    link_id, destination, time_zone = row
    if not is_bot(request):
        count_click(link_id, local_day(time_zone))
    response = HttpResponseRedirect(landing_url(destination, code))
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


def _link_by_code(code: str) -> TrackedLink | None:
    if len(code) > MAX_CODE:
        return None
    return TrackedLink.objects.select_related("organisation").filter(code=code).first()


def pixel(request: HttpRequest, code: str) -> HttpResponse:
    """A 1×1 GIF for the landing page; counts one conversion per link and browser token.

    Always answers with the image (a broken image on a public page helps nobody). Inactive
    links still count: the visitor clicked while the link was live.
    """
    response = HttpResponse(PIXEL_GIF, content_type="image/gif")
    response["Cache-Control"] = "no-store"
    if is_bot(request):
        return response
    link = _link_by_code(code)
    if link is None:
        return response
    token = request.COOKIES.get(PIXEL_COOKIE, "")
    if not _TOKEN.match(token):
        token = secrets.token_urlsafe(18)
        # A cross-site pixel needs SameSite=None, which browsers accept only with Secure.
        secure = request.is_secure()
        response.set_cookie(
            PIXEL_COOKIE,
            token,
            max_age=PIXEL_COOKIE_DAYS * 86400,
            path="/l/",
            secure=secure,
            httponly=True,
            samesite="None" if secure else "Lax",
        )
    actions.record_conversion(
        link,
        source=ConversionSource.PIXEL,
        time_zone=link.organisation.time_zone,
        # Salted with the link: the same browser's conversions on two links do not match.
        dedupe_key=dedupe_key("pixel", link.pk, token),
    )
    return response


def _error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"error": code, "detail": detail}, status=status)


def _parse_conversion(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise ValueError("The body is not JSON.") from None
    if not isinstance(data, dict):
        raise ValueError("The body must be a JSON object.")
    parsed: dict[str, Any] = {}
    caller_id = data.get("id")
    if caller_id is not None:
        if not isinstance(caller_id, str | int) or not str(caller_id) or len(str(caller_id)) > 200:
            raise ValueError('"id" must be a string of 1 to 200 characters.')
        parsed["id"] = str(caller_id)
    count = data.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 1000:
        raise ValueError('"count" must be a whole number from 1 to 1000.')
    parsed["count"] = count
    value = data.get("value")
    if value is not None:
        try:
            parsed["value"] = Decimal(str(value)).quantize(Decimal("0.01"))
        except InvalidOperation:
            raise ValueError('"value" must be a number.') from None
        if isinstance(value, bool) or abs(parsed["value"]) >= Decimal("1e12"):
            raise ValueError('"value" must be a number below 10^12.')
    label = data.get("label", "")
    if not isinstance(label, str) or len(label) > 100:
        raise ValueError('"label" must be a string of at most 100 characters.')
    parsed["label"] = label
    return parsed


# The agency's server calls this, not a browser holding a humas page: it has no CSRF cookie
# or token. What authenticates the call instead is the HMAC over the body and a fresh
# timestamp with the organisation's secret, which a cross-site form cannot produce.
@csrf_exempt
def conversion(request: HttpRequest, code: str) -> HttpResponse:
    """``POST /l/<code>/conversion``, signed; answers JSON (the error texts are for the
    developer wiring the call, hence English)."""
    if request.method != "POST":
        response = _error(405, "method_not_allowed", "Use POST.")
        response["Allow"] = "POST"
        return response
    link = _link_by_code(code)
    if link is None:
        return _error(404, "unknown_link", "No tracked link has this code.")
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_CONVERSION_BODY:
        return _error(413, "too_large", f"The body must be at most {MAX_CONVERSION_BODY} bytes.")
    secret = actions.conversion_secret(link.organisation_id)
    if secret is None:
        return _error(
            403, "no_secret", "The organisation has not generated a conversion secret yet."
        )
    try:
        verify(
            secret,
            request.headers.get("X-Humas-Timestamp", ""),
            request.headers.get("X-Humas-Signature", ""),
            request.body,
        )
    except SignatureError as exc:
        return _error(401, exc.code, exc.detail)
    try:
        data = _parse_conversion(request.body)
    except ValueError as exc:
        return _error(400, "bad_request", str(exc))
    recorded = actions.record_conversion(
        link,
        source=ConversionSource.SERVER,
        time_zone=link.organisation.time_zone,
        dedupe_key=dedupe_key("server", data["id"]) if "id" in data else None,
        count=data["count"],
        value=data.get("value"),
        label=data["label"],
    )
    if not recorded:
        return JsonResponse({"status": "duplicate"}, status=200)
    return JsonResponse({"status": "recorded"}, status=201)


# --- the members' pages -------------------------------------------------------------------


def with_totals(links: QuerySet[TrackedLink]) -> QuerySet[TrackedLink]:
    """Each link with ``clicks``, ``converted`` (conversions) and ``value`` summed.

    Subqueries, not joins: joining both tables would multiply clicks by conversions.
    """
    clicks = (
        LinkClickDay.objects.filter(link=OuterRef("pk"))
        .order_by()
        .values("link")
        .annotate(n=Sum("clicks"))
        .values("n")
    )
    converted = (
        Conversion.objects.filter(link=OuterRef("pk"))
        .order_by()
        .values("link")
        .annotate(n=Sum("count"))
        .values("n")
    )
    return links.annotate(
        clicks=Coalesce(Subquery(clicks, output_field=IntegerField()), 0),
        converted=Coalesce(Subquery(converted, output_field=IntegerField()), 0),
    )


def conversion_rate(conversions: int, clicks: int) -> float | None:
    """Conversions per click, or None when nothing was clicked (shown as "—")."""
    return conversions / clicks if clicks else None


def rate_label(conversions: int, clicks: int) -> str:
    rate = conversion_rate(conversions, clicks)
    return "—" if rate is None else f"{number_format(rate * 100, 1)} %"


def _rows(links: QuerySet[TrackedLink]) -> list[dict[str, Any]]:
    return [
        {"link": link, "rate": rate_label(link.converted, link.clicks)}  # type: ignore[attr-defined]
        for link in with_totals(links)
    ]


@login_required
def link_list(request: HttpRequest) -> HttpResponse:
    """Every campaign that has tracked links, with its totals."""
    per_campaign: dict[int, dict[str, int]] = {}
    totals = with_totals(access.links_for(request).filter(campaign__isnull=False))
    for link in totals.order_by():
        sums = per_campaign.setdefault(
            link.campaign_id or 0, {"links": 0, "clicks": 0, "converted": 0}
        )
        sums["links"] += 1
        sums["clicks"] += link.clicks  # type: ignore[attr-defined]
        sums["converted"] += link.converted  # type: ignore[attr-defined]
    campaigns = []
    empty = {"links": 0, "clicks": 0, "converted": 0}
    for campaign in campaigns_for(request):
        sums = per_campaign.get(campaign.pk, empty)
        campaigns.append(
            {
                "campaign": campaign,
                **sums,
                "rate": rate_label(sums["converted"], sums["clicks"]),
            }
        )
    return render(request, "analytics/link_list.html", {"campaigns": campaigns})


def _campaign_page(request: HttpRequest, campaign_id: int, form: LinkForm | None) -> HttpResponse:
    campaign, links = access.get_campaign_links_for(request, campaign_id)
    rows = _rows(links)
    clicks = sum(row["link"].clicks for row in rows)
    converted = sum(row["link"].converted for row in rows)
    if form is None and request.membership.has_perm("content.write"):  # type: ignore[attr-defined]
        form = LinkForm(campaign=campaign)
    return render(
        request,
        "analytics/campaign_links.html",
        {
            "campaign": campaign,
            "rows": rows,
            "form": form,
            "clicks": clicks,
            "converted": converted,
            "rate": rate_label(converted, clicks),
        },
    )


@login_required
def campaign_links(request: HttpRequest, campaign_id: int) -> HttpResponse:
    return _campaign_page(request, campaign_id, None)


@login_required
@require_POST
def link_create(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign, _links = access.get_campaign_links_for(request, campaign_id, write=True)
    form = LinkForm(request.POST, campaign=campaign)
    if form.is_valid():
        try:
            links = actions.create_links(
                campaign,
                destination=form.cleaned_data["destination"],
                channels=list(form.cleaned_data["channels"]),
                post=form.cleaned_data["post"],
                label=form.cleaned_data["label"],
                by=Actor.from_request(request),
            )
        except ActionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                translation.ngettext(
                    "%(count)d tracked link created.",
                    "%(count)d tracked links created.",
                    len(links),
                )
                % {"count": len(links)},
            )
            return redirect("analytics:campaign_links", campaign.pk)
    return _campaign_page(request, campaign_id, form)


def _csv_cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A cell starting with = + - @ is a formula to a spreadsheet; labels come from people.
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@login_required
def campaign_links_csv(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign, links = access.get_campaign_links_for(request, campaign_id)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="tautan-{campaign.slug}.csv"'
    writer = csv.writer(response)
    writer.writerow(
        [
            "code",
            "short_url",
            "channel",
            "network",
            "post",
            "label",
            "destination",
            "active",
            "created",
            "clicks",
            "conversions",
            "conversion_rate",
        ]
    )
    for row in _rows(links):
        link = row["link"]
        rate = conversion_rate(link.converted, link.clicks)
        writer.writerow(
            [
                _csv_cell(value)
                for value in (
                    link.code,
                    link.short_url,
                    link.channel.handle if link.channel else "",
                    link.channel.network if link.channel else "",
                    link.post.title if link.post else "",
                    link.label,
                    link.destination,
                    "yes" if link.is_active else "no",
                    link.created_at.date().isoformat(),
                    link.clicks,
                    link.converted,
                    "" if rate is None else f"{rate:.4f}",
                )
            ]
        )
    return response


@login_required
@require_POST
def link_deactivate(request: HttpRequest, link_id: int) -> HttpResponse:
    link = access.get_link_for(request, link_id, write=True)
    try:
        actions.deactivate_link(link, by=Actor.from_request(request))
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("The link no longer redirects."))
    if link.campaign_id is None:
        return redirect("analytics:link_list")
    return redirect("analytics:campaign_links", link.campaign_id)


@login_required
def conversion_settings(request: HttpRequest) -> HttpResponse:
    org = organisation_for(request, "org.manage")
    row = ConversionSecret.objects.filter(organisation=org).first()
    return render(
        request,
        "analytics/conversion_settings.html",
        {
            "secret": actions.conversion_secret(org.pk) if row else None,
            "secret_row": row,
            "today": local_day(org.time_zone),
        },
    )


@login_required
@require_POST
def conversion_secret_regenerate(request: HttpRequest) -> HttpResponse:
    org = organisation_for(request, "org.manage")
    actions.regenerate_conversion_secret(org, by=Actor.from_request(request))
    messages.success(
        request, _("A new conversion secret was made; calls signed with the old one now fail.")
    )
    return redirect("analytics:conversion_settings")


# --- goals --------------------------------------------------------------------------------


def _goal_list_page(request: HttpRequest, form: GoalForm | None) -> HttpResponse:
    goal_list = list(access.goals_for(request))
    membership = request.membership  # type: ignore[attr-defined]
    can_manage = membership.has_perm(access.GOALS_MANAGE)
    if form is None and can_manage:
        form = GoalForm(organisation=membership.organisation)
    return render(
        request,
        "analytics/goal_list.html",
        {"rows": goals.rows(goal_list), "form": form, "can_manage": can_manage},
    )


@login_required
def goal_list(request: HttpRequest) -> HttpResponse:
    """Every goal with its current value and progress; the form to add one."""
    return _goal_list_page(request, None)


def _save_goal(request: HttpRequest, form: GoalForm, goal: Goal | None) -> bool:
    data = form.cleaned_data
    fields = {
        "metric": data["metric"],
        "target": data["target"],
        "starts_on": data["starts_on"],
        "ends_on": data["ends_on"],
        "channel": data["channel"],
        "campaign": data["campaign"],
        "by": Actor.from_request(request),
    }
    try:
        if goal is None:
            actions.create_goal(form.organisation, **fields)
        else:
            actions.update_goal(goal, **fields)
    except ActionError as exc:
        form.add_error(None, str(exc))
        return False
    return True


@login_required
@require_POST
def goal_create(request: HttpRequest) -> HttpResponse:
    org = organisation_for(request, access.GOALS_MANAGE)
    form = GoalForm(request.POST, organisation=org)
    if form.is_valid() and _save_goal(request, form, None):
        messages.success(request, _("Goal added."))
        return redirect("analytics:goal_list")
    return _goal_list_page(request, form)


@login_required
@require_http_methods(["GET", "POST"])
def goal_edit(request: HttpRequest, goal_id: int) -> HttpResponse:
    goal = access.get_goal_for(request, goal_id, write=True)
    if request.method == "POST":
        form = GoalForm(request.POST, organisation=goal.organisation)
        if form.is_valid() and _save_goal(request, form, goal):
            messages.success(request, _("Goal saved."))
            return redirect("analytics:goal_list")
    else:
        form = GoalForm(
            organisation=goal.organisation,
            initial={
                "metric": goal.metric,
                "target": goal.target,
                "starts_on": goal.starts_on,
                "ends_on": goal.ends_on,
                "channel": goal.channel_id,
                "campaign": goal.campaign_id,
            },
        )
    return render(request, "analytics/goal_edit.html", {"goal": goal, "form": form})


@login_required
@require_POST
def goal_delete(request: HttpRequest, goal_id: int) -> HttpResponse:
    goal = access.get_goal_for(request, goal_id, write=True)
    actions.delete_goal(goal, by=Actor.from_request(request))
    messages.success(request, _("Goal deleted."))
    return redirect("analytics:goal_list")
