"""update_rows: many changed rows in one statement, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from humas.accounts.models import Membership, Unit
from humas.accounts.roles import Role
from humas.accounts.testing import make_member
from humas.lib.bulk import update_rows

pytestmark = pytest.mark.django_db


def test_each_row_gets_its_own_values_and_other_rows_and_fields_stay(org, monkeypatch):
    unit = Unit.objects.create(organisation=org, name="Dinas PU", code="pu")
    people = [make_member(org, f"p{n}@satu.go.id", Role.RESPONDER) for n in range(5)]
    rows = list(Membership.objects.filter(user__in=people[:4]).order_by("pk"))
    untouched = Membership.objects.get(user=people[4])
    when = datetime(2026, 11, 4, 3, 0, tzinfo=UTC)
    for n, row in enumerate(rows):
        row.unit = unit if n % 2 else None
        row.on_duty = bool(n % 2)
        row.role = Role.ADMIN if n == 0 else Role.EDITOR
        row.created_at = when
        row.is_active = False  # not among the fields written
    # Two statements of two rows each: chunks too.
    monkeypatch.setattr("humas.lib.bulk.CHUNK", 2)
    assert update_rows(rows, ["unit", "on_duty", "role", "created_at"]) == 4
    stored = {m.pk: m for m in Membership.objects.all()}
    for n, row in enumerate(rows):
        got = stored[row.pk]
        assert got.unit_id == (unit.pk if n % 2 else None)
        assert got.on_duty is bool(n % 2)
        assert got.role == (Role.ADMIN if n == 0 else Role.EDITOR)
        assert got.created_at == when
        assert got.is_active is True
    assert stored[untouched.pk].role == untouched.role
    assert stored[untouched.pk].created_at == untouched.created_at


def test_all_empty_foreign_keys_and_quotes_in_text_are_written_as_given(org):
    unit = Unit.objects.create(organisation=org, name="Dinas PU", code="pu")
    person = make_member(org, "a@satu.go.id", Role.RESPONDER)
    row = Membership.objects.get(user=person)
    row.unit = unit
    row.save()
    row.unit = None
    assert update_rows([row], ["unit"]) == 1
    assert Membership.objects.get(pk=row.pk).unit_id is None
    unit.name = "Dinas 'PU'; DROP TABLE x; --"
    assert update_rows([unit], ["name"]) == 1
    assert Unit.objects.get(pk=unit.pk).name == "Dinas 'PU'; DROP TABLE x; --"


def test_nothing_to_write_is_no_statement(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert update_rows([], ["unit"]) == 0


# --- insert_rows ------------------------------------------------------------------------------


def _events(channel, keys, **extra):
    from humas.channels.models import InboundEvent

    return [
        InboundEvent(
            organisation_id=channel.organisation_id,
            channel=channel,
            kind="mention",
            external_id=key,
            text=f"Jalan rusak di {key} {{tanpa}} 'kutip' \\ garis miring\ttab\nbaris",
            media=[{"url": "https://x.test/a.jpg", "n": 1}],
            raw={"nested": {"list": [1, "dua", None]}},
            created_at=datetime(2026, 11, 29, 8, 0, tzinfo=UTC),
            **extra,
        )
        for key in keys
    ]


@pytest.fixture
def channel(org):
    from humas.publishing.testing import make_channel

    return make_channel(org, "bulk")


def test_inserted_rows_read_back_exactly_as_built_with_their_ids(channel):
    from humas.channels.models import InboundEvent
    from humas.lib.bulk import insert_rows

    rows = _events(channel, ["a", "b", "c"])
    written = insert_rows(rows)
    assert written == rows and all(r.pk for r in rows)
    for row in rows:
        stored = InboundEvent.objects.get(pk=row.pk)
        assert (stored.external_id, stored.text, stored.media, stored.raw) == (
            row.external_id,
            row.text,
            row.media,
            row.raw,
        )
        # auto_now_add was filled in, as save() and bulk_create do.
        assert stored.received_at is not None and stored.received_at == row.received_at


def test_a_choice_is_stored_as_its_value_and_a_foreign_key_to_a_row_saved_later_is_kept(org):
    from humas.inbox.models import Contact, Conversation, Direction, Message
    from humas.lib.bulk import insert_rows
    from humas.publishing.testing import make_channel

    channel = make_channel(org, "fk")
    contact = Contact.objects.create(organisation=org, network="fake", external_id="w1")
    conversation = Conversation(
        organisation=org,
        channel=channel,
        thread_key="t",
        contact=contact,
        opened_at=datetime(2026, 11, 29, tzinfo=UTC),
        last_message_at=datetime(2026, 11, 29, tzinfo=UTC),
    )
    message = Message(
        conversation=conversation,
        direction=Direction.IN,
        text="x",
        created_at=datetime(2026, 11, 29, tzinfo=UTC),
    )
    insert_rows([conversation])  # saved after the message was built
    insert_rows([message])
    stored = Message.objects.get(pk=message.pk)
    assert stored.conversation_id == conversation.pk
    assert Message.objects.filter(pk=message.pk, direction="in").exists()


def test_conflicting_rows_are_skipped_and_only_the_rows_written_are_returned(channel):
    from django.db import connection

    from humas.channels.models import InboundEvent
    from humas.lib.bulk import insert_rows

    insert_rows(_events(channel, ["a"]))
    rows = _events(channel, ["b", "a", "c"])
    written = insert_rows(rows, ignore_conflicts=True)
    assert InboundEvent.objects.filter(channel=channel).count() == 3
    if connection.vendor == "postgresql":
        assert written is not None
        assert sorted(r.external_id for r in written) == ["b", "c"]
        assert all(InboundEvent.objects.filter(pk=r.pk, external_id=r.external_id) for r in written)
    else:
        assert written is None  # not told by bulk_create: the caller reads them back
    # Used again in the same session (the temporary table is kept): still right.
    again = insert_rows(_events(channel, ["c", "d"]), ignore_conflicts=True)
    assert InboundEvent.objects.filter(channel=channel).count() == 4
    if connection.vendor == "postgresql":
        assert again is not None and [r.external_id for r in again] == ["d"]


def test_inserting_nothing_is_no_statement(django_assert_num_queries):
    from humas.lib.bulk import insert_rows

    with django_assert_num_queries(0):
        assert insert_rows([]) == []
