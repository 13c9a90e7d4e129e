from typing import Any

from django.http import HttpRequest

from humas.accounts.models import Notification
from humas.accounts.roles import PERMISSIONS


def organisation(request: HttpRequest) -> dict[str, Any]:
    """The current organisation and what the caller may do there (``can.units_manage``…)."""
    membership = getattr(request, "membership", None)
    can = {
        code.replace(".", "_"): bool(membership and membership.has_perm(code))
        for code in PERMISSIONS
    }
    unread: int | None = 0
    if membership is not None:
        # Read with the membership by the middleware (a membership from elsewhere: counted).
        unread = getattr(membership, "unread_notifications", None)
        if unread is None:
            unread = Notification.objects.filter(
                user_id=membership.user_id,
                organisation_id=membership.organisation_id,
                read_at__isnull=True,
            ).count()
    return {
        "unread_notifications": unread,
        "membership": membership,
        "organisation": membership.organisation if membership else None,
        "can": can,
        # What the menu shows depends on these rights alone: the key of its cached copy.
        "can_key": "".join("1" if allowed else "0" for allowed in can.values()),
    }
