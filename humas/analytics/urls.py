from django.urls import path

from humas.analytics import (
    views,
    views_audit,
    views_dashboards,
    views_reports,
    views_transparency,
)

app_name = "analytics"

urlpatterns = [
    # Public: citizens follow these; no login, no session, nothing personal kept.
    path("l/<str:code>", views.follow, name="follow"),
    path("l/<str:code>/pixel.gif", views.pixel, name="pixel"),
    path("l/<str:code>/conversion", views.conversion, name="conversion"),
    # Public: an organisation's responsiveness figures, when it chose to publish them.
    path("transparansi/<slug:slug>/", views_transparency.public_page, name="transparency"),
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
    path(
        "analitik/transparansi/",
        views_transparency.transparency_settings,
        name="transparency_settings",
    ),
    path(
        "analitik/transparansi/hitung-ulang/",
        views_transparency.transparency_recompute,
        name="transparency_recompute",
    ),
    # Dashboards (a campaign's dashboard sits beside its tracked links, …/tautan/).
    path("analitik/", views_dashboards.overview, name="dashboard"),
    path(
        "analitik/kanal/<int:channel_id>/",
        views_dashboards.channel_dashboard,
        name="channel_dashboard",
    ),
    path(
        "analitik/kampanye/<int:campaign_id>/",
        views_dashboards.campaign_dashboard,
        name="campaign_dashboard",
    ),
    path(
        "analitik/pilar/<int:pillar_id>/",
        views_dashboards.pillar_dashboard,
        name="pillar_dashboard",
    ),
    path("analitik/waktu-terbaik/", views_dashboards.best_times, name="best_times"),
    path("analitik/grafik/<slug:key>.csv", views_dashboards.chart_download, name="chart_csv"),
    path("analitik/sasaran/", views.goal_list, name="goal_list"),
    path("analitik/sasaran/baru/", views.goal_create, name="goal_create"),
    path("analitik/sasaran/<int:goal_id>/", views.goal_edit, name="goal_edit"),
    path("analitik/sasaran/<int:goal_id>/hapus/", views.goal_delete, name="goal_delete"),
    # Reports: the page, its downloads, the monthly e-mail schedules.
    path("analitik/laporan/", views_reports.report, name="report"),
    path(
        "analitik/laporan/unduh.<str:fmt>",
        views_reports.report_download,
        name="report_download",
    ),
    path("analitik/laporan/jadwal/", views_reports.report_schedules, name="report_schedules"),
    path(
        "analitik/laporan/jadwal/<int:schedule_id>/",
        views_reports.report_schedule_edit,
        name="report_schedule_edit",
    ),
    path(
        "analitik/laporan/jadwal/<int:schedule_id>/hapus/",
        views_reports.report_schedule_delete,
        name="report_schedule_delete",
    ),
    # Content audit.
    path("analitik/audit/", views_audit.audit, name="audit"),
    path("analitik/audit/rubrik/baru/", views_audit.rubric_create, name="audit_rubric_create"),
    path("analitik/audit/rubrik/<int:rubric_id>/", views_audit.rubric_edit, name="audit_rubric"),
    path(
        "analitik/audit/rubrik/<int:rubric_id>/pos/",
        views_audit.rubric_posts,
        name="audit_posts",
    ),
    path(
        "analitik/audit/rubrik/<int:rubric_id>/otomatis/",
        views_audit.score_automatically,
        name="audit_score_auto",
    ),
]
