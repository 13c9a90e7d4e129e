from django.urls import include, path

from humas.accounts import views as account_views

urlpatterns = [
    path("", account_views.home, name="home"),
    # First: the public link redirect (/l/<code>) is the busiest URL, and Django resolves by
    # trying every pattern in order (and noting each miss), ~1 ms with the others before it.
    path("", include("humas.analytics.urls")),
    path("", include("humas.accounts.urls")),
    path("", include("humas.ops.urls")),
    path("", include("humas.channels.urls")),
    path("", include("humas.publishing.urls")),
    path("", include("humas.inbox.urls")),
    path("", include("humas.triage.urls")),
    path("", include("humas.crisis.urls")),
]

handler403 = "humas.accounts.views.forbidden"
handler404 = "humas.accounts.views.not_found"
