from django.urls import include, path

app_name = "publishing"

# One module per part of the publishing pages, each with its own ``urlpatterns``.
urlpatterns = [
    path("", include("humas.publishing.urls_posts")),
    path("", include("humas.publishing.urls_plan")),
    path("", include("humas.publishing.urls_media")),
    path("", include("humas.publishing.urls_bulk")),
]
