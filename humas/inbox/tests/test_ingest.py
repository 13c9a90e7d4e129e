"""Citizens' messages coming in: triaged, threaded, deadlined, stored once."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from humas.accounts.models import AuditEntry
from humas.channels.models import InboundEvent
from humas.channels.providers.base import EventKind
from humas.inbox import actions
from humas.inbox.models import Contact, Conversation, Message, Status
from humas.inbox.tests.conftest import WEDNESDAY, citizen_event
from humas.lib.workdays import WorkCalendar

pytestmark = pytest.mark.django_db

JAKARTA = ZoneInfo("Asia/Jakarta")


def test_it_triages_a_message_and_opens_a_conversation_for_it(say, org, channel, labels):
    text = "TOLONG banjir setinggi dada di RT 03, ada lansia terjebak!"
    labels.real.add(text)
    conversation = say(text)
    assert conversation.organisation == org
    assert conversation.channel == channel
    assert conversation.status == Status.OPEN
    assert conversation.category == "emergency"
    assert conversation.urgency == "critical"
    assert conversation.language == "id"
    assert conversation.contact.handle == "@budi"
    (message,) = conversation.messages.all()
    assert message.direction == "in"
    assert message.triage["category"] == "emergency"
    assert message.event.text.startswith("TOLONG")


def test_it_threads_replies_of_one_citizen_in_one_thread_into_one_conversation(receive):
    receive(
        citizen_event("Jalan di RT 05 rusak", thread="root-1"),
        citizen_event("Sudah tiga bulan begini", thread="root-1"),
        citizen_event("Lampu jalan mati", thread="root-2"),
    )
    assert Conversation.objects.count() == 2
    first = Conversation.objects.get(thread_key="root-1")
    assert [m.text for m in first.messages.all()] == [
        "Jalan di RT 05 rusak",
        "Sudah tiga bulan begini",
    ]


def test_each_citizen_commenting_under_one_post_gets_their_own_conversation(receive):
    receive(
        citizen_event("Kapan dibuka?", author="budi", thread="our-post"),
        citizen_event("Syaratnya apa?", author="sari", thread="our-post"),
    )
    assert Conversation.objects.count() == 2
    assert Contact.objects.count() == 2


def test_direct_messages_of_one_citizen_join_one_conversation(receive):
    receive(
        citizen_event("Halo min", kind=EventKind.DIRECT_MESSAGE, thread="chat-9"),
        citizen_event("Saya mau lapor", kind=EventKind.DIRECT_MESSAGE, thread="chat-10"),
    )
    (conversation,) = Conversation.objects.all()
    assert conversation.thread_key == actions.DIRECT
    assert conversation.messages.count() == 2


def test_a_message_after_a_resolved_conversation_opens_a_new_one(say, responder):
    from humas.accounts.audit import Actor

    first = say("Jalan rusak", kind=EventKind.DIRECT_MESSAGE)
    actions.resolve_conversation(first, by=Actor(user=responder))
    second = say("Terima kasih sudah diperbaiki", kind=EventKind.DIRECT_MESSAGE)
    assert second.pk != first.pk
    assert second.contact == first.contact


def test_the_same_event_delivered_twice_becomes_one_message(receive):
    event = citizen_event("Jalan rusak", external_id="same-1")
    receive(event)
    receive(event)
    receive(citizen_event("Jalan rusak", external_id="same-1"))
    assert InboundEvent.objects.count() == 1
    assert Message.objects.count() == 1


def test_a_webhook_redelivered_by_the_network_becomes_one_message(client, channel):
    url = reverse("channels:webhook", args=[channel.webhook_token])
    for _attempt in range(2):
        response = client.post(
            url,
            json.dumps({"events": [3, 4]}),
            content_type="application/json",
            headers={"X-Fake-Secret": "ok"},
        )
        assert response.status_code == 200
    assert Message.objects.count() == 2
    assert Conversation.objects.count() == 2


def test_ingesting_the_same_rows_again_adds_nothing(receive, channel):
    events = receive(citizen_event("Jalan rusak"))
    assert actions.ingest_events(channel, events) == []
    assert Message.objects.count() == 1


def test_a_batch_writes_one_audit_entry(receive, channel):
    receive(*[citizen_event(f"Keluhan nomor {n}", author=f"warga{n}") for n in range(5)])
    entries = AuditEntry.objects.filter(action="inbox.events.ingested")
    assert entries.count() == 1
    assert entries.get().payload["messages"] == 5
    assert entries.get().payload["conversations_opened"] == 5


def test_reactions_reposts_and_feed_articles_open_no_conversation(receive):
    receive(
        citizen_event("", kind=EventKind.REACTION),
        citizen_event("", kind=EventKind.REPOST),
        citizen_event("Berita hari ini", kind=EventKind.ARTICLE),
    )
    assert InboundEvent.objects.count() == 3
    assert Conversation.objects.count() == 0


def test_deadlines_are_counted_in_working_hours_and_days(say, org):
    # Wednesday 10:00 WIB: 6 office hours left that day, 2 more on Thursday.
    conversation = say("Jalan rusak", at=WEDNESDAY)
    assert conversation.first_response_due == datetime(2026, 11, 5, 10, 0, tzinfo=JAKARTA)
    calendar = WorkCalendar(org.time_zone)
    assert conversation.resolution_due == calendar.add_working_days(WEDNESDAY, 10)
    assert conversation.resolution_due == datetime(2026, 11, 18, 16, 0, tzinfo=JAKARTA)


def test_a_message_on_friday_evening_is_due_on_monday(say):
    friday_evening = datetime(2026, 11, 6, 18, 0, tzinfo=JAKARTA)
    conversation = say("Jalan rusak", at=friday_evening)
    assert conversation.first_response_due == datetime(2026, 11, 9, 16, 0, tzinfo=JAKARTA)


def test_deadlines_follow_the_organisations_time_zone(say, org):
    org.time_zone = "Asia/Jayapura"
    org.save()
    conversation = say("Jalan rusak", at=WEDNESDAY)  # 12:00 WIT
    jayapura = ZoneInfo("Asia/Jayapura")
    assert conversation.first_response_due == datetime(2026, 11, 5, 12, 0, tzinfo=jayapura)


def test_an_emergency_is_due_within_the_hour_even_at_night(say, labels):
    saturday_night = datetime(2026, 11, 7, 23, 0, tzinfo=JAKARTA)
    text = "TOLONG kebakaran di pasar, api besar!"
    labels.real.add(text)
    conversation = say(text, at=saturday_night)
    assert conversation.category == "emergency"
    assert conversation.first_response_due == saturday_night + timedelta(hours=1)


def test_personal_data_is_kept_and_a_masked_copy_stored(say):
    conversation = say("Hubungi saya di 081234567890 ya min")
    message = conversation.messages.get()
    assert "081234567890" in message.text
    assert message.masked_text and "081234567890" not in message.masked_text
    assert "081234567890" not in conversation.preview_masked


def test_a_huge_message_is_ingested_whole(say):
    text = "jalan rusak " * 10_000  # about 120 KB
    conversation = say(text)
    assert len(conversation.messages.get().text) == len(text)
    assert len(conversation.preview) == actions.PREVIEW_LENGTH


def test_binary_and_emoji_only_messages_do_not_break_ingest(receive, labels):
    noise = bytes(range(1, 256)).decode("latin-1") + "\ufffd\x7f"
    labels.real.update({noise, "😀🙏🔥" * 50})
    receive(citizen_event(noise, author="a"), citizen_event("😀🙏🔥" * 50, author="b"))
    assert Message.objects.count() == 2
    emoji = Conversation.objects.get(contact__handle="@b")
    assert emoji.urgency == "low"


def test_text_no_database_stores_is_cleaned():
    assert actions.clean_text("a\x00b\ud800c") == "ab?c"


def test_a_broken_classifier_still_lets_messages_in_for_review(say, monkeypatch):
    import humas.triage

    def broken(texts):
        raise RuntimeError("model file missing")

    monkeypatch.setattr(humas.triage, "classify_many", broken)
    conversation = say("Jalan rusak")
    assert conversation.needs_review
    assert conversation.messages.get().triage == {}


def test_labels_come_from_the_latest_message(receive, labels):
    labels["#a"] = {"category": "complaint", "urgency": "normal", "sentiment": "negative"}
    labels["#b"] = {"category": "emergency", "urgency": "critical"}
    receive(citizen_event("Jalan rusak #a", thread="t"))
    conversation = Conversation.objects.get()
    assert conversation.category == "complaint"
    later = WEDNESDAY + timedelta(days=1)
    receive(citizen_event("Sekarang longsor #b", thread="t", at=later))
    conversation.refresh_from_db()
    assert (conversation.category, conversation.urgency) == ("emergency", "critical")
    # The emergency's clock starts with the message that made it one.
    assert conversation.first_response_due == later + timedelta(hours=1)
    assert conversation.last_message_at == later


def test_events_of_another_organisation_stay_there(say, other_channel, other_org):
    conversation = say("Jalan rusak", on=other_channel)
    assert conversation.organisation == other_org
    assert conversation.contact.organisation == other_org


def test_events_stored_without_reaching_the_inbox_are_caught_up_later(channel, org):
    from humas.inbox.jobs import ingest_missed_events

    # As if a webhook stored the event and its ingest then failed.
    event = InboundEvent.objects.create(
        organisation=org,
        channel=channel,
        kind="mention",
        external_id="lost-1",
        author_id="id-budi",
        text="Jalan rusak",
        created_at=WEDNESDAY,
    )
    assert ingest_missed_events() == 0, "too fresh: its own ingest may still be running"
    InboundEvent.objects.filter(pk=event.pk).update(
        received_at=event.received_at - timedelta(minutes=5)
    )
    assert ingest_missed_events() == 1
    assert ingest_missed_events() == 0
    assert Message.objects.get().event == event


# --- one batch, many messages (ingest writes a batch at once, not message by message) ------


def test_several_messages_of_one_new_thread_in_one_batch_become_one_conversation(receive):
    later = WEDNESDAY + timedelta(minutes=5)
    receive(
        citizen_event("Sudah tiga bulan begini", thread="root-9", at=later),
        citizen_event("Jalan di RT 05 rusak", thread="root-9"),
        citizen_event("Ini DM saya", kind=EventKind.DIRECT_MESSAGE),
        citizen_event("DM kedua", kind=EventKind.DIRECT_MESSAGE, at=later),
    )
    thread = Conversation.objects.get(thread_key="root-9")
    assert [m.text for m in thread.messages.all()] == [
        "Jalan di RT 05 rusak",
        "Sudah tiga bulan begini",
    ]
    assert (thread.opened_at, thread.last_message_at) == (WEDNESDAY, later)
    assert thread.preview == "Sudah tiga bulan begini"
    assert Conversation.objects.get(thread_key=actions.DIRECT).messages.count() == 2
    assert Conversation.objects.count() == 2
    entry = AuditEntry.objects.get(action="inbox.events.ingested")
    assert entry.payload["conversations_opened"] == 2


def test_a_second_message_in_the_same_batch_moves_the_deadline_when_the_category_changes(
    receive, labels
):
    labels["#b"] = {"category": "emergency", "urgency": "critical"}
    later = WEDNESDAY + timedelta(hours=2)
    receive(
        citizen_event("Jalan rusak", thread="t"),
        citizen_event("Sekarang longsor #b", thread="t", at=later),
    )
    conversation = Conversation.objects.get()
    assert (conversation.category, conversation.urgency) == ("emergency", "critical")
    assert conversation.first_response_due == later + timedelta(hours=1)


def test_a_batch_joins_open_conversations_of_several_citizens_and_threads(receive):
    receive(
        citizen_event("Jalan rusak", author="budi", thread="a"),
        citizen_event("Lampu mati", author="sari", thread="b"),
    )
    opened = {c.thread_key: c.pk for c in Conversation.objects.all()}
    later = WEDNESDAY + timedelta(hours=1)
    receive(
        citizen_event("Masih rusak", author="budi", thread="a", at=later),
        citizen_event("Masih mati", author="sari", thread="b", at=later),
        # Budi in Sari's thread and Sari in Budi's: their own new conversations.
        citizen_event("Saya juga", author="budi", thread="b", at=later),
        citizen_event("Saya juga", author="sari", thread="a", at=later),
    )
    assert Conversation.objects.count() == 4
    for key, pk in opened.items():
        conversation = Conversation.objects.get(pk=pk)
        assert conversation.thread_key == key
        assert conversation.messages.count() == 2
        assert conversation.last_message_at == later
    assert Contact.objects.count() == 2


def test_a_citizen_who_changed_their_name_is_renamed_once_per_batch(receive):
    receive(citizen_event("Halo", author="budi"))
    renamed = dataclasses.replace(citizen_event("Halo lagi", author="budi"), author_name="Pak Budi")
    receive(renamed)
    assert Contact.objects.get().display_name == "Pak Budi"
