from django.urls import path

from humas.publishing import views_bulk

urlpatterns = [
    path("konten/impor/", views_bulk.bulk_import, name="bulk_import"),
    path("konten/impor/contoh.csv", views_bulk.bulk_template, name="bulk_template"),
    path("kalender/ekspor/", views_bulk.calendar_export, name="calendar_export"),
]
