from django.urls import path

from humas.inbox import views, views_contacts

app_name = "inbox"

urlpatterns = [
    path("inbox/", views.inbox_list, name="list"),
    path("inbox/selesaikan/", views.conversation_bulk_resolve, name="bulk_resolve"),
    path("inbox/tandai/", views_contacts.conversation_bulk_mark, name="bulk_mark"),
    path("inbox/warga/", views_contacts.citizen_list, name="citizen_list"),
    path("inbox/warga/gabungkan/", views_contacts.citizen_merge, name="citizen_merge"),
    path("inbox/warga/<int:contact_id>/", views_contacts.citizen_detail, name="citizen"),
    path(
        "inbox/warga/<int:contact_id>/pisahkan/",
        views_contacts.citizen_unmerge,
        name="citizen_unmerge",
    ),
    path(
        "inbox/warga/<int:contact_id>/blokir/", views_contacts.citizen_block, name="citizen_block"
    ),
    path(
        "inbox/warga/<int:contact_id>/buka-blokir/",
        views_contacts.citizen_unblock,
        name="citizen_unblock",
    ),
    path(
        "inbox/warga/<int:contact_id>/ekspor/", views_contacts.citizen_export, name="citizen_export"
    ),
    path(
        "inbox/warga/<int:contact_id>/hapus-data/",
        views_contacts.citizen_erase,
        name="citizen_erase",
    ),
    path("inbox/<int:conversation_id>/", views.conversation_detail, name="conversation"),
    path("inbox/<int:conversation_id>/balas/", views.conversation_reply, name="reply"),
    path("inbox/<int:conversation_id>/catatan/", views.conversation_note, name="note"),
    path("inbox/<int:conversation_id>/tugaskan/", views.conversation_assign, name="assign"),
    path("inbox/<int:conversation_id>/arahkan/", views.conversation_route, name="route"),
    path("inbox/<int:conversation_id>/label/", views.conversation_labels, name="labels"),
    path("inbox/<int:conversation_id>/selesai/", views.conversation_resolve, name="resolve"),
    path("inbox/<int:conversation_id>/buka-lagi/", views.conversation_reopen, name="reopen"),
    path("inbox/<int:conversation_id>/kasus/", views.case_open, name="case_open"),
    path(
        "inbox/<int:conversation_id>/balasan-siap/",
        views.canned_reply_fill,
        name="canned_reply_fill",
    ),
    path("inbox/pesan/<int:message_id>/kirim-ulang/", views.message_retry, name="retry"),
    path("inbox/aturan/", views.rule_list, name="rule_list"),
    path("inbox/aturan/baru/", views.rule_new, name="rule_new"),
    path("inbox/aturan/uji/", views.rule_test, name="rule_test"),
    path("inbox/aturan/<int:rule_id>/", views.rule_edit, name="rule_edit"),
    path("inbox/aturan/<int:rule_id>/hapus/", views.rule_delete, name="rule_delete"),
    path("inbox/aturan/<int:rule_id>/pindah/", views.rule_move, name="rule_move"),
    path("inbox/balasan-siap/", views.canned_reply_list, name="canned_reply_list"),
    path("inbox/balasan-siap/baru/", views.canned_reply_new, name="canned_reply_new"),
    path("inbox/balasan-siap/<int:reply_id>/", views.canned_reply_edit, name="canned_reply_edit"),
    path(
        "inbox/balasan-siap/<int:reply_id>/hapus/",
        views.canned_reply_delete,
        name="canned_reply_delete",
    ),
    path("kasus/", views.case_list, name="case_list"),
    path("kasus/<int:case_id>/", views.case_detail, name="case"),
    path("kasus/<int:case_id>/teruskan/", views.case_forward, name="case_forward"),
    path("kasus/<int:case_id>/status/", views.case_status, name="case_status"),
    path("kasus/<int:case_id>/catatan/", views.case_note, name="case_note"),
    # Public: citizens look up their report without an account.
    path("status/", views.public_status, name="status"),
]
