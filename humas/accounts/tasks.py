"""Background work of the accounts app, run by `humas worker`."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django_tasks import task

from humas.accounts.models import Invitation
from humas.lib.crypto import decrypt


@task()
def send_invitation_email(invitation_id: int, sealed_token: str) -> str:
    invitation = Invitation.objects.select_related("organisation", "invited_by").get(
        pk=invitation_id
    )
    if not invitation.is_pending:
        return "skipped: no longer pending"
    link = settings.SITE_URL + reverse("accounts:invitation_accept", args=[decrypt(sealed_token)])
    # The invitee has no account yet, so the organisation's language decides.
    with translation.override(invitation.organisation.default_language):
        context = {"invitation": invitation, "link": link}
        subject = render_to_string("accounts/email/invitation_subject.txt", context).strip()
        body = render_to_string("accounts/email/invitation.txt", context)
    send_mail(subject, body, None, [invitation.email])
    return "sent"


@task()
def send_notification_emails(notification_ids: list[int]) -> int:
    from humas.accounts.models import Notification

    sent = 0
    for note in Notification.objects.filter(pk__in=notification_ids).select_related("user"):
        link = settings.SITE_URL + note.url if note.url.startswith("/") else note.url
        body = note.body + (f"\n\n{link}" if link else "")
        send_mail(f"[humas] {note.title}", body, None, [note.user.email])
        sent += 1
    return sent
