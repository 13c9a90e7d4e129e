"""The inbox search: the query language, and on PostgreSQL the per-conversation document."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from humas.accounts.audit import Actor
from humas.inbox import actions, contacts, search
from humas.inbox.models import Conversation
from humas.inbox.tests.conftest import citizen_event

pytestmark = pytest.mark.django_db

URL = reverse("inbox:list")


def rows(client, **query):
    response = client.get(URL, query)
    assert response.status_code == 200
    shown = {c.pk: c for c in Conversation.objects.all()}
    return [shown[item["pk"]] for item in response.context["items"]]


def document(conversation: Conversation) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT search_document::text FROM inbox_conversation WHERE id = %s",
            [conversation.pk],
        )
        return cursor.fetchone()[0] or ""


# --- the query language (plain Python) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "query"),
    [
        ("banjir", "'banjir':*"),
        ("Jalan  RUSAK", "'jalan':* & 'rusak':*"),
        ('"rusak di kelurahan" sukamaju', "('rusak' <-> 'di' <-> 'kelurahan':*) & 'sukamaju':*"),
        ("jalan -lampu", "'jalan':* & !'lampu'"),
        ("@warga12", "'warga12':*"),
        ("LPR-2026-AB12", "'lpr':* & '2026':* & 'ab12':*"),
        ("it's o'clock", "'it':* & 's':* & 'o':* & 'clock':*"),
        ("snake_case", "'snake':* & 'case':*"),
    ],
)
def test_what_is_typed_becomes_a_prefix_query_of_every_word(typed, query):
    assert search.prefix_query(typed) == query


@pytest.mark.parametrize("typed", ["", "   ", "😀😀", "-lampu", "'\\;--", '""'])
def test_nothing_to_look_for_gives_no_query(typed):
    assert search.prefix_query(typed) == ""


# --- PostgreSQL: the stored document ----------------------------------------------------------


@pytest.mark.postgres
def test_words_are_found_by_their_beginning_in_any_message_of_the_conversation(
    as_user, responder, say
):
    road = say("Jalan rusak di Kelurahan Sukamaju", author="a", thread="t1")
    say("Sudah dua minggu banjir tidak surut", author="a", thread="t1")
    light = say("Lampu jalan mati", author="sari")
    client = as_user(responder)
    assert rows(client, q="banj") == [road]
    assert rows(client, q="sukamaju banjir") == [road]
    assert set(rows(client, q="jal")) == {road, light}
    assert "'banjir'" in document(road)


@pytest.mark.postgres
def test_the_citizens_handle_and_name_are_in_the_document(as_user, responder, say):
    light = say("Lampu jalan mati", author="sari")
    client = as_user(responder)
    assert "'sari'" in document(light)
    assert rows(client, q="@sar") == [light]


@pytest.mark.postgres
def test_our_replies_are_searchable_too(as_user, responder, say, org):
    conversation = say("Jalan rusak", author="a")
    actions.send_reply(
        conversation, "Terima kasih, petugas pemeliharaan berangkat", by=Actor.system("test")
    )
    assert rows(as_user(responder), q="pemeliharaan") == [conversation]


@pytest.mark.postgres
def test_a_part_inside_a_word_is_still_found_through_substrings(as_user, responder, say):
    flood = say("Banjir setinggi lutut", author="a")
    say("Lampu jalan mati", author="b")
    # "anjir" starts no word: the document answers nothing, the substring search does.
    assert rows(as_user(responder), q="anjir") == [flood]


@pytest.mark.postgres
def test_erasing_a_citizen_takes_their_words_out_of_the_document(as_user, responder, say, org):
    secret = say("Rumah saya di Jalan Melati nomor 7 kebanjiran", author="melati")
    assert "'melati'" in document(secret)
    contacts.erase_citizen(secret.contact, by=Actor.system("test"))
    secret.refresh_from_db()
    assert "melati" not in document(secret)
    assert "kebanjiran" not in document(secret)
    assert rows(as_user(responder), q="melati") == []


@pytest.mark.postgres
def test_a_huge_message_is_indexed_by_its_beginning_and_the_document_stops_growing(
    as_user, responder, receive
):
    words = " ".join(f"kata{n}" for n in range(40_000))
    receive(citizen_event("awal " + words, author="panjang", thread="x"))
    conversation = Conversation.objects.get()
    assert rows(as_user(responder), q="awal") == [conversation]
    # Only the first MESSAGE_CHARS characters: the 30,000th word is not in the document.
    assert "kata30000" not in document(conversation)
    # A flood of messages in one thread: the document stays under PostgreSQL's limit.
    for batch in range(6):
        receive(
            *[
                citizen_event(
                    " ".join(f"b{batch}m{m}w{w}" for w in range(300)), author="panjang", thread="x"
                )
                for m in range(60)
            ]
        )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_column_size(search_document) FROM inbox_conversation WHERE id = %s",
            [conversation.pk],
        )
        size = cursor.fetchone()[0]
    assert search.DOCUMENT_BYTES < size < 1_000_000


@pytest.mark.postgres
def test_reindexing_builds_the_document_from_the_rows(say):
    conversation = say("Jalan rusak", author="a")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE inbox_conversation SET search_document = NULL")
    search.reindex_conversations([conversation.pk])
    assert "'rusak'" in document(conversation)
    assert "'a'" in document(conversation)
