"""Citizens: the list and one citizen's page, merging identities across networks, masking,
exporting everything stored about a citizen and erasing it on request (UU 27/2022)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import models
from django.urls import reverse

from humas.accounts.audit import Actor
from humas.accounts.models import AuditEntry, Notification
from humas.accounts.roles import PERMISSIONS, Role
from humas.channels.models import InboundEvent
from humas.channels.providers.base import EventKind
from humas.inbox import actions, cases, contacts
from humas.inbox.models import Case, CaseEvent, Contact, Conversation, Message, Note
from humas.inbox.tests.conftest import WEDNESDAY, citizen_event
from humas.publishing.testing import make_channel

pytestmark = pytest.mark.django_db

LIST = reverse("inbox:citizen_list")


def page(contact):
    return reverse("inbox:citizen", args=[contact.pk])


def audited(action):
    return list(AuditEntry.objects.filter(action=action))


@pytest.fixture
def second_channel(org, fake_network):
    """The same organisation on a second network (another identity per citizen)."""
    return make_channel(org, "pemkot-satu-ig", network="fake2")


# --- the list ------------------------------------------------------------------------------


def test_the_list_shows_one_line_per_citizen_and_finds_them_by_name_or_handle(
    as_user, responder, say
):
    budi = say("Jalan rusak", author="budi").contact
    sari = say("Lampu mati", author="sari").contact
    client = as_user(responder)
    found = [i["contact"] for i in client.get(LIST).context["items"]]
    assert set(found) == {budi, sari}
    assert [i["contact"] for i in client.get(LIST, {"q": "@sar"}).context["items"]] == [sari]
    assert [i["contact"] for i in client.get(LIST, {"q": "Budi"}).context["items"]] == [budi]


def test_merged_identities_are_listed_under_the_citizen_kept_and_found_by_their_names(
    as_user, responder, say, second_channel
):
    budi = say("Jalan rusak", author="budi").contact
    other = say("Halo", author="budiig", on=second_channel).contact
    contacts.merge_contacts(budi, [other], by=Actor(user=responder))
    items = as_user(responder).get(LIST, {"q": "budiig"}).context["items"]
    assert [i["contact"] for i in items] == [budi]


# --- one citizen ---------------------------------------------------------------------------


def test_the_page_shows_the_history_across_networks_in_time_order_and_counts(
    as_user, responder, say, second_channel, labels
):
    labels["#q"] = {"category": "information_request"}
    first = say("Jalan rusak di RT 05", author="budi", at=WEDNESDAY)
    second = say(
        "Syarat KTP apa? #q", author="budi_ig", on=second_channel, at=WEDNESDAY + timedelta(days=1)
    )
    third = say("Masih rusak", author="budi", thread="x", at=WEDNESDAY + timedelta(days=2))
    contacts.merge_contacts(first.contact, [second.contact], by=Actor(user=responder))
    response = as_user(responder).get(page(first.contact))
    assert [h["conversation"] for h in response.context["history"]] == [first, second, third]
    assert dict(response.context["counts"]) == {"Complaint": 2, "Information request": 1}
    body = response.content.decode()
    assert body.index("Jalan rusak di RT 05") < body.index("Syarat KTP") < body.index("Masih")
    assert len(response.context["identities"]) == 2


def test_a_merged_identitys_page_leads_to_the_citizen_kept(as_user, responder, say):
    kept = say("a", author="budi").contact
    other = say("b", author="budi2").contact
    contacts.merge_contacts(kept, [other], by=Actor(user=responder))
    response = as_user(responder).get(page(other))
    assert response.status_code == 302
    assert response["Location"] == page(kept)


def test_the_conversation_page_links_to_the_citizens_history(as_user, responder, say):
    conversation = say("Jalan rusak")
    body = as_user(responder).get(reverse("inbox:conversation", args=[conversation.pk]))
    assert page(conversation.contact) in body.content.decode()


def test_names_handles_and_texts_are_masked_for_roles_without_the_right(
    as_user, responder, say, monkeypatch
):
    contact = say("Hubungi saya di 081234567890 ya", author="rahasia").contact
    body = as_user(responder).get(page(contact)).content.decode()
    assert "081234567890" in body and "@rahasia" in body
    monkeypatch.setitem(PERMISSIONS, "personal_data.view", (frozenset({Role.ADMIN}), "test"))
    client = as_user(responder)
    body = client.get(page(contact)).content.decode()
    assert "081234567890" not in body
    assert "rahasia" not in body.lower()
    assert f"Citizen #{contact.pk}" in body
    items = client.get(LIST, {"q": "rahasia"}).context["items"]
    assert [(i["name"], i["handle"]) for i in items] == [(f"Citizen #{contact.pk}", "")]
    # No export without the right either.
    export = reverse("inbox:citizen_export", args=[contact.pk])
    assert client.get(export).status_code == 403


def test_html_in_names_and_texts_is_shown_as_text(as_user, admin, receive):
    (event,) = receive(
        dataclasses.replace(
            citizen_event('<script>alert("x")</script> jalan', author="x"),
            author_name="<b>Budi</b>",
        )
    )
    contact = Conversation.objects.get(messages__event=event).contact
    client = as_user(admin)
    for url in (page(contact), LIST, reverse("inbox:citizen_erase", args=[contact.pk])):
        body = client.get(url).content.decode()
        assert "<script>alert" not in body
        assert "<b>Budi</b>" not in body
        assert "&lt;b&gt;Budi&lt;/b&gt;" in body


def test_unit_agents_and_analysts_get_no_citizen_pages(as_user, agent, analyst, say):
    contact = say("Jalan rusak").contact
    for person in (agent, analyst):
        client = as_user(person)
        assert client.get(LIST).status_code == 403
        assert client.get(page(contact)).status_code == 403


def test_another_organisations_citizen_does_not_exist(as_user, other_admin, say):
    contact = say("Jalan rusak").contact
    client = as_user(other_admin)
    for name in ("inbox:citizen", "inbox:citizen_export", "inbox:citizen_erase"):
        assert client.get(reverse(name, args=[contact.pk])).status_code == 404
    for name in ("inbox:citizen_block", "inbox:citizen_unmerge", "inbox:citizen_erase"):
        assert client.post(reverse(name, args=[contact.pk]), {"confirm": "yes"}).status_code == 404
    contact.refresh_from_db()
    assert contact.blocked_at is None and contact.erased_at is None
    assert contact.handle == "@budi"
    assert contact not in [i["contact"] for i in client.get(LIST).context["items"]]


# --- merging -------------------------------------------------------------------------------


def test_merging_points_the_identities_at_the_one_kept(as_user, responder, say):
    a, b, c = (say("x", author=n).contact for n in ("a", "b", "c"))
    response = as_user(responder).post(
        reverse("inbox:citizen_merge"), {"contacts": [a.pk, b.pk, c.pk], "keep": b.pk}
    )
    assert response.status_code == 302 and response["Location"] == page(b)
    assert set(Contact.objects.filter(merged_into=b)) == {a, c}
    (entry,) = audited("inbox.citizen.merged")
    assert entry.payload["kept"] == b.pk and entry.payload["merged"] == sorted([a.pk, c.pk])
    assert "@a" not in json.dumps(entry.payload) + entry.target_label


def test_merging_never_makes_chains(responder, say):
    a, b, c = (say("x", author=n).contact for n in ("a", "b", "c"))
    by = Actor(user=responder)
    contacts.merge_contacts(a, [c], by=by)
    contacts.merge_contacts(b, [a], by=by)
    assert Contact.objects.get(pk=c.pk).merged_into_id == b.pk
    assert Contact.objects.get(pk=a.pk).merged_into_id == b.pk
    assert not Contact.objects.filter(merged_into__merged_into__isnull=False).exists()


def test_merging_into_a_merged_identity_merges_into_the_one_it_points_at(responder, say):
    a, b, c = (say("x", author=n).contact for n in ("a", "b", "c"))
    by = Actor(user=responder)
    contacts.merge_contacts(a, [b], by=by)
    contacts.merge_contacts(b, [c], by=by)
    assert Contact.objects.get(pk=c.pk).merged_into_id == a.pk


def test_merging_an_identity_with_itself_or_another_organisations_is_refused(
    responder, say, other_channel
):
    from humas.accounts.actions import ActionError

    a = say("x", author="a").contact
    theirs = say("y", author="z", on=other_channel).contact
    with pytest.raises(ActionError):
        contacts.merge_contacts(a, [a], by=Actor(user=responder))
    with pytest.raises(ActionError):
        contacts.merge_contacts(a, [theirs], by=Actor(user=responder))
    assert Contact.objects.get(pk=theirs.pk).merged_into_id is None


def test_the_merge_form_offers_only_the_organisations_identities(
    as_user, responder, say, other_channel
):
    a = say("x", author="a").contact
    theirs = say("y", author="z", on=other_channel).contact
    as_user(responder).post(
        reverse("inbox:citizen_merge"), {"contacts": [a.pk, theirs.pk], "keep": a.pk}
    )
    assert Contact.objects.get(pk=theirs.pk).merged_into_id is None


def test_merging_a_blocked_identity_blocks_the_citizen(responder, say):
    a, b = (say("x", author=n).contact for n in ("a", "b"))
    by = Actor(user=responder)
    contacts.block_citizen(b, by=by)
    contacts.merge_contacts(a, [b], by=by)
    assert Contact.objects.get(pk=a.pk).blocked_at is not None


def test_unmerging_makes_the_identity_a_citizen_of_its_own(as_user, responder, say):
    a, b = (say("x", author=n).contact for n in ("a", "b"))
    contacts.merge_contacts(a, [b], by=Actor(user=responder))
    response = as_user(responder).post(reverse("inbox:citizen_unmerge", args=[b.pk]))
    assert response["Location"] == page(a)
    assert Contact.objects.get(pk=b.pk).merged_into_id is None
    assert [h["conversation"].contact for h in as_user(responder).get(page(a)).context["history"]]
    (entry,) = audited("inbox.citizen.unmerged")
    assert entry.payload == {"contact": b.pk, "from": a.pk}


# --- export --------------------------------------------------------------------------------


@pytest.fixture
def budi(say, second_channel, responder, fake_network):
    """A citizen on two networks, with a reply, a note and a resolved case."""
    first = say("NIK saya 3273015108900001, jalan rusak", author="budi")
    other = say("Halo min", author="budi_ig", on=second_channel, at=WEDNESDAY + timedelta(hours=1))
    by = Actor(user=responder)
    contacts.merge_contacts(first.contact, [other.contact], by=by)
    actions.send_reply(first, "Baik Pak Budi, kami cek.", by=by)
    actions.add_note(first, "Pak Budi menelepon dari 081234567890", by=by)
    case = cases.open_case(first, by=by)
    cases.change_case_status(case, "closed", public_note="Untuk Budi: selesai", by=by)
    return first.contact


def test_export_holds_identities_messages_in_and_out_and_cases(as_user, admin, budi):
    response = as_user(admin).get(reverse("inbox:citizen_export", args=[budi.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="warga-{budi.pk}.json"'
    data = json.loads(response.content)
    assert {i["handle"] for i in data["identities"]} == {"@budi", "@budi_ig"}
    assert len(data["conversations"]) == 2
    texts = [m["text"] for c in data["conversations"] for m in c["messages"]]
    assert "NIK saya 3273015108900001, jalan rusak" in texts
    assert "Baik Pak Budi, kami cek." in texts
    case = data["conversations"][0]["case"]
    assert case["tracking_number"] == Case.objects.get().tracking_number
    assert case["timeline"][-1]["public_note"] == "Untuk Budi: selesai"
    # Internal notes are the agency's, not the citizen's.
    assert "081234567890" not in response.content.decode()


def test_export_as_csv_has_a_row_per_message(as_user, admin, budi):
    response = as_user(admin).get(
        reverse("inbox:citizen_export", args=[budi.pk]), {"format": "csv"}
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert response["Content-Type"].startswith("text/csv")
    assert len(rows) == 3
    assert {r["from"] for r in rows} == {"citizen", "organisation"}


def test_export_is_audited_without_the_data(as_user, responder, budi):
    as_user(responder).get(reverse("inbox:citizen_export", args=[budi.pk]))
    (entry,) = audited("inbox.citizen.exported")
    assert entry.actor == responder
    assert entry.payload["contact"] == budi.pk and entry.payload["messages"] == 3
    stored = json.dumps(entry.payload) + entry.target_label
    assert "budi" not in stored.lower() and "3273015108900001" not in stored


def test_a_formula_in_a_citizens_text_does_not_run_in_a_spreadsheet(as_user, admin, say):
    contact = say('=HYPERLINK("http://x")', author="f").contact
    response = as_user(admin).get(
        reverse("inbox:citizen_export", args=[contact.pk]), {"format": "csv"}
    )
    assert "'=HYPERLINK" in response.content.decode()


# --- erase ---------------------------------------------------------------------------------

PERSONAL = ("budi", "3273015108900001", "081234567890", "jalan rusak", "halo min")


def _everything_stored_about(conversations, contacts_, case):
    """The rows of every model that point at the citizen, their conversations or case, and
    the stored events of their messages: what an inspector would look at."""
    messages = Message.objects.filter(conversation__in=conversations)
    rows: list[models.Model] = [
        *contacts_,
        *conversations,
        *messages,
        *InboundEvent.objects.filter(pk__in=messages.values("event")),
        *Note.objects.filter(conversation__in=conversations),
        *CaseEvent.objects.filter(case=case),
        *Notification.objects.all(),
    ]
    return rows


def _texts(row: models.Model) -> str:
    return json.dumps(
        {f.name: getattr(row, f.attname) for f in row._meta.concrete_fields}, default=str
    ).lower()


def test_erasing_leaves_nothing_personal_and_keeps_counts_and_cases(as_user, admin, budi):
    conversations = list(contacts.conversations_of(budi))
    people = contacts.identities(budi)
    case = Case.objects.get()
    client = as_user(admin)
    confirm = client.get(reverse("inbox:citizen_erase", args=[budi.pk])).content.decode()
    assert "@budi_ig" in confirm and "3 messages" in confirm
    response = client.post(reverse("inbox:citizen_erase", args=[budi.pk]), {"confirm": "yes"})
    assert response.status_code == 302
    for row in _everything_stored_about(conversations, people, case):
        row.refresh_from_db()
        for word in PERSONAL:
            assert word not in _texts(row), (type(row).__name__, row.pk, word)
    assert Conversation.objects.filter(pk__in=[c.pk for c in conversations]).count() == 2
    assert Message.objects.filter(conversation__in=conversations).count() == 3
    assert Case.objects.get().tracking_number == case.tracking_number
    assert all(Contact.objects.get(pk=p.pk).erased_at for p in people)
    marker = contacts.erased_marker(budi.organisation)
    assert set(Message.objects.values_list("text", flat=True)) == {marker}
    assert all(not m.triage.get("personal_data") for m in Message.objects.all())


def test_nothing_personal_remains_anywhere_in_the_database_audit_chain_included(admin, budi):
    contacts.erase_citizen(budi, by=Actor(user=admin))
    for model in apps.get_models():
        for row in model._default_manager.all():
            # The audit chain cannot be rewritten, so it must never have held the citizen's
            # name in the first place (a conversation's label names only its channel).
            text = _texts(row) + json.dumps(getattr(row, "payload", None), default=str).lower()
            for word in ("3273015108900001", "081234567890", "halo min", "@budi", "budi"):
                assert word not in text, (model.__name__, row.pk, word)


def test_erasing_is_audited_and_a_second_erase_only_says_so(as_user, admin, budi):
    client = as_user(admin)
    client.post(reverse("inbox:citizen_erase", args=[budi.pk]), {"confirm": "yes"})
    (entry,) = audited("inbox.citizen.erased")
    assert entry.actor == admin
    assert entry.payload["messages"] == 3 and entry.payload["identities"] == 2
    assert "budi" not in (json.dumps(entry.payload) + entry.target_label).lower()
    again = client.get(reverse("inbox:citizen_erase", args=[budi.pk]))
    assert again.status_code == 302


def test_erasing_needs_the_confirmation_and_an_administrator(as_user, admin, responder, budi):
    url = reverse("inbox:citizen_erase", args=[budi.pk])
    assert as_user(responder).get(url).status_code == 403
    assert as_user(responder).post(url, {"confirm": "yes"}).status_code == 403
    as_user(admin).post(url, {})
    assert Contact.objects.get(pk=budi.pk).erased_at is None


def test_an_erased_citizen_writing_again_starts_a_new_citizen_and_old_events_stay_out(
    admin, budi, receive, say
):
    old_message = Message.objects.get(direction="in", conversation__contact=budi)
    assert old_message.event is not None
    old_event = old_message.event
    contacts.erase_citizen(budi, by=Actor(user=admin))
    # The network delivers the old message again: recognised, not stored a second time.
    again = citizen_event("NIK saya 3273015108900001", external_id=old_event.external_id)
    assert receive(again) == []
    # A new message from the same account: a new citizen, not linked to the erased one.
    fresh = say("Saya lagi", author="budi").contact
    assert fresh.pk != budi.pk and fresh.erased_at is None
    assert Contact.objects.get(pk=budi.pk).handle == ""


def test_erasing_also_covers_reactions_that_opened_no_conversation(admin, say, receive):
    contact = say("Jalan rusak", author="budi").contact
    (reaction,) = receive(citizen_event("👍 budi", author="budi", kind=EventKind.REACTION))
    contacts.erase_citizen(contact, by=Actor(user=admin))
    reaction.refresh_from_db()
    assert reaction.author_id == reaction.author_handle == reaction.text == ""


def test_erasing_deletes_the_files_the_citizen_sent(
    admin, receive, django_capture_on_commit_callbacks
):
    from django.core.files.storage import default_storage

    from humas.channels.providers.base import Attachment

    event = dataclasses.replace(
        citizen_event("Foto KTP saya", author="budi"),
        attachments=[Attachment(filename="ktp.jpg", mime_type="image/jpeg", data=b"ktp")],
    )
    (stored,) = receive(event)
    (path,) = [m["path"] for m in stored.media]
    assert default_storage.exists(path)
    contact = Conversation.objects.get(messages__event=stored).contact
    with django_capture_on_commit_callbacks(execute=True):
        contacts.erase_citizen(contact, by=Actor(user=admin))
    assert not default_storage.exists(path)
    stored.refresh_from_db()
    assert stored.media == []


def test_erasing_a_citizen_forgets_what_the_triage_engine_learnt_from_their_messages(admin, budi):
    from humas.inbox.models import correction_source
    from humas.triage import record_correction
    from humas.triage.models import LabelCorrection

    message = Message.objects.filter(conversation__contact=budi).first()
    assert message is not None
    by = Actor(user=admin)
    org = budi.organisation
    record_correction(
        org,
        text="halo min",
        field="category",
        value="complaint",
        by=by,
        source=correction_source(message.pk),
    )
    other = record_correction(
        org,
        text="lampu mati",
        field="category",
        value="complaint",
        by=by,
        source=correction_source(message.pk + 1000),
    )

    counts = contacts.erase_citizen(budi, by=by)

    assert counts["corrections"] == 1
    assert list(LabelCorrection.objects.values_list("pk", flat=True)) == [other.pk]
