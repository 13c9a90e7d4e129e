"""Canned replies: managed by admins, put into a conversation's reply box with its values."""

from __future__ import annotations

import pytest
from django.urls import reverse

from humas.accounts.audit import Actor
from humas.accounts.models import AuditEntry
from humas.inbox import actions
from humas.inbox.cases import create_case
from humas.inbox.models import CannedReply

pytestmark = pytest.mark.django_db


@pytest.fixture
def canned(org):
    return CannedReply.objects.create(
        organisation=org,
        title="Diteruskan",
        text="Halo {name}, laporan {tracking_number} diteruskan ke {unit}. {unknown}",
    )


def fill(client, conversation, reply):
    return client.get(
        reverse("inbox:canned_reply_fill", args=[conversation.pk]),
        {"reply": reply.pk},
        HTTP_HX_REQUEST="true",
    )


def test_an_admin_manages_canned_replies_and_each_change_is_audited(as_user, admin):
    client = as_user(admin)
    client.post(reverse("inbox:canned_reply_new"), {"title": "Salam", "text": "Halo {name}"})
    reply = CannedReply.objects.get()
    client.post(
        reverse("inbox:canned_reply_edit", args=[reply.pk]), {"title": "Salam", "text": "Hai"}
    )
    reply.refresh_from_db()
    assert reply.text == "Hai"
    assert "Salam" in client.get(reverse("inbox:canned_reply_list")).content.decode()
    client.post(reverse("inbox:canned_reply_delete", args=[reply.pk]))
    assert not CannedReply.objects.exists()
    for action in ("created", "changed", "deleted"):
        assert AuditEntry.objects.filter(action=f"inbox.canned_reply.{action}").exists()


def test_the_reply_box_gets_the_text_with_this_conversations_values(
    as_user, responder, canned, say, unit
):
    conversation = say("Puskesmas tutup")
    actions.route_conversation(conversation, unit, by=Actor(user=responder))
    case = create_case(conversation, by=Actor.system())
    client = as_user(responder)
    page = client.get(reverse("inbox:conversation", args=[conversation.pk])).content.decode()
    assert 'data-testid="canned-replies"' in page
    body = fill(client, conversation, canned).content.decode()
    assert "Halo Budi" in body
    assert case.tracking_number in body
    assert "Dinas Kesehatan" in body
    assert 'data-testid="unfilled"' in body
    assert "{unknown}" in body


def test_values_this_conversation_lacks_stay_visible_and_are_warned_about(
    as_user, responder, canned, say
):
    conversation = say("Jalan rusak")
    text, left = actions.fill_canned_reply(canned, conversation)
    assert text.startswith("Halo Budi, laporan {tracking_number} diteruskan ke {unit}.")
    assert left == ["{tracking_number}", "{unit}", "{unknown}"]


def test_a_canned_reply_of_another_organisation_is_404(
    as_user, other_admin, other_org, say, responder
):
    theirs = CannedReply.objects.create(organisation=other_org, title="x", text="y")
    conversation = say("Jalan rusak")
    assert fill(as_user(responder), conversation, theirs).status_code == 404
    assert (
        as_user(other_admin)
        .get(reverse("inbox:canned_reply_fill", args=[conversation.pk]))
        .status_code
        == 404
    )


def test_html_in_a_canned_reply_is_shown_as_text(as_user, responder, org, say):
    reply = CannedReply.objects.create(organisation=org, title="x", text="<script>x</script>")
    body = fill(as_user(responder), say("Jalan"), reply).content.decode()
    assert "<script>x" not in body
    assert "&lt;script&gt;x" in body


def test_responders_use_but_do_not_manage_canned_replies(as_user, responder, canned):
    client = as_user(responder)
    assert client.get(reverse("inbox:canned_reply_list")).status_code == 403
    assert client.post(reverse("inbox:canned_reply_delete", args=[canned.pk])).status_code == 403
