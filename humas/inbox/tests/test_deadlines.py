"""The deadline watch: warnings before a deadline, escalation after it, each once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from humas.accounts.audit import Actor
from humas.accounts.models import AuditEntry, Notification
from humas.inbox import actions, cases
from humas.inbox.jobs import CASE_WARN_BEFORE, check_deadlines
from humas.ops.jobs import JOBS

pytestmark = pytest.mark.django_db


def told(kind):
    return sorted(Notification.objects.filter(kind=kind).values_list("user__email", flat=True))


def test_it_is_a_periodic_job():
    assert JOBS["inbox.deadlines"].interval == timedelta(minutes=5)


def test_the_assignee_is_warned_before_the_first_answer_is_due_and_only_once(say, responder, admin):
    conversation = say("Jalan rusak")
    actions.assign_conversation(conversation, responder, by=Actor(user=admin))
    due = conversation.first_response_due
    assert check_deadlines(due - timedelta(hours=3)) == 0
    assert check_deadlines(due - timedelta(hours=1)) == 1
    assert check_deadlines(due - timedelta(minutes=30)) == 0
    assert told("inbox.due_soon") == ["responder@satu.go.id"]


def test_a_breached_deadline_is_escalated_to_the_admins_once(say, admin, responder):
    conversation = say("Jalan rusak")
    due = conversation.first_response_due
    assert check_deadlines(due + timedelta(minutes=1)) == 1
    assert check_deadlines(due + timedelta(hours=5)) == 0
    conversation.refresh_from_db()
    assert conversation.escalated
    assert told("inbox.escalated") == ["admin@satu.go.id"]
    assert AuditEntry.objects.filter(action="inbox.conversation.escalated").count() == 1


def test_an_answered_conversation_is_watched_for_its_resolution(say, responder, fake_network):
    conversation = say("Jalan rusak")
    actions.send_reply(conversation, "Baik", by=Actor(user=responder))
    conversation.refresh_from_db()
    assert check_deadlines(conversation.first_response_due + timedelta(minutes=1)) == 0
    assert check_deadlines(conversation.resolution_due - timedelta(hours=1)) == 1
    assert Notification.objects.get(kind="inbox.due_soon").title.startswith("Due soon: resolving")


def test_resolved_conversations_are_left_alone(say, responder):
    conversation = say("Jalan rusak")
    actions.resolve_conversation(conversation, by=Actor(user=responder))
    assert check_deadlines(conversation.first_response_due + timedelta(days=30)) == 0


def test_a_cases_unit_is_warned_of_its_step_and_admins_told_when_it_passes(
    say, responder, agent, unit, admin, fake_network
):
    conversation = say("Puskesmas tutup")
    actions.send_reply(conversation, "Kami cek", by=Actor(user=responder))
    case = cases.open_case(conversation, by=Actor(user=responder))
    cases.forward_case(case, unit, by=Actor(user=responder))
    case.refresh_from_db()
    assert check_deadlines(case.follow_up_due - CASE_WARN_BEFORE - timedelta(hours=1)) == 0
    assert check_deadlines(case.follow_up_due - timedelta(hours=2)) == 1
    assert told("inbox.due_soon") == ["agent@satu.go.id"]
    assert check_deadlines(case.follow_up_due + timedelta(minutes=1)) == 1
    case.refresh_from_db()
    assert case.escalated
    assert told("inbox.escalated") == ["admin@satu.go.id"]
    # The next step is a new deadline, warned about on its own.
    cases.change_case_status(case, "in_progress", by=Actor(user=agent))
    assert check_deadlines(case.close_due - timedelta(hours=2)) == 1
