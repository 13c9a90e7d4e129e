from django.urls import path

from humas.publishing import views_media

urlpatterns = [
    path("media/", views_media.media_list, name="media_list"),
    path("media/unggah/", views_media.media_upload, name="media_upload"),
    path("media/<int:asset_id>/", views_media.media_detail, name="media_detail"),
    path("media/<int:asset_id>/ubah/", views_media.media_edit, name="media_edit"),
    path("media/<int:asset_id>/hapus/", views_media.media_delete, name="media_delete"),
    path("media-berkas/<int:asset_id>/<str:kind>/", views_media.media_file, name="media_file"),
]
