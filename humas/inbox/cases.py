"""Cases: complaints handled to the end under a public tracking number.

A complaint conversation becomes a :class:`~humas.inbox.models.Case` by hand ("Open a case")
or, at ingest, when a routing rule sends a complaint to a unit. The case then moves
received → forwarded → in progress → resolved → closed, each change a line of its timeline
with an optional public note (shown on the public status page) and internal note. Deadlines
follow SP4N-LAPOR! (forwarded within 3, followed up within 5, closed after 10 working days of
the report's arrival, i.e. of the conversation's first message), on the organisation's calendar.

Every action runs in one transaction and writes one audit entry; resolving also answers the
citizen on their channel through :func:`humas.inbox.actions.send_reply`, after the commit,
so a network that refuses leaves a failed, retriable reply rather than a lost one.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from humas.accounts.actions import ActionError, notify
from humas.accounts.audit import Actor, record
from humas.accounts.models import Membership, Unit
from humas.inbox.models import (
    Case,
    CaseEvent,
    CaseStatus,
    Category,
    Conversation,
    Message,
    Status,
)
from humas.lib.workdays import (
    LAPOR_CLOSE_WORKING_DAYS,
    LAPOR_FOLLOW_UP_WORKING_DAYS,
    LAPOR_FORWARD_WORKING_DAYS,
    WorkCalendar,
)

# --- tracking numbers -------------------------------------------------------------------------

#: Crockford's base32: digits and letters without I, L, O and U (no 1/I/L or 0/O confusion
#: when a citizen reads the number over the phone or types it from a screenshot).
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PREFIX = "LPR"
#: 8 characters: 40 random bits, about a trillion numbers per year. Guessing one that exists
#: is hopeless at the status page's rate limit.
RANDOM_CHARS = 8
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SHAPE = re.compile(rf"^{PREFIX}(\d{{4}})([{CROCKFORD}]{{{RANDOM_CHARS}}})$")
_COLLISION_RETRIES = 5


def new_tracking_number(year: int) -> str:
    """``LPR-2026-7KQ4-MX2D``: the year the report arrived and 40 random bits."""
    part = "".join(secrets.choice(CROCKFORD) for _ in range(RANDOM_CHARS))
    return f"{PREFIX}-{year}-{part[:4]}-{part[4:]}"


def parse_tracking_number(raw: str) -> str | None:
    """The canonical form of a typed tracking number, or ``None`` when it cannot be one.

    Forgiving as Crockford intends: any case, spaces or dashes anywhere, O for 0 and I or L
    for 1 in the random part.
    """
    compact = re.sub(r"[\s\-–—]", "", raw[:60]).upper()
    if not compact.startswith(PREFIX):
        return None
    rest = compact[len(PREFIX) :]
    compact = PREFIX + rest[:4] + rest[4:].translate(_CONFUSABLE)
    found = _SHAPE.match(compact)
    if found is None:
        return None
    year, part = found.groups()
    return f"{PREFIX}-{year}-{part[:4]}-{part[4:]}"


# --- rules -----------------------------------------------------------------------------------

#: Where a case may go next from each status (forwarding goes through :func:`forward_case`).
TRANSITIONS: dict[str, frozenset[str]] = {
    CaseStatus.RECEIVED: frozenset({CaseStatus.FORWARDED, CaseStatus.CLOSED}),
    CaseStatus.FORWARDED: frozenset(
        {CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED, CaseStatus.CLOSED}
    ),
    CaseStatus.IN_PROGRESS: frozenset({CaseStatus.RESOLVED, CaseStatus.CLOSED}),
    CaseStatus.RESOLVED: frozenset({CaseStatus.IN_PROGRESS, CaseStatus.CLOSED}),
    CaseStatus.CLOSED: frozenset(),
}


def may_see_case(membership: Membership, case: Case) -> bool:
    if not membership.is_active or membership.organisation_id != case.organisation_id:
        return False
    if membership.has_perm("inbox.view"):
        return True
    return (
        membership.has_perm("cases.view_unit")
        and membership.unit_id is not None
        and membership.unit_id == case.unit_id
    )


def may_work_case(membership: Membership, case: Case) -> bool:
    if not may_see_case(membership, case):
        return False
    return membership.has_perm("inbox.work") or membership.has_perm("cases.work_unit")


def case_url(case: Case) -> str:
    return reverse("inbox:case", args=[case.pk])


def status_page_url() -> str:
    return f"{settings.SITE_URL}{reverse('inbox:status')}"


def _locked(case: Case) -> Case:
    fresh = Case.objects.select_for_update().get(pk=case.pk)
    case.__dict__.update({k: v for k, v in fresh.__dict__.items() if not k.startswith("_")})
    return case


def _event(
    case: Case,
    *,
    by: Actor,
    status: str = "",
    public_note: str = "",
    internal_note: str = "",
    at: datetime | None = None,
) -> CaseEvent:
    return CaseEvent.objects.create(
        case=case,
        status=status,
        public_note=public_note.strip(),
        internal_note=internal_note.strip(),
        author=by.user,
        author_label=by.describe(),
        created_at=at or timezone.now(),
    )


def _unit_agents(case: Case, unit: Unit) -> list[object]:
    return [
        m.user
        for m in Membership.objects.filter(
            organisation_id=case.organisation_id, unit=unit, is_active=True, user__is_active=True
        ).select_related("user")
        if m.has_perm("cases.view_unit") and not m.has_perm("inbox.view")
    ]


def _tell_unit(case: Case, unit: Unit) -> None:
    org = case.organisation
    with translation.override(org.default_language):
        notify(
            org,
            _unit_agents(case, unit),  # type: ignore[arg-type]
            kind="inbox.case_forwarded",
            title=_("Case %(number)s was forwarded to %(unit)s")
            % {"number": case.tracking_number, "unit": unit.name},
            url=case_url(case),
        )


# --- opening ---------------------------------------------------------------------------------


def create_case(conversation: Conversation, *, by: Actor, now: datetime | None = None) -> Case:
    """The case row and its first timeline lines, without an audit entry (the caller writes
    it: :func:`open_case` one per case, ingest one per batch). Run inside a transaction."""
    now = now or timezone.now()
    org = conversation.organisation
    calendar = WorkCalendar(org.time_zone)
    received = conversation.opened_at
    year = calendar.local_date(received).year
    case = None
    for _attempt in range(_COLLISION_RETRIES):
        try:
            with transaction.atomic():
                case = Case.objects.create(
                    organisation=org,
                    conversation=conversation,
                    tracking_number=new_tracking_number(year),
                    unit=conversation.unit,
                    received_at=received,
                    forward_due=calendar.add_working_days(received, LAPOR_FORWARD_WORKING_DAYS),
                    follow_up_due=calendar.add_working_days(received, LAPOR_FOLLOW_UP_WORKING_DAYS),
                    close_due=calendar.add_working_days(received, LAPOR_CLOSE_WORKING_DAYS),
                )
            break
        except IntegrityError:
            if Case.objects.filter(conversation=conversation).exists():
                raise ActionError(_("This conversation already has a case.")) from None
            # Two numbers alike (about one in a trillion): draw again.
            continue
    if case is None:
        raise ActionError(_("No free tracking number was found; try again."))
    _event(case, by=by, status=CaseStatus.RECEIVED, at=received)
    if conversation.unit_id is not None:
        case.status = CaseStatus.FORWARDED
        case.forwarded_at = now
        case.save(update_fields=["status", "forwarded_at"])
        _event(case, by=by, status=CaseStatus.FORWARDED, at=now)
    return case


def open_case(conversation: Conversation, *, by: Actor) -> Case:
    """Make a complaint conversation a case with a tracking number (forwarded at once when
    the conversation is already routed to a unit)."""
    if conversation.category != Category.COMPLAINT:
        raise ActionError(_("Only complaints become cases; correct the category first."))
    with transaction.atomic():
        Conversation.objects.select_for_update().filter(pk=conversation.pk).first()
        if Case.objects.filter(conversation=conversation).exists():
            raise ActionError(_("This conversation already has a case."))
        case = create_case(conversation, by=by)
        if case.unit is not None:
            _tell_unit(case, case.unit)
        record(
            "inbox.case.opened",
            actor=by,
            organisation=conversation.organisation,
            target=case,
            payload={
                "conversation": conversation.pk,
                "status": case.status,
                "unit": case.unit.name if case.unit else None,
            },
        )
    return case


# --- working ---------------------------------------------------------------------------------


def forward_case(
    case: Case, unit: Unit, *, by: Actor, public_note: str = "", internal_note: str = ""
) -> None:
    """Send the case (and its conversation) to the unit that must act on it."""
    if unit.organisation_id != case.organisation_id:
        raise ActionError(_("Choose one of your organisation's units."))
    with transaction.atomic():
        _locked(case)
        if case.status not in (CaseStatus.RECEIVED, CaseStatus.FORWARDED):
            raise ActionError(_("Only a case not yet in progress can be forwarded."))
        before = case.unit.name if case.unit else None
        now = timezone.now()
        case.unit = unit
        case.status = CaseStatus.FORWARDED
        case.forwarded_at = case.forwarded_at or now
        case.save(update_fields=["unit", "status", "forwarded_at", "updated_at"])
        Conversation.objects.filter(pk=case.conversation_id).update(unit=unit, routed_manually=True)
        _event(
            case,
            by=by,
            status=CaseStatus.FORWARDED,
            public_note=public_note,
            internal_note=internal_note,
            at=now,
        )
        _tell_unit(case, unit)
        record(
            "inbox.case.forwarded",
            actor=by,
            organisation=case.organisation,
            target=case,
            payload={"from": before, "to": unit.name},
        )


def change_case_status(
    case: Case, status: str, *, by: Actor, public_note: str = "", internal_note: str = ""
) -> Message | None:
    """Move the case on (in progress, resolved, closed, or back in progress).

    Resolving answers the citizen on their channel with the tracking number and the public
    note and resolves the conversation; the reply is returned (sent, or failed and
    retriable from the conversation).
    """
    if status == CaseStatus.FORWARDED:
        raise ActionError(_("Choose the unit to forward the case to."))
    if status not in CaseStatus.values:
        raise ActionError(_("Choose a status from the list."))
    with transaction.atomic():
        _locked(case)
        if status not in TRANSITIONS[CaseStatus(case.status)]:
            raise ActionError(
                _("A case that is %(now)s cannot become %(next)s.")
                % {
                    "now": CaseStatus(case.status).label,
                    "next": CaseStatus(status).label,
                }
            )
        if status == CaseStatus.RESOLVED and not public_note.strip():
            raise ActionError(_("Tell the citizen how it was resolved (public note)."))
        before = case.status
        now = timezone.now()
        case.status = status
        if status == CaseStatus.IN_PROGRESS:
            case.followed_up_at = case.followed_up_at or now
        elif status == CaseStatus.RESOLVED:
            case.resolved_at = now
        elif status == CaseStatus.CLOSED:
            case.closed_at = now
        case.save()
        _event(case, by=by, status=status, public_note=public_note, internal_note=internal_note)
        if status == CaseStatus.RESOLVED:
            Conversation.objects.filter(pk=case.conversation_id, status=Status.OPEN).update(
                status=Status.RESOLVED, resolved_at=now
            )
        record(
            "inbox.case.status_changed",
            actor=by,
            organisation=case.organisation,
            target=case,
            payload={"from": before, "to": status},
        )
    if status != CaseStatus.RESOLVED:
        return None
    from humas.inbox.contacts import answers_automatically

    fresh = Conversation.objects.select_related("contact").get(pk=case.conversation_id)
    if not answers_automatically(fresh):
        # Spam, abuse, a blocked or an erased citizen: never answered without a person.
        return None
    # After the commit: the network call is slow and may fail; the reply is kept either way.
    from humas.inbox.actions import send_reply

    org = case.organisation
    with translation.override(org.default_language):
        text = _("Your report %(number)s is resolved: %(note)s\nStatus: %(url)s") % {
            "number": case.tracking_number,
            "note": public_note.strip(),
            "url": status_page_url(),
        }
    message = send_reply(case.conversation, text, by=by)
    Case.objects.filter(pk=case.pk).update(resolution_message=message)
    case.resolution_message = message
    return message


def add_case_note(case: Case, *, by: Actor, public_note: str = "", internal_note: str = "") -> None:
    if not public_note.strip() and not internal_note.strip():
        raise ActionError(_("Write a note first."))
    with transaction.atomic():
        event = _event(case, by=by, public_note=public_note, internal_note=internal_note)
        record(
            "inbox.case.noted",
            actor=by,
            organisation=case.organisation,
            target=case,
            payload={"event": event.pk, "public": bool(event.public_note)},
        )
