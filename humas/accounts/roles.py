"""The role matrix: which role may do what inside its organisation.

This module is the single place where rights are decided; views and actions ask
``has_perm(membership, "…")`` through the access helpers and never compare role names
themselves. ``docs/roles.md`` shows the same matrix as a table, and a test keeps the two in
step.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    APPROVER = "approver", _("Approver")
    EDITOR = "editor", _("Editor")
    RESPONDER = "responder", _("Responder")
    UNIT_AGENT = "unit_agent", _("Unit agent")
    ANALYST = "analyst", _("Analyst")


A, P, E, R, U, N = (
    Role.ADMIN,
    Role.APPROVER,
    Role.EDITOR,
    Role.RESPONDER,
    Role.UNIT_AGENT,
    Role.ANALYST,
)

#: permission code -> (roles that hold it, description for docs/roles.md)
PERMISSIONS: dict[str, tuple[frozenset[str], str]] = {
    "org.manage": (frozenset({A}), "Change organisation settings (time zone, language, 2FA rule)"),
    "units.view": (frozenset({A, P, E, R, N}), "See the organisation's units"),
    "units.manage": (frozenset({A}), "Create, rename and remove units"),
    "members.view": (frozenset({A}), "See members, their roles and 2FA status"),
    "members.manage": (frozenset({A}), "Invite members, change roles, deactivate members"),
    "audit.view": (frozenset({A}), "Browse the organisation's audit log"),
    "content.view": (frozenset({A, P, E, N}), "See posts, calendar and campaigns"),
    "content.write": (frozenset({A, P, E}), "Write and schedule posts"),
    "content.approve": (
        frozenset({A, P}),
        "Approve posts (never one's own when approval is required)",
    ),
    "channels.view": (frozenset({A, P, E, R, N}), "See connected channels and their health"),
    "channels.manage": (frozenset({A}), "Connect, test and disconnect network accounts"),
    "inbox.view": (frozenset({A, R}), "See the whole inbox"),
    "inbox.work": (frozenset({A, R}), "Answer, assign and route conversations"),
    "cases.view_unit": (frozenset({A, R, U}), "See cases routed to one's unit"),
    "cases.work_unit": (frozenset({A, R, U}), "Work and resolve cases routed to one's unit"),
    "personal_data.view": (frozenset({A, R, U}), "See citizens' personal data unmasked"),
    "reports.view": (frozenset({A, P, E, N}), "See dashboards, KPIs and reports"),
    "crisis.declare": (frozenset({A, P}), "Declare an incident and send an emergency broadcast"),
}


def roles_with(perm: str) -> frozenset[str]:
    try:
        return PERMISSIONS[perm][0]
    except KeyError:
        # An unknown code is a programming error, never a silent "no".
        raise KeyError(f"unknown permission {perm!r}") from None


def role_has_perm(role: str, perm: str) -> bool:
    return role in roles_with(perm)
