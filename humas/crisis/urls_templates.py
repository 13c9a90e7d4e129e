"""Broadcast template pages; included into ``humas/crisis/urls.py`` (namespace "crisis")."""

from django.urls import path

from humas.crisis import views_templates as views

urlpatterns = [
    path("krisis/templat/", views.template_list, name="template_list"),
    path("krisis/templat/baru/", views.template_create, name="template_create"),
    path("krisis/templat/<int:template_id>/", views.template_edit, name="template_edit"),
    path(
        "krisis/templat/<int:template_id>/setujui/",
        views.template_approve,
        name="template_approve",
    ),
    path("krisis/templat/<int:template_id>/hapus/", views.template_delete, name="template_delete"),
]
