"""The organisation's public Atom feed of what it published (built by the RSS provider work)."""

from django.http import Http404, HttpRequest, HttpResponse


def public_feed(request: HttpRequest, org_slug: str) -> HttpResponse:
    raise Http404("not built yet")
