from django.urls import path

from humas.channels import feeds, views

app_name = "channels"

urlpatterns = [
    path("saluran/", views.channel_list, name="list"),
    path("saluran/hubungkan/<slug:network>/", views.channel_connect, name="connect"),
    path("saluran/oauth/kembali/", views.oauth_callback, name="oauth_callback"),
    path("saluran/<int:channel_id>/", views.channel_detail, name="detail"),
    path("saluran/<int:channel_id>/uji/", views.channel_test, name="test"),
    path("saluran/<int:channel_id>/putuskan/", views.channel_disconnect, name="disconnect"),
    path("saluran/<int:channel_id>/peringatan/", views.channel_alerts, name="alerts"),
    path("hooks/<str:token>/", views.webhook, name="webhook"),
    path("feed/<slug:org_slug>.atom", feeds.public_feed, name="public_feed"),
]
