"""Writing many changed rows at once.

Django's ``bulk_update`` writes one ``CASE WHEN pk = … THEN … END`` per field, built as
expressions the ORM resolves one by one: for a batch of a few hundred conversations that was
a fifth of the inbox's ingest time (see "Inbox: ingest" in docs/benchmarks.md). The same
change as one ``UPDATE … FROM (VALUES …)`` costs a fraction of that; PostgreSQL and SQLite
(3.33 and later) both have it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connections, router
from django.db.models import Model

#: Rows per statement: far below SQLite's and PostgreSQL's limits on parameters.
CHUNK = 500


def update_rows(rows: Sequence[Model], fields: Sequence[str]) -> int:
    """Write ``fields`` of the saved instances ``rows`` (all of one model) to the database;
    return how many rows the statements matched.

    Values are prepared by each field as ``save()`` would. Foreign keys are named as on the
    model (``unit``); their ids are written.
    """
    if not rows:
        return 0
    model = type(rows[0])
    meta = model._meta
    connection = connections[router.db_for_write(model)]
    columns: list[Any] = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    pk: Any = meta.pk
    postgres = connection.vendor == "postgresql"

    def source(position: int, field: Any) -> str:
        # VALUES names its columns column1, column2… on both databases. PostgreSQL types a
        # column of VALUES from its literals (text for strings and all-NULL columns): a cast
        # to the field's own type makes the assignment exact.
        name = f"v.column{position}"
        return f"CAST({name} AS {field.cast_db_type(connection)})" if postgres else name

    assignments = ", ".join(
        f"{quote(field.column)} = {source(i + 2, field)}" for i, field in enumerate(columns)
    )
    placeholders = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
    matched = 0
    with connection.cursor() as cursor:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            params: list[Any] = []
            for row in chunk:
                params.append(pk.get_db_prep_save(row.pk, connection))
                params.extend(
                    field.get_db_prep_save(getattr(row, field.attname), connection)
                    for field in columns
                )
            cursor.execute(
                f"UPDATE {table} SET {assignments} "  # noqa: S608 - names quoted, values bound
                f"FROM (VALUES {', '.join([placeholders] * len(chunk))}) AS v "
                f"WHERE {table}.{quote(pk.column)} = {source(1, pk)}",
                params,
            )
            matched += cursor.rowcount
    return matched
