from django.urls import path

from humas.crisis import views

app_name = "crisis"

urlpatterns = [
    path("krisis/lonjakan/", views.spike_list, name="spike_list"),
    path("krisis/lonjakan/<int:alert_id>/", views.spike_detail, name="spike"),
    path(
        "krisis/lonjakan/<int:alert_id>/tangani/",
        views.spike_acknowledge,
        name="spike_acknowledge",
    ),
]
