"""A full-text document per conversation for the inbox search, on PostgreSQL only.

``inbox_conversation.search_document`` (tsvector) with a GIN index, filled here from the
existing citizens and messages; from now on :mod:`humas.inbox.search` keeps it. SQLite has
no full text of this kind and searches substrings, so nothing is added there.

The messages' own full-text index (``message_search`` of migration 0004) is dropped: nothing
queries it any more, and every stored message paid for it. The trigram index on their texts
stays; the search falls back to substrings when the documents find nothing.

The column is not a model field on purpose: the ORM never reads or writes it, and a field
of PostgreSQL's type would have to exist, unused, on SQLite too.
"""

from typing import Any

from django.db import migrations

FILL = """
UPDATE inbox_conversation AS c
   SET search_document = to_tsvector('simple', left(
           COALESCE(contact.handle, '') || ' ' || COALESCE(contact.display_name, '')
           || ' ' || COALESCE(texts.joined, ''), 100000))
  FROM inbox_contact AS contact,
       (SELECT conversation_id, string_agg(left(text, 2000), ' ' ORDER BY created_at, id) AS joined
          FROM inbox_message GROUP BY conversation_id) AS texts
 WHERE contact.id = c.contact_id AND texts.conversation_id = c.id
"""


def add_document(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "ALTER TABLE inbox_conversation ADD COLUMN IF NOT EXISTS search_document tsvector"
    )
    schema_editor.execute(FILL)
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS conv_search ON inbox_conversation "
        "USING gin (search_document)"
    )
    schema_editor.execute("DROP INDEX IF EXISTS message_search")
    # Statistics of the new column at once: without them the planner guesses how many
    # conversations a word matches and picks a slow plan until autovacuum comes by.
    schema_editor.execute("ANALYZE inbox_conversation")


def drop_document(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS conv_search")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS message_search ON inbox_message "
        "USING gin (to_tsvector('simple'::regconfig, COALESCE(text, '')))"
    )
    schema_editor.execute("ALTER TABLE inbox_conversation DROP COLUMN IF EXISTS search_document")


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0005_reply_sending_since"),
    ]

    operations = [
        migrations.RunPython(add_document, drop_document, elidable=False),
    ]
