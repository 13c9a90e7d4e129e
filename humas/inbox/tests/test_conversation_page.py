"""One conversation: the thread, replies (sent, refused, retried), notes, assignment,
routing, labels, resolving, and who may see any of it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from humas.accounts.audit import Actor
from humas.accounts.models import AuditEntry, Notification
from humas.accounts.roles import PERMISSIONS, Role
from humas.accounts.testing import make_member
from humas.channels.models import ChannelPost
from humas.channels.providers.base import EventKind, ProviderError
from humas.inbox import actions
from humas.inbox.models import Message, SendStatus, Status
from humas.inbox.tests.conftest import WEDNESDAY

pytestmark = pytest.mark.django_db


def page(conversation):
    return reverse("inbox:conversation", args=[conversation.pk])


def audited(action):
    return list(AuditEntry.objects.filter(action=action))


def test_it_shows_the_thread_in_order(as_user, responder, receive, say):
    from datetime import timedelta

    from humas.inbox.tests.conftest import citizen_event

    receive(
        citizen_event("Pertama", thread="t", at=WEDNESDAY + timedelta(minutes=5)),
        citizen_event("Kedua", thread="t", at=WEDNESDAY + timedelta(minutes=9)),
    )
    conversation = say("Ketiga", thread="t", at=WEDNESDAY + timedelta(minutes=20))
    body = as_user(responder).get(page(conversation)).content.decode()
    assert body.index("Pertama") < body.index("Kedua") < body.index("Ketiga")


def test_it_shows_our_post_the_citizen_commented_on(as_user, responder, say, channel, org):
    from django.utils import timezone

    ChannelPost.objects.create(
        organisation=org,
        channel=channel,
        external_id="our-post-1",
        text="Posyandu buka Sabtu pukul 08.00",
        published_at=timezone.now(),
    )
    conversation = say("Apakah perlu daftar?", kind=EventKind.COMMENT, thread="our-post-1")
    body = as_user(responder).get(page(conversation)).content.decode()
    assert 'data-testid="our-post"' in body
    assert "Posyandu buka Sabtu" in body


def test_it_lists_earlier_conversations_with_the_same_citizen(as_user, responder, say):
    first = say("Jalan rusak", kind=EventKind.DIRECT_MESSAGE)
    actions.resolve_conversation(first, by=Actor(user=responder))
    second = say("Lampu mati", kind=EventKind.DIRECT_MESSAGE)
    response = as_user(responder).get(page(second))
    assert list(response.context["earlier"]) == [first]


def test_a_reply_goes_out_through_the_same_channel(as_user, responder, say, fake_network):
    conversation = say("Jalan rusak di RT 05")
    client = as_user(responder)
    response = client.post(
        reverse("inbox:reply", args=[conversation.pk]), {"text": "Terima kasih, kami teruskan."}
    )
    assert response.status_code == 302
    assert [c.text for c in fake_network.published] == ["Terima kasih, kami teruskan."]
    reply = Message.objects.get(direction="out")
    assert reply.send_status == SendStatus.SENT
    assert reply.channel_post is not None
    assert reply.channel_post.in_reply_to == conversation.messages.first().event
    conversation.refresh_from_db()
    assert conversation.responded_at is not None
    assert len(audited("inbox.reply.sent")) == 1
    assert "The reply was sent." in client.get(page(conversation)).content.decode()


def test_a_refused_reply_is_kept_shown_and_can_be_sent_again(as_user, responder, say, fake_network):
    conversation = say("Jalan rusak")
    fake_network.error = ProviderError("text contains a blocked word", "permanent")
    client = as_user(responder)
    client.post(reverse("inbox:reply", args=[conversation.pk]), {"text": "Balasan kami"})
    reply = Message.objects.get(direction="out")
    assert reply.send_status == SendStatus.FAILED
    assert reply.send_error == "text contains a blocked word"
    body = client.get(page(conversation)).content.decode()
    assert "Balasan kami" in body
    assert "text contains a blocked word" in body
    assert 'data-testid="retry"' in body
    conversation.refresh_from_db()
    assert conversation.responded_at is None
    assert len(audited("inbox.reply.failed")) == 1

    fake_network.error = None
    client.post(reverse("inbox:retry", args=[reply.pk]))
    reply.refresh_from_db()
    assert reply.send_status == SendStatus.SENT
    assert reply.attempts == 2
    assert Message.objects.filter(direction="out").count() == 1
    assert [c.text for c in fake_network.published] == ["Balasan kami"]


def test_a_sent_reply_cannot_be_sent_twice(say, responder, fake_network):
    conversation = say("Jalan rusak")
    reply = actions.send_reply(conversation, "Baik", by=Actor(user=responder))
    with pytest.raises(actions.ActionError):
        actions.retry_reply(reply, by=Actor(user=responder))
    assert len(fake_network.published) == 1


def test_a_reply_on_a_disconnected_channel_is_kept_as_failed(say, responder, channel):
    conversation = say("Jalan rusak")
    channel.status = "disabled"
    channel.save()
    reply = actions.send_reply(conversation, "Baik", by=Actor(user=responder))
    assert reply.send_status == SendStatus.FAILED
    assert "not active" in reply.send_error


def test_a_note_tells_the_members_it_mentions(as_user, responder, admin, say, editor):
    conversation = say("Jalan rusak")
    as_user(responder).post(
        reverse("inbox:note", args=[conversation.pk]),
        {"text": "@admin tolong cek, cc @editor"},
    )
    note = conversation.notes.get()
    # The editor cannot open the inbox, so is not told about a page they cannot see.
    assert list(note.mentioned.all()) == [admin]
    (told,) = Notification.objects.filter(kind="inbox.mention")
    assert told.user == admin
    assert told.url == page(conversation)
    assert len(audited("inbox.note.added")) == 1


def test_assigning_routing_resolving_and_reopening_are_audited(
    as_user, responder, admin, agent, unit, say
):
    conversation = say("Puskesmas tutup")
    client = as_user(responder)
    client.post(reverse("inbox:assign", args=[conversation.pk]), {"assignee": admin.pk})
    client.post(reverse("inbox:route", args=[conversation.pk]), {"unit": unit.pk})
    client.post(reverse("inbox:resolve", args=[conversation.pk]))
    conversation.refresh_from_db()
    assert conversation.assignee == admin
    assert conversation.unit == unit
    assert conversation.status == Status.RESOLVED
    assert conversation.resolved_at is not None
    client.post(reverse("inbox:reopen", args=[conversation.pk]))
    conversation.refresh_from_db()
    assert conversation.status == Status.OPEN
    assert conversation.resolved_at is None
    for action in (
        "inbox.conversation.assigned",
        "inbox.conversation.routed",
        "inbox.conversation.resolved",
        "inbox.conversation.reopened",
    ):
        assert len(audited(action)) == 1, action
    kinds = set(Notification.objects.values_list("kind", "user__email"))
    assert ("inbox.assigned", "admin@satu.go.id") in kinds
    assert ("inbox.routed", "agent@satu.go.id") in kinds


def test_a_conversation_cannot_go_to_someone_who_may_not_work_on_it(responder, analyst, say):
    conversation = say("Jalan rusak")
    with pytest.raises(actions.ActionError):
        actions.assign_conversation(conversation, analyst, by=Actor(user=responder))


def test_a_label_correction_is_kept_on_the_message_for_retraining(as_user, responder, say, labels):
    labels["#other"] = {"category": "other", "urgency": "normal", "sentiment": "neutral"}
    conversation = say("Jalan rusak #other")
    as_user(responder).post(
        reverse("inbox:labels", args=[conversation.pk]),
        {"category": "complaint", "urgency": "high", "sentiment": "negative"},
    )
    conversation.refresh_from_db()
    assert (conversation.category, conversation.urgency, conversation.sentiment) == (
        "complaint",
        "high",
        "negative",
    )
    assert conversation.labels_corrected and not conversation.needs_review
    message = conversation.messages.get()
    assert message.corrections["category"] == "complaint"
    assert message.corrections["by"] == "responder@satu.go.id"
    assert message.triage["category"] == "other", "the triage's own answer stays"
    (entry,) = audited("inbox.conversation.relabelled")
    assert entry.payload["changes"]["category"] == ["other", "complaint"]
    # ... and it is what the organisation's own triage model will learn from.
    from humas.inbox.models import correction_source
    from humas.triage.models import LabelCorrection

    taught = LabelCorrection.objects.filter(organisation=conversation.organisation)
    assert {(c.field, c.value) for c in taught} == {
        ("category", "complaint"),
        ("urgency", "high"),
        ("sentiment", "negative"),
    }
    assert {c.source for c in taught} == {correction_source(message.pk)}


def test_a_unit_agent_works_their_units_conversations_only(
    as_user, responder, agent, unit, say, fake_network
):
    ours = say("Puskesmas tutup", author="a")
    elsewhere = say("Jalan rusak", author="b")
    actions.route_conversation(ours, unit, by=Actor(user=responder))
    client = as_user(agent)
    assert client.get(page(ours)).status_code == 200
    assert client.get(page(elsewhere)).status_code == 404
    assert client.post(reverse("inbox:resolve", args=[elsewhere.pk])).status_code == 404
    client.post(reverse("inbox:reply", args=[ours.pk]), {"text": "Kami cek hari ini."})
    assert [c.text for c in fake_network.published] == ["Kami cek hari ini."]
    # Moving conversations between units is the central inbox's work.
    assert client.post(reverse("inbox:route", args=[ours.pk]), {"unit": ""}).status_code == 403


def test_every_conversation_url_is_404_for_another_organisation(
    as_user, other_admin, say, responder, fake_network
):
    conversation = say("Jalan rusak")
    reply = actions.send_reply(conversation, "Baik", by=Actor(user=responder))
    client = as_user(other_admin)
    assert client.get(page(conversation)).status_code == 404
    for name in ("reply", "note", "assign", "route", "labels", "resolve", "reopen"):
        response = client.post(reverse(f"inbox:{name}", args=[conversation.pk]), {"text": "x"})
        assert response.status_code == 404, name
    assert client.post(reverse("inbox:retry", args=[reply.pk])).status_code == 404
    conversation.refresh_from_db()
    assert conversation.status == Status.OPEN
    assert not conversation.notes.exists()


def test_html_in_a_message_and_a_note_is_shown_as_text(as_user, responder, say):
    conversation = say('<script>alert("x")</script> <b>jalan</b> rusak')
    client = as_user(responder)
    client.post(reverse("inbox:note", args=[conversation.pk]), {"text": "<img src=x onerror=1>"})
    body = client.get(page(conversation)).content.decode()
    assert "<script>alert" not in body
    assert "&lt;script&gt;alert" in body
    assert "<b>jalan</b>" not in body
    assert "<img src=x" not in body


def test_personal_data_is_masked_on_the_page_for_roles_without_the_right(
    as_user, responder, say, monkeypatch
):
    conversation = say("NIK saya 3273015108900001, rumah di Jl. Melati 5")
    assert "3273015108900001" in as_user(responder).get(page(conversation)).content.decode()
    monkeypatch.setitem(PERMISSIONS, "personal_data.view", (frozenset({Role.ADMIN}), "test"))
    assert "3273015108900001" not in as_user(responder).get(page(conversation)).content.decode()


def test_a_huge_and_an_emoji_only_message_render(as_user, responder, say):
    huge = say("panjang " * 13_000, author="a")
    emoji = say("🙏🙏🙏", author="b")
    client = as_user(responder)
    assert client.get(page(huge)).status_code == 200
    assert "🙏🙏🙏" in client.get(page(emoji)).content.decode()


def test_an_analyst_gets_no_inbox(as_user, analyst, say):
    conversation = say("Jalan rusak")
    assert as_user(analyst).get(page(conversation)).status_code == 403


def test_a_second_agent_of_another_unit_sees_nothing(org, say, responder, unit, as_user):
    from humas.accounts import actions as account_actions

    other = account_actions.create_unit(org, name="Dinas PU", code="dpu", by=Actor.system())
    stranger = make_member(org, "pu@satu.go.id", Role.UNIT_AGENT, unit=other)
    conversation = say("Puskesmas tutup")
    actions.route_conversation(conversation, unit, by=Actor(user=responder))
    assert as_user(stranger).get(page(conversation)).status_code == 404


def test_an_unexpected_failure_while_sending_keeps_the_reply(say, responder, fake_network):
    conversation = say("Jalan rusak")
    fake_network.error = RuntimeError("connection reset")  # type: ignore[assignment]
    reply = actions.send_reply(conversation, "Baik", by=Actor(user=responder))
    assert reply.send_status == SendStatus.FAILED
    assert reply.send_error_kind == "error"


def test_a_reply_cut_off_mid_send_becomes_failed_with_a_word_to_check_then_can_be_resent(
    say, responder, fake_network
):
    from datetime import timedelta

    from django.utils import timezone

    conversation = say("Jalan rusak")
    now = timezone.now()
    # Two replies "sending": one whose process died 11 minutes ago, one still in flight.
    cut_off = Message.objects.create(
        conversation=conversation,
        direction="out",
        text="Baik, kami cek",
        created_at=now,
        send_status=SendStatus.SENDING,
        sending_since=now - timedelta(minutes=11),
    )
    in_flight = Message.objects.create(
        conversation=conversation,
        direction="out",
        text="Sedang dikirim",
        created_at=now,
        send_status=SendStatus.SENDING,
        sending_since=now - timedelta(minutes=1),
    )

    assert actions.release_stuck_replies(now) == 1

    cut_off.refresh_from_db()
    in_flight.refresh_from_db()
    assert (cut_off.send_status, cut_off.send_error_kind) == (SendStatus.FAILED, "uncertain")
    assert "Look at the thread" in cut_off.send_error
    assert in_flight.send_status == SendStatus.SENDING
    assert len(audited("inbox.reply.failed")) == 1
    assert actions.release_stuck_replies(now) == 0

    actions.retry_reply(cut_off, by=Actor(user=responder))
    cut_off.refresh_from_db()
    assert cut_off.send_status == SendStatus.SENT
    assert [c.text for c in fake_network.published] == ["Baik, kami cek"]


def test_the_thread_refreshes_itself_and_shows_a_message_that_arrived_since(
    as_user, responder, say
):
    conversation = say("Jalan rusak", author="warga", thread="t")
    client = as_user(responder)
    body = client.get(page(conversation)).content.decode()
    assert 'id="thread"' in body
    assert 'hx-trigger="every 15s"' in body
    assert f'hx-get="{page(conversation)}"' in body

    say("Sudah seminggu belum diperbaiki", author="warga", thread="t")
    again = client.get(page(conversation), HTTP_HX_REQUEST="true").content.decode()
    assert "Sudah seminggu belum diperbaiki" in again
