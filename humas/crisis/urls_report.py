"""The after-action report's routes, for the ``crisis`` namespace (see views_report)."""

from django.urls import path

from humas.crisis import views_report

urlpatterns = [
    path(
        "krisis/insiden/<int:incident_id>/laporan/",
        views_report.incident_report,
        name="incident_report",
    ),
    path(
        "krisis/insiden/<int:incident_id>/laporan.pdf",
        views_report.incident_report_pdf,
        name="incident_report_pdf",
    ),
]
