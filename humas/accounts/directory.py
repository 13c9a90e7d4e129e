"""An organisation's directory — its channels, units and members — kept per process for
the menus that list them on every request.

The inbox's filter form offers every channel, unit and member of the organisation on each
view of the list, and responders keep that page open. Reading the three lists was three
queries per request; they change rarely. So each process keeps them, keyed by the
organisation's :attr:`~humas.accounts.models.Organisation.directory_stamp`, which the
middleware reads with the caller's membership anyway (no extra query). Any save or delete of
a channel, unit or membership, or a change to a member's name, e-mail or active flag, gives
the organisation a new random stamp in the same transaction: every process sees the change
on its next request, without a shared cache. A random stamp (not a counter) means a value
kept from another database — a test's, or before a restore — can never match.

Code that changes those fields with ``QuerySet.update`` bypasses the signals and must call
:func:`changed` itself.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from humas.accounts.models import Membership, Organisation, Unit, User

T = TypeVar("T")

#: How many (organisation, stamp, key) entries a process keeps; the oldest go first.
MAX_ENTRIES = 512

_entries: OrderedDict[tuple[Hashable, ...], Any] = OrderedDict()
_lock = threading.Lock()


def cached(organisation: Organisation, key: Hashable, build: Callable[[], T]) -> T:
    """``build()``'s value for ``organisation`` and ``key``, built once per directory stamp.

    The value is shared by every request of the process: return something immutable (tuples),
    never model instances a caller might change."""
    entry = (organisation.pk, organisation.directory_stamp, key)
    with _lock:
        if entry in _entries:
            _entries.move_to_end(entry)
            return _entries[entry]  # type: ignore[no-any-return]
    value = build()
    with _lock:
        _entries[entry] = value
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return value


def forget_all() -> None:
    """Empty this process's entries (tests that count queries start from nothing)."""
    with _lock:
        _entries.clear()


def changed(organisation_ids: Iterable[int | None]) -> None:
    """Give these organisations a new directory stamp: what processes keep is stale."""
    ids = {pk for pk in organisation_ids if pk is not None}
    if ids:
        Organisation.objects.filter(pk__in=ids).update(directory_stamp=uuid.uuid4())


def touches(update_fields: Iterable[str] | None, shown: set[str]) -> bool:
    """Whether a save with ``update_fields`` (None: every field) may change what menus show."""
    return update_fields is None or not shown.isdisjoint(update_fields)


@receiver(post_save, sender=Unit)
@receiver(post_delete, sender=Unit)
@receiver(post_save, sender=Membership)
@receiver(post_delete, sender=Membership)
def _unit_or_membership_changed(sender: type, instance: Unit | Membership, **kwargs: Any) -> None:
    changed([instance.organisation_id])


#: What menus show of a member, or decide whether they are listed.
MEMBER_FIELDS = {"full_name", "email", "is_active"}


@receiver(post_save, sender=User)
def _user_changed(
    sender: type, instance: User, created: bool, update_fields: Any = None, **kwargs: Any
) -> None:
    # Signing in saves last_login only: no new stamp for that.
    if created or not touches(update_fields, MEMBER_FIELDS):
        return
    changed(Membership.objects.filter(user=instance).values_list("organisation_id", flat=True))
