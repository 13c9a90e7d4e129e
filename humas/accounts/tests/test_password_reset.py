import re

import pytest
from django.core import mail
from django.urls import reverse

from humas.accounts.models import AuditEntry
from humas.accounts.roles import Role
from humas.accounts.testing import make_member

pytestmark = pytest.mark.django_db


def test_a_forgotten_password_is_reset_through_an_emailed_link(client, org, settings):
    settings.SITE_URL = "https://humas.contoh.go.id"
    person = make_member(org, "lupa@satu.go.id", Role.EDITOR)
    response = client.post(reverse("accounts:password_reset"), {"email": "lupa@satu.go.id"})
    assert response["Location"] == reverse("accounts:password_reset_done")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["lupa@satu.go.id"]
    link = re.search(r"https://humas\.contoh\.go\.id(/\S+)", str(message.body))
    assert link, message.body
    form_page = client.get(link.group(1), follow=True)
    assert form_page.status_code == 200
    new_password = "sungai-biru-meja-delapan"
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": new_password, "new_password2": new_password},
    )
    assert done["Location"] == reverse("accounts:password_reset_complete")
    person.refresh_from_db()
    assert person.check_password(new_password)
    assert AuditEntry.objects.filter(action="accounts.user.password_reset", actor=person).exists()


def test_an_unknown_address_gets_the_same_answer_and_no_mail(client, org):
    response = client.post(reverse("accounts:password_reset"), {"email": "siapa@entah.id"})
    assert response["Location"] == reverse("accounts:password_reset_done")
    assert mail.outbox == []


def test_the_new_password_must_pass_the_rules(client, org):
    make_member(org, "lupa@satu.go.id", Role.EDITOR)
    client.post(reverse("accounts:password_reset"), {"email": "lupa@satu.go.id"})
    match = re.search(r"https?://[^/]+(/\S+)", str(mail.outbox[0].body))
    assert match
    path = match.group(1)
    form_page = client.get(path, follow=True)
    response = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "rahasia123", "new_password2": "rahasia123"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors
