"""Spam and abuse: hidden from the default list, bulk actions that never touch emergencies,
blocking citizens, and never answering spam, abuse or a blocked citizen automatically."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from humas.accounts.audit import Actor
from humas.accounts.models import AuditEntry, Notification
from humas.inbox import actions, cases, contacts, jobs
from humas.inbox.models import Category, Contact, Conversation, Status

pytestmark = pytest.mark.django_db

LIST = reverse("inbox:list")
BULK = reverse("inbox:bulk_mark")


def rows(client, **query):
    response = client.get(LIST, query)
    assert response.status_code == 200
    shown = {c.pk: c for c in Conversation.objects.all()}
    return [shown[item["pk"]] for item in response.context["items"]]


@pytest.fixture
def emergency(say, labels):
    labels["#sos"] = {"category": "emergency", "urgency": "critical"}
    return say("Banjir, ada anak terjebak #sos", author="sos")


def test_the_list_hides_spam_and_abuse_unless_asked_and_the_toggle_shows_them(
    as_user, responder, say, labels
):
    labels["#spam"] = {"category": "spam"}
    labels["#rude"] = {"abusive": True}
    spam = say("slot gacor #spam", author="a")
    rude = say("dasar #rude", author="b")
    polite = say("Jalan rusak", author="c")
    client = as_user(responder)
    assert rows(client) == [polite]
    assert set(rows(client, show_hidden="on", status="open")) == {spam, rude, polite}


def test_bulk_spam_abuse_and_archive_skip_emergencies_and_say_how_many(
    as_user, responder, say, emergency
):
    client = as_user(responder)
    for action in ("spam", "abusive", "archive"):
        ordinary = say(f"Pesan biasa {action}", author=action)
        response = client.post(
            BULK, {"conversations": [ordinary.pk, emergency.pk], "action": action}, follow=True
        )
        notes = [str(m) for m in response.context["messages"]]
        assert "1 emergency was skipped: open it and handle it on its own." in notes
        emergency.refresh_from_db()
        assert emergency.category == Category.EMERGENCY and not emergency.abusive
        assert emergency.status == Status.OPEN
    spam = Conversation.objects.get(contact__handle="@spam")
    assert spam.category == Category.SPAM and spam.labels_corrected
    assert spam.first_response_due is None and spam.resolution_due is None
    assert Conversation.objects.get(contact__handle="@abusive").abusive
    archived = Conversation.objects.get(contact__handle="@archive")
    assert archived.status == Status.RESOLVED and archived.resolved_at
    assert not archived.messages.filter(direction="out").exists(), "archived without a reply"
    entries = AuditEntry.objects.filter(action="inbox.conversations.marked").order_by("seq")
    assert [e.payload["action"] for e in entries] == ["spam", "abusive", "archive"]
    assert all(e.payload["skipped_emergencies"] == [emergency.pk] for e in entries)


def test_bulk_block_blocks_the_citizens_but_not_an_emergencys(as_user, responder, say, emergency):
    ordinary = say("Pesan biasa", author="a")
    as_user(responder).post(BULK, {"conversations": [ordinary.pk, emergency.pk], "action": "block"})
    assert Contact.objects.get(pk=ordinary.contact_id).blocked_at is not None
    assert Contact.objects.get(pk=emergency.contact_id).blocked_at is None


def test_bulk_actions_ignore_another_organisations_conversations(
    as_user, other_admin, say, other_channel
):
    ours = say("Jalan rusak")
    say("Urusan Kota Dua", on=other_channel, author="z")
    as_user(other_admin).post(BULK, {"conversations": [ours.pk], "action": "spam"})
    ours.refresh_from_db()
    assert ours.category != Category.SPAM


def test_bulk_actions_need_the_right_to_work_the_inbox(as_user, agent, analyst, say):
    conversation = say("Jalan rusak")
    for person in (agent, analyst):
        response = as_user(person).post(
            BULK, {"conversations": [conversation.pk], "action": "spam"}
        )
        assert response.status_code == 403


def test_an_unknown_bulk_action_changes_nothing(as_user, responder, say):
    conversation = say("Jalan rusak")
    as_user(responder).post(BULK, {"conversations": [conversation.pk], "action": "delete"})
    conversation.refresh_from_db()
    assert conversation.status == Status.OPEN and conversation.category != Category.SPAM


def test_the_list_offers_the_bulk_actions_to_those_who_work_the_inbox(as_user, responder, agent):
    assert 'data-testid="bulk-mark"' in as_user(responder).get(LIST).content.decode()
    assert 'data-testid="bulk-mark"' not in as_user(agent).get(LIST).content.decode()


# --- blocking -------------------------------------------------------------------------------


def test_blocking_from_the_conversation_page_hides_the_citizen_until_asked_for(
    as_user, responder, say
):
    conversation = say("Iklan pinjol", author="iklan")
    other = say("Jalan rusak", author="warga")
    client = as_user(responder)
    page = reverse("inbox:conversation", args=[conversation.pk])
    assert 'data-testid="block"' in client.get(page).content.decode()
    response = client.post(
        reverse("inbox:citizen_block", args=[conversation.contact_id]), {"next": page}
    )
    assert response["Location"] == page
    assert rows(client) == [other]
    assert set(rows(client, show_hidden="on", status="open")) == {conversation, other}
    # A later message of theirs stays out of the list too.
    say("Iklan lagi", author="iklan", thread="baru")
    assert rows(client) == [other]
    (entry,) = AuditEntry.objects.filter(action="inbox.citizen.blocked")
    assert entry.payload["contact"] == conversation.contact_id
    client.post(reverse("inbox:citizen_unblock", args=[conversation.contact_id]), {"next": page})
    assert conversation in rows(client)


def test_blocking_blocks_every_identity_of_the_citizen(as_user, responder, say):
    a, b = (say("x", author=n).contact for n in ("a", "b"))
    contacts.merge_contacts(a, [b], by=Actor(user=responder))
    as_user(responder).post(reverse("inbox:citizen_block", args=[a.pk]))
    assert Contact.objects.filter(pk__in=[a.pk, b.pk], blocked_at__isnull=False).count() == 2
    as_user(responder).post(reverse("inbox:citizen_unblock", args=[b.pk]))
    assert not Contact.objects.filter(blocked_at__isnull=False).exists()


def test_the_next_address_after_blocking_stays_on_this_site(as_user, responder, say):
    conversation = say("Iklan", author="iklan")
    response = as_user(responder).post(
        reverse("inbox:citizen_block", args=[conversation.contact_id]),
        {"next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("inbox:citizen", args=[conversation.contact_id])


def test_blocked_citizens_raise_no_deadline_warnings(say, responder):
    conversation = say("Jalan rusak", author="iklan")  # weeks ago: overdue
    contacts.block_citizen(conversation.contact, by=Actor(user=responder))
    assert jobs.check_deadlines() == 0
    assert not Notification.objects.filter(kind__in=["inbox.due_soon", "inbox.escalated"]).exists()


# --- never answering automatically ----------------------------------------------------------


@pytest.fixture
def case(say, responder, unit):
    conversation = say("Jalan rusak di RT 05", author="pelapor")
    case = cases.open_case(conversation, by=Actor(user=responder))
    cases.forward_case(case, unit, by=Actor(user=responder))
    return case


def _resolve(case, responder):
    return cases.change_case_status(
        case, "resolved", public_note="Sudah diperbaiki", by=Actor(user=responder)
    )


def test_resolving_a_case_answers_an_ordinary_citizen(case, responder, fake_network):
    assert _resolve(case, responder) is not None
    assert len(fake_network.published) == 1


@pytest.mark.parametrize("how", ["spam", "abusive", "blocked", "erased"])
def test_resolving_a_case_never_answers_spam_abuse_or_a_blocked_or_erased_citizen(
    case, responder, admin, fake_network, how
):
    by = Actor(user=responder)
    if how in ("spam", "abusive"):
        contacts.mark_conversations([case.conversation], how, by=by)
    elif how == "blocked":
        contacts.block_citizen(case.conversation.contact, by=by)
    else:
        contacts.erase_citizen(case.conversation.contact, by=Actor(user=admin))
    assert _resolve(case, responder) is None
    assert fake_network.published == []
    case.refresh_from_db()
    assert case.status == "resolved" and case.resolution_message is None
    assert not case.conversation.messages.filter(direction="out").exists()


def test_spam_and_blocked_citizens_are_not_answered_automatically_anywhere(say, responder, labels):
    """The only automatic answer in the inbox is the one sent when a case is resolved
    (humas/inbox/cases.py); this is the rule it asks."""
    labels["#spam"] = {"category": "spam"}
    ordinary = say("Jalan rusak", author="a")
    spam = say("slot gacor #spam", author="b")
    blocked = say("Iklan", author="c")
    contacts.block_citizen(blocked.contact, by=Actor(user=responder))
    blocked.refresh_from_db()
    assert contacts.answers_automatically(ordinary)
    assert not contacts.answers_automatically(spam)
    assert not contacts.answers_automatically(Conversation.objects.get(pk=blocked.pk))


def test_a_person_may_still_answer_a_blocked_citizen_by_hand(say, responder, fake_network):
    conversation = say("Iklan", author="c")
    contacts.block_citizen(conversation.contact, by=Actor(user=responder))
    reply = actions.send_reply(
        conversation, "Mohon tidak mengirim iklan.", by=Actor(user=responder)
    )
    assert reply.send_status == "sent"


def test_marking_spam_keeps_a_later_message_from_resetting_the_deadlines(say, labels, responder):
    conversation = say("Iklan pinjol", author="iklan", thread="t")
    contacts.mark_conversations([conversation], "spam", by=Actor(user=responder))
    say("Iklan lagi", author="iklan", thread="t", at=timezone.now() + timedelta(minutes=1))
    conversation.refresh_from_db()
    assert conversation.category == Category.SPAM


def test_abuse_marked_by_hand_stays_marked_when_a_polite_message_follows(say, responder):
    conversation = say("Pesan pertama", author="warga1", thread="t")
    assert not conversation.abusive
    contacts.mark_conversations([conversation], "abusive", by=Actor(user=responder))
    say("Terima kasih min", author="warga1", thread="t", at=timezone.now() + timedelta(minutes=1))
    conversation.refresh_from_db()
    assert conversation.abusive


@pytest.mark.indonesian
def test_the_resolution_reply_speaks_the_organisations_language(case, responder, fake_network):
    assert case.organisation.default_language == "id"
    cases.change_case_status(case, "resolved", public_note="Beres.", by=Actor(user=responder))
    (sent,) = fake_network.published
    assert sent.text.startswith(f"Laporan Anda {case.tracking_number} telah selesai: Beres.")
