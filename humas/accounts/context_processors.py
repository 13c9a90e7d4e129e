from typing import Any

from django.http import HttpRequest

from humas.accounts.roles import PERMISSIONS


def organisation(request: HttpRequest) -> dict[str, Any]:
    """The current organisation and what the caller may do there (``can.units_manage``…)."""
    membership = getattr(request, "membership", None)
    can = {
        code.replace(".", "_"): bool(membership and membership.has_perm(code))
        for code in PERMISSIONS
    }
    return {
        "membership": membership,
        "organisation": membership.organisation if membership else None,
        "can": can,
    }
