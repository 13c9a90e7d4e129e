"""Writing many changed rows at once.

Django's ``bulk_update`` writes one ``CASE WHEN pk = … THEN … END`` per field, built as
expressions the ORM resolves one by one: for a batch of a few hundred conversations that was
a fifth of the inbox's ingest time (see "Inbox: ingest" in docs/benchmarks.md). The same
change as one ``UPDATE … FROM (VALUES …)`` costs a fraction of that; PostgreSQL and SQLite
(3.33 and later) both have it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db import connections, router, transaction
from django.db.models import (
    BooleanField,
    CharField,
    ForeignKey,
    IntegerField,
    Model,
    TextField,
)

M = TypeVar("M", bound=Model)

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


def insert_rows(rows: Sequence[M], *, ignore_conflicts: bool = False) -> list[M] | None:
    """Insert new instances of one model, as ``bulk_create`` would, but with PostgreSQL's
    COPY where it runs (other databases: ``bulk_create`` itself).

    A bulk ``INSERT`` is compiled by Django placeholder by placeholder and every value is
    quoted by psycopg on the client: together a fifth of the inbox's ingest time on
    PostgreSQL (see "Inbox: ingest" in docs/benchmarks.md). COPY sends the rows as data.

    The primary keys are taken from the table's sequence first (one query), so every
    instance written has its ``pk`` afterwards. With ``ignore_conflicts``, rows go through a
    temporary table and ``INSERT … ON CONFLICT DO NOTHING RETURNING`` the ids written.

    Returns the instances written (with their ``pk``), or None where that cannot be told
    (``ignore_conflicts`` on another database: read them back, as after ``bulk_create``).
    """
    if not rows:
        return []
    model = type(rows[0])
    meta = model._meta
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(rows, ignore_conflicts=ignore_conflicts)
        return None if ignore_conflicts else list(rows)
    for row in rows:
        # As bulk_create does: a foreign key to an object saved after this one was built
        # (a conversation opened in the same batch) takes that object's new id.
        row._prepare_related_fields_for_save(  # type: ignore[attr-defined]
            operation_name="insert_rows"
        )
    pk: Any = meta.pk
    fields: list[Any] = [pk, *(f for f in meta.concrete_fields if f is not pk)]
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    columns = ", ".join(quote(f.column) for f in fields)
    with transaction.atomic(using=connection.alias, savepoint=False), connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, pk.column, len(rows)],
        )
        # Ascending in the rows' order, so "ORDER BY id" below is the order given.
        for row, (value,) in zip(rows, sorted(cursor.fetchall()), strict=True):
            row.pk = value
        target = table
        if ignore_conflicts:
            target = quote(f"_copy_{meta.db_table}")
            # The columns only (no constraints, no defaults), kept for the session.
            cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {target} "  # noqa: S608 - names quoted
                f"AS SELECT {columns} FROM {table} WITH NO DATA"
            )
        prepared = [(f, _preparer(f, connection)) for f in fields]
        raw = cursor.cursor  # psycopg's own cursor: Django's wrapper has no copy()
        with raw.copy(f"COPY {target} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([prepare(f.pre_save(row, True)) for f, prepare in prepared])
        if not ignore_conflicts:
            return list(rows)
        cursor.execute(
            f"INSERT INTO {table} ({columns}) "  # noqa: S608 - names quoted
            # In the order given (the ids were drawn in that order): callers sort their rows
            # so that two workers take a unique index's locks in the same order.
            f"SELECT {columns} FROM {target} ORDER BY {quote(pk.column)} "
            f"ON CONFLICT DO NOTHING RETURNING {quote(pk.column)}"
        )
        written = {value for (value,) in cursor.fetchall()}
        cursor.execute(f"DELETE FROM {target}")  # noqa: S608 - name quoted
    return [row for row in rows if row.pk in written]


def _native_type(field: Any) -> type | None:
    """The Python type a field's value is written as unchanged (None: always prepare it)."""
    if isinstance(field, ForeignKey):
        return _native_type(field.target_field)
    if isinstance(field, BooleanField):
        return bool
    if isinstance(field, IntegerField):
        return int
    if isinstance(field, CharField | TextField):
        return str
    return None


def _preparer(field: Any, connection: Any) -> Callable[[Any], Any]:
    """``field.get_db_prep_save`` for one column, skipped where it would return the value as
    it is (a str for a text column, an int for an integer one): called for every value of
    every row, it was most of the Python time of a COPY. Anything else (an enum member, a
    date, JSON) is prepared by the field as ``save()`` would."""
    native = _native_type(field)

    def prepare(value: Any) -> Any:
        return field.get_db_prep_save(value, connection)

    if native is None:
        return prepare
    return lambda value: value if value is None or type(value) is native else prepare(value)
