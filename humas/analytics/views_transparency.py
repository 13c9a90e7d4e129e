"""The public transparency page (no login) and its settings page for administrators."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from humas.accounts.access import organisation_for
from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor
from humas.accounts.models import Organisation
from humas.analytics import actions, transparency
from humas.analytics.forms import TransparencyForm
from humas.analytics.models import TransparencyPage
from humas.inbox.models import Category

#: How long a browser or a proxy may keep the public page. The figures change once a day;
#: a quarter of an hour bounds how long a withdrawn page can still be seen from a cache.
CACHE_SECONDS = 900
MANAGE = "org.manage"


# --- turning the stored figures into what the pages show ------------------------------------


def wait_label(minutes: float | None) -> str:
    if minutes is None:
        return "—"
    if minutes < 1:
        return _("under a minute")
    if minutes < 120:
        return _("%(minutes)s min") % {"minutes": number_format(round(minutes))}
    if minutes < 48 * 60:
        hours, rest = divmod(round(minutes), 60)
        return _("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": rest}
    return _("%(days)s days") % {"days": number_format(minutes / (24 * 60), 1)}


def percent_label(value: float | None) -> str:
    return "—" if value is None else f"{number_format(value, 1)}\u00a0%"


@dataclass(frozen=True)
class CategoryBar:
    label: str
    count: int
    share: str
    # A class ``bar-w-0`` … ``bar-w-100`` in steps of 5: the strict CSP forbids inline styles.
    width: int


@dataclass(frozen=True)
class Figures:
    first: date
    last: date
    conversations: int
    answered: int
    wait: str
    on_time: str
    complaints_measured: int
    bars: list[CategoryBar]


def _figures(block: dict[str, Any], categories: list[str]) -> Figures:
    labels = dict(Category.choices)
    total = int(block.get("conversations") or 0)
    counts = block.get("by_category") or {}
    bars = []
    for key in categories:
        count = int(counts.get(key) or 0)
        bars.append(
            CategoryBar(
                # An unknown key is shown as it is (escaped by the template), never dropped.
                label=str(labels.get(key, key)),
                count=count,
                share=percent_label(count * 100 / total if total else None),
                width=round(count * 20 / total) * 5 if total else 0,
            )
        )
    return Figures(
        first=date.fromisoformat(block["first"]),
        last=date.fromisoformat(block["last"]),
        conversations=total,
        answered=int(block.get("answered") or 0),
        wait=wait_label(block.get("median_first_response_minutes")),
        on_time=percent_label(block.get("resolved_within_deadline_percent")),
        complaints_measured=int(block.get("complaints_measured") or 0),
        bars=bars,
    )


def display(page: TransparencyPage | None) -> dict[str, Any] | None:
    """What the templates show of the stored figures; None when there are none to show."""
    if page is None or page.computed_at is None:
        return None
    stored = page.figures or {}
    if stored.get("format") != transparency.FORMAT:
        return None
    categories = [key for key in stored.get("categories", []) if isinstance(key, str)]
    zone = ZoneInfo(stored.get("time_zone") or page.organisation.time_zone)
    return {
        "updated_on": page.computed_at.astimezone(zone).date(),
        "computed_for": date.fromisoformat(stored["computed_for"]),
        "rolling": _figures(stored["last_30_days"], categories),
        "months": [_figures(block, categories) for block in reversed(stored["months"])],
    }


# --- the public page -------------------------------------------------------------------------


def _published(slug: str) -> TransparencyPage:
    page = (
        TransparencyPage.objects.select_related("organisation")
        .filter(organisation__slug=slug, enabled=True)
        .first()
    )
    # Not published and no such organisation answer alike: whether an organisation uses
    # humas at all is not for the page to tell.
    if page is None:
        raise Http404
    return page


@require_http_methods(["GET", "HEAD"])
def public_page(request: HttpRequest, slug: str) -> HttpResponse:
    """``/transparansi/<slug>/``: the stored figures, for anyone, cacheable.

    Nothing here writes to the session or asks for a CSRF token, so no cookie is set and a
    shared cache may keep the page. Its language switch is a pair of links (``?lang=en``)
    rather than the site's form, which would need that token.
    """
    page = _published(slug)
    language = request.GET.get("lang", "")
    if language not in dict(settings.LANGUAGES):
        # The site's choice: the language cookie, else Bahasa Indonesia (LanguageMiddleware).
        language = translation.get_language()
    with translation.override(language):
        response = render(
            request,
            "analytics/transparency_public.html",
            {
                "public_org": page.organisation,
                "figures": display(page),
                "language": language,
                "LANGUAGE_CODE": language,
            },
        )
    response["Content-Language"] = language
    patch_cache_control(response, public=True, max_age=CACHE_SECONDS)
    # The language cookie changes the page.
    patch_vary_headers(response, ["Cookie"])
    return response


# --- the settings page -----------------------------------------------------------------------


def public_url(org: Organisation) -> str:
    return f"{settings.SITE_URL}{reverse('analytics:transparency', args=[org.slug])}"


@login_required
@require_http_methods(["GET", "POST"])
def transparency_settings(request: HttpRequest) -> HttpResponse:
    """Publish or withdraw the page, with a preview of what it shows."""
    org = organisation_for(request, MANAGE)
    if request.method == "POST":
        form = TransparencyForm(request.POST)
        if form.is_valid():
            enabled = form.cleaned_data["enabled"]
            try:
                actions.set_transparency(org, enabled=enabled, by=Actor.from_request(request))
            except ActionError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(
                    request,
                    _("The transparency page is published.")
                    if enabled
                    else _("The transparency page is withdrawn; its address now answers 404."),
                )
        return redirect("analytics:transparency_settings")
    page = TransparencyPage.objects.filter(organisation=org).select_related("organisation").first()
    return render(
        request,
        "analytics/transparency_settings.html",
        {
            "page": page,
            "enabled": bool(page and page.enabled),
            "figures": display(page),
            "public_url": public_url(org),
            "public_org": org,
        },
    )


@login_required
@require_POST
def transparency_recompute(request: HttpRequest) -> HttpResponse:
    org = organisation_for(request, MANAGE)
    actions.recompute_transparency(org, by=Actor.from_request(request))
    messages.success(request, _("The figures were computed again."))
    return redirect("analytics:transparency_settings")
