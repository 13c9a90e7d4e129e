from django.urls import path

from humas.triage import views

app_name = "triage"

urlpatterns = [
    path("triage/", views.manage, name="manage"),
    path("triage/latih-ulang/", views.retrain, name="retrain"),
    path("triage/kemajuan/", views.progress, name="progress"),
    path("triage/kembalikan/", views.rollback, name="rollback"),
]
