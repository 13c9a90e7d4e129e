from itertools import pairwise

import pytest
from django.core.management import call_command
from django.db import connection

from humas.accounts.audit import MASK, Actor, mask_secrets, record, verify
from humas.accounts.models import AuditEntry
from humas.accounts.testing import SYSTEM, make_org

pytestmark = pytest.mark.django_db


def _raw(sql: str, params: list) -> None:
    # Tampering goes straight to the database, as an attacker with full DB access would —
    # on PostgreSQL that includes switching off the append-only trigger first (a superuser
    # can: replica mode skips ordinary triggers).
    table = AuditEntry._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql.format(table=table), params)
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = origin")


def _chain(n: int = 5) -> list[AuditEntry]:
    org = make_org("Kota Audit")
    return [
        record(f"tests.event.{i}", actor=SYSTEM, organisation=org, payload={"i": i})
        for i in range(n)
    ]


def test_it_numbers_and_chains_every_entry():
    entries = _chain(4)
    seqs = [e.seq for e in AuditEntry.objects.order_by("seq")]
    assert seqs == list(range(1, len(seqs) + 1))
    for before, after in pairwise(entries):
        assert after.prev_hash == before.entry_hash


def test_it_reports_an_untouched_log_as_intact():
    _chain()
    result = verify()
    assert result.intact
    assert result.checked == AuditEntry.objects.count()


def test_it_detects_an_edited_payload():
    entries = _chain()
    _raw("UPDATE {table} SET payload = %s WHERE id = %s", ['{"i": 99}', entries[2].pk])
    result = verify()
    assert not result.intact
    assert [(b.kind, b.seq) for b in result.breaks] == [("altered", entries[2].seq)]


def test_it_detects_an_edited_actor_label():
    entries = _chain()
    _raw("UPDATE {table} SET actor_label = %s WHERE id = %s", ["someone else", entries[1].pk])
    assert [b.kind for b in verify().breaks] == ["altered"]


def test_it_detects_a_row_deleted_from_the_middle():
    entries = _chain()
    _raw("DELETE FROM {table} WHERE id = %s", [entries[2].pk])
    breaks = verify().breaks
    assert [(b.kind, b.seq) for b in breaks] == [("missing", entries[2].seq)]


def test_it_detects_rows_deleted_from_the_end():
    entries = _chain()
    _raw("DELETE FROM {table} WHERE id = %s", [entries[-1].pk])
    breaks = verify().breaks
    assert [b.kind for b in breaks] == ["truncated"]


def test_it_detects_two_entries_swapped_in_order():
    entries = _chain()
    a, b = entries[1], entries[2]
    # Swap their sequence numbers through a temporary value (seq is unique).
    _raw("UPDATE {table} SET seq = %s WHERE id = %s", [10_000, a.pk])
    _raw("UPDATE {table} SET seq = %s WHERE id = %s", [a.seq, b.pk])
    _raw("UPDATE {table} SET seq = %s WHERE id = %s", [b.seq, a.pk])
    result = verify()
    assert not result.intact
    assert {br.seq for br in result.breaks} >= {a.seq, b.seq}


def test_it_detects_an_entry_rewritten_with_a_recomputed_own_hash():
    from humas.accounts.audit import compute_hash

    entries = _chain()
    forged = AuditEntry.objects.get(pk=entries[1].pk)
    forged.payload = {"i": "forged"}
    new_hash = compute_hash(forged, forged.prev_hash)
    _raw(
        "UPDATE {table} SET payload = %s, entry_hash = %s WHERE id = %s",
        ['{"i": "forged"}', new_hash, forged.pk],
    )
    # The forger fixed this row's own hash, but the next row still points at the old one.
    breaks = verify().breaks
    assert [(b.kind, b.seq) for b in breaks] == [("out_of_order", entries[2].seq)]


def test_it_refuses_changes_through_the_orm():
    entry = _chain(1)[0]
    entry.action = "changed"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().update(action="x")
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().delete()


def test_it_masks_secrets_in_payloads():
    masked = mask_secrets(
        {
            "password": "hunter2",
            "access_token": "abc",
            "appPassword": "xyz",
            "nested": [{"api_key": "k", "name": "ok"}],
            "role": "editor",
        }
    )
    assert masked == {
        "password": MASK,
        "access_token": MASK,
        "appPassword": MASK,
        "nested": [{"api_key": MASK, "name": "ok"}],
        "role": "editor",
    }
    entry = record("tests.secret", actor=SYSTEM, payload={"client_secret": "s3cr3t"})
    entry.refresh_from_db()
    assert entry.payload == {"client_secret": MASK}


def test_it_stores_actor_ip_and_target():
    org = make_org("Kota IP")
    entry = record("tests.ip", actor=Actor(ip="10.1.2.3", label="x"), organisation=org, target=org)
    entry.refresh_from_db()
    assert entry.ip == "10.1.2.3"
    assert entry.target_type == "accounts.organisation"
    assert entry.target_id == str(org.pk)
    assert entry.organisation == org


def test_the_verify_command_says_intact_and_exits_zero(capsys):
    _chain()
    call_command("audit", "verify")
    out = capsys.readouterr().out
    assert "intact" in out
    last = AuditEntry.objects.order_by("-seq").first()
    assert last is not None
    assert f"Head: #{last.seq} {last.entry_hash}" in out


def test_the_verify_command_names_the_broken_entry_and_exits_nonzero(capsys):
    entries = _chain()
    _raw("UPDATE {table} SET action = %s WHERE id = %s", ["tests.forged", entries[3].pk])
    with pytest.raises(SystemExit) as exit_info:
        call_command("audit", "verify")
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "BROKEN" in err
    assert f"entry #{entries[3].seq}" in err
    assert "altered" in err


@pytest.mark.postgres
def test_on_postgresql_the_database_itself_refuses_to_change_entries():
    from django.db import DatabaseError, transaction

    entry = _chain(1)[0]
    refused = (
        "UPDATE accounts_auditentry SET action = 'x' WHERE id = %s",
        "DELETE FROM accounts_auditentry WHERE id = %s",
    )
    for sql in refused:
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [entry.pk])
    assert verify().intact
