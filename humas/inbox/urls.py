from django.urls import path

from humas.inbox import views

app_name = "inbox"

urlpatterns = [
    path("inbox/", views.inbox_list, name="list"),
    path("inbox/<int:conversation_id>/", views.conversation_detail, name="conversation"),
    path("inbox/<int:conversation_id>/balas/", views.conversation_reply, name="reply"),
    path("inbox/<int:conversation_id>/catatan/", views.conversation_note, name="note"),
    path("inbox/<int:conversation_id>/tugaskan/", views.conversation_assign, name="assign"),
    path("inbox/<int:conversation_id>/arahkan/", views.conversation_route, name="route"),
    path("inbox/<int:conversation_id>/label/", views.conversation_labels, name="labels"),
    path("inbox/<int:conversation_id>/selesai/", views.conversation_resolve, name="resolve"),
    path("inbox/<int:conversation_id>/buka-lagi/", views.conversation_reopen, name="reopen"),
    path("inbox/pesan/<int:message_id>/kirim-ulang/", views.message_retry, name="retry"),
]
