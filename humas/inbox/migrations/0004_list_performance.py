"""Indexes for the inbox list at a million messages (see "Inbox: list" in docs/benchmarks.md).

On PostgreSQL also the search's indexes, which SQLite has no use for: full text over the
messages (the very expression ``humas.inbox.forms.search`` queries, so no stored column is
needed and nothing at ingest keeps one up to date) and trigrams (pg_trgm) for its substring
matches on message texts and on citizens' handles and names.
"""

from typing import Any

from django.db import migrations, models

SEARCH_INDEXES = [
    (
        "message_search",
        "inbox_message USING gin (to_tsvector('simple'::regconfig, COALESCE(text, '')))",
    ),
    ("message_text_trgm", "inbox_message USING gin (UPPER(text) gin_trgm_ops)"),
    ("contact_handle_trgm", "inbox_contact USING gin (UPPER(handle) gin_trgm_ops)"),
    ("contact_name_trgm", "inbox_contact USING gin (UPPER(display_name) gin_trgm_ops)"),
]


def add_search_indexes(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, definition in SEARCH_INDEXES:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}")


def drop_search_indexes(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _definition in SEARCH_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0003_contact_merge_block_erase"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(
                models.F("organisation_id"),
                models.F("status"),
                models.Case(
                    models.When(then=models.Value(0), urgency="critical"),
                    models.When(then=models.Value(1), urgency="high"),
                    models.When(then=models.Value(2), urgency="normal"),
                    models.When(then=models.Value(3), urgency="low"),
                    default=models.Value(9),
                    output_field=models.IntegerField(),
                ),
                models.OrderBy(models.F("last_message_at"), descending=True),
                models.OrderBy(models.F("id"), descending=True),
                name="conv_urgent",
            ),
        ),
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(
                models.F("organisation_id"),
                models.OrderBy(models.F("last_message_at"), descending=True),
                models.OrderBy(models.F("id"), descending=True),
                name="conv_newest",
            ),
        ),
        migrations.RunPython(add_search_indexes, drop_search_indexes, elidable=False),
    ]
