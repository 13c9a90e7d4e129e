from django.urls import path

from humas.crisis import views

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
    path("krisis/cap/", views.cap_list, name="cap_list"),
    path("krisis/cap/umpan/baru/", views.cap_feed_create, name="cap_feed_create"),
    path("krisis/cap/umpan/<int:feed_id>/", views.cap_feed_edit, name="cap_feed_edit"),
    path("krisis/cap/wilayah/", views.cap_area, name="cap_area"),
    path("krisis/cap/<int:alert_id>/", views.cap_alert, name="cap_alert"),
]
