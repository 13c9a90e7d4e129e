"""The tracked-link redirect, answered before the rest of the middleware runs."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from humas.analytics.views import follow

_LINK = re.compile(r"/l/([A-Za-z0-9_-]{1,16})")


class TrackedLinkMiddleware:
    """Answers ``/l/<code>`` at once, after only the security headers and static files.

    The redirect is the busiest URL of humas (the issue's target: 1,000 a second on two
    cores) and needs nothing the later middleware provide: no session, user, organisation,
    CSRF token, language, 2FA gate or Content Security Policy (a 302 has no page). Skipping
    them halves the time spent on each click. The same view is routed in ``urls.py`` too, so
    ``reverse("analytics:follow")`` works and the page still answers without this middleware.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path.startswith("/l/"):
            match = _LINK.fullmatch(path)
            if match is not None:
                request.get_host()  # the ALLOWED_HOSTS check CommonMiddleware would make
                return follow(request, match.group(1))
        return self.get_response(request)
