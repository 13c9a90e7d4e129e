from django.urls import path

from humas.publishing import views

urlpatterns = [
    path("konten/", views.post_list, name="post_list"),
    path("konten/antrean/", views.queue, name="queue"),
    path("konten/baru/", views.post_new, name="post_new"),
    path("konten/periksa/", views.compose_check, name="compose_check"),
    path("konten/<int:post_id>/", views.post_detail, name="post"),
    path("konten/<int:post_id>/ubah/", views.post_edit, name="post_edit"),
    path("konten/<int:post_id>/pengiriman/", views.post_deliveries, name="post_deliveries"),
    path("konten/<int:post_id>/ajukan/", views.post_submit, name="post_submit"),
    path("konten/<int:post_id>/putuskan/", views.post_decide, name="post_decide"),
    path("konten/<int:post_id>/jadwalkan/", views.post_schedule, name="post_schedule"),
    path("konten/<int:post_id>/terbitkan/", views.post_publish_now, name="post_publish_now"),
    path("konten/<int:post_id>/batalkan/", views.post_cancel, name="post_cancel"),
    path(
        "konten/<int:post_id>/hapus-di-jaringan/",
        views.post_delete_remote,
        name="post_delete_remote",
    ),
    path("pengiriman/<int:delivery_id>/ulangi/", views.delivery_retry, name="delivery_retry"),
    path(
        "pengiriman/<int:delivery_id>/sudah-terbit/",
        views.delivery_confirm,
        name="delivery_confirm",
    ),
]
