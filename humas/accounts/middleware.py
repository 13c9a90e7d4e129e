"""Request set-up: the caller's organisation, the page language, and the 2FA gate."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import resolve, reverse
from django.urls.exceptions import Resolver404
from django.utils import timezone, translation
from django_otp.plugins.otp_totp.models import TOTPDevice

from humas.accounts.models import Membership, unread_notifications
from humas.accounts.twofactor import has_confirmed_device

SESSION_ORG_KEY = "humas_org_id"

Handler = Callable[[HttpRequest], HttpResponse]


class OrganisationMiddleware:
    """Sets ``request.membership`` to the caller's membership in their current organisation.

    The current organisation is the one chosen in the session, falling back to the first
    active membership. Everything organisation-scoped reads it through ``accounts.access``.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        # What every page asks of the caller comes with the membership, in one query: the
        # unread notifications (the menu's badge) and whether they have a confirmed second
        # factor (the 2FA gate below). Built once: each request only narrows it.
        self.memberships = (
            Membership.objects.filter(is_active=True)
            .select_related("organisation", "unit")
            .annotate(
                unread_notifications=unread_notifications(),
                has_confirmed_device=Exists(
                    TOTPDevice.objects.filter(user_id=OuterRef("user_id"), confirmed=True)
                ),
            )
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        membership: Membership | None = None
        request.membership = None  # type: ignore[attr-defined]
        if request.user.is_authenticated:
            memberships = self.memberships.filter(user_id=request.user.pk)
            chosen = request.session.get(SESSION_ORG_KEY)
            if chosen is not None:
                membership = memberships.filter(organisation_id=chosen).first()
            if membership is None:
                membership = memberships.order_by("created_at", "pk").first()
            request.membership = membership  # type: ignore[attr-defined]
        if membership is None:
            return self.get_response(request)
        # Every time on the page is in the organisation's zone (WIB, WITA or WIT), whatever
        # the server's zone or the reader's: a post "at 08.00" means 08.00 in that region.
        with timezone.override(ZoneInfo(membership.organisation.time_zone)):
            return self.get_response(request)


class LanguageMiddleware:
    """Bahasa Indonesia unless someone chose otherwise.

    Order: the language cookie (set by the switcher), the user's saved choice, the
    organisation's default, then Indonesian. The browser's Accept-Language is deliberately
    ignored: an official tool opens in the official language.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        self.supported = {code for code, _ in settings.LANGUAGES}

    def pick(self, request: HttpRequest) -> str:
        candidates = [request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)]
        if request.user.is_authenticated:
            candidates.append(getattr(request.user, "language", ""))
        membership = getattr(request, "membership", None)
        if membership is not None:
            candidates.append(membership.organisation.default_language)
        for code in candidates:
            if code in self.supported:
                return code
        return settings.LANGUAGE_CODE

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = self.pick(request)
        translation.activate(language)
        request.LANGUAGE_CODE = language  # type: ignore[attr-defined]
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        translation.deactivate()
        return response


# URL names reachable by a signed-in person who has not passed the second factor yet.
TWO_FACTOR_EXEMPT = {
    "accounts:logout",
    "accounts:two_factor_setup",
    "accounts:two_factor_verify",
    "accounts:set_language",
    "ops:healthz",
    "accounts:invitation_accept",
    # Pages for citizens and other systems: a member who has typed their password but not
    # yet their code is, on these pages, just another visitor.
    "inbox:status",
    "analytics:pixel",
    "analytics:conversion",
    "analytics:transparency",
    "channels:webhook",
    "channels:public_feed",
    "crisis:cap_out_feed",
    "crisis:cap_out_alert",
}


class TwoFactorRequiredMiddleware:
    """Until the second factor is passed, a signed-in member can do nothing else.

    Someone with a confirmed device must enter a code after their password. Someone without
    one, in an organisation that requires 2FA, is sent to enrol first.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        # OTPMiddleware (earlier in the chain) gives signed-in users is_verified().
        if not user.is_authenticated or user.is_verified():  # type: ignore[union-attr,attr-defined]
            return self.get_response(request)
        if request.path.startswith(f"/{settings.STATIC_URL.strip('/')}/"):
            return self.get_response(request)
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)
        if match.view_name in TWO_FACTOR_EXEMPT:
            return self.get_response(request)
        membership = getattr(request, "membership", None)
        # Read with the membership by OrganisationMiddleware; asked here when there is none.
        has_device = getattr(membership, "has_confirmed_device", None)
        if has_device is None:
            has_device = has_confirmed_device(user)
        if has_device:
            target = "accounts:two_factor_verify"
        else:
            required = membership is not None and membership.organisation.require_2fa
            if not required:
                return self.get_response(request)
            target = "accounts:two_factor_setup"
        url = reverse(target)
        if request.method == "GET" and target == "accounts:two_factor_verify":
            url = f"{url}?{urlencode({'next': request.get_full_path()})}"
        if getattr(request, "htmx", False):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = url
            return response
        return HttpResponseRedirect(url)
