"""Writing and verifying the tamper-evident audit log."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.http import HttpRequest
from django.utils import timezone

from humas.accounts.models import AuditEntry, AuditHead, Organisation, User

GENESIS = "0" * 64
MASK = "••••••"
_SECRET_WORDS = {
    "password",
    "passwd",
    "secret",
    "token",
    "key",
    "otp",
    "totp",
    "credential",
    "credentials",
    "authorization",
    "cookie",
    "pin",
    "apikey",
}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Actor:
    """Who is acting and from where; passed to every named action."""

    user: User | None = None
    ip: str | None = None
    label: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest) -> Actor:
        user = request.user if request.user.is_authenticated else None
        return cls(user=user, ip=client_ip(request))  # type: ignore[arg-type]

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(label=label)

    def describe(self) -> str:
        if self.user is not None:
            return self.user.email
        return self.label or "system"


def client_ip(request: HttpRequest) -> str | None:
    # django-axes already works out the address (honouring HUMAS_PROXY_COUNT); reuse it so
    # the lockout and the audit log always agree on who knocked.
    from axes.helpers import get_client_ip_address

    return get_client_ip_address(request) or None


def _is_secret_key(key: str) -> bool:
    words = {w for w in _SPLIT.split(_CAMEL.sub("_", key).lower()) if w}
    return bool(words & _SECRET_WORDS) or key.lower() in _SECRET_WORDS


def mask_secrets(value: Any) -> Any:
    """Return ``value`` with every field whose name suggests a secret replaced by a mask."""
    if isinstance(value, dict):
        return {
            k: (MASK if _is_secret_key(str(k)) and v not in (None, "") else mask_secrets(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask_secrets(v) for v in value]
    return value


def _canonical(entry: AuditEntry) -> str:
    created = entry.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = {
        "seq": entry.seq,
        "organisation": entry.organisation_id,
        "actor": entry.actor_id,
        "actor_label": entry.actor_label,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "target_label": entry.target_label,
        "payload": entry.payload,
        "ip": entry.ip,
        "created_at": created,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compute_hash(entry: AuditEntry, prev_hash: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{_canonical(entry)}".encode()).hexdigest()


@dataclass(frozen=True)
class Entry:
    """One entry to append with :func:`record_many`."""

    action: str
    actor: Actor
    organisation: Organisation | None = None
    target: models.Model | None = None
    payload: dict[str, Any] | None = None


def record(
    action: str,
    *,
    actor: Actor,
    organisation: Organisation | None = None,
    target: models.Model | None = None,
    payload: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry. Call it inside the action's transaction so both commit together."""
    (entry,) = record_many([Entry(action, actor, organisation, target, payload)])
    return entry


def record_many(entries: list[Entry]) -> list[AuditEntry]:
    """Append ``entries`` in order, chained, under one lock of the chain's head.

    For work done in batches (a worker recording twenty deliveries at once): the head is
    locked once per batch instead of once per entry, and every thread of every worker queues
    on that lock.
    """
    if not entries:
        return []
    # Everything that does not need the head is prepared before taking its lock.
    # Payloads round-trip through JSON so the stored payload is exactly what was hashed
    # (dates, decimals and UUIDs become strings here, not differently in each database).
    rows = [
        AuditEntry(
            organisation=e.organisation,
            actor=e.actor.user,
            actor_label=e.actor.describe(),
            action=e.action,
            target_type=e.target._meta.label_lower if e.target is not None else "",
            target_id=str(e.target.pk) if e.target is not None else "",
            target_label=str(e.target)[:254] if e.target is not None else "",
            payload=json.loads(json.dumps(mask_secrets(e.payload or {}), cls=DjangoJSONEncoder)),
            ip=e.actor.ip,
        )
        for e in entries
    ]
    # No savepoint: entries are always part of their action's transaction, and they either
    # commit with it or not at all (two statements fewer).
    with transaction.atomic(savepoint=False):
        # A plain locked read: get_or_create would add a savepoint, and the head row exists
        # from the first entry on.
        head = AuditHead.objects.select_for_update().filter(id=1).first()
        if head is None:
            head, _ = AuditHead.objects.select_for_update().get_or_create(id=1)
        seq, prev = head.seq, head.entry_hash
        # Whole microseconds in UTC: what every supported database stores unchanged. Taken
        # under the lock, so times never go backwards along the chain.
        now = timezone.now().astimezone(UTC)
        for row in rows:
            seq += 1
            row.seq, row.created_at, row.prev_hash = seq, now, prev
            row.entry_hash = prev = compute_hash(row, prev)
        # bulk_create: plain INSERTs without save()'s per-instance machinery (signals,
        # update-or-insert logic); this runs for every action humas records.
        AuditEntry.objects.bulk_create(rows)
        AuditHead.objects.filter(id=1).update(seq=seq, entry_hash=prev)
    return rows


@dataclass(frozen=True)
class Break:
    seq: int
    entry_id: int | None
    kind: str  # "altered" | "missing" | "out_of_order" | "truncated"
    detail: str


@dataclass(frozen=True)
class VerifyResult:
    checked: int
    breaks: list[Break]

    @property
    def intact(self) -> bool:
        return not self.breaks


def _walk(batch: int = 2000) -> Iterator[AuditEntry]:
    last = 0
    while True:
        rows = list(AuditEntry.objects.filter(seq__gt=last).order_by("seq")[:batch])
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify(limit_breaks: int = 50) -> VerifyResult:
    """Walk the whole chain and report where it was broken, if anywhere."""
    breaks: list[Break] = []
    expected_seq = 1
    prev_hash = GENESIS
    checked = 0
    for entry in _walk():
        checked += 1
        if entry.seq != expected_seq:
            breaks.append(
                Break(
                    expected_seq,
                    None,
                    "missing",
                    f"entries #{expected_seq}–#{entry.seq - 1} are missing",
                )
            )
        if compute_hash(entry, entry.prev_hash) != entry.entry_hash:
            breaks.append(
                Break(
                    entry.seq,
                    entry.pk,
                    "altered",
                    f"entry #{entry.seq} was changed after it was written",
                )
            )
        elif entry.prev_hash != prev_hash and entry.seq == expected_seq:
            breaks.append(
                Break(
                    entry.seq,
                    entry.pk,
                    "out_of_order",
                    f"entry #{entry.seq} does not follow the entry stored before it",
                )
            )
        prev_hash = entry.entry_hash
        expected_seq = entry.seq + 1
        if len(breaks) >= limit_breaks:
            break
    head = AuditHead.objects.filter(id=1).first()
    head_seq = head.seq if head else 0
    head_hash = head.entry_hash if head else GENESIS
    if len(breaks) < limit_breaks and (head_seq != expected_seq - 1 or head_hash != prev_hash):
        breaks.append(
            Break(
                expected_seq,
                None,
                "truncated",
                f"the log ends at #{expected_seq - 1} but its head records #{head_seq}",
            )
        )
    return VerifyResult(checked=checked, breaks=breaks)
