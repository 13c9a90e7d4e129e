"""What every process keeps per organisation: lists read on every request that rarely change.

The inbox list is the page responders keep open all day. Each view of it showed every
channel, unit and member of the organisation in its filter menus and asked whether an
incident is active: four queries for lists that change a few times a month. So each process
keeps them, keyed by the organisation's :attr:`~humas.accounts.models.Organisation.cache_stamp`,
which the middleware reads with the caller's membership anyway (no extra query). Any save or
delete of a channel, unit, membership or incident, or a change to a member's name, e-mail or
active flag, gives the organisation a new random stamp in the same transaction: every
process sees the change on its next request, without a shared cache server (the embedded
default has none). A random stamp, not a counter, so that a value kept from another
database — a test's, or one from before a restore — can never match.

Code that changes those rows with ``QuerySet.update`` bypasses the signals and calls
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
    """``build()``'s value for ``organisation`` and ``key``, built once per cache stamp.

    ``organisation`` must be freshly read — the request's membership's, which the middleware
    reads on every request — or a change made since it was read goes unseen. The value is
    shared by every request of the process: return something immutable (tuples), never
    model instances a caller might change."""
    entry = (organisation.pk, organisation.cache_stamp, key)
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


def changed(organisation_ids: Iterable[int | None]) -> None:
    """Give these organisations a new cache stamp: what processes keep of them is stale."""
    ids = {pk for pk in organisation_ids if pk is not None}
    if ids:
        Organisation.objects.filter(pk__in=ids).update(cache_stamp=uuid.uuid4())


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
