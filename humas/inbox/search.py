"""Searching the inbox: one stored full-text document per conversation on PostgreSQL.

Each conversation keeps ``search_document``, a ``tsvector`` of its citizen's handle and name
and of the text of its messages (the 'simple' configuration: no stemming, so Indonesian and
regional words match as written). The column exists on PostgreSQL only (migration inbox
0006); it is written here and nowhere else: messages are added to it as they are stored
(:func:`index_messages`), and a conversation is indexed again from its rows when something
is taken out of it or its citizen changes (:func:`reindex_conversations`: erasure, merging).

Why a document per conversation and not the messages' own index: the list shows
conversations, most urgent first. Matching messages first and then their conversations had
to gather every match of a common word (a hundred thousand messages for "jalan") before the
first row could be shown; with the document on the conversation, PostgreSQL walks the list's
own ordered index and stops after one page, or takes the document's GIN index for rare words
(see "Inbox: list" in docs/benchmarks.md).

Words are matched by their beginning ("banj" finds "banjir"); a search the documents do not
answer at all falls back to substrings over the messages and the citizens (trigram indexes),
so parts inside words and odd spellings are still found. On SQLite the search is the
substring path alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from django.db import connection
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL

from humas.inbox.models import Contact, Conversation, Message

#: How much of one message goes into the document: enough for any real message; a 100 KB
#: paste adds no more than this.
MESSAGE_CHARS = 2_000
#: The most text a document is built from when a conversation is indexed again.
DOCUMENT_CHARS = 100_000
#: A document this large (bytes) takes no more words: PostgreSQL refuses a tsvector over
#: 1 MB, and a conversation that long is a flood, not a conversation.
DOCUMENT_BYTES = 400_000

#: A word as PostgreSQL's parser splits them (letters and digits; "_" separates).
WORD = re.compile(r"[^\W_]+")
PHRASE = re.compile(r'"([^"]*)"')


def enabled() -> bool:
    return connection.vendor == "postgresql"


def index_messages(pairs: Iterable[tuple[int, str]]) -> None:
    """Add ``(conversation id, text)`` pairs to the conversations' documents, in one UPDATE.

    Ingesting a batch passes its messages, and for each conversation it opened the
    citizen's handle and name as one more text.
    """
    if not enabled():
        return
    ids: list[int] = []
    texts: list[str] = []
    for conversation_id, text in pairs:
        if text:
            ids.append(conversation_id)
            texts.append(text[:MESSAGE_CHARS])
    if not ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE inbox_conversation AS c
               SET search_document = CASE
                       WHEN pg_column_size(c.search_document) > %s THEN c.search_document
                       ELSE COALESCE(c.search_document, ''::tsvector) || added.document
                   END
              FROM (SELECT id, to_tsvector('simple', string_agg(text, ' ')) AS document
                      FROM unnest(%s::bigint[], %s::text[]) AS given(id, text)
                     GROUP BY id) AS added
             WHERE c.id = added.id
            """,
            [DOCUMENT_BYTES, ids, texts],
        )


def reindex_conversations(conversation_ids: Sequence[int]) -> None:
    """Build the documents of these conversations again from their citizen and messages."""
    if not enabled() or not conversation_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE inbox_conversation AS c
               SET search_document = to_tsvector('simple', left(
                       COALESCE(contact.handle, '') || ' ' || COALESCE(contact.display_name, '')
                       || ' ' || COALESCE((
                           SELECT string_agg(left(m.text, %s), ' ' ORDER BY m.created_at, m.id)
                             FROM inbox_message AS m
                            WHERE m.conversation_id = c.id), ''),
                       %s))
              FROM inbox_contact AS contact
             WHERE contact.id = c.contact_id AND c.id = ANY(%s)
            """,
            [MESSAGE_CHARS, DOCUMENT_CHARS, list(conversation_ids)],
        )


def prefix_query(text: str) -> str:
    """A ``to_tsquery`` expression for what someone typed: every word must appear, matched
    by its beginning; words in double quotes must appear in that order; a word with a
    leading ``-`` must not appear. Empty when nothing in ``text`` is a word."""

    def words(part: str) -> list[str]:
        return [w.lower() for w in WORD.findall(part)]

    terms: list[str] = []
    for phrase in PHRASE.findall(text):
        inside = words(phrase)
        if inside:
            quoted = [f"'{w}'" for w in inside]
            quoted[-1] += ":*"
            terms.append("(" + " <-> ".join(quoted) + ")")
    rest = PHRASE.sub(" ", text)
    for token in rest.split():
        excluded = token.startswith("-") and len(token) > 1
        for word in words(token):
            terms.append(f"!'{word}'" if excluded else f"'{word}':*")
    if not any(not t.startswith("!") for t in terms):
        return ""
    return " & ".join(terms)


def _substring(rows: QuerySet[Conversation], query: str) -> QuerySet[Conversation]:
    """Conversations with a message containing ``query``, or from a matching citizen."""
    citizens = Contact.objects.filter(
        Q(handle__icontains=query) | Q(display_name__icontains=query)
    ).values("pk")
    # One IN over the union of both matches, not EXISTS(…) OR …: an OR across a subquery and
    # another table cannot use an index; this way PostgreSQL reads the matches only, through
    # the trigram indexes of migration inbox 0004.
    matched = (
        Message.objects.filter(text__icontains=query)
        .order_by()
        .values("conversation_id")
        .union(Conversation.objects.filter(contact__in=citizens).order_by().values("pk"))
    )
    return rows.filter(pk__in=matched)


def search(rows: QuerySet[Conversation], query: str) -> QuerySet[Conversation]:
    """The conversations of ``rows`` that match ``query`` (see the module's docstring)."""
    tsquery = prefix_query(query) if enabled() else ""
    if tsquery:
        found = rows.filter(
            RawSQL(
                "inbox_conversation.search_document @@ to_tsquery('simple', %s)",
                (tsquery,),
                output_field=BooleanField(),
            )
        )
        if found.exists():
            return found
    return _substring(rows, query)
