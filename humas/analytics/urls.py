from django.urls import path

from humas.analytics import views

app_name = "analytics"

urlpatterns = [
    # Public: citizens follow these; no login, no session, nothing personal kept.
    path("l/<str:code>", views.follow, name="follow"),
    path("l/<str:code>/pixel.gif", views.pixel, name="pixel"),
    path("l/<str:code>/conversion", views.conversion, name="conversion"),
    # Members' pages.
    path("analitik/tautan/", views.link_list, name="link_list"),
    path(
        "analitik/kampanye/<int:campaign_id>/tautan/",
        views.campaign_links,
        name="campaign_links",
    ),
    path(
        "analitik/kampanye/<int:campaign_id>/tautan/baru/",
        views.link_create,
        name="link_create",
    ),
    path(
        "analitik/kampanye/<int:campaign_id>/tautan.csv",
        views.campaign_links_csv,
        name="campaign_links_csv",
    ),
    path(
        "analitik/tautan/<int:link_id>/nonaktifkan/",
        views.link_deactivate,
        name="link_deactivate",
    ),
    path("analitik/konversi/", views.conversion_settings, name="conversion_settings"),
    path(
        "analitik/konversi/kunci-baru/",
        views.conversion_secret_regenerate,
        name="conversion_secret_regenerate",
    ),
    path("analitik/sasaran/", views.goal_list, name="goal_list"),
    path("analitik/sasaran/baru/", views.goal_create, name="goal_create"),
    path("analitik/sasaran/<int:goal_id>/", views.goal_edit, name="goal_edit"),
    path("analitik/sasaran/<int:goal_id>/hapus/", views.goal_delete, name="goal_delete"),
]
