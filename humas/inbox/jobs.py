"""Periodic work of the inbox app, run by ``humas worker``."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from itertools import groupby

from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from humas.accounts.actions import notify
from humas.accounts.audit import Actor, record
from humas.accounts.models import Membership, Organisation, User
from humas.accounts.roles import Role
from humas.channels.models import InboundEvent
from humas.inbox.actions import (
    NOT_MESSAGES,
    WARN_BEFORE,
    ingest_events,
    release_stuck_replies,
)
from humas.inbox.models import Case, CaseStatus, Conversation, DeadlineAlert, Status
from humas.ops.jobs import register_job

logger = logging.getLogger(__name__)

#: How far back to look for events stored without reaching the inbox.
CATCH_UP_WINDOW = timedelta(days=3)
#: Events younger than this are left alone: their own ingest may still be running.
SETTLE = timedelta(minutes=1)
CATCH_UP_BATCH = 500


@register_job("inbox.stuck_replies", interval_seconds=300)
def stuck_replies() -> int:
    """Replies cut off mid-send (a stopped worker or web process) become failed and
    retriable, with a word to check the thread first."""
    return release_stuck_replies()


@register_job("inbox.catch_up", interval_seconds=300)
def ingest_missed_events() -> int:
    """Thread events that were stored but never reached the inbox; return how many.

    A webhook stores its events before the inbox ingests them (outside one transaction), so
    an ingest that fails there leaves events the network will never deliver again. Polls
    store and ingest in one transaction and never leave such events behind.
    """
    now = timezone.now()
    missed = list(
        InboundEvent.objects.filter(
            received_at__gte=now - CATCH_UP_WINDOW,
            received_at__lt=now - SETTLE,
            message__isnull=True,
        )
        .exclude(kind__in=[str(k) for k in NOT_MESSAGES])
        .select_related("channel__organisation")
        .order_by("channel_id", "created_at", "pk")[:CATCH_UP_BATCH]
    )
    done = 0
    for _channel_id, rows in groupby(missed, key=lambda e: e.channel_id):
        events = list(rows)
        try:
            done += len(ingest_events(events[0].channel, events))
        except Exception:
            logger.exception("catching up %d events of channel %s failed", len(events), _channel_id)
    return done


# --- deadlines ---------------------------------------------------------------------------

#: A case's steps take days: warn a working day ahead rather than two hours.
CASE_WARN_BEFORE = timedelta(hours=24)
DEADLINE_BATCH = 1000


def _inbox_team(org: Organisation) -> list[User]:
    return [
        m.user
        for m in Membership.objects.filter(
            organisation=org, is_active=True, user__is_active=True
        ).select_related("user")
        if m.has_perm("inbox.work")
    ]


def _unit_members(org: Organisation, unit_id: int | None) -> list[User]:
    if unit_id is None:
        return []
    return [
        m.user
        for m in Membership.objects.filter(
            organisation=org, unit_id=unit_id, is_active=True, user__is_active=True
        ).select_related("user")
        if m.has_perm("cases.work_unit")
    ]


def _admins(org: Organisation) -> list[User]:
    return list(
        User.objects.filter(
            memberships__organisation=org,
            memberships__role=Role.ADMIN,
            memberships__is_active=True,
            is_active=True,
        )
    )


def _once(org: Organisation, key: str) -> bool:
    """Claim ``key``; False when it was claimed before (the alert went out already)."""
    _alert, created = DeadlineAlert.objects.get_or_create(key=key, defaults={"organisation": org})
    return created


def _alert(
    *,
    org: Organisation,
    key: str,
    breached: bool,
    people: list[User],
    title: str,
    url: str,
    target: Conversation | Case,
    step: str,
    due: datetime,
) -> bool:
    """Send one warning (to ``people``) or escalation (to the admins, marking the target
    escalated), once per key; return whether it was sent now."""
    with transaction.atomic():
        if not _once(org, key):
            return False
        with translation.override(org.default_language):
            if breached:
                notify(
                    org,
                    _admins(org),
                    kind="inbox.escalated",
                    title=gettext("Overdue: %(what)s") % {"what": title},
                    url=url,
                    email=True,
                )
                type(target).objects.filter(pk=target.pk).update(escalated=True)
                record(
                    f"inbox.{type(target).__name__.lower()}.escalated",
                    actor=Actor.system("inbox"),
                    organisation=org,
                    target=target,
                    payload={"step": step, "due": due},
                )
            else:
                notify(
                    org,
                    people,
                    kind="inbox.due_soon",
                    title=gettext("Due soon: %(what)s") % {"what": title},
                    url=url,
                )
    return True


def check_deadlines(now: datetime | None = None) -> int:
    """Warn of deadlines coming up and escalate those passed; return how many alerts went.

    Conversations: the first answer, then the resolution (``WARN_BEFORE`` ahead, two hours);
    the resolution of one that became a case is left to the case.
    Cases: the SP4N-LAPOR! step they wait for (``CASE_WARN_BEFORE`` ahead). A warning goes to
    the assignee, else the unit's members, else the inbox team; an escalation goes to the
    admins (Kepala Humas) and marks the conversation or case escalated. Each is sent once per
    deadline (:class:`~humas.inbox.models.DeadlineAlert`); a deadline that moves is new.
    """
    from humas.inbox.forms import with_pending_due

    now = now or timezone.now()
    sent = 0
    conversations = (
        with_pending_due(Conversation.objects.filter(status=Status.OPEN))
        .filter(Q(pending_due_at__isnull=False) & Q(pending_due_at__lt=now + WARN_BEFORE))
        # Once answered, a conversation with a case is watched through the case's steps.
        .exclude(case__isnull=False, responded_at__isnull=False)
        # A blocked citizen's conversations wait for nobody (their cases still do).
        .exclude(contact__blocked_at__isnull=False)
        .select_related("organisation", "contact", "assignee")
        .order_by(F("pending_due_at").asc())[:DEADLINE_BATCH]
    )
    for conversation in conversations:
        due = conversation.pending_due_at  # type: ignore[attr-defined]
        step = "first_response" if conversation.responded_at is None else "resolution"
        breached = due <= now
        org = conversation.organisation
        kind = "breach" if breached else "warn"
        key = f"conversation:{conversation.pk}:{step}:{kind}:{int(due.timestamp())}"
        people = (
            [conversation.assignee]
            if conversation.assignee
            else _unit_members(org, conversation.unit_id) or _inbox_team(org)
        )
        with translation.override(org.default_language):
            what = (
                gettext("first answer to %(who)s")
                if step == "first_response"
                else gettext("resolving the conversation with %(who)s")
            ) % {"who": conversation.contact}
        sent += _alert(
            org=org,
            key=key,
            breached=breached,
            people=people,
            title=what,
            url=reverse("inbox:conversation", args=[conversation.pk]),
            target=conversation,
            step=step,
            due=due,
        )
    open_cases = [CaseStatus.RECEIVED, CaseStatus.FORWARDED, CaseStatus.IN_PROGRESS]
    candidates = (
        Case.objects.filter(status__in=open_cases)
        .filter(
            Q(status=CaseStatus.RECEIVED, forward_due__lt=now + CASE_WARN_BEFORE)
            | Q(status=CaseStatus.FORWARDED, follow_up_due__lt=now + CASE_WARN_BEFORE)
            | Q(status=CaseStatus.IN_PROGRESS, close_due__lt=now + CASE_WARN_BEFORE)
        )
        .select_related("organisation")
        .order_by("pk")[:DEADLINE_BATCH]
    )
    for case in candidates:
        step, due = case.pending_step  # type: ignore[misc]
        breached = due <= now
        org = case.organisation
        kind = "breach" if breached else "warn"
        key = f"case:{case.pk}:{step}:{kind}:{int(due.timestamp())}"
        with translation.override(org.default_language):
            what = {
                "forward": gettext("forwarding case %(number)s"),
                "follow_up": gettext("following up case %(number)s"),
                "close": gettext("closing case %(number)s"),
            }[step] % {"number": case.tracking_number}
        sent += _alert(
            org=org,
            key=key,
            breached=breached,
            people=_unit_members(org, case.unit_id) or _inbox_team(org),
            title=what,
            url=reverse("inbox:case", args=[case.pk]),
            target=case,
            step=step,
            due=due,
        )
    return sent


@register_job("inbox.deadlines", interval_seconds=300)
def watch_deadlines() -> int:
    return check_deadlines()
