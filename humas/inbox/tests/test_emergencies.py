"""Emergencies: the on-duty members are told at once, and nobody resolves one in bulk."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from humas.accounts.audit import Actor
from humas.accounts.models import AuditEntry, Membership, Notification
from humas.accounts.roles import Role
from humas.accounts.testing import make_member
from humas.inbox.models import Conversation, Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def on_duty(org):
    person = make_member(org, "piket@satu.go.id", Role.RESPONDER)
    Membership.objects.filter(user=person).update(on_duty=True)
    return person


def test_a_critical_message_tells_the_on_duty_members_at_once_in_humas_and_by_email(
    on_duty, admin, say, labels, django_capture_on_commit_callbacks
):
    labels["#sos"] = {"category": "emergency", "urgency": "critical"}
    with django_capture_on_commit_callbacks(execute=True):
        conversation = say("Banjir setinggi dada, ada lansia terjebak #sos")
    (told,) = Notification.objects.filter(kind="inbox.emergency")
    assert told.user == on_duty
    assert told.url == reverse("inbox:conversation", args=[conversation.pk])
    assert [m.to for m in mail.outbox] == [["piket@satu.go.id"]]
    (entry,) = AuditEntry.objects.filter(action="inbox.events.ingested")
    assert entry.payload["emergencies"] == [conversation.pk]


def test_the_on_duty_members_are_told_once_per_conversation(on_duty, say, labels):
    labels["#sos"] = {"category": "emergency", "urgency": "critical"}
    say("Kebakaran di pasar #sos", thread="t")
    say("Apinya makin besar #sos", thread="t")
    assert Notification.objects.filter(kind="inbox.emergency").count() == 1


def test_with_nobody_on_duty_the_admins_are_told(admin, responder, say, labels):
    labels["#sos"] = {"urgency": "critical"}
    say("Tolong ada kecelakaan #sos")
    assert list(
        Notification.objects.filter(kind="inbox.emergency").values_list("user__email", flat=True)
    ) == ["admin@satu.go.id"]


def test_ordinary_messages_tell_nobody(on_duty, say):
    say("Jalan rusak")
    assert not Notification.objects.filter(kind="inbox.emergency").exists()


def test_an_admin_puts_a_member_on_duty_on_the_members_page(as_user, admin, responder, org):
    membership = Membership.objects.get(user=responder)
    client = as_user(admin)
    client.post(
        reverse("accounts:member_edit", args=[membership.pk]),
        {"role": Role.RESPONDER, "unit": "", "is_active": "on", "on_duty": "on"},
    )
    membership.refresh_from_db()
    assert membership.on_duty
    assert 'data-testid="on-duty"' in client.get(reverse("accounts:member_list")).content.decode()
    entry = AuditEntry.objects.filter(action="accounts.member.changed").latest("seq")
    assert entry.payload["after"]["on_duty"] is True


def test_bulk_resolving_skips_emergencies_and_says_so(as_user, responder, say, labels):
    labels["#sos"] = {"category": "emergency", "urgency": "critical"}
    plain = say("Jalan rusak", author="a")
    other = say("Lampu mati", author="b")
    emergency = say("Banjir #sos", author="c")
    client = as_user(responder)
    response = client.post(
        reverse("inbox:bulk_resolve"),
        {"conversations": [plain.pk, other.pk, emergency.pk]},
        follow=True,
    )
    statuses = dict(Conversation.objects.values_list("pk", "status"))
    assert statuses == {
        plain.pk: Status.RESOLVED,
        other.pk: Status.RESOLVED,
        emergency.pk: Status.OPEN,
    }
    body = response.content.decode()
    assert "2 conversations were resolved." in body
    assert "1 emergency was not resolved" in body
    (entry,) = AuditEntry.objects.filter(action="inbox.conversations.resolved")
    assert entry.payload["skipped_emergencies"] == [emergency.pk]


def test_the_list_offers_ticking_for_the_inbox_team_only(as_user, responder, agent, unit, say):
    from humas.inbox import actions

    conversation = say("Puskesmas tutup")
    actions.route_conversation(conversation, unit, by=Actor(user=responder))
    assert 'form="bulk-form"' in as_user(responder).get(reverse("inbox:list")).content.decode()
    assert 'form="bulk-form"' not in as_user(agent).get(reverse("inbox:list")).content.decode()
    response = as_user(agent).post(
        reverse("inbox:bulk_resolve"), {"conversations": [conversation.pk]}
    )
    assert response.status_code == 403


def test_another_organisations_conversations_cannot_be_resolved_in_bulk(as_user, other_admin, say):
    conversation = say("Jalan rusak")
    as_user(other_admin).post(reverse("inbox:bulk_resolve"), {"conversations": [conversation.pk]})
    conversation.refresh_from_db()
    assert conversation.status == Status.OPEN


def test_several_emergencies_in_one_batch_each_tell_the_on_duty_members_once(
    on_duty, receive, labels
):
    from humas.inbox.tests.conftest import citizen_event

    labels["#sos"] = {"category": "emergency", "urgency": "critical"}
    receive(
        citizen_event("Kebakaran di pasar #sos", author="budi", thread="a"),
        citizen_event("Apinya makin besar #sos", author="budi", thread="a"),
        citizen_event("Banjir di RT 02 #sos", author="sari", thread="b"),
    )
    told = Notification.objects.filter(kind="inbox.emergency")
    assert sorted(told.values_list("user__email", flat=True)) == ["piket@satu.go.id"] * 2
    assert not Conversation.objects.filter(emergency_notified_at__isnull=True).exists()
    (entry,) = AuditEntry.objects.filter(action="inbox.events.ingested")
    assert sorted(entry.payload["emergencies"]) == sorted(
        Conversation.objects.values_list("pk", flat=True)
    )


def test_a_batch_of_emergencies_is_written_and_mailed_in_one_go(
    on_duty, receive, labels, django_capture_on_commit_callbacks, monkeypatch
):
    from humas.accounts import tasks
    from humas.inbox.tests.conftest import citizen_event

    enqueued = []
    task = tasks.send_notification_emails

    class Counting:
        def enqueue(self, **kwargs):
            enqueued.append(kwargs["notification_ids"])
            return task.enqueue(**kwargs)

    monkeypatch.setattr(tasks, "send_notification_emails", Counting())
    labels["#sos"] = {"category": "emergency", "urgency": "critical"}
    with django_capture_on_commit_callbacks(execute=True):
        receive(*[citizen_event(f"Kebakaran rumah {n} #sos", author=f"w{n}") for n in range(5)])
    told = Notification.objects.filter(kind="inbox.emergency")
    assert told.count() == 5
    # One e-mail task for the five, not five tasks.
    assert enqueued == [sorted(told.values_list("pk", flat=True))]
    assert sorted(m.subject for m in mail.outbox) == sorted(
        f"[humas] {title}" for title in told.values_list("title", flat=True)
    )
