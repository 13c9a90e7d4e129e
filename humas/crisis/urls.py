from django.urls import path

from humas.crisis import urls_report, urls_templates, views, views_broadcasts

app_name = "crisis"

urlpatterns = [
    path("krisis/", views.incident_list, name="incident_list"),
    path("krisis/insiden/<int:incident_id>/", views.incident_detail, name="incident"),
    path(
        "krisis/insiden/<int:incident_id>/konfirmasi/",
        views.incident_confirm,
        name="incident_confirm",
    ),
    path(
        "krisis/insiden/<int:incident_id>/tolak/", views.incident_dismiss, name="incident_dismiss"
    ),
    path("krisis/insiden/<int:incident_id>/tutup/", views.incident_close, name="incident_close"),
    path("krisis/insiden/<int:incident_id>/pimpinan/", views.incident_lead, name="incident_lead"),
    path("krisis/insiden/<int:incident_id>/catatan/", views.incident_note, name="incident_note"),
    path(
        "krisis/lonjakan/<int:alert_id>/usulkan-insiden/",
        views.spike_propose,
        name="spike_propose",
    ),
    path("krisis/lonjakan/", views.spike_list, name="spike_list"),
    path("krisis/lonjakan/<int:alert_id>/", views.spike_detail, name="spike"),
    path(
        "krisis/lonjakan/<int:alert_id>/tangani/",
        views.spike_acknowledge,
        name="spike_acknowledge",
    ),
    path("krisis/<slug:org_slug>/cap.atom", views.cap_out_feed, name="cap_out_feed"),
    path(
        "krisis/<slug:org_slug>/cap/<int:incident_id>.xml",
        views.cap_out_alert,
        name="cap_out_alert",
    ),
    path(
        "krisis/insiden/<int:incident_id>/siaran/baru/",
        views_broadcasts.broadcast_create,
        name="broadcast_create",
    ),
    path(
        "krisis/insiden/<int:incident_id>/ditahan/<int:post_id>/lepas/",
        views_broadcasts.held_release,
        name="held_release",
    ),
    path("krisis/siaran/<int:broadcast_id>/", views_broadcasts.broadcast_detail, name="broadcast"),
    path(
        "krisis/siaran/<int:broadcast_id>/status/",
        views_broadcasts.broadcast_status,
        name="broadcast_status",
    ),
    path(
        "krisis/siaran/<int:broadcast_id>/ubah/",
        views_broadcasts.broadcast_edit,
        name="broadcast_edit",
    ),
    path(
        "krisis/siaran/<int:broadcast_id>/setujui/",
        views_broadcasts.broadcast_approve,
        name="broadcast_approve",
    ),
    path(
        "krisis/siaran/<int:broadcast_id>/batal/",
        views_broadcasts.broadcast_cancel,
        name="broadcast_cancel",
    ),
    path(
        "krisis/siaran/<int:broadcast_id>/ulang/<int:delivery_id>/",
        views_broadcasts.broadcast_retry,
        name="broadcast_retry",
    ),
    path("krisis/penyetuju-siaran/", views_broadcasts.approvers_settings, name="approvers"),
    *urls_templates.urlpatterns,
    *urls_report.urlpatterns,
    path("krisis/cap/", views.cap_list, name="cap_list"),
    path("krisis/cap/umpan/baru/", views.cap_feed_create, name="cap_feed_create"),
    path("krisis/cap/umpan/<int:feed_id>/", views.cap_feed_edit, name="cap_feed_edit"),
    path("krisis/cap/wilayah/", views.cap_area, name="cap_area"),
    path("krisis/cap/<int:alert_id>/", views.cap_alert, name="cap_alert"),
]
