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
