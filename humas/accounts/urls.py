from django.urls import path

from humas.accounts import views

app_name = "accounts"

urlpatterns = [
    path("masuk/", views.LoginView.as_view(), name="login"),
    path("keluar/", views.logout_view, name="logout"),
    path("bahasa/", views.set_language, name="set_language"),
    path("2fa/daftar/", views.two_factor_setup, name="two_factor_setup"),
    path("2fa/verifikasi/", views.two_factor_verify, name="two_factor_verify"),
    path("2fa/kode-cadangan/", views.backup_codes, name="backup_codes"),
    path("keamanan/", views.security, name="security"),
    path("keamanan/telegram/tautkan/", views.telegram_link, name="telegram_link"),
    path("keamanan/telegram/lepas/", views.telegram_unlink, name="telegram_unlink"),
    path("sandi/ganti/", views.PasswordChangeView.as_view(), name="password_change"),
    path("sandi/lupa/", views.PasswordResetView.as_view(), name="password_reset"),
    path("sandi/lupa/terkirim/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "sandi/atur/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "sandi/atur/selesai/",
        views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("undangan/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("organisasi/", views.organisation_settings, name="organisation_settings"),
    path("organisasi/pindah/", views.switch_organisation, name="switch_organisation"),
    path("unit/", views.unit_list, name="unit_list"),
    path("unit/baru/", views.unit_create, name="unit_create"),
    path("unit/<int:unit_id>/", views.unit_edit, name="unit_edit"),
    path("unit/<int:unit_id>/hapus/", views.unit_delete, name="unit_delete"),
    path("anggota/", views.member_list, name="member_list"),
    path("anggota/undang/", views.member_invite, name="member_invite"),
    path("anggota/<int:membership_id>/", views.member_edit, name="member_edit"),
    path("anggota/<int:membership_id>/reset-2fa/", views.member_reset_2fa, name="member_reset_2fa"),
    path(
        "undangan/<int:invitation_id>/batal/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("audit/", views.audit_log, name="audit_log"),
    path("pemberitahuan/", views.notifications, name="notifications"),
]
