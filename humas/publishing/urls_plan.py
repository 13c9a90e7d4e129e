from django.urls import path

from humas.publishing import views_plan as views

urlpatterns = [
    path("rencana/pilar/", views.pillar_list, name="pillar_list"),
    path("rencana/pilar/baru/", views.pillar_new, name="pillar_new"),
    path("rencana/pilar/<int:pillar_id>/", views.pillar_edit, name="pillar_edit"),
    path("rencana/kampanye/", views.campaign_list, name="campaign_list"),
    path("rencana/kampanye/baru/", views.campaign_new, name="campaign_new"),
    path("rencana/kampanye/<int:campaign_id>/", views.campaign_edit, name="campaign_edit"),
    path("rencana/brand-kit/", views.brand_kit, name="brand_kit"),
    path("rencana/brand-kit/baru/", views.snippet_new, name="snippet_new"),
    path("rencana/brand-kit/<int:snippet_id>/", views.snippet_edit, name="snippet_edit"),
    path("rencana/brand-kit/<int:snippet_id>/hapus/", views.snippet_delete, name="snippet_delete"),
    path("produksi/", views.board, name="board"),
    path("produksi/kartu/baru/", views.card_new, name="card_new"),
    path("produksi/kartu/<int:card_id>/", views.card, name="card"),
    path("produksi/kartu/<int:card_id>/komentar/", views.card_comment, name="card_comment"),
    path("produksi/kartu/<int:card_id>/pindah/", views.card_move, name="card_move"),
    path("produksi/kartu/<int:card_id>/jadi-konten/", views.card_to_post, name="card_to_post"),
    path("kalender/", views.calendar, name="calendar"),
    path("kalender/pindah/", views.calendar_move, name="calendar_move"),
]
